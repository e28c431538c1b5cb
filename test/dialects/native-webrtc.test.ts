import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect, type TestClient } from '../helpers/ws.js';
import { connectDataChannel, type SignalingPort } from '../helpers/webrtc.js';

let srv: TestServer;
before(async () => {
  srv = await startServer();
});
after(() => srv.close());

function nativePort(me: TestClient, peerId: () => string): SignalingPort {
  return {
    send: (kind, payload) => me.send({ type: 'signal', to: peerId(), data: { kind, payload } }),
    onSignal: (handler) => {
      me.ws.on('message', (raw) => {
        const f = JSON.parse(raw.toString());
        if (f.type === 'signal') handler(f.data.kind, f.data.payload);
      });
    },
  };
}

test('two real WebRTC peers open a data channel through the native protocol', async () => {
  const a = await connect(srv.ws());
  const b = await connect(srv.ws());
  const wa = await a.next('welcome');
  const wb = await b.next('welcome');
  a.send({ type: 'join', room: 'webrtc' });
  await a.next('joined');
  b.send({ type: 'join', room: 'webrtc' });
  await b.next('joined');
  const pair = await connectDataChannel(nativePort(a, () => wb.peerId as string), nativePort(b, () => wa.peerId as string));
  assert.equal(pair.received, 'hello through switchboard');
  pair.close();
  await a.close();
  await b.close();
});
