import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect, type Frame, type TestClient } from '../helpers/ws.js';
import { detectPair, detectSlam } from '../../src/dialects/slam/index.js';
import { slamNothingMore as nothingMore, slamSettle as settle } from '../helpers/rounds.js';

let srv: TestServer;
before(async () => {
  srv = await startServer();
});
after(() => srv.close());

/** Opens a socket on a catch-all path and registers it; resolves once `registered` arrived. */
async function register(clientId: string, room?: string, clientType?: string, server = srv): Promise<{ c: TestClient; registered: Frame }> {
  const c = await connect(server.ws('/'));
  const frame: Record<string, unknown> = { type: 'register', client_id: clientId };
  if (room !== undefined) frame.room_id = room;
  if (clientType !== undefined) frame.client_type = clientType;
  c.send(frame);
  return { c, registered: await c.next('registered') };
}

async function expectError(c: TestClient, frame: unknown, message: string): Promise<void> {
  c.send(frame);
  assert.deepEqual(await c.next(), { type: 'error', message });
}

test('the README sequence: PC and Android register, offer/answer and ICE are relayed with sender_id', async () => {
  const pc = await register('pc_client_1', 'room_name', 'pc');
  assert.deepEqual(pc.registered, { type: 'registered', client_id: 'pc_client_1', room_id: 'room_name', peers: [] });

  const android = await register('android_client_1', 'room_name', 'android');
  assert.deepEqual(android.registered, { type: 'registered', client_id: 'android_client_1', room_id: 'room_name', peers: ['pc_client_1'] });
  assert.deepEqual(await pc.c.next(), { type: 'peer_joined', client_id: 'android_client_1', client_type: 'android' });

  const offerSdp = { type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n' };
  pc.c.send({ type: 'offer', target_id: 'android_client_1', sdp: offerSdp });
  assert.deepEqual(await android.c.next(), { type: 'offer', sender_id: 'pc_client_1', sdp: offerSdp });

  const answerSdp = { type: 'answer', sdp: 'v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\n' };
  android.c.send({ type: 'answer', target_id: 'pc_client_1', sdp: answerSdp });
  assert.deepEqual(await pc.c.next(), { type: 'answer', sender_id: 'android_client_1', sdp: answerSdp });

  const pcCandidate = { candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host', sdpMid: '0', sdpMLineIndex: 0 };
  pc.c.send({ type: 'ice_candidate', target_id: 'android_client_1', candidate: pcCandidate });
  assert.deepEqual(await android.c.next(), { type: 'ice_candidate', sender_id: 'pc_client_1', candidate: pcCandidate });
  const androidCandidate = { candidate: 'candidate:2 1 udp 2122260223 127.0.0.1 50001 typ host', sdpMid: '0', sdpMLineIndex: 0 };
  android.c.send({ type: 'ice_candidate', target_id: 'pc_client_1', candidate: androidCandidate });
  assert.deepEqual(await pc.c.next(), { type: 'ice_candidate', sender_id: 'android_client_1', candidate: androidCandidate });

  await nothingMore(pc.c);
  await nothingMore(android.c);
  await android.c.close();
  assert.deepEqual(await pc.c.next(), { type: 'peer_left', client_id: 'android_client_1', client_type: 'android' });
  await pc.c.close();
});

test('room defaults to "default" and client_type to "unknown"; sdp strings pass through untouched', async () => {
  const a = await register('defaults-a');
  assert.deepEqual(a.registered, { type: 'registered', client_id: 'defaults-a', room_id: 'default', peers: [] });
  const b = await register('defaults-b', undefined, undefined);
  assert.deepEqual(b.registered.peers, ['defaults-a']);
  assert.deepEqual(await a.c.next(), { type: 'peer_joined', client_id: 'defaults-b', client_type: 'unknown' });
  b.c.send({ type: 'offer', target_id: 'defaults-a', sdp: 'v=0 as a string' });
  assert.deepEqual(await a.c.next(), { type: 'offer', sender_id: 'defaults-b', sdp: 'v=0 as a string' });
  await a.c.close();
  await b.c.close();
});

test('sender_id is set by the server and cannot be forged; extra fields are not relayed', async () => {
  const a = await register('forge-a', 'forge');
  const b = await register('forge-b', 'forge');
  await a.c.next('peer_joined');
  a.c.send({ type: 'offer', target_id: 'forge-b', sender_id: 'someone-else', sdp: 'x', secret: 1 });
  assert.deepEqual(await b.c.next(), { type: 'offer', sender_id: 'forge-a', sdp: 'x' });
  a.c.send({ type: 'ice_candidate', target_id: 'forge-b', sender_id: 'x', candidate: 'candidate:1', sdpMid: '0', sdpMLineIndex: 0 });
  assert.deepEqual(await b.c.next(), { type: 'ice_candidate', sender_id: 'forge-a', candidate: 'candidate:1', sdpMid: '0', sdpMLineIndex: 0 });
  await a.c.close();
  await b.c.close();
});

test('every error text, each answered on a socket that stays open', async () => {
  const c = await connect(srv.ws('/'));
  // The first frame decides the dialect: a register with neither client_id nor username is slam's.
  await expectError(c, { type: 'register', room_id: 'errors' }, 'Missing client_id');
  await expectError(c, { type: 'register', client_id: null }, 'Missing client_id');
  await expectError(c, { type: 'register', client_id: '' }, 'Missing client_id');
  await expectError(c, { type: 'register', client_id: 42 }, 'Invalid client_id: must be a non-empty string');
  await expectError(c, { type: 'register', client_id: 'x'.repeat(65) }, 'Invalid client_id: longer than 64 characters');
  await expectError(c, { type: 'register', client_id: 'e', room_id: 7 }, 'Invalid room_id: must be a non-empty string');
  await expectError(c, { type: 'register', client_id: 'e', room_id: '' }, 'Invalid room_id: must be a non-empty string');
  await expectError(c, { type: 'register', client_id: 'e', room_id: 'r'.repeat(65) }, 'Invalid room_id: longer than 64 characters');
  await expectError(c, { type: 'register', client_id: 'e', client_type: ['pc'] }, 'Invalid client_type: must be a non-empty string');
  await expectError(c, { type: 'register', client_id: 'e', client_type: '' }, 'Invalid client_type: must be a non-empty string');
  await expectError(c, { type: 'register', client_id: 'e', client_type: 't'.repeat(65) }, 'Invalid client_type: longer than 64 characters');
  await expectError(c, { type: 'offer', target_id: 'nobody', sdp: 'x' }, 'Not registered: send register with a client_id first');
  await expectError(c, '{"type":', 'Invalid JSON');
  await expectError(c, [1, 2], 'Message must be a JSON object with a string "type"');
  await expectError(c, 'null', 'Message must be a JSON object with a string "type"');
  await expectError(c, { type: 3 }, 'Message must be a JSON object with a string "type"');
  await expectError(c, { type: 'hello' }, 'Unknown message type: hello');

  c.send({ type: 'register', client_id: 'errors-me', room_id: 'errors' });
  await c.next('registered');
  await expectError(c, { type: 'offer', sdp: 'x' }, 'Missing target_id');
  await expectError(c, { type: 'answer', target_id: 5, sdp: 'x' }, 'Missing target_id');
  await expectError(c, { type: 'offer', target_id: 'errors-me' }, 'Missing sdp');
  await expectError(c, { type: 'ice_candidate', target_id: 'errors-me' }, 'Missing candidate');
  await expectError(c, { type: 'offer', target_id: 'ghost', sdp: 'x' }, 'Peer not found: ghost');
  await expectError(c, { type: 'ice_candidate', target_id: 'errors-me', candidate: {} }, 'Peer not found: errors-me');
  await expectError(c, { type: 'answer', target_id: 'g'.repeat(100), sdp: 'x' }, `Peer not found: ${'g'.repeat(64)}…`);

  c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  assert.deepEqual(await c.next(), { type: 'error', message: 'Binary frames are not supported; send JSON text.' });
  const big = JSON.stringify({ type: 'offer', target_id: 'x', sdp: 'a'.repeat(70_000) });
  c.send(big);
  assert.deepEqual(await c.next(), { type: 'error', message: `Message of ${big.length} bytes exceeds the limit of 65536.` });

  // Still open and still registered.
  c.send({ type: 'register', client_id: 'errors-me', room_id: 'errors' });
  assert.deepEqual(await c.next(), { type: 'registered', client_id: 'errors-me', room_id: 'errors', peers: [] });
  await c.close();
});

test('errors are counted in metrics under the slam dialect', async () => {
  const c = await connect(srv.ws('/'));
  await expectError(c, { type: 'register' }, 'Missing client_id');
  await expectError(c, { type: 'offer', target_id: 'a', sdp: 'x' }, 'Not registered: send register with a client_id first');
  const text = await (await fetch(srv.http('/metrics'))).text();
  assert.match(text, /dialect="slam"[^\n]*code="invalid-message"|code="invalid-message"[^\n]*dialect="slam"/);
  assert.match(text, /dialect="slam"[^\n]*code="not-registered"|code="not-registered"[^\n]*dialect="slam"/);
  await c.close();
});

test('first-frame detection: which frames slam and slam-pair claim', () => {
  const slam = [
    { type: 'register', client_id: 'a' },
    { type: 'register', client_id: 'a', username: 'u' },
    { type: 'register' },
    { type: 'register', room_id: 'r', client_type: 'pc' },
    { type: 'offer', target_id: 'a', sdp: 'x' },
    { type: 'answer', target_id: null },
    { type: 'ice_candidate', target_id: 'a', candidate: {} },
  ];
  const pair = [
    { type: 'offer', sdp: 'x' },
    { type: 'answer', sdp: 'x' },
    { type: 'ice_candidate', candidate: 'c', sdpMid: '0', sdpMLineIndex: 0 },
    { type: 'offer' },
  ];
  const neither = [
    { type: 'register', username: 'u', user_id: 'i' },
    { type: 'register', username: 'u' },
    { type: 'register', user_id: 'i' },
    { type: 'offer', target_username: 'u', data: {} },
    { type: 'create' },
    { type: 'join', roomId: '1234' },
    { type: 'signal', payload: 'p' },
    { type: 'hello' },
    null,
    [],
    'offer',
    { type: 7 },
  ];
  for (const f of slam) assert.equal([detectSlam(f), detectPair(f)].join(), 'true,false', JSON.stringify(f));
  for (const f of pair) assert.equal([detectSlam(f), detectPair(f)].join(), 'false,true', JSON.stringify(f));
  for (const f of neither) assert.equal([detectSlam(f), detectPair(f)].join(), 'false,false', JSON.stringify(f));
});

test('a register carrying client_id is slam even beside a username', async () => {
  const c = await connect(srv.ws('/'));
  c.send({ type: 'register', client_id: 'mixed', username: 'u' });
  assert.deepEqual(await c.next(), { type: 'registered', client_id: 'mixed', room_id: 'default', peers: [] });
  await c.close();
});

test('no silent hijack: a second socket registering the same client_id replaces the first, which is closed with 4001', async () => {
  const watcher = await register('hijack-watcher', 'hijack');
  const first = await register('hijack-me', 'hijack', 'android');
  await watcher.c.next('peer_joined');

  const second = await register('hijack-me', 'hijack', 'android');
  assert.deepEqual(await first.c.closedWithin(), { code: 4001, reason: 'client_id registered by another connection' });
  assert.deepEqual(second.registered, { type: 'registered', client_id: 'hijack-me', room_id: 'hijack', peers: ['hijack-watcher'] });
  // The room sees the old one go and the new one come.
  assert.deepEqual(await watcher.c.next(), { type: 'peer_left', client_id: 'hijack-me', client_type: 'android' });
  assert.deepEqual(await watcher.c.next(), { type: 'peer_joined', client_id: 'hijack-me', client_type: 'android' });

  // Relays now reach the new socket.
  watcher.c.send({ type: 'offer', target_id: 'hijack-me', sdp: 'to-the-new-one' });
  assert.deepEqual(await second.c.next(), { type: 'offer', sender_id: 'hijack-watcher', sdp: 'to-the-new-one' });
  await nothingMore(watcher.c);
  await watcher.c.close();
  await second.c.close();
});

test('re-registering into another room leaves the old room (peer_left there) and relays from it stop', async () => {
  const oldMate = await register('move-old-mate', 'move-old');
  const newMate = await register('move-new-mate', 'move-new');
  const mover = await register('mover', 'move-old', 'pc');
  await oldMate.c.next('peer_joined');

  mover.c.send({ type: 'register', client_id: 'mover', room_id: 'move-new', client_type: 'pc' });
  assert.deepEqual(await mover.c.next(), { type: 'registered', client_id: 'mover', room_id: 'move-new', peers: ['move-new-mate'] });
  assert.deepEqual(await oldMate.c.next(), { type: 'peer_left', client_id: 'mover', client_type: 'pc' });
  assert.deepEqual(await newMate.c.next(), { type: 'peer_joined', client_id: 'mover', client_type: 'pc' });

  await expectError(oldMate.c, { type: 'offer', target_id: 'mover', sdp: 'x' }, 'Peer not found: mover');
  await expectError(mover.c, { type: 'offer', target_id: 'move-old-mate', sdp: 'x' }, 'Peer not found: move-old-mate');
  newMate.c.send({ type: 'answer', target_id: 'mover', sdp: 'y' });
  assert.deepEqual(await mover.c.next(), { type: 'answer', sender_id: 'move-new-mate', sdp: 'y' });

  await nothingMore(mover.c);
  await nothingMore(oldMate.c);
  for (const x of [oldMate, newMate, mover]) await x.c.close();
});

test('renaming inside a room releases the old client_id; re-registering identically changes nothing', async () => {
  const mate = await register('rename-mate', 'rename');
  const me = await register('rename-old', 'rename', 'pc');
  await mate.c.next('peer_joined');

  me.c.send({ type: 'register', client_id: 'rename-old', room_id: 'rename', client_type: 'pc' });
  assert.deepEqual(await me.c.next(), { type: 'registered', client_id: 'rename-old', room_id: 'rename', peers: ['rename-mate'] });
  await nothingMore(mate.c);

  me.c.send({ type: 'register', client_id: 'rename-new', room_id: 'rename', client_type: 'pc' });
  assert.deepEqual(await me.c.next(), { type: 'registered', client_id: 'rename-new', room_id: 'rename', peers: ['rename-mate'] });
  assert.deepEqual(await mate.c.next(), { type: 'peer_left', client_id: 'rename-old', client_type: 'pc' });
  assert.deepEqual(await mate.c.next(), { type: 'peer_joined', client_id: 'rename-new', client_type: 'pc' });

  // The old name is free: taking it does not close the renamed socket.
  const taker = await register('rename-old', 'rename-elsewhere');
  await nothingMore(me.c);
  assert.equal(me.c.closeCode, undefined);
  for (const x of [mate, me, taker]) await x.c.close();
});

test('a failed register does not orphan the socket: it keeps its registration, holds no new id, and can retry', async () => {
  const small = await startServer({ rooms: { maxPeers: 2 } });
  try {
    const a = await register('full-a', 'full', undefined, small);
    const b = await register('full-b', 'full', undefined, small);
    await a.c.next('peer_joined');
    const c = await register('c-home', 'home', undefined, small);

    // Room full: an error, and c is still registered at home under its old id.
    await expectError(c.c, { type: 'register', client_id: 'c-new', room_id: 'full' }, 'Room is full: full');
    const homeMate = await register('home-mate', 'home', undefined, small);
    assert.deepEqual(homeMate.registered.peers, ['c-home']);
    homeMate.c.send({ type: 'offer', target_id: 'c-home', sdp: 'still here' });
    assert.deepEqual(await c.c.next('peer_joined'), { type: 'peer_joined', client_id: 'home-mate', client_type: 'unknown' });
    assert.deepEqual(await c.c.next(), { type: 'offer', sender_id: 'home-mate', sdp: 'still here' });

    // The id it tried for is not held: another socket takes it without closing c.
    const other = await register('c-new', 'elsewhere', undefined, small);
    await nothingMore(c.c);
    assert.equal(c.c.closeCode, undefined);

    // A fresh socket whose first register fails can simply try again.
    const fresh = await connect(small.ws('/'));
    await expectError(fresh, { type: 'register', client_id: 'fresh', room_id: 'full' }, 'Room is full: full');
    await b.c.close();
    await a.c.next('peer_left');
    fresh.send({ type: 'register', client_id: 'fresh', room_id: 'full' });
    assert.deepEqual(await fresh.next(), { type: 'registered', client_id: 'fresh', room_id: 'full', peers: ['full-a'] });
    for (const x of [a.c, c.c, homeMate.c, other.c, fresh]) await x.close();
  } finally {
    await small.close();
  }
});

test('when a join fails the socket keeps its old room, or after a failed rename in place holds nothing', async () => {
  const own = await startServer();
  try {
    const mate = await register('drain-mate', 'drain', undefined, own);
    const me = await register('drain-me', 'drain', undefined, own);
    await mate.c.next('peer_joined');
    // A draining hub refuses every join: the one failure a test can trigger at will.
    own.server.hub.draining = true;
    await expectError(me.c, { type: 'register', client_id: 'drain-me', room_id: 'drain-other' }, 'Server is shutting down');
    mate.c.send({ type: 'offer', target_id: 'drain-me', sdp: 'still in drain' });
    assert.deepEqual(await me.c.next(), { type: 'offer', sender_id: 'drain-mate', sdp: 'still in drain' });

    await expectError(me.c, { type: 'register', client_id: 'drain-renamed', room_id: 'drain' }, 'Server is shutting down');
    assert.deepEqual(await mate.c.next(), { type: 'peer_left', client_id: 'drain-me', client_type: 'unknown' });
    assert.equal(await own.server.hub.resolveAlias('slam', 'drain-me'), undefined);
    assert.equal(await own.server.hub.resolveAlias('slam', 'drain-renamed'), undefined);
    await expectError(me.c, { type: 'offer', target_id: 'drain-mate', sdp: 'x' }, 'Not registered: send register with a client_id first');

    own.server.hub.draining = false;
    me.c.send({ type: 'register', client_id: 'drain-renamed', room_id: 'drain' });
    assert.deepEqual(await me.c.next(), { type: 'registered', client_id: 'drain-renamed', room_id: 'drain', peers: ['drain-mate'] });
    await mate.c.close();
    await me.c.close();
  } finally {
    await own.close();
  }
});

test('moving rooms works when the server allows one room per connection', async () => {
  const own = await startServer({ rooms: { maxRoomsPerPeer: 1 } });
  try {
    const oldMate = await register('one-old-mate', 'one-old', undefined, own);
    const me = await register('one-me', 'one-old', undefined, own);
    await oldMate.c.next('peer_joined');
    me.c.send({ type: 'register', client_id: 'one-me', room_id: 'one-new' });
    assert.deepEqual(await me.c.next(), { type: 'registered', client_id: 'one-me', room_id: 'one-new', peers: [] });
    assert.deepEqual(await oldMate.c.next(), { type: 'peer_left', client_id: 'one-me', client_type: 'unknown' });
    await oldMate.c.close();
    await me.c.close();
  } finally {
    await own.close();
  }
});

test('with rooms.requireCreate a register into a missing room is refused with "Room not found"', async () => {
  const own = await startServer({ rooms: { requireCreate: true } });
  try {
    const c = await connect(own.ws('/'));
    await expectError(c, { type: 'register', client_id: 'nf', room_id: 'nowhere' }, 'Room not found: nowhere');
    assert.equal(await own.server.hub.resolveAlias('slam', 'nf'), undefined);
    await own.server.hub.createRoom('slam', { name: 'nowhere' });
    c.send({ type: 'register', client_id: 'nf', room_id: 'nowhere' });
    assert.deepEqual(await c.next(), { type: 'registered', client_id: 'nf', room_id: 'nowhere', peers: [] });
    await c.close();
  } finally {
    await own.close();
  }
});

test('malformed JSON gets an error and the socket keeps relaying (the original closed it)', async () => {
  const a = await register('json-a', 'json');
  const b = await register('json-b', 'json');
  await a.c.next('peer_joined');
  await expectError(a.c, '{"type":"offer", target_id: json-b}', 'Invalid JSON');
  a.c.send({ type: 'offer', target_id: 'json-b', sdp: 'after the bad frame' });
  assert.deepEqual(await b.c.next(), { type: 'offer', sender_id: 'json-a', sdp: 'after the bad frame' });
  await a.c.close();
  await b.c.close();
});

test('peer_left names the leaver as peer_joined did, client_type too, also for a peer that was there before me', async () => {
  const device = await register('lab-phone', 'lab-left', 'android');
  const pc = await register('lab-pc', 'lab-left', 'pc');
  assert.deepEqual(pc.registered.peers, ['lab-phone']);
  await device.c.next('peer_joined');
  await device.c.close();
  assert.deepEqual(await pc.c.next(), { type: 'peer_left', client_id: 'lab-phone', client_type: 'android' });
  await pc.c.close();
});

test('relays to an unknown or departed target get "Peer not found" (the original dropped them silently)', async () => {
  const a = await register('gone-a', 'gone');
  const b = await register('gone-b', 'gone');
  await a.c.next('peer_joined');
  await expectError(a.c, { type: 'ice_candidate', target_id: 'never-was', candidate: {} }, 'Peer not found: never-was');
  await b.c.close();
  assert.deepEqual(await a.c.next(), { type: 'peer_left', client_id: 'gone-b', client_type: 'unknown' });
  await expectError(a.c, { type: 'answer', target_id: 'gone-b', sdp: 'x' }, 'Peer not found: gone-b');
  await a.c.close();
});

test('cross-room relay is impossible, even to a client_id that exists', async () => {
  const a = await register('xroom-a', 'xroom-1');
  const b = await register('xroom-b', 'xroom-2');
  await expectError(a.c, { type: 'offer', target_id: 'xroom-b', sdp: 'injected' }, 'Peer not found: xroom-b');
  await expectError(a.c, { type: 'ice_candidate', target_id: 'xroom-b', candidate: 'injected' }, 'Peer not found: xroom-b');
  await nothingMore(b.c);
  await a.c.close();
  await b.c.close();
});

test('disconnect cleans up at once: peer_left to the room, and the client_id is free again', async () => {
  const stay = await register('dc-stay', 'dc');
  const go = await register('dc-go', 'dc', 'android');
  await stay.c.next('peer_joined');
  await go.c.close();
  assert.deepEqual(await stay.c.next(), { type: 'peer_left', client_id: 'dc-go', client_type: 'android' });
  const back = await register('dc-go', 'dc', 'android');
  assert.deepEqual(back.registered.peers, ['dc-stay']);
  assert.deepEqual(await stay.c.next(), { type: 'peer_joined', client_id: 'dc-go', client_type: 'android' });
  await stay.c.close();
  await back.c.close();
});

test('a silent socket is closed after the heartbeat timeout with 4000, and its room hears peer_left', async () => {
  const own = await startServer();
  try {
    const live = await register('hb-live', 'hb', undefined, own);
    const silent = await connect(own.ws('/'), { autoPong: false });
    silent.send({ type: 'register', client_id: 'hb-silent', room_id: 'hb' });
    await silent.next('registered');
    await live.c.next('peer_joined');
    const { intervalMs, timeoutMs } = own.server.config.heartbeat;
    own.clock.advance(timeoutMs - intervalMs);
    await settle(live.c); // counts as activity for the live one
    own.clock.advance(intervalMs);
    assert.deepEqual(await silent.closedWithin(), { code: 4000, reason: 'heartbeat timeout' });
    assert.deepEqual(await live.c.next(), { type: 'peer_left', client_id: 'hb-silent', client_type: 'unknown' });
    await live.c.close();
  } finally {
    await own.close();
  }
});

test('a socket removed from its room by the server is closed with 4003, not left half-registered', async () => {
  const a = await register('kick-a', 'kick');
  const b = await register('kick-b', 'kick');
  await a.c.next('peer_joined');
  const info = await srv.server.hub.roomInfo('slam', 'kick');
  const bId = info!.members.find((m) => m.name === 'kick-b')!.peerId;
  assert.equal(await srv.server.hub.kick('slam', 'kick', bId), true);
  assert.deepEqual(await b.c.closedWithin(), { code: 4003, reason: 'removed from room' });
  assert.deepEqual(await a.c.next(), { type: 'peer_left', client_id: 'kick-b', client_type: 'unknown' });
  // Its id was released with it.
  assert.equal(await srv.server.hub.resolveAlias('slam', 'kick-b'), undefined);
  await a.c.close();
});

test('slam rooms and ids live in their own namespace: a pairing socket on the same path hears nothing', async () => {
  const pairSide = await connect(srv.ws('/'));
  const a = await register('ns-a', 'ns');
  const b = await register('ns-b', 'ns');
  await a.c.next('peer_joined');
  a.c.send({ type: 'offer', target_id: 'ns-b', sdp: 'x' });
  await b.c.next('offer');
  await nothingMore(pairSide);
  for (const x of [pairSide, a.c, b.c]) await x.close();
});
