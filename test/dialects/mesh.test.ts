import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { Config, DeepPartial } from '../../src/config.js';
import { meshDialect } from '../../src/dialects/mesh/index.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect, type Frame, type TestClient } from '../helpers/ws.js';

/** The Unity client connects to the bare port: the catch-all path, chosen by first-frame detection. */
const PATH = '/';

interface Member {
  c: TestClient;
  myId: string;
  roomId: string;
}

async function create(srv: TestServer, c?: TestClient): Promise<Member> {
  const client = c ?? (await connect(srv.ws(PATH)));
  client.send({ type: 'create' });
  const f = await client.next((x) => x.type === 'room_created' || x.type === 'error');
  assert.equal(f.type, 'room_created', JSON.stringify(f));
  return { c: client, myId: f.myId as string, roomId: f.roomId as string };
}

async function join(srv: TestServer, roomId: string, c?: TestClient): Promise<Member & { joined: Frame }> {
  const client = c ?? (await connect(srv.ws(PATH)));
  client.send({ type: 'join', roomId });
  const f = await client.next((x) => x.type === 'room_joined' || x.type === 'error');
  assert.equal(f.type, 'room_joined', JSON.stringify(f));
  return { c: client, myId: f.myId as string, roomId, joined: f };
}

async function errorFor(c: TestClient, frame: unknown): Promise<string> {
  c.send(frame);
  const f = await c.next((x) => x.type === 'error');
  assert.deepEqual(Object.keys(f).sort(), ['message', 'type']);
  return f.message as string;
}

/** A round trip the server answers in order: anything sent to `c` before it is queued by now. */
async function sync(c: TestClient): Promise<void> {
  c.send({ type: 'sync-probe' });
  await c.next((f) => f.type === 'error' && f.message === 'Unknown message type: sync-probe');
}

/** Proves `c` received nothing (beyond what the test consumed). */
async function nothingFor(...cs: TestClient[]): Promise<void> {
  for (const c of cs) {
    await sync(c);
    assert.deepEqual(c.take(), []);
  }
}

/** Consumes the initiate_call each member got for every later joiner (members in join order). */
async function heardJoins(...members: Member[]): Promise<void> {
  for (const [i, m] of members.entries()) {
    for (const later of members.slice(i + 1)) assert.deepEqual(await m.c.next('initiate_call'), { type: 'initiate_call', peerId: later.myId });
  }
}

/** A server for one test, stopped when the test ends, pass or fail (stopping closes its sockets). */
async function server(t: TestContext, overrides: DeepPartial<Config> = {}): Promise<TestServer> {
  const srv = await startServer(overrides);
  t.after(() => srv.close());
  return srv;
}

async function closeAll(...cs: TestClient[]): Promise<void> {
  await Promise.all(cs.map((c) => c.close()));
}

describe('mesh dialect (Unity WebRTCManager) on the catch-all path', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer({ trustProxy: true });
  });
  after(() => srv.close());

  test('detect claims create, join carrying roomId, and signal; nothing else', () => {
    const detect = meshDialect.detect!;
    assert.equal(detect({ type: 'create' }), true);
    assert.equal(detect({ type: 'join', roomId: '1234' }), true);
    assert.equal(detect({ type: 'signal', payload: 'x' }), true);
    assert.equal(detect({ type: 'join', room: 'r' }), false, 'vc-style join is not ours');
    assert.equal(detect({ type: 'register', client_id: 'c' }), false);
    assert.equal(detect({ type: 'offer', sdp: 'x' }), false);
    assert.equal(detect(['create']), false);
    assert.equal(detect(null), false);
  });

  test('create → room_created with a 4-digit room id and myId; nothing is sent on connect', async () => {
    const c = await connect(srv.ws(PATH));
    c.send({ type: 'create' });
    const f = await c.next();
    assert.equal(f.type, 'room_created');
    assert.deepEqual(Object.keys(f).sort(), ['myId', 'roomId', 'type']);
    assert.match(f.roomId as string, /^[1-9][0-9]{3}$/);
    assert.ok(Number(f.roomId) >= 1000 && Number(f.roomId) <= 9999);
    assert.equal(typeof f.myId, 'string');
    assert.ok((f.myId as string).length > 0);
    const info = await srv.server.hub.roomInfo('mesh', f.roomId as string);
    assert.deepEqual(info?.members.map((m) => m.peerId), [f.myId]);
    assert.equal(info?.options.idleTtlMs, 300_000);
    await c.close();
  });

  test("the seed README's two-client script: A creates, B joins, B's JSON-string signal reaches A with senderId", async () => {
    const a = await connect(srv.ws(PATH));
    const b = await connect(srv.ws(PATH));
    a.send({ type: 'create' });
    const created = await a.next('room_created');
    b.send({ type: 'join', roomId: created.roomId });
    const joined = await b.next('room_joined');
    assert.equal(joined.roomId, created.roomId);
    assert.notEqual(joined.myId, created.myId);
    const payload = JSON.stringify({ type: 'dummy', text: 'hello from B' });
    b.send({ type: 'signal', payload });
    assert.deepEqual(await a.next('initiate_call'), { type: 'initiate_call', peerId: joined.myId });
    const relayed = await a.next('signal');
    assert.deepEqual(relayed, { type: 'signal', senderId: joined.myId, payload });
    assert.equal(typeof relayed.payload, 'string', 'a string payload stays a string');
    await nothingFor(a, b);
    await closeAll(a, b);
  });

  test('every member already in the room gets initiate_call with the newcomer id; the newcomer does not', async () => {
    const a = await create(srv);
    const b = await join(srv, a.roomId);
    assert.deepEqual(b.joined, { type: 'room_joined', roomId: a.roomId, myId: b.myId, peers: [a.myId] });
    assert.deepEqual(await a.c.next(), { type: 'initiate_call', peerId: b.myId });
    const c = await join(srv, a.roomId);
    assert.deepEqual([...(c.joined.peers as string[])].sort(), [a.myId, b.myId].sort());
    assert.deepEqual(await a.c.next(), { type: 'initiate_call', peerId: c.myId });
    assert.deepEqual(await b.c.next(), { type: 'initiate_call', peerId: c.myId });
    await nothingFor(a.c, b.c, c.c);
    await closeAll(a.c, b.c, c.c);
  });

  test('signal with targetId reaches that peer only', async () => {
    const a = await create(srv);
    const b = await join(srv, a.roomId);
    const c = await join(srv, a.roomId);
    await heardJoins(a, b, c);
    const payload = JSON.stringify({ type: 'offer', sdp: { type: 0, sdp: 'v=0' } });
    a.c.send({ type: 'signal', targetId: b.myId, payload });
    assert.deepEqual(await b.c.next('signal'), { type: 'signal', senderId: a.myId, payload });
    await nothingFor(c.c, a.c, b.c);
    await closeAll(a.c, b.c, c.c);
  });

  test('signal without targetId (or with the empty one Unity writes for null) reaches every other member', async () => {
    const a = await create(srv);
    const b = await join(srv, a.roomId);
    const c = await join(srv, a.roomId);
    await heardJoins(a, b, c);
    a.c.send({ type: 'signal', payload: 'to-all' });
    assert.deepEqual(await b.c.next('signal'), { type: 'signal', senderId: a.myId, payload: 'to-all' });
    assert.deepEqual(await c.c.next('signal'), { type: 'signal', senderId: a.myId, payload: 'to-all' });
    b.c.send({ type: 'signal', targetId: '', payload: 'empty-target' });
    assert.deepEqual(await a.c.next('signal'), { type: 'signal', senderId: b.myId, payload: 'empty-target' });
    assert.deepEqual(await c.c.next('signal'), { type: 'signal', senderId: b.myId, payload: 'empty-target' });
    c.c.send({ type: 'signal', targetId: null, payload: 'null-target' });
    assert.deepEqual(await a.c.next('signal'), { type: 'signal', senderId: c.myId, payload: 'null-target' });
    assert.deepEqual(await b.c.next('signal'), { type: 'signal', senderId: c.myId, payload: 'null-target' });
    await nothingFor(a.c, b.c, c.c);
    await closeAll(a.c, b.c, c.c);
  });

  test('an object payload is passed through as it was sent', async () => {
    const a = await create(srv);
    const b = await join(srv, a.roomId);
    const payload = { type: 'candidate', candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0', sdpMLineIndex: 0 }, n: [1, null, true] };
    b.c.send({ type: 'signal', targetId: a.myId, payload });
    assert.deepEqual(await a.c.next('signal'), { type: 'signal', senderId: b.myId, payload });
    await closeAll(a.c, b.c);
  });

  test('signals never cross rooms: a target in another room is an error, a broadcast stays home', async () => {
    const a = await create(srv);
    const b = await join(srv, a.roomId);
    const x = await create(srv);
    const y = await join(srv, x.roomId);
    assert.notEqual(a.roomId, x.roomId);
    await heardJoins(a, b);
    await heardJoins(x, y);
    assert.equal(await errorFor(a.c, { type: 'signal', targetId: x.myId, payload: 'inject' }), `Peer not found in this room: ${x.myId}`);
    a.c.send({ type: 'signal', payload: 'home only' });
    assert.deepEqual(await b.c.next('signal'), { type: 'signal', senderId: a.myId, payload: 'home only' });
    await nothingFor(x.c, y.c, a.c, b.c);
    await closeAll(a.c, b.c, x.c, y.c);
  });

  test('room ids never collide: 300 creates give 300 distinct live rooms', async () => {
    // Thirty users, each at its own address (one address may hold rooms.maxPerAddress rooms, 100).
    const clients = await Promise.all(Array.from({ length: 30 }, (_, i) => connect(srv.ws(PATH), { headers: { 'x-forwarded-for': `198.51.100.${i + 1}` } })));
    const ids: string[] = [];
    // Each client creates ten rooms in turn; the rooms it leaves stay live (empty-room grace).
    for (let round = 0; round < 10; round++) {
      const got = await Promise.all(clients.map((c) => create(srv, c)));
      ids.push(...got.map((m) => m.roomId));
    }
    assert.equal(new Set(ids).size, 300);
    const live = new Set((await srv.server.hub.listRooms('mesh')).map((r) => r.key.slice('mesh/'.length)));
    for (const id of ids) assert.ok(live.has(id), `room ${id} is live`);
    await closeAll(...clients);
  });

  test('create leaves the previous room: its members hear peer_left and stop reaching the creator', async () => {
    const a = await create(srv);
    const b = await join(srv, a.roomId);
    await a.c.next('initiate_call');
    const second = await create(srv, a.c);
    assert.notEqual(second.roomId, a.roomId);
    assert.equal(second.myId, a.myId, 'myId is the connection, not the room');
    assert.deepEqual(await b.c.next('peer_left'), { type: 'peer_left', peerId: a.myId, reason: 'switched-room' });
    const old = await srv.server.hub.roomInfo('mesh', a.roomId);
    assert.deepEqual(old?.members.map((m) => m.peerId), [b.myId]);
    b.c.send({ type: 'signal', payload: 'anyone?' });
    assert.equal(await errorFor(b.c, { type: 'signal', targetId: a.myId, payload: 'x' }), `Peer not found in this room: ${a.myId}`);
    await nothingFor(a.c);
    await closeAll(a.c, b.c);
  });

  test('join of another room leaves the previous one; a failed join keeps the client where it was', async () => {
    const a = await create(srv);
    const b = await join(srv, a.roomId);
    await a.c.next('initiate_call');
    assert.equal(await errorFor(b.c, { type: 'join', roomId: '0000' }), 'Room not found');
    b.c.send({ type: 'signal', payload: 'still here' });
    assert.equal((await a.c.next('signal')).payload, 'still here');
    const x = await create(srv);
    await join(srv, x.roomId, b.c);
    assert.deepEqual(await a.c.next('peer_left'), { type: 'peer_left', peerId: b.myId, reason: 'switched-room' });
    assert.deepEqual(await x.c.next('initiate_call'), { type: 'initiate_call', peerId: b.myId });
    await closeAll(a.c, b.c, x.c);
  });

  test('join of the room one is in answers room_joined again and tells nobody', async () => {
    const a = await create(srv);
    const b = await join(srv, a.roomId);
    await a.c.next('initiate_call');
    const again = await join(srv, a.roomId, b.c);
    assert.deepEqual(again.joined, { type: 'room_joined', roomId: a.roomId, myId: b.myId, peers: [a.myId] });
    await nothingFor(a.c);
    await closeAll(a.c, b.c);
  });

  test('a numeric roomId names the same room', async () => {
    const a = await create(srv);
    const b = await connect(srv.ws(PATH));
    b.send({ type: 'join', roomId: Number(a.roomId) });
    assert.equal((await b.next('room_joined')).roomId, a.roomId);
    await closeAll(a.c, b);
  });

  test('leave → room_left; the others hear peer_left (reason left); signalling then needs a room', async () => {
    const a = await create(srv);
    const b = await join(srv, a.roomId);
    b.c.send({ type: 'leave' });
    assert.deepEqual(await b.c.next('room_left'), { type: 'room_left', roomId: a.roomId, reason: 'left' });
    assert.deepEqual(await a.c.next('peer_left'), { type: 'peer_left', peerId: b.myId, reason: 'left' });
    assert.equal(await errorFor(b.c, { type: 'signal', payload: 'x' }), 'Not in a room: create or join one first');
    assert.equal(await errorFor(b.c, { type: 'leave' }), 'Not in a room: create or join one first');
    await closeAll(a.c, b.c);
  });

  test('disconnect: the room hears peer_left (reason disconnect) and the peer is gone from the hub', async () => {
    const a = await create(srv);
    const b = await join(srv, a.roomId);
    await a.c.next('initiate_call');
    await b.c.close();
    assert.deepEqual(await a.c.next('peer_left'), { type: 'peer_left', peerId: b.myId, reason: 'disconnect' });
    assert.equal(srv.server.hub.sessions.has(b.myId), false);
    const info = await srv.server.hub.roomInfo('mesh', a.roomId);
    assert.deepEqual(info?.members.map((m) => m.peerId), [a.myId]);
    assert.equal(await errorFor(a.c, { type: 'signal', targetId: b.myId, payload: 'x' }), `Peer not found in this room: ${b.myId}`);
    await a.c.close();
  });

  test('a signal as the first frame, outside any room, is a mesh error', async () => {
    const c = await connect(srv.ws(PATH));
    assert.equal(await errorFor(c, { type: 'signal', payload: 'x' }), 'Not in a room: create or join one first');
    await c.close();
  });

  test('bad input gets a clear error and the socket stays usable', async () => {
    const c = await connect(srv.ws(PATH));
    c.send({ type: 'join', roomId: '9' });
    assert.deepEqual(await c.next(), { type: 'error', message: 'Room not found' });
    assert.equal(await errorFor(c, { type: 'join', roomId: '1234x' }), 'Room not found');
    assert.equal(await errorFor(c, '{"type":'), 'Invalid JSON');
    assert.equal(await errorFor(c, [1, 2]), 'Message must be a JSON object with a string "type"');
    assert.equal(await errorFor(c, '"create"'), 'Message must be a JSON object with a string "type"');
    assert.equal(await errorFor(c, { roomId: '1234' }), 'Message must be a JSON object with a string "type"');
    assert.equal(await errorFor(c, { type: 7 }), 'Message must be a JSON object with a string "type"');
    assert.equal(await errorFor(c, { type: 'hello' }), 'Unknown message type: hello');
    assert.equal(await errorFor(c, { type: 'join' }), 'join requires roomId');
    assert.equal(await errorFor(c, { type: 'join', roomId: '' }), 'join requires roomId');
    assert.equal(await errorFor(c, { type: 'join', roomId: { id: 1 } }), 'roomId must be a string');
    assert.equal(await errorFor(c, { type: 'signal' }), 'signal requires payload');
    assert.equal(await errorFor(c, { type: 'signal', payload: 'x', targetId: 5 }), 'targetId must be a string');
    c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    assert.equal((await c.next('error')).message, 'Binary frames are not supported; send JSON text.');
    c.send(JSON.stringify({ type: 'signal', payload: 'x'.repeat(70_000) }));
    assert.match((await c.next('error')).message as string, /exceeds the limit of 65536/);
    const m = await create(srv, c);
    assert.match(m.roomId, /^[0-9]{4}$/);
    await c.close();
  });

  test('errors are counted in metrics under the mesh dialect', async () => {
    const c = await connect(srv.ws(PATH));
    assert.equal(await errorFor(c, { type: 'join', roomId: '1000x' }), 'Room not found');
    const text = await (await fetch(srv.http('/metrics'))).text();
    assert.match(text, /dialect="mesh"[^\n]*code="room-not-found"|code="room-not-found"[^\n]*dialect="mesh"/);
    await c.close();
  });
});

describe('mesh room capacity', () => {
  test('a full room answers a clear error and the joiner stays out', async (t) => {
    const srv = await server(t, { rooms: { maxPeers: 2 } });
    const a = await create(srv);
    const b = await join(srv, a.roomId);
    const c = await connect(srv.ws(PATH));
    assert.equal(await errorFor(c, { type: 'join', roomId: a.roomId }), 'Room is full');
    assert.equal(await errorFor(c, { type: 'signal', payload: 'x' }), 'Not in a room: create or join one first');
    await a.c.next('initiate_call');
    await nothingFor(a.c, b.c);
    await closeAll(a.c, b.c, c);
  });
});

describe('mesh with one room per connection (rooms.maxRoomsPerPeer = 1)', () => {
  test('create and join still move the client: the old room is left first', async (t) => {
    const srv = await server(t, { rooms: { maxRoomsPerPeer: 1 } });
    const a = await create(srv);
    const b = await join(srv, a.roomId);
    await a.c.next('initiate_call');
    const second = await create(srv, a.c);
    assert.deepEqual(await b.c.next('peer_left'), { type: 'peer_left', peerId: a.myId, reason: 'switched-room' });
    await join(srv, second.roomId, b.c);
    assert.deepEqual(await a.c.next('initiate_call'), { type: 'initiate_call', peerId: b.myId });
    await closeAll(a.c, b.c);
  });
});

describe('mesh removals decided by the server', () => {
  test('a member kicked by the server hears room_left (reason kicked); the others hear peer_left', async (t) => {
    const srv = await server(t);
    const a = await create(srv);
    const b = await join(srv, a.roomId);
    await a.c.next('initiate_call');
    assert.equal(await srv.server.hub.kick('mesh', a.roomId, b.myId), true);
    assert.deepEqual(await b.c.next(), { type: 'room_left', roomId: a.roomId, reason: 'kicked' });
    assert.deepEqual(await a.c.next(), { type: 'peer_left', peerId: b.myId, reason: 'kicked' });
    assert.equal(await errorFor(b.c, { type: 'signal', payload: 'x' }), 'Not in a room: create or join one first');
    await closeAll(a.c, b.c);
  });

  test('server shutdown closes mesh sockets with 1001', async (t) => {
    const srv = await server(t);
    const a = await create(srv);
    await srv.close();
    assert.deepEqual(await a.c.closed, { code: 1001, reason: 'server shutting down' });
  });
});

describe('mesh room ids when the id space is nearly exhausted', () => {
  test('the last free ids are still found, and then a clear error', async (t) => {
    const srv = await server(t);
    const free = new Set(['1000', '5678', '9999']);
    for (let n = 1000; n <= 9999; n++) {
      if (!free.has(String(n))) await srv.server.hub.createRoom('mesh', { name: String(n) });
    }
    const got: string[] = [];
    const clients: TestClient[] = [];
    for (let i = 0; i < 3; i++) {
      const m = await create(srv);
      got.push(m.roomId);
      clients.push(m.c);
    }
    assert.deepEqual(got.sort(), [...free].sort());
    const late = await connect(srv.ws(PATH));
    assert.equal(await errorFor(late, { type: 'create' }), 'No free room id; try again later');
    await closeAll(...clients, late);
  });
});

describe('mesh room ids and the per-address quota (rooms.maxPerAddress)', () => {
  test('with the space nearly full, an address at its quota is refused at once, and others still get the last free ids', async (t) => {
    const srv = await server(t, { trustProxy: true, rooms: { maxPerAddress: 2 } });
    const from = (address: string) => connect(srv.ws(PATH), { headers: { 'x-forwarded-for': address } });
    const free = new Set(['1000', '4242', '7777', '9999']);
    // Everybody else's rooms (made without an address, so counted against nobody).
    for (let n = 1000; n <= 9999; n++) {
      if (!free.has(String(n))) await srv.server.hub.createRoom('mesh', { name: String(n) });
    }
    const hub = srv.server.hub;
    const list = hub.listRooms.bind(hub);
    let searches = 0;
    hub.listRooms = (ns) => (searches++, list(ns));

    const attacker = await from('203.0.113.66');
    const got = [(await create(srv, attacker)).roomId, (await create(srv, attacker)).roomId];
    const before = searches;
    assert.equal(await errorFor(attacker, { type: 'create' }), 'Too many open rooms created from your address (at most 2); try again later');
    assert.equal(searches, before, 'an address at its quota is refused before any free-id search');

    const b = await create(srv, await from('198.51.100.1'));
    const c = await create(srv, await from('198.51.100.2'));
    assert.deepEqual([...got, b.roomId, c.roomId].sort(), [...free].sort());
    const late = await from('198.51.100.3');
    assert.equal(await errorFor(late, { type: 'create' }), 'No free room id; try again later');
    await closeAll(attacker, b.c, c.c, late);
  });
});
