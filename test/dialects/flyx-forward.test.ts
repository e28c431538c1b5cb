import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';
import { nextRawOf as nextRaw, topLevelKeys } from '../helpers/json-keys.js';
import { connect } from '../helpers/ws.js';

/** flyx relays carry the client's own `data` bytes with the server's `client_id` last (README shape); flyx-cli its `sdp`. Raw frames read. */
let srv: TestServer;

before(async () => {
  srv = await startServer({ rateLimits: { messagesPerSecond: 0 } });
});
after(() => srv.close());

async function room(path: string): Promise<string> {
  const res = await fetch(srv.http(path), { method: 'POST' });
  return ((await res.json()) as { id: string }).id;
}


test('README shape: the data bytes as sent, client_id the server’s; a client-sent client_id is dropped', async () => {
  const id = await room('/room');
  const sender = await connect(srv.ws(`/ws/${id}`));
  const senderId = ((await sender.next('join')).data as { client_id: string }).client_id;
  const receiver = await connect(srv.ws(`/ws/${id}`));
  const receiverId = ((await receiver.next('join')).data as { client_id: string }).client_id;
  await sender.next('join');
  const data = `{ "sdp" : "v=0\\r\\n\\u00e9", "to":"${receiverId}", "n": 2.50 }`;
  sender.send(`{"type":"offer","data":${data}}`);
  assert.equal(await nextRaw(receiver, 'offer'), `{"type":"offer","data":${data.slice(0, data.lastIndexOf('}'))},"client_id":"${senderId}"}}`);
  receiver.send(`{"type":"answer","data":{"client_id":"forged","sdp":"v=0"}}`);
  const raw = await nextRaw(sender, 'answer');
  assert.deepEqual(JSON.parse(raw), { type: 'answer', data: { sdp: 'v=0', client_id: receiverId } });
  assert.deepEqual(topLevelKeys(raw), ['type', 'data']);
  await sender.close();
  await receiver.close();
});

test('CLI shape: the sdp bytes as sent, nothing else passes', async () => {
  const id = await room('/api/room');
  const master = await connect(srv.ws(`/api/room/${id}`));
  const slave = await connect(srv.ws(`/api/room/${id}`));
  await master.next('slavejoined');
  master.raw.length = 0;
  slave.send('{"type":"offer","sdp":"v=0\\r\\n\\u00e9","extra":{"x":1}}');
  assert.equal(await nextRaw(master, 'offer'), '{"type":"offer","sdp":"v=0\\r\\n\\u00e9"}');
  master.send('{"type":"icecandidate","candidate":"{\\"candidate\\":\\"a\\"}","candidate":"{\\"candidate\\":\\"b\\"}"}');
  assert.equal(await nextRaw(slave, 'icecandidate'), '{"type":"icecandidate","candidate":"{\\"candidate\\":\\"b\\"}"}');
  await master.close();
  await slave.close();
});
