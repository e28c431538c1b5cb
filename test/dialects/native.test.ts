import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { startServer, type TestServer } from '../helpers/server.js';
import { VERSION } from '../../src/version.js';
import { connect, refused, TestClient, type Frame } from '../helpers/ws.js';

async function peer(srv: TestServer): Promise<{ c: TestClient; id: string; welcome: Frame }> {
  const c = await connect(srv.ws('/v1'));
  const welcome = await c.next('welcome');
  return { c, id: welcome.peerId as string, welcome };
}

async function joined(c: TestClient, room: string, extra: object = {}): Promise<Frame> {
  c.send({ type: 'join', room, ...extra });
  return c.next((f) => f.type === 'joined' || f.type === 'error');
}

/** A round trip through the server: everything sent to `c` before it is already queued. */
async function sync(c: TestClient): Promise<void> {
  c.send({ type: 'ping', id: 'sync' });
  await c.next((f) => f.type === 'pong' && f.re === 'sync');
}

describe('native protocol /v1', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer({ iceServers: [{ urls: 'stun:stun.example.org:3478' }], rooms: { maxPeers: 3, maxRoomsPerPeer: 2 } });
  });
  after(() => srv.close());

  test('welcome advertises peer id, version, heartbeat, ICE servers and limits', async () => {
    const { c, welcome } = await peer(srv);
    assert.match(welcome.peerId as string, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(welcome.protocol, 1);
    assert.equal(typeof welcome.version, 'string');
    assert.deepEqual(welcome.heartbeat, { intervalMs: 20000, timeoutMs: 60000 });
    assert.deepEqual(welcome.iceServers, [{ urls: 'stun:stun.example.org:3478' }]);
    assert.deepEqual(welcome.limits, { maxMessageBytes: 65536, maxFrameBytes: 1048576, maxNameLength: 64, maxMetaBytes: 2048, maxJsonDepth: 64, maxRoomsPerPeer: 2, maxPeersPerRoom: 3 });
    await c.close();
  });

  test('join → joined with the others; members get peer-joined with name and meta; request id echoed as re', async () => {
    const a = await peer(srv);
    const b = await peer(srv);
    assert.deepEqual(await joined(a.c, 'j1', { id: 1, name: 'Ann' }), { type: 'joined', re: 1, room: 'j1', peers: [] });
    assert.deepEqual(await joined(b.c, 'j1', { id: 'x', meta: { cam: true } }), { type: 'joined', re: 'x', room: 'j1', peers: [{ peerId: a.id, name: 'Ann' }] });
    assert.deepEqual(await a.c.next('peer-joined'), { type: 'peer-joined', room: 'j1', peer: { peerId: b.id, meta: { cam: true } } });
    await a.c.close();
    await b.c.close();
  });

  test('one connection may be in several rooms (up to maxRoomsPerPeer)', async () => {
    const a = await peer(srv);
    assert.equal((await joined(a.c, 'm1')).type, 'joined');
    assert.equal((await joined(a.c, 'm2')).type, 'joined');
    assert.deepEqual(await joined(a.c, 'm3', { id: 7 }), { type: 'error', re: 7, code: 'too-many-rooms', message: 'You are in as many rooms as one connection may be.' });
    assert.equal((await joined(a.c, 'm1')).code, 'already-in-room');
    await a.c.close();
  });

  test('leave → left; the others get peer-left reason "left"; leaving again is not-in-room', async () => {
    const a = await peer(srv);
    const b = await peer(srv);
    await joined(a.c, 'l1');
    await joined(b.c, 'l1');
    b.c.send({ type: 'leave', room: 'l1', id: 2 });
    assert.deepEqual(await b.c.next('left'), { type: 'left', re: 2, room: 'l1' });
    assert.deepEqual(await a.c.next('peer-left'), { type: 'peer-left', room: 'l1', peerId: b.id, reason: 'left' });
    b.c.send({ type: 'leave', room: 'l1' });
    assert.equal((await b.c.next('error')).code, 'not-in-room');
    await a.c.close();
    await b.c.close();
  });

  test('a closed socket leaves its rooms: peer-left reason "disconnect"', async () => {
    const a = await peer(srv);
    const b = await peer(srv);
    await joined(a.c, 'd1');
    await joined(b.c, 'd1');
    await b.c.close();
    assert.deepEqual(await a.c.next('peer-left'), { type: 'peer-left', room: 'd1', peerId: b.id, reason: 'disconnect' });
    await a.c.close();
  });

  test('signal reaches the target with a server-set from; ack when it carried an id; a forged from is ignored', async () => {
    const a = await peer(srv);
    const b = await peer(srv);
    await joined(a.c, 's1');
    await joined(b.c, 's1');
    a.c.send({ type: 'signal', to: b.id, data: { sdp: 'v=0' }, from: 'forged', id: 'o1' });
    assert.deepEqual(await a.c.next('ack'), { type: 'ack', re: 'o1' });
    assert.deepEqual(await b.c.next('signal'), { type: 'signal', from: a.id, room: 's1', data: { sdp: 'v=0' } });
    a.c.send({ type: 'signal', to: b.id, data: 1 });
    assert.equal((await b.c.next('signal')).data, 1);
    await a.c.close();
    await b.c.close();
  });

  test('signal to a peer outside your rooms, or to nobody, is peer-not-found and delivers nothing', async () => {
    const a = await peer(srv);
    const b = await peer(srv);
    await joined(a.c, 'x1');
    await joined(b.c, 'x2');
    a.c.send({ type: 'signal', to: b.id, data: 'inject', id: 9 });
    assert.deepEqual(await a.c.next('error'), { type: 'error', re: 9, code: 'peer-not-found', message: 'No peer with that id shares a room with you.' });
    a.c.send({ type: 'signal', to: 'no-such-peer', data: 1 });
    assert.equal((await a.c.next('error')).code, 'peer-not-found');
    a.c.send({ type: 'signal', to: b.id, room: 'x2', data: 1 });
    assert.equal((await a.c.next('error')).code, 'peer-not-found');
    await sync(b.c);
    assert.deepEqual(b.c.take(), []);
    await a.c.close();
    await b.c.close();
  });

  test('broadcast reaches every other member, not the sender; outside the room it is not-in-room', async () => {
    const [a, b, c] = [await peer(srv), await peer(srv), await peer(srv)];
    for (const p of [a, b, c]) await joined(p.c, 'b1');
    a.c.send({ type: 'broadcast', room: 'b1', data: { hello: 'all' }, id: 'bc' });
    assert.deepEqual(await a.c.next('ack'), { type: 'ack', re: 'bc' });
    for (const p of [b, c]) assert.deepEqual(await p.c.next('broadcast'), { type: 'broadcast', room: 'b1', from: a.id, data: { hello: 'all' } });
    await sync(a.c);
    assert.deepEqual(a.c.take().filter((f) => f.type === 'broadcast'), []);
    a.c.send({ type: 'broadcast', room: 'elsewhere', data: 1 });
    assert.equal((await a.c.next('error')).code, 'not-in-room');
    for (const p of [a, b, c]) await p.c.close();
  });

  test('a full room refuses the next join with room-full', async () => {
    const ps = [await peer(srv), await peer(srv), await peer(srv), await peer(srv)];
    for (const p of ps.slice(0, 3)) assert.equal((await joined(p.c, 'full')).type, 'joined');
    assert.equal((await joined(ps[3]!.c, 'full')).code, 'room-full');
    for (const p of ps) await p.c.close();
  });

  test('create-room → room-created with an unguessable id; its capacity option holds', async () => {
    const a = await peer(srv);
    const b = await peer(srv);
    a.c.send({ type: 'create-room', id: 'cr', options: { capacity: 1, emptyTtlMs: 60000 } });
    const created = await a.c.next('room-created');
    assert.equal(created.re, 'cr');
    assert.match(created.room as string, /^[A-Za-z0-9_-]{22}$/);
    assert.equal((await joined(a.c, created.room as string)).type, 'joined');
    assert.equal((await joined(b.c, created.room as string)).code, 'room-full');
    a.c.send({ type: 'create-room', options: { capacity: 0 } });
    assert.equal((await a.c.next('error')).code, 'invalid-message');
    await a.c.close();
    await b.c.close();
  });

  test('ping → pong echoing ts, or the server time when none was given', async () => {
    const a = await peer(srv);
    a.c.send({ type: 'ping', ts: 12345, id: 'p' });
    assert.deepEqual(await a.c.next('pong'), { type: 'pong', re: 'p', ts: 12345 });
    a.c.send({ type: 'ping' });
    assert.deepEqual(await a.c.next('pong'), { type: 'pong', ts: srv.clock.now() });
    await a.c.close();
  });

  test('bad input gets a typed error and the connection keeps working', async () => {
    const a = await peer(srv);
    const cases: [unknown, string][] = [
      ['{not json', 'invalid-json'],
      ['[1,2]', 'invalid-message'],
      ['"str"', 'invalid-message'],
      ['null', 'invalid-message'],
      [{ type: 42 }, 'invalid-message'],
      [{ type: 'teleport' }, 'unknown-type'],
      [{ type: 'join' }, 'invalid-message'],
      [{ type: 'join', room: '' }, 'invalid-message'],
      [{ type: 'join', room: 5 }, 'invalid-message'],
      [{ type: 'join', room: 'a\u0001b' }, 'invalid-message'],
      [{ type: 'join', room: 'r', name: 'n'.repeat(65) }, 'invalid-message'],
      [{ type: 'join', room: 'r', meta: { big: 'x'.repeat(3000) } }, 'invalid-message'],
      [{ type: 'join', room: 'r', meta: [1] }, 'invalid-message'],
      [{ type: 'signal', data: 1 }, 'invalid-message'],
      [{ type: 'broadcast', room: 'r' }, 'invalid-message'],
      [{ type: '__proto__', room: 'r' }, 'unknown-type'],
      [{ type: 'join', room: 'r', id: { nested: true } }, 'invalid-message'],
    ];
    for (const [frame, code] of cases) {
      a.c.send(frame);
      const e = await a.c.next('error');
      assert.equal(e.code, code, `for ${JSON.stringify(frame)}: ${JSON.stringify(e)}`);
      assert.equal(typeof e.message, 'string');
    }
    a.c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    assert.deepEqual(await a.c.next('error'), { type: 'error', code: 'invalid-message', message: 'Binary frames are not supported; send JSON text.' });
    a.c.send({ type: 'signal', to: 'x', data: 'y'.repeat(70_000) });
    const big = await a.c.next('error');
    assert.equal(big.code, 'message-too-large');
    assert.equal((await joined(a.c, 'still-works')).type, 'joined');
    await a.c.close();
  });

  test('a frame over maxFrameBytes closes the connection with 1009', async () => {
    const a = await peer(srv);
    a.c.send('x'.repeat(1_048_577));
    const { code } = await a.c.closed;
    assert.equal(code, 1009);
  });

  test('HTTP: /health, /ready, /metrics, 404, and 426 for a plain GET on a WebSocket path', async () => {
    const health = await fetch(srv.http('/health'));
    assert.equal(health.status, 200);
    const h = (await health.json()) as Record<string, unknown>;
    assert.equal(h.ok, true);
    assert.equal(h.ts, Math.floor(srv.clock.now() / 1000));
    assert.equal((await fetch(srv.http('/ready'))).status, 200);
    const a = await peer(srv);
    const b = await peer(srv);
    await joined(a.c, 'metrics-room');
    await joined(b.c, 'metrics-room');
    // relay latency is sampled (1 relay in 16): 16 relays make sure one was timed
    for (let i = 0; i < 16; i++) a.c.send({ type: 'signal', to: b.id, data: i });
    for (let i = 0; i < 16; i++) await b.c.next('signal');
    a.c.send('garbage');
    await a.c.next('error');
    const metrics = await (await fetch(srv.http('/metrics'))).text();
    assert.match(metrics, /switchboard_connections\{dialect="native"\} [1-9]/);
    assert.match(metrics, /switchboard_sessions\{dialect="native"\} [1-9]/);
    assert.match(metrics, /switchboard_rooms [1-9]/);
    assert.match(metrics, /switchboard_frames_in_total\{dialect="native",type="join"\} [1-9]/);
    assert.match(metrics, /switchboard_frames_out_total\{dialect="native",type="welcome"\} [1-9]/);
    assert.match(metrics, /switchboard_errors_total\{dialect="native",code="invalid-json"\} [1-9]/);
    assert.match(metrics, /switchboard_relay_latency_seconds_count\{kind="signal"\} [1-9]/);
    assert.match(metrics, /switchboard_relay_recipients_total\{kind="signal"\} [1-9]/);
    // Stock process metrics under their stock names, so ready-made Node.js dashboards find them.
    assert.match(metrics, /^process_cpu_seconds_total /m);
    assert.match(metrics, /^nodejs_eventloop_lag_seconds /m);
    assert.doesNotMatch(metrics, /switchboard_process_|switchboard_nodejs_/);
    assert.match(metrics, new RegExp(`^switchboard_build_info\\{version="${VERSION.replace(/\./g, '\\.')}",node_version="${process.version.replace(/\./g, '\\.')}"\\} 1$`, 'm'));
    assert.equal((await fetch(srv.http('/nope'))).status, 404);
    assert.equal((await fetch(srv.http('/v1'))).status, 426);
    await a.c.close();
    await b.c.close();
  });
});

describe('native protocol: time-driven behaviour (injected clock)', () => {
  test('heartbeat: a client that never answers pings is closed with 4000 and its rooms hear "timeout"', async () => {
    // Resume off: the session ends with its socket (with resume on it waits first: native-resume.test.ts).
    const srv = await startServer({ heartbeat: { intervalMs: 1000, timeoutMs: 3000 }, resume: { windowMs: 0 } });
    const live = await peer(srv);
    const silent = new TestClient(new WebSocket(srv.ws('/v1'), { autoPong: false }));
    const sw = await silent.next('welcome');
    await joined(live.c, 'hb');
    await joined(silent, 'hb');
    for (let i = 0; i < 3; i++) {
      srv.clock.advance(1000);
      await sync(live.c); // the live client talks (and auto-answers pings); the silent one does not
    }
    const closed = await silent.closed;
    assert.deepEqual(closed, { code: 4000, reason: 'heartbeat timeout' });
    assert.deepEqual(await live.c.next('peer-left'), { type: 'peer-left', room: 'hb', peerId: sw.peerId, reason: 'timeout' });
    await live.c.close();
    await srv.close();
  });

  test('an idle room expires: members get a self-addressed peer-left "expired" and stay connected', async () => {
    const srv = await startServer({ rooms: { idleTtlMs: 10_000 } });
    const a = await peer(srv);
    await joined(a.c, 'idle');
    for (let i = 0; i < 11; i++) {
      srv.clock.advance(1000);
      await sync(a.c); // pings are connection liveness, not room activity
    }
    assert.deepEqual(await a.c.next('peer-left'), { type: 'peer-left', room: 'idle', peerId: a.id, reason: 'expired' });
    assert.equal((await joined(a.c, 'idle')).type, 'joined');
    await a.c.close();
    await srv.close();
  });

  test('requireCreate: joining a room nobody created is room-not-found', async () => {
    const srv = await startServer({ rooms: { requireCreate: true } });
    const a = await peer(srv);
    assert.equal((await joined(a.c, 'nope')).code, 'room-not-found');
    a.c.send({ type: 'create-room' });
    const { room } = await a.c.next('room-created');
    assert.equal((await joined(a.c, room as string)).type, 'joined');
    await a.c.close();
    await srv.close();
  });

  test('graceful shutdown: /ready turns 503, clients get goaway then close 1001, new upgrades are refused', async () => {
    const srv = await startServer({ drainTimeoutMs: 5000 });
    const a = await peer(srv);
    const stopping = srv.server.stop();
    const goaway = await a.c.next('goaway');
    assert.equal(goaway.reason, 'shutdown');
    assert.ok(Number.isInteger(goaway.reconnectMs) && (goaway.reconnectMs as number) < 5000, `reconnectMs ${goaway.reconnectMs}: a moment within the drain window`);
    const ready = await fetch(srv.http('/ready'));
    assert.equal(ready.status, 503);
    assert.equal((await refused(srv.ws('/v1'))).status, 503);
    srv.clock.advance(5000);
    assert.deepEqual(await a.c.closed, { code: 1001, reason: 'server shutting down' });
    await stopping;
    assert.equal(srv.server.state, 'stopped');
  });

  test('graceful shutdown finishes early when every client has left', async () => {
    const srv = await startServer({ drainTimeoutMs: 60_000 });
    const a = await peer(srv);
    const stopping = srv.server.stop();
    await a.c.next('goaway');
    await a.c.close();
    await stopping; // resolves without advancing the clock
    assert.equal(srv.server.state, 'stopped');
  });

  test('a client that stops reading is closed as a slow consumer (4002) and server memory stays bounded', async () => {
    // The sender floods on purpose: no frame rate limit here (test/security covers that one).
    const srv = await startServer({ limits: { maxBufferedBytes: 256 * 1024 }, rateLimits: { messagesPerSecond: 0 } });
    const sender = await peer(srv);
    const stuck = await peer(srv);
    await joined(sender.c, 'slow');
    await joined(stuck.c, 'slow');
    (stuck.c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const payload = 'z'.repeat(60_000);
    let sent = 0;
    while (stuck.c.closeCode === undefined && sent < 2000) {
      sender.c.send({ type: 'broadcast', room: 'slow', data: payload });
      sent++;
      if (sent % 20 === 0) await sync(sender.c);
      const conn = [...srv.server.connections].find((c) => c.session?.id === stuck.id);
      if (!conn) break;
      assert.ok(conn.ws.bufferedAmount <= 256 * 1024 + 61_000, `buffer ${conn.ws.bufferedAmount} stays bounded`);
    }
    (stuck.c.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    assert.deepEqual(await stuck.c.closed, { code: 4002, reason: 'slow consumer' });
    await sender.c.close();
    await srv.close();
  });
});
