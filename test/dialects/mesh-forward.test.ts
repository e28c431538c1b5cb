import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTrio, type Trio } from '../helpers/server.js';
import { nextRawOf as nextRaw, topLevelKeys } from '../helpers/json-keys.js';
import type { TestClient } from '../helpers/ws.js';

/**
 * mesh relays forward the sender's own `payload` text; the server writes only `type` and
 * `senderId`. These tests read the RAW frames a receiver gets.
 */
let trio: Trio;
let a: TestClient;
let b: TestClient;
let c: TestClient;
let ida: string;
let idb: string;

before(async () => {
  trio = await startTrio('/');
  [a, b, c] = trio.clients;
  a.send({ type: 'create' });
  const made = await a.next('room_created');
  ida = made.myId as string;
  b.send({ type: 'join', roomId: made.roomId });
  idb = (await b.next('room_joined')).myId as string;
  c.send({ type: 'join', roomId: made.roomId });
  await c.next('room_joined');
  for (const x of [a, b, c]) x.take();
  a.raw.length = b.raw.length = c.raw.length = 0;
});
after(() => trio.close());


test('a targeted signal carries the sender’s payload bytes as written; senderId is the server’s', async () => {
  const payload = `{ "type":"offer", "sdp":"v=0\\r\\n\\u00e9", "n": 1.50 }`;
  a.send(`{"type":"signal","senderId":"forged","targetId":"${idb}","payload":${payload}}`);
  const raw = await nextRaw(b, 'signal');
  assert.equal(raw, `{"type":"signal","senderId":"${ida}","payload":${payload}}`);
  assert.deepEqual(topLevelKeys(raw), ['type', 'senderId', 'payload']);
});

test('with duplicate payload keys the last one — the one validated — is forwarded', async () => {
  a.send(`{"type":"signal","targetId":"${idb}","payload":{"a":1},"payload":{"b":2}}`);
  assert.deepEqual(JSON.parse(await nextRaw(b, 'signal')), { type: 'signal', senderId: ida, payload: { b: 2 } });
});

test('a broadcast (no targetId) reaches every other member as the same bytes', async () => {
  a.send(`{"type":"signal","payload":[1, "two", {"three":3}]}`);
  const expected = `{"type":"signal","senderId":"${ida}","payload":[1, "two", {"three":3}]}`;
  assert.deepEqual(await Promise.all([b, c].map((x) => nextRaw(x, 'signal'))), [expected, expected]);
});
