import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { startTrio, type Trio } from '../helpers/server.js';
import { topLevelKeys } from '../helpers/json-keys.js';
import type { TestClient } from '../helpers/ws.js';

/**
 * Relays forward the sender's own `data` text instead of re-serialising it. These tests read the
 * RAW frames a receiver gets and prove a sender can never forge what the server sets.
 */
let trio: Trio;
let a: TestClient;
let b: TestClient;
let c: TestClient;
let ida: string;
let idb: string;

before(async () => {
  // The injected clock never refills rate-limit buckets here: this test sends hundreds of frames.
  trio = await startTrio();
  [a, b, c] = trio.clients;
  ida = (await a.next('welcome')).peerId as string;
  idb = (await b.next('welcome')).peerId as string;
  await c.next('welcome');
  for (const x of [a, b, c]) {
    x.send({ type: 'join', room: 'fwd' });
    await x.next('joined');
  }
  a.take();
  b.take();
  c.take();
});
after(() => trio.close());

/**
 * The next frame of `type` as the server wrote it, after its leading `"seq":N,` (every frame of a
 * resumable session starts with its number; the rest is the server-built frame these tests check).
 */
async function nextRaw(x: TestClient, type: string): Promise<string> {
  const f = await x.next(type);
  assert.equal(typeof f.seq, 'number', 'the frame is numbered');
  const prefix = `{"seq":${f.seq as number},`;
  const text = x.raw.find((r) => r.startsWith(prefix));
  x.raw.length = 0;
  assert.ok(text, 'raw frame recorded');
  return `{${text.slice(prefix.length)}`;
}

test('forged from/type and duplicate keys in a signal never reach the receiver', async () => {
  a.send(`{"type":"signal","from":"victim","to":"${idb}","data":{"sdp":"v=0"},"from":"victim2","type":"signal","extra":1}`);
  const raw = await nextRaw(b, 'signal');
  assert.deepEqual(topLevelKeys(raw), ['type', 'from', 'room', 'data']);
  assert.deepEqual(JSON.parse(raw), { type: 'signal', from: ida, room: 'fwd', data: { sdp: 'v=0' } });
});

test('escaped key spellings are what JSON.parse saw: no forged field, data found', async () => {
  a.send(`{"\\u0074ype":"signal","fr\\u006fm":"victim","to":"${idb}","d\\u0061ta":{"x":"y"}}`);
  const raw = await nextRaw(b, 'signal');
  assert.deepEqual(topLevelKeys(raw), ['type', 'from', 'room', 'data']);
  assert.deepEqual(JSON.parse(raw), { type: 'signal', from: ida, room: 'fwd', data: { x: 'y' } });
});

test('with duplicate data keys the last one — the validated one — is forwarded', async () => {
  a.send(`{"type":"signal","to":"${idb}","data":{"a":1},"data":{"b":2}}`);
  assert.deepEqual(JSON.parse(await nextRaw(b, 'signal')).data, { b: 2 });
});

test('awkward data is forwarded byte for byte', async () => {
  const samples = [
    '"}\\"\\\\\\"{]"',
    '{"s":"\\\\","t":"\\"}"}',
    '"\\u0000\\u2028\\ud83d\\ude00\\ud800"',
    '-0',
    '1e-7',
    '1E+300',
    'true',
    'null',
    '""',
    '{}',
    '[]',
    '[[[[[[[[{"deep":[[]]}]]]]]]]]',
  ];
  for (const s of samples) {
    a.send(`{ "type" : "signal" ,\n "to" : "${idb}" , "data" :  ${s}  \n}`);
    const raw = await nextRaw(b, 'signal');
    assert.ok(raw.endsWith(`"data":${s}}`), `forwarded as sent: ${s} → ${raw}`);
    assert.deepEqual(JSON.parse(raw).data, JSON.parse(s));
  }
});

test('broadcast: every recipient gets the same server-built frame', async () => {
  a.send(`{"type":"broadcast","room":"fwd","from":"victim","data":{"muted":true},"room":"fwd"}`);
  for (const x of [b, c]) {
    const raw = await nextRaw(x, 'broadcast');
    assert.deepEqual(topLevelKeys(raw), ['type', 'from', 'room', 'data']);
    assert.deepEqual(JSON.parse(raw), { type: 'broadcast', from: ida, room: 'fwd', data: { muted: true } });
  }
});

test('property: any data and any extra or duplicate top-level keys — the receiver sees exactly the server fields', async () => {
  const extraKey = fc.constantFrom('from', 'room', 'type', 'to', 'id', 'fr\\u006fm', 'x');
  await fc.assert(
    fc.asyncProperty(fc.jsonValue(), fc.array(fc.tuple(extraKey, fc.jsonValue()), { maxLength: 4 }), fc.constantFrom('', ' ', '\n'), async (data, extras, ws) => {
      const parts = [`"type":"signal"`, `"to":"${idb}"`, `"data":${JSON.stringify(data)}`];
      for (const [k, v] of extras) {
        if (k === 'type') continue; // a forged type would make it another message
        if (k === 'to' || k === 'id' || k === 'room') continue; // these steer the request itself
        parts.splice(Math.floor(parts.length / 2), 0, `"${k}":${JSON.stringify(v)}`);
      }
      a.send(`{${ws}${parts.join(`,${ws}`)}${ws}}`);
      const raw = await nextRaw(b, 'signal');
      assert.deepEqual(topLevelKeys(raw), ['type', 'from', 'room', 'data']);
      const got = JSON.parse(raw);
      assert.equal(got.from, ida);
      assert.equal(got.room, 'fwd');
      assert.deepEqual(got.data, JSON.parse(JSON.stringify(data)));
    }),
    { numRuns: 300 },
  );
});
