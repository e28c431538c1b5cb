import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { startTrio, type Trio } from '../helpers/server.js';
import { nextRawOf as nextRaw, topLevelKeys } from '../helpers/json-keys.js';
import type { TestClient } from '../helpers/ws.js';

/**
 * vc relays forward the sender's own frame text with the server's `from` spliced in as its last
 * member, never re-serialised. These tests read the RAW frames a receiver gets: the bytes are the
 * sender's, and `from` can never be forged.
 */
let trio: Trio;
let a: TestClient;
let b: TestClient;
let c: TestClient;
let ida: string;
let idb: string;

before(async () => {
  trio = await startTrio('/ws');
  [a, b, c] = trio.clients;
  ida = (await a.next('welcome')).peer_id as string;
  idb = (await b.next('welcome')).peer_id as string;
  await c.next('welcome');
  for (const x of [a, b, c]) {
    x.send({ type: 'join', room: 'fwd' });
    await x.next('joined');
  }
  for (const x of [a, b, c]) x.take();
});
after(() => trio.close());


test('a relay is the sender’s bytes, whitespace, escapes and number spellings kept, with "from" last', async () => {
  const sent = `{ "type" : "offer",\n "to":"${idb}", "sdp":"v=0\\r\\no=- 1 \\u00e9\\u2028", "n": 2.50e1, "deep": [ {"k": null} ] }\n`;
  a.send(sent);
  const raw = await nextRaw(b, 'offer');
  assert.equal(raw, `${sent.slice(0, sent.lastIndexOf('}'))},"from":"${ida}"}`);
  assert.deepEqual(JSON.parse(raw), { ...(JSON.parse(sent) as object), from: ida });
});

test('a client-sent "from" (plain, escaped or duplicated) never reaches the receiver: one from, the sender', async () => {
  for (const forged of [`"from":"victim"`, `"fr\\u006fm":"victim"`, `"from":"v1","from":"v2"`]) {
    a.send(`{"type":"offer",${forged},"to":"${idb}","sdp":"x"}`);
    const raw = await nextRaw(b, 'offer');
    assert.deepEqual(topLevelKeys(raw).filter((k) => k === 'from'), ['from'], raw);
    assert.equal((JSON.parse(raw) as { from: unknown }).from, ida);
  }
});

test('a broadcast reaches every member, the sender included, as the same bytes', async () => {
  const sent = `{"type":"broadcast","text":"hello \\"all\\"","n":[1,2]}`;
  a.send(sent);
  const texts = await Promise.all([a, b, c].map((x) => nextRaw(x, 'broadcast')));
  const expected = `${sent.slice(0, -1)},"from":"${ida}"}`;
  assert.deepEqual(texts, [expected, expected, expected]);
});

test('any frame with "to": what the receiver parses is the sender’s frame plus the server’s from (property)', async () => {
  const key = fc.string({ maxLength: 8 }).filter((k) => !['type', 'to', 'from', '__proto__'].includes(k));
  await fc.assert(
    fc.asyncProperty(fc.dictionary(key, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }), fc.boolean(), async (extra, forge) => {
      const frame: Record<string, unknown> = { type: 'mute', ...extra, to: idb };
      if (forge) frame.from = 'victim';
      a.send(JSON.stringify(frame));
      const raw = await nextRaw(b, 'mute');
      // Compared as JSON says it (a generated -0 is sent as 0)
      assert.deepEqual(JSON.parse(raw), JSON.parse(JSON.stringify({ ...frame, from: ida })));
      assert.deepEqual(topLevelKeys(raw).filter((k) => k === 'from'), ['from']);
    }),
    { numRuns: 60 },
  );
});
