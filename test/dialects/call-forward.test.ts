import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';
import { nextRawOf as nextRaw, topLevelKeys } from '../helpers/json-keys.js';
import { connect, type TestClient } from '../helpers/ws.js';

/**
 * call relays (offer, answer, ice_candidate) carry the sender's own `data` text; the server writes
 * `type` and `from_username`. These tests read the RAW frames a receiver gets.
 */
let srv: TestServer;
let john: TestClient;
let jane: TestClient;

async function register(username: string): Promise<TestClient> {
  const c = await connect(srv.ws('/'));
  c.send({ type: 'register', username, user_id: `${username}-uuid` });
  await c.next('registered');
  return c;
}

before(async () => {
  srv = await startServer({ rateLimits: { messagesPerSecond: 0 } });
  john = await register('john');
  jane = await register('jane');
  await john.next((f) => f.type === 'online_users' && JSON.stringify(f).includes('jane'));
  john.take();
  jane.take();
  john.raw.length = jane.raw.length = 0;
});
after(async () => {
  await john.close();
  await jane.close();
  await srv.close();
});


test('an offer carries the sender’s data bytes as written; from_username is the server’s', async () => {
  const data = `{"type" : "offer","sdp":"v=0\\r\\no=- \\u00e9 1 1 IN IP4 0.0.0.0", "n": 2.50}`;
  john.send(`{"type":"offer","from_username":"mallory","target_username":"jane","data":${data}}`);
  const raw = await nextRaw(jane, 'offer');
  assert.equal(raw, `{"type":"offer","from_username":"john","data":${data}}`);
});

test('every relay type, duplicated keys: the validated data goes, the type and sender are the server’s', async () => {
  for (const type of ['answer', 'ice_candidate'] as const) {
    jane.send(`{"type":"${type}","target_username":"john","data":{"x":1},"from_username":"x","data":{"y":[2, 3]}}`);
    const raw = await nextRaw(john, type);
    assert.deepEqual(topLevelKeys(raw), ['type', 'from_username', 'data']);
    assert.deepEqual(JSON.parse(raw), { type, from_username: 'jane', data: { y: [2, 3] } });
  }
});
