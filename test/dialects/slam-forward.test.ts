import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';
import { nextRawOf as nextRaw, topLevelKeys } from '../helpers/json-keys.js';
import { connect, type TestClient } from '../helpers/ws.js';

/** slam relays carry the sender's own `sdp` / `candidate` bytes; `sender_id` is the server's. Raw frames read. */
let srv: TestServer;
let pc: TestClient;
let phone: TestClient;

before(async () => {
  srv = await startServer({ rateLimits: { messagesPerSecond: 0 } });
  pc = await connect(srv.ws('/'));
  pc.send({ type: 'register', client_id: 'pc', room_id: 'r', client_type: 'pc' });
  await pc.next('registered');
  phone = await connect(srv.ws('/'));
  phone.send({ type: 'register', client_id: 'phone', room_id: 'r', client_type: 'android' });
  await phone.next('registered');
  await pc.next('peer_joined');
  pc.raw.length = phone.raw.length = 0;
});
after(async () => {
  await pc.close();
  await phone.close();
  await srv.close();
});


test('an offer carries the sender’s sdp bytes; a forged sender_id and extra fields never pass', async () => {
  const sdp = '"v=0\\r\\no=- \\u00e9 2 IN IP4 127.0.0.1\\r\\n"';
  pc.send(`{"type":"offer","sender_id":"mallory","target_id":"phone","sdp":${sdp},"extra":1}`);
  assert.equal(await nextRaw(phone, 'offer'), `{"type":"offer","sender_id":"pc","sdp":${sdp}}`);
});

test('a candidate keeps its fields as sent (flat sdpMid/sdpMLineIndex included), the validated duplicate wins', async () => {
  phone.send('{"type":"ice_candidate","target_id":"pc","candidate":"old","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host"}, "sdpMLineIndex": 0, "sdpMid":"0"}');
  const raw = await nextRaw(pc, 'ice_candidate');
  assert.equal(raw, '{"type":"ice_candidate","sender_id":"phone","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host"},"sdpMid":"0","sdpMLineIndex":0}');
  assert.deepEqual(topLevelKeys(raw), ['type', 'sender_id', 'candidate', 'sdpMid', 'sdpMLineIndex']);
});
