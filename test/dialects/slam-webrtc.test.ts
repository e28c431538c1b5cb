import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect, type TestClient } from '../helpers/ws.js';
import { connectDataChannel, type SignalKind, type SignalingPort } from '../helpers/webrtc.js';

let srv: TestServer;
before(async () => {
  srv = await startServer();
});
after(() => srv.close());

type Handler = (kind: SignalKind, payload: Record<string, unknown>) => void;

function onFrames(me: TestClient, handle: (f: Record<string, unknown>) => void): void {
  me.ws.on('message', (raw) => handle(JSON.parse(raw.toString()) as Record<string, unknown>));
}

/** The PC client's shape: registered, addressed by target_id, sdp as an object `{type, sdp}`. */
function slamPort(me: TestClient, target: string): SignalingPort {
  return {
    send: (kind, payload) => {
      if (kind === 'ice') me.send({ type: 'ice_candidate', target_id: target, candidate: payload });
      else me.send({ type: kind, target_id: target, sdp: payload });
    },
    onSignal: (handler: Handler) =>
      onFrames(me, (f) => {
        if (f.type !== 'ice_candidate' && f.type !== 'offer' && f.type !== 'answer') return;
        assert.equal(f.sender_id, target);
        if (f.type === 'ice_candidate') handler('ice', f.candidate as Record<string, unknown>);
        else handler(f.type, f.sdp as Record<string, unknown>);
      }),
  };
}

/** The Android app's shape: unregistered, sdp as a string, flat ICE candidates. */
function pairPort(me: TestClient): SignalingPort {
  return {
    send: (kind, payload) => {
      if (kind === 'ice') me.send({ type: 'ice_candidate', candidate: payload.candidate, sdpMid: payload.sdpMid, sdpMLineIndex: payload.sdpMLineIndex });
      else me.send({ type: kind, sdp: payload.sdp });
    },
    onSignal: (handler: Handler) =>
      onFrames(me, (f) => {
        assert.ok(['offer', 'answer', 'ice_candidate'].includes(f.type as string), `the app accepts no ${String(f.type)}`);
        if (f.type === 'ice_candidate') handler('ice', { candidate: f.candidate, sdpMid: f.sdpMid, sdpMLineIndex: f.sdpMLineIndex });
        else handler(f.type as SignalKind, { type: f.type, sdp: f.sdp });
      }),
  };
}

test('two real WebRTC peers open a data channel through slam (registered, addressed by target_id)', async () => {
  const pc = await connect(srv.ws('/'));
  const android = await connect(srv.ws('/'));
  pc.send({ type: 'register', client_id: 'rtc-pc', room_id: 'rtc', client_type: 'pc' });
  await pc.next('registered');
  android.send({ type: 'register', client_id: 'rtc-android', room_id: 'rtc', client_type: 'android' });
  await android.next('registered');
  await pc.next('peer_joined');
  const pair = await connectDataChannel(slamPort(pc, 'rtc-android'), slamPort(android, 'rtc-pc'));
  assert.equal(pair.received, 'hello through switchboard');
  pair.close();
  await pc.close();
  await android.close();
});

test('two real WebRTC peers open a data channel through slam-pair (the Android app on /signaling)', async () => {
  // The answerer is on the path first and says nothing until the offer reaches it.
  const answerer = await connect(srv.ws('/signaling'));
  const offerer = await connect(srv.ws('/signaling'));
  const pair = await connectDataChannel(pairPort(offerer), pairPort(answerer));
  assert.equal(pair.received, 'hello through switchboard');
  pair.close();
  await offerer.close();
  await answerer.close();
});
