import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServer } from '../helpers/server.js';
import { connect } from '../helpers/ws.js';

test('call.ringTimeoutMs from the configuration sets how long a call rings', async () => {
  const srv = await startServer({ call: { ringTimeoutMs: 5000 } });
  const alice = await connect(srv.ws('/'));
  const bob = await connect(srv.ws('/'));
  alice.send({ type: 'register', username: 'alice', user_id: 'a-1' });
  await alice.next('registered');
  bob.send({ type: 'register', username: 'bob', user_id: 'b-1' });
  await bob.next('registered');
  alice.send({ type: 'call_request', target_username: 'bob' });
  await bob.next('incoming_call');
  srv.clock.advance(4999);
  alice.send({ type: 'nonsense' }); // a round trip: nothing about the call may have arrived yet
  await alice.next('error');
  assert.equal(alice.take().filter((f) => f.type === 'call_rejected').length, 0);
  srv.clock.advance(1);
  const rejected = await alice.next('call_rejected');
  assert.equal(rejected.rejecter_username, 'bob');
  assert.equal(rejected.reason, 'timeout');
  await alice.close();
  await bob.close();
  await srv.close();
});
