import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { Config, DeepPartial } from '../../src/config.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { memberCount, tick, until } from '../helpers/wait.js';
import { connect, type Frame, type TestClient } from '../helpers/ws.js';

/**
 * rooms.maxPerAddress: the live rooms one client address may have created. Client addresses come
 * from X-Forwarded-For with trustProxy on (as behind a proxy), so one test process can be many
 * clients; without trustProxy the header is ignored and every socket here is 127.0.0.1.
 */

const quota = (n: number) => `Too many open rooms created from your address (at most ${n})`;

function from(address: string): { headers: Record<string, string> } {
  return { headers: { 'x-forwarded-for': address } };
}

async function server(t: TestContext, overrides: DeepPartial<Config>): Promise<TestServer> {
  const srv = await startServer({ trustProxy: true, ...overrides });
  t.after(() => srv.close());
  return srv;
}

async function native(srv: TestServer, address?: string): Promise<TestClient> {
  const c = await connect(srv.ws('/v1'), address ? from(address) : {});
  await c.next('welcome');
  return c;
}

/** One native request and its answer (the reply it names, or an error). */
async function ask(c: TestClient, frame: Frame): Promise<Frame> {
  const id = `${frame.type}-${Math.random()}`;
  c.send({ ...frame, id });
  return c.next((f) => f.re === id);
}

/**
 * Moves the clock one sweep interval (1 s) at a time, letting each sweep finish before the next
 * (the hub skips a sweep while one is running, so one big jump would sweep once).
 */
async function sweep(srv: TestServer, ms: number): Promise<void> {
  for (let left = ms; left > 0; left -= 1000) {
    srv.clock.advance(Math.min(1000, left));
    await tick();
    await srv.server.hub.sweepDone();
  }
}

describe('mesh: one address cannot take the 4-digit id space', () => {
  test('at the default of 100, an address with many sockets gets 100 rooms and then a mesh error; another address still creates', async (t) => {
    // Joins are not rate-limited here: the quota, not the join bucket, is what must stop this.
    const srv = await server(t, { rateLimits: { joinsPerSecond: 0 } });
    const attacker = await Promise.all([1, 2, 3, 4, 5, 6].map(() => connect(srv.ws('/'), from('203.0.113.66'))));
    const answers = await Promise.all(
      attacker.map(async (c) => {
        const got: Frame[] = [];
        for (let i = 0; i < 25; i++) {
          c.send({ type: 'create' });
          got.push(await c.next((f) => f.type === 'room_created' || f.type === 'error'));
        }
        return got;
      }),
    );
    const all = answers.flat();
    const created = all.filter((f) => f.type === 'room_created');
    const refused = all.filter((f) => f.type === 'error');
    console.log(`# mesh, one address, 6 sockets, 150 creates: ${created.length} rooms, ${refused.length} refused`);
    assert.equal(created.length, 100);
    assert.equal(new Set(created.map((f) => f.roomId)).size, 100);
    assert.deepEqual(new Set(refused.map((f) => JSON.stringify(f))), new Set([JSON.stringify({ type: 'error', message: `${quota(100)}; try again later` })]));

    const other = await connect(srv.ws('/'), from('198.51.100.1'));
    other.send({ type: 'create' });
    assert.equal((await other.next((f) => f.type === 'room_created' || f.type === 'error')).type, 'room_created');

    // The attacker's rooms go once its sockets do and the empty-room grace passes: then it may create again.
    await Promise.all(attacker.map((c) => c.close()));
    await sweep(srv, 30_000);
    const back = await connect(srv.ws('/'), from('203.0.113.66'));
    back.send({ type: 'create' });
    assert.equal((await back.next((f) => f.type === 'room_created' || f.type === 'error')).type, 'room_created');
    await Promise.all([other.close(), back.close()]);
  });
});

describe('native: create-room and a join that creates both count', () => {
  test('the third room is the last; an existing room can still be joined; the count falls when a room is removed', async (t) => {
    const srv = await server(t, { rooms: { maxPerAddress: 3 } });
    const a = await native(srv, '203.0.113.10');
    const a2 = await native(srv, '203.0.113.10');
    const b = await native(srv, '198.51.100.20');
    const refusal = { type: 'error', code: 'room-quota', message: `${quota(3)}; try again once some have closed.` };

    assert.equal((await ask(a, { type: 'create-room' })).type, 'room-created');
    assert.equal((await ask(a2, { type: 'create-room' })).type, 'room-created');
    assert.equal((await ask(a, { type: 'join', room: 'made-by-a' })).type, 'joined');
    const over = await ask(a2, { type: 'create-room' });
    assert.deepEqual({ ...over, re: undefined }, { ...refusal, re: undefined });
    const overJoin = await ask(a2, { type: 'join', room: 'would-be-fourth' });
    assert.deepEqual({ ...overJoin, re: undefined }, { ...refusal, re: undefined });
    assert.equal(await srv.server.hub.roomInfo('native', 'would-be-fourth'), undefined, 'the refused join left no room behind');

    // Another address has its own count, and joining a room someone else made is not creating one.
    assert.equal((await ask(b, { type: 'join', room: 'made-by-b' })).type, 'joined');
    assert.equal((await ask(a2, { type: 'join', room: 'made-by-b' })).type, 'joined');

    // Leaving does not free the slot while the empty room lives on (rooms.emptyTtlMs); its removal does.
    assert.equal((await ask(a, { type: 'leave', room: 'made-by-a' })).type, 'left');
    assert.equal((await ask(a, { type: 'create-room' })).code, 'room-quota');
    await sweep(srv, 30_000);
    // all three of a's rooms were empty: all three went, so three more fit and the fourth does not
    for (let i = 0; i < 3; i++) assert.equal((await ask(a, { type: 'create-room' })).type, 'room-created');
    assert.equal((await ask(a, { type: 'create-room' })).code, 'room-quota');
    await Promise.all([a.close(), a2.close(), b.close()]);
  });

  test('rooms.maxPerAddress 0 lifts the limit', async (t) => {
    const srv = await server(t, { rooms: { maxPerAddress: 0 }, rateLimits: { joinsPerSecond: 0 } });
    const a = await native(srv, '203.0.113.10');
    for (let i = 0; i < 150; i++) assert.equal((await ask(a, { type: 'create-room' })).type, 'room-created');
    await a.close();
  });

  test('without trustProxy the forwarding header is ignored: every socket here is one address', async (t) => {
    const srv = await server(t, { trustProxy: false, rooms: { maxPerAddress: 2 } });
    const a = await native(srv, '203.0.113.1');
    const b = await native(srv, '203.0.113.2');
    assert.equal((await ask(a, { type: 'create-room' })).type, 'room-created');
    assert.equal((await ask(b, { type: 'create-room' })).type, 'room-created');
    assert.equal((await ask(b, { type: 'join', room: 'third' })).code, 'room-quota');
    await Promise.all([a.close(), b.close()]);
  });
});

describe('every dialect that creates rooms refuses past the quota in its own words', () => {
  /** A server where 203.0.113.5 already holds its one room (a native one: the count spans dialects). */
  async function full(t: TestContext): Promise<{ srv: TestServer; holder: TestClient }> {
    const srv = await server(t, { rooms: { maxPerAddress: 1 } });
    const holder = await native(srv, '203.0.113.5');
    assert.equal((await ask(holder, { type: 'create-room' })).type, 'room-created');
    t.after(() => holder.close());
    return { srv, holder };
  }

  test('vc: a join that would create a room', async (t) => {
    const { srv } = await full(t);
    const c = await connect(srv.ws('/ws'), from('203.0.113.5'));
    await c.next('welcome');
    c.send({ type: 'join', room: 'vc-new', name: 'V' });
    assert.deepEqual(await c.next(), { type: 'error', error: 'room-quota', detail: 'at most 1 open rooms created from one address' });
    // an existing vc room (another address made it) is joined as ever
    const other = await connect(srv.ws('/ws'), from('198.51.100.5'));
    await other.next('welcome');
    other.send({ type: 'join', room: 'vc-existing', name: 'O' });
    await other.next('joined');
    c.send({ type: 'join', room: 'vc-existing', name: 'V' });
    assert.equal((await c.next()).type, 'joined');
    await Promise.all([c.close(), other.close()]);
  });

  test('vc: a room with no empty grace frees its slot the moment its last member leaves', async (t) => {
    const srv = await server(t, { rooms: { maxPerAddress: 1 } });
    const c = await connect(srv.ws('/ws'), from('203.0.113.9'));
    await c.next('welcome');
    c.send({ type: 'join', room: 'first', name: 'V' });
    assert.equal((await c.next()).type, 'joined');
    c.send({ type: 'leave' });
    assert.equal((await c.next()).type, 'left');
    c.send({ type: 'join', room: 'second', name: 'V' });
    assert.equal((await c.next()).type, 'joined');
    await c.close();
  });

  test('slam: a register that would create its room', async (t) => {
    const { srv } = await full(t);
    const c = await connect(srv.ws('/'), from('203.0.113.5'));
    c.send({ type: 'register', client_id: 'pc-1', room_id: 'lab' });
    assert.deepEqual(await c.next(), { type: 'error', message: quota(1) });
    await c.close();
  });

  test('slam-pair: a pairing path\'s room exists only while its sockets do, and is not counted', async (t) => {
    const { srv } = await full(t);
    const offerer = await connect(srv.ws('/signaling'), from('203.0.113.5'));
    const answerer = await connect(srv.ws('/signaling'), from('203.0.113.5'));
    await until(async () => (await memberCount(srv.server.hub, 'slam-pair', '/signaling')) >= 2, 'both sockets in the pairing room');
    offerer.send({ type: 'offer', sdp: 'v=0' });
    assert.deepEqual(await answerer.next(), { type: 'offer', sdp: 'v=0' });
    await Promise.all([offerer.close(), answerer.close()]);
  });

  test('call: the online directory is the server\'s room, not the client\'s: registering is never refused', async (t) => {
    const { srv } = await full(t);
    const c = await connect(srv.ws('/'), from('203.0.113.5'));
    c.send({ type: 'register', username: 'alice', user_id: 'a1' });
    assert.deepEqual(await c.next(), { type: 'registered', username: 'alice', user_id: 'a1' });
    await c.close();
  });

  test('mesh: create', async (t) => {
    const { srv } = await full(t);
    const c = await connect(srv.ws('/'), from('203.0.113.5'));
    c.send({ type: 'create' });
    assert.deepEqual(await c.next(), { type: 'error', message: `${quota(1)}; try again later` });
    await c.close();
  });

  test('flyx: POST /room and POST /api/room answer 429, counted by the request\'s client address', async (t) => {
    const { srv } = await full(t);
    for (const path of ['/room', '/api/room']) {
      const res = await fetch(srv.http(path), { method: 'POST', ...from('203.0.113.5') });
      assert.equal(res.status, 429, path);
      assert.deepEqual(await res.json(), { error: `${quota(1)}; try again later` });
    }
    const ok = await fetch(srv.http('/room'), { method: 'POST', ...from('198.51.100.7') });
    assert.equal(ok.status, 201);
    assert.equal((await fetch(srv.http('/api/room'), { method: 'POST', ...from('198.51.100.7') })).status, 429, 'its one room is the one just made');
  });
});
