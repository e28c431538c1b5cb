import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect, type TestClient } from '../helpers/ws.js';
import { slamNothingMore as nothingMore, slamSettle as settle } from '../helpers/rounds.js';

let srv: TestServer;
before(async () => {
  srv = await startServer();
});
after(() => srv.close());


/** The next frame, as the raw text the server sent (to check it was forwarded unchanged). */
async function nextRaw(c: TestClient): Promise<string> {
  await c.next();
  return c.raw[c.raw.length - 1]!;
}

// The Android app's frames, key order and all.
const offer = '{"type":"offer","sdp":"v=0\\r\\no=- 46117 2 IN IP4 127.0.0.1\\r\\n"}';
const answer = '{"type":"answer","sdp":"v=0\\r\\no=- 99 2 IN IP4 127.0.0.1\\r\\n"}';
const ice = (n: number) => `{"type":"ice_candidate","candidate":"candidate:${n} 1 udp 2122260223 127.0.0.1 5000${n} typ host","sdpMid":"0","sdpMLineIndex":0}`;

test('Android pairing: the silent answerer receives the offer, and frames are forwarded unchanged both ways', async () => {
  const answerer = await connect(srv.ws('/signaling'));
  const offerer = await connect(srv.ws('/signaling'));
  offerer.send(offer);
  assert.equal(await nextRaw(answerer), offer);
  offerer.send(ice(1));
  assert.equal(await nextRaw(answerer), ice(1));
  answerer.send(answer);
  assert.equal(await nextRaw(offerer), answer);
  answerer.send(ice(2));
  assert.equal(await nextRaw(offerer), ice(2));

  // Nobody hears its own frames, and nothing else is ever sent to the app (no peer_joined, no welcome).
  await nothingMore(offerer);
  await nothingMore(answerer);
  await offerer.close();
  await nothingMore(answerer);
  await answerer.close();
});

test('the socket that connected second can be the silent one too', async () => {
  const offerer = await connect(srv.ws('/signaling/second'));
  const answerer = await connect(srv.ws('/signaling/second'));
  offerer.send(offer);
  assert.equal(await nextRaw(answerer), offer);
  await offerer.close();
  await answerer.close();
});

test('pairing is per path: frames on one path never reach another', async () => {
  const a1 = await connect(srv.ws('/pair-a'));
  const a2 = await connect(srv.ws('/pair-a'));
  const b1 = await connect(srv.ws('/pair-b'));
  const b2 = await connect(srv.ws('/pair-b'));
  a1.send(offer);
  assert.equal(await nextRaw(a2), offer);
  b1.send(answer);
  assert.equal(await nextRaw(b2), answer);
  await nothingMore(b1);
  await nothingMore(b2);
  await nothingMore(a1);
  await nothingMore(a2);
  for (const c of [a1, a2, b1, b2]) await c.close();
});

test('a path with more than two sockets forwards to every other socket on it', async () => {
  const [x, y, z] = await Promise.all([1, 2, 3].map(() => connect(srv.ws('/three'))));
  x!.send(offer);
  assert.equal(await nextRaw(y!), offer);
  assert.equal(await nextRaw(z!), offer);
  await nothingMore(x!);
  for (const c of [x!, y!, z!]) await c.close();
});

test('pairing errors, in the only error shape the app understands', async () => {
  const c = await connect(srv.ws('/pair-errors'));
  // A bare offer without sdp still commits the socket to pairing, and is not forwarded.
  c.send({ type: 'offer' });
  assert.deepEqual(await c.next(), { type: 'error', message: 'Missing sdp' });
  c.send({ type: 'ice_candidate', sdpMid: '0' });
  assert.deepEqual(await c.next(), { type: 'error', message: 'Missing candidate' });
  c.send({ type: 'register', client_id: 'late' });
  assert.deepEqual(await c.next(), { type: 'error', message: 'Unknown message type: register' });
  c.send('[]');
  assert.deepEqual(await c.next(), { type: 'error', message: 'Message must be a JSON object with a string "type"' });
  c.send('{oops');
  assert.deepEqual(await c.next(), { type: 'error', message: 'Invalid JSON' });
  c.ws.send(Buffer.from([0]), { binary: true });
  assert.deepEqual(await c.next(), { type: 'error', message: 'Binary frames are not supported; send JSON text.' });
  const big = JSON.stringify({ type: 'offer', sdp: 'a'.repeat(70_000) });
  c.send(big);
  assert.deepEqual(await c.next(), { type: 'error', message: `Message of ${big.length} bytes exceeds the limit of 65536.` });

  // Still open and still pairing.
  const partner = await connect(srv.ws('/pair-errors'));
  c.send(offer);
  assert.equal(await nextRaw(partner), offer);
  await c.close();
  await partner.close();
});

test('a socket that turns out to be slam leaves the pairing room quietly and hears no more pairing frames', async () => {
  const pc = await connect(srv.ws('/switch'));
  const android = await connect(srv.ws('/switch'));
  android.send(offer);
  assert.equal(await nextRaw(pc), offer, 'an undecided socket hears its path partner');

  pc.send({ type: 'register', client_id: 'switch-pc', room_id: 'switch' });
  assert.deepEqual(await pc.next(), { type: 'registered', client_id: 'switch-pc', room_id: 'switch', peers: [] });
  android.send(ice(3));
  await nothingMore(android); // the forward was handled before this round trip
  await nothingMore(pc);
  await pc.close();
  await android.close();
});

test('a pairing socket stays alive on heartbeats after its first frame', async () => {
  const own = await startServer();
  try {
    const a = await connect(own.ws('/signaling'));
    const b = await connect(own.ws('/signaling'));
    a.send(offer);
    await b.next('offer');
    const { intervalMs, timeoutMs } = own.server.config.heartbeat;
    own.clock.advance(timeoutMs - intervalMs);
    await settle(a);
    await settle(b);
    own.clock.advance(timeoutMs - intervalMs);
    // Both answered within the timeout, so both are still open and still paired.
    b.send(answer);
    assert.equal(await nextRaw(a), answer);
    assert.equal(a.closeCode, undefined);
    await a.close();
    await b.close();
  } finally {
    await own.close();
  }
});

test('a silent pairing socket that stops answering pings is closed with 4000', async () => {
  const own = await startServer();
  try {
    const dead = await connect(own.ws('/signaling'), { autoPong: false });
    own.clock.advance(own.server.config.heartbeat.timeoutMs);
    assert.deepEqual(await dead.closedWithin(), { code: 4000, reason: 'heartbeat timeout' });
  } finally {
    await own.close();
  }
});

test('a full pairing path keeps the extra socket working: it is told, and pairs once a seat frees', async () => {
  const small = await startServer({ rooms: { maxPeers: 2 } });
  try {
    const a = await connect(small.ws('/signaling'));
    const b = await connect(small.ws('/signaling'));
    const c = await connect(small.ws('/signaling'));
    c.send(offer);
    assert.deepEqual(await c.next(), { type: 'error', message: 'Pairing path is full: /signaling' });
    await nothingMore(a);
    await nothingMore(b);

    // Free a seat in a way the test can await (a closing socket is cleaned up asynchronously).
    const members = (await small.server.hub.roomInfo('slam-pair', '/signaling'))!.members;
    assert.equal(members.length, 2);
    await small.server.hub.kick('slam-pair', '/signaling', members[1]!.peerId);
    assert.equal((await b.closedWithin()).code, 4003);
    c.send(offer);
    assert.equal(await nextRaw(a), offer);
    a.send(answer);
    assert.equal(await nextRaw(c), answer);
    await a.close();
    await c.close();
  } finally {
    await small.close();
  }
});

test('a path pinned to slam-pair by configuration pairs from the first frame', async () => {
  const own = await startServer({ routes: [{ path: '/signaling', dialect: 'slam-pair' }] });
  try {
    const a = await connect(own.ws('/signaling'));
    const b = await connect(own.ws('/signaling'));
    a.send(offer);
    assert.equal(await nextRaw(b), offer);
    // Pinned, a slam register is not guessed: it is an unknown type for the pairing protocol.
    b.send({ type: 'register', client_id: 'x' });
    assert.deepEqual(await b.next(), { type: 'error', message: 'Unknown message type: register' });
    await a.close();
    await b.close();
  } finally {
    await own.close();
  }
});

test('a pairing socket removed by the server is closed with 4003', async () => {
  const a = await connect(srv.ws('/pair-kick'));
  const info = await srv.server.hub.roomInfo('slam-pair', '/pair-kick');
  assert.equal(info?.members.length, 1);
  assert.equal(await srv.server.hub.kick('slam-pair', '/pair-kick', info!.members[0]!.peerId), true);
  assert.deepEqual(await a.closedWithin(), { code: 4003, reason: 'removed from room' });
});

test('pairing rooms vanish with their last socket', async () => {
  const a = await connect(srv.ws('/pair-gone'));
  await settle(a);
  assert.ok(await srv.server.hub.roomInfo('slam-pair', '/pair-gone'));
  await a.close();
  // The server cleans up a closed socket on its own schedule: probe with round trips, bounded.
  const probe = await connect(srv.ws('/pair-gone-probe'));
  let gone = false;
  for (let i = 0; i < 100 && !gone; i++) {
    await settle(probe);
    gone = (await srv.server.hub.roomInfo('slam-pair', '/pair-gone')) === undefined;
  }
  assert.ok(gone, 'the pairing room was removed');
  await probe.close();
});

test('a forwarded frame is the sender’s bytes, whitespace and escapes as written (never re-serialised)', async () => {
  const answerer = await connect(srv.ws('/bytes'));
  const offerer = await connect(srv.ws('/bytes'));
  const odd = '{ "type" : "offer",\n  "sdp" : "v=0\\r\\n\\u00e9", "n": 1.50 }';
  offerer.send(odd);
  assert.equal(await nextRaw(answerer), odd);
  await offerer.close();
  await answerer.close();
});
