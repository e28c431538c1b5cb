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

/** Speaks vc exactly as vc-client does: sdp as a plain string, ice as {candidate, sdpMid, sdpMLineIndex}. */
function vcPort(me: TestClient, peerId: string): SignalingPort {
  return {
    send: (kind, payload) => {
      if (kind === 'ice') {
        const { candidate, sdpMid, sdpMLineIndex } = payload;
        me.send({ type: 'ice', to: peerId, candidate: { candidate, sdpMid, sdpMLineIndex } });
      } else {
        me.send({ type: kind, to: peerId, sdp: payload.sdp });
      }
    },
    onSignal: (handler) => {
      me.ws.on('message', (raw) => {
        const f = JSON.parse(raw.toString()) as { type: string; from: string; sdp?: string; candidate?: Record<string, unknown> };
        if (f.from !== peerId) return;
        if (f.type === 'offer' || f.type === 'answer') handler(f.type, { type: f.type, sdp: f.sdp });
        else if (f.type === 'ice' && f.candidate) handler('ice', f.candidate);
      });
    },
  };
}

test('two real WebRTC peers open a data channel through vc; the smaller peer_id offers', async () => {
  const a = await connect(srv.ws('/ws'));
  const b = await connect(srv.ws('/ws'));
  const ida = (await a.next('welcome')).peer_id as string;
  const idb = (await b.next('welcome')).peer_id as string;
  a.send({ type: 'join', room: 'webrtc', name: 'a' });
  await a.next('joined');
  b.send({ type: 'join', room: 'webrtc', name: 'b' });
  await b.next('joined');
  await a.next('peer-joined');
  // vc-client compares ids as strings; the smaller one makes the offer.
  const [offerer, offererId, answerer, answererId] = ida < idb ? [a, ida, b, idb] : [b, idb, a, ida];
  const pair = await connectDataChannel(vcPort(offerer, answererId), vcPort(answerer, offererId));
  assert.equal(pair.received, 'hello through switchboard');
  pair.close();
  await a.close();
  await b.close();
});
