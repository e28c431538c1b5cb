import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFlyxDialects } from '../../src/dialects/flyx/index.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect, refused, type Frame, type TestClient } from '../helpers/ws.js';
import { tick } from '../helpers/wait.js';

/** Room ids, lifetimes and isolation for both Flyx shapes. */

async function createReadme(srv: TestServer, options?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(srv.http('/room'), { method: 'POST', body: options === undefined ? undefined : JSON.stringify(options) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function createCli(srv: TestServer, port = srv.port): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}/api/room`, { method: 'POST' });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function data(f: Frame): Record<string, unknown> {
  return f.data as Record<string, unknown>;
}

/**
 * Moves the manual clock in sweep-sized steps, letting each sweep (async) finish before the next:
 * one big advance would start a single sweep at its first tick and skip the rest.
 */
async function pass(srv: TestServer, ms: number, step = 60_000): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    srv.clock.advance(step);
    await tick();
  }
}

/** Heartbeats far apart (the manual clock jumps hours; pongs cannot keep up) and minute sweeps. */
const slowClock = { heartbeat: { intervalMs: 24 * 3_600_000, timeoutMs: 48 * 3_600_000 }, rooms: { sweepIntervalMs: 60_000 }, rateLimits: { httpCreatesPerSecond: 0 } };

// ---- ids ---------------------------------------------------------------------------------------

test('generated ids are 6 upper-case letters or digits and never repeat among live rooms', async () => {
  // 300 live rooms from one address: past both the HTTP creation rate and the per-address quota.
  const srv = await startServer({ rateLimits: { httpCreatesPerSecond: 0 }, rooms: { maxPerAddress: 0 } });
  try {
    const ids = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const r = i % 2 ? await createReadme(srv) : await createCli(srv);
      assert.match(r.body.id as string, /^[A-Z0-9]{6}$/);
      ids.add(r.body.id as string);
    }
    assert.equal(ids.size, 300);
  } finally {
    await srv.close();
  }
});

test('colliding ids are impossible: a generator that keeps repeating itself still yields distinct rooms', async () => {
  // Four possible ids, handed out round-robin: almost every create collides and is retried.
  const pool = ['AAAAA1', 'AAAAA2', 'AAAAA3', 'AAAAA4'];
  let n = 0;
  const { flyx, flyxCli } = createFlyxDialects({ generate: () => pool[n++ % pool.length]! });
  const srv = await startServer(
    { routes: [{ path: '/ws/:room', dialect: 'flyx' }, { path: '/api/room/:id', dialect: 'flyx-cli' }], rateLimits: { httpCreatesPerSecond: 0 } },
    { dialects: [flyx, flyxCli] },
  );
  try {
    const readme: string[] = [];
    const cli: string[] = [];
    for (let i = 0; i < 4; i++) {
      readme.push((await createReadme(srv)).body.id as string);
      cli.push((await createCli(srv)).body.id as string);
    }
    assert.deepEqual([...readme].sort(), pool);
    // The CLI's rooms live in their own namespace: the same ids, different rooms.
    assert.deepEqual([...cli].sort(), pool);
    const full = await createReadme(srv);
    assert.deepEqual(full, { status: 503, body: { error: 'Could not generate a free room id; try again' } });
    const fullCli = await createCli(srv);
    assert.equal(fullCli.status, 503);
  } finally {
    await srv.close();
  }
});

// ---- lifetimes ---------------------------------------------------------------------------------

test('a created room waits 10 minutes for its first client; an unused one is then removed', async () => {
  const srv = await startServer(slowClock);
  try {
    const used = (await createReadme(srv)).body.id as string;
    const unused = (await createReadme(srv)).body.id as string;
    const usedCli = (await createCli(srv)).body.id as string;
    await pass(srv, 9 * 60_000);
    const s = await connect(srv.ws(`/ws/${used}`));
    assert.equal(data(await s.next('join')).role, 'sender');
    const m = await connect(srv.ws(`/api/room/${usedCli}`));
    await pass(srv, 2 * 60_000);
    assert.equal((await fetch(srv.http(`/room/${unused}`))).status, 404);
    assert.equal((await refused(srv.ws(`/ws/${unused}`))).status, 406);
    assert.equal((await fetch(srv.http(`/room/${used}`))).status, 200);
    assert.equal((await fetch(srv.http(`/api/room/${usedCli}/status`))).status, 200);
    await s.close();
    await m.close();
  } finally {
    await srv.close();
  }
});

test('README shape: a room idle past its timeout expires; members get an error and close 4004', async () => {
  const srv = await startServer(slowClock);
  try {
    const room = (await createReadme(srv, { timeout: 120 })).body.id as string;
    const s = await connect(srv.ws(`/ws/${room}`));
    await s.next('join');
    const r = await connect(srv.ws(`/ws/${room}`));
    await r.next('join');
    await s.next('join');
    await pass(srv, 60_000);
    // Signaling is activity: it pushes expiry back.
    r.send({ type: 'offer', data: { sdp: 'keepalive' } });
    await s.next('offer');
    await pass(srv, 60_000);
    assert.equal((await fetch(srv.http(`/room/${room}`))).status, 200);
    await pass(srv, 120_000);
    for (const c of [s, r]) {
      assert.deepEqual(await c.next('error'), { type: 'error', data: { message: 'Room expired' } });
      assert.deepEqual(await c.closed, { code: 4004, reason: 'room expired' });
    }
    assert.equal((await fetch(srv.http(`/room/${room}`))).status, 404);
  } finally {
    await srv.close();
  }
});

test('CLI shape: a room idle for an hour expires; its sockets close 4004 without a frame', async () => {
  const srv = await startServer(slowClock);
  try {
    const room = (await createCli(srv)).body.id as string;
    const m = await connect(srv.ws(`/api/room/${room}`));
    const s = await connect(srv.ws(`/api/room/${room}`));
    assert.deepEqual(await m.next(), { type: 'slavejoined' });
    await pass(srv, 59 * 60_000);
    assert.equal((await fetch(srv.http(`/api/room/${room}/status`))).status, 200);
    await pass(srv, 2 * 60_000);
    assert.deepEqual(await m.closed, { code: 4004, reason: 'room expired' });
    assert.deepEqual(await s.closed, { code: 4004, reason: 'room expired' });
    assert.deepEqual(s.raw, []);
    assert.deepEqual(m.raw, ['{"type":"slavejoined"}']);
    assert.equal((await refused(srv.ws(`/api/room/${room}`))).status, 404);
  } finally {
    await srv.close();
  }
});

// ---- isolation ---------------------------------------------------------------------------------

test('rooms of the two shapes are isolated: neither id works on the other path', async () => {
  const srv = await startServer({ rateLimits: { httpCreatesPerSecond: 0 } });
  const clients: TestClient[] = [];
  try {
    const readme = (await createReadme(srv)).body.id as string;
    const cli = (await createCli(srv)).body.id as string;
    const r = await refused(srv.ws(`/api/room/${readme}`));
    assert.deepEqual([r.status, JSON.parse(r.body)], [404, { error: 'Could not find the room' }]);
    assert.equal((await refused(srv.ws(`/ws/${cli}`))).status, 406);
    assert.equal((await fetch(srv.http(`/api/room/${readme}/status`))).status, 404);
    assert.equal((await fetch(srv.http(`/room/${cli}`))).status, 404);
    // Both rooms work on their own paths at the same time, each with its own first client in charge.
    const sender = await connect(srv.ws(`/ws/${readme}`));
    clients.push(sender);
    assert.equal(data(await sender.next('join')).role, 'sender');
    const master = await connect(srv.ws(`/api/room/${cli}`));
    const slave = await connect(srv.ws(`/api/room/${cli}`));
    clients.push(master, slave);
    assert.deepEqual(await master.next(), { type: 'slavejoined' });
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await srv.close();
  }
});

test('a listener pinned to flyx-cli (e.g. the CLI\'s port 8000) serves its HTTP routes and sockets', async () => {
  const srv = await startServer({ listeners: [{ port: 0, dialect: 'flyx-cli' }], rateLimits: { httpCreatesPerSecond: 0 } });
  try {
    const port = srv.server.addresses()[1]!.port;
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/api/health`)).text(), 'Ok');
    const room = (await createCli(srv, port)).body.id as string;
    const m = await connect(`ws://127.0.0.1:${port}/api/room/${room}`);
    const s = await connect(`ws://127.0.0.1:${port}/api/room/${room}`);
    assert.deepEqual(await m.next(), { type: 'slavejoined' });
    s.send({ type: 'answer', sdp: 'pinned' });
    assert.deepEqual(await m.next(), { type: 'answer', sdp: 'pinned' });
    const bad = await refused(`ws://127.0.0.1:${port}/api/room/NOPE00`);
    assert.deepEqual([bad.status, JSON.parse(bad.body)], [404, { error: 'Could not find the room' }]);
    // The README shape is not served there.
    assert.equal((await fetch(`http://127.0.0.1:${port}/room`, { method: 'POST' })).status, 404);
    await m.close();
    await s.close();
  } finally {
    await srv.close();
  }
});
