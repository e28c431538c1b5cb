import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServer } from '../helpers/server.js';
import { connect, type TestClient } from '../helpers/ws.js';

/** A round trip that the server answers in order: anything sent before it has arrived. */
async function syncNative(c: TestClient) {
  c.send({ type: 'ping', id: 's' });
  await c.next('pong');
}

test('rooms of different dialects never meet, even with the same name and known peer ids', async () => {
  const srv = await startServer();
  const native = await connect(srv.ws('/v1'));
  const nativeId = (await native.next('welcome')).peerId as string;
  native.send({ type: 'join', room: 'lobby' });
  await native.next('joined');

  // vc joins a room of the same name and tries to address the native peer by its id
  const vc = await connect(srv.ws('/ws'));
  const vcId = (await vc.next('welcome')).peer_id as string;
  vc.send({ type: 'join', room: 'lobby', name: 'intruder' });
  const vj = await vc.next('joined');
  assert.deepEqual(vj.peers, [], 'the native member is not in vc\'s room "lobby"');
  vc.send({ type: 'offer', to: nativeId, sdp: 'x' });
  assert.equal((await vc.next('error')).error, 'peer-not-found');
  vc.send({ type: 'broadcast', text: 'anyone?' });
  await vc.next('broadcast'); // vc broadcasts include the sender

  // slam registers into room "lobby" and targets the native id as a client id
  const slam = await connect(srv.ws('/'));
  slam.send({ type: 'register', client_id: nativeId, room_id: 'lobby' });
  assert.deepEqual((await slam.next('registered')).peers, []);
  slam.send({ type: 'offer', target_id: vcId, sdp: 'x' });
  assert.equal((await slam.next('error')).type, 'error');

  // native cannot reach the vc peer either
  native.send({ type: 'signal', to: vcId, data: 1 });
  assert.equal((await native.next('error')).code, 'peer-not-found');
  await syncNative(native);
  assert.deepEqual(native.take(), [], 'nothing from the other dialects reached the native peer');
  const rooms = (await srv.server.hub.listRooms()).map((r) => r.key).sort();
  assert.deepEqual(rooms, ['native/lobby', 'slam/lobby', 'vc/lobby']);
  for (const c of [native, vc, slam]) await c.close();
  await srv.close();
});
