import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServer } from '../helpers/server.js';
import { connectDataChannel, type SignalingPort } from '../helpers/webrtc.js';
import { connect, type TestClient } from '../helpers/ws.js';

/**
 * A peer speaking as Unity's WebRTCManager.cs does: every signal names its target, and its payload
 * is a JSON *string* — `{"type":"offer"|"answer","sdp":{…}}` or `{"type":"candidate","candidate":{…}}`.
 * The target is whoever the peer is talking to: given by initiate_call (the offerer) or learnt from
 * the senderId of the offer (the answerer).
 */
function unityPort(me: TestClient, peer: { id: string | undefined }, senders: Set<string>): SignalingPort {
  return {
    send(kind, payload) {
      const inner = kind === 'ice' ? { type: 'candidate', candidate: payload } : { type: kind, sdp: payload };
      me.send({ type: 'signal', targetId: peer.id, payload: JSON.stringify(inner) });
    },
    onSignal(handler) {
      me.ws.on('message', (raw) => {
        const f = JSON.parse(raw.toString()) as { type: string; senderId: string; payload: unknown };
        if (f.type !== 'signal') return;
        assert.equal(typeof f.payload, 'string', 'Unity parses the payload from a string');
        const inner = JSON.parse(f.payload as string) as { type: string; sdp?: Record<string, unknown>; candidate?: Record<string, unknown> };
        senders.add(f.senderId);
        peer.id ??= f.senderId;
        if (inner.type === 'candidate') handler('ice', inner.candidate!);
        else if (inner.type === 'offer' || inner.type === 'answer') handler(inner.type, inner.sdp!);
      });
    },
  };
}

test('two Unity-style peers open a real WebRTC data channel; the existing member offers on initiate_call', async (t) => {
  const srv = await startServer();
  t.after(() => srv.close());
  const a = await connect(srv.ws('/'));
  const b = await connect(srv.ws('/'));
  a.send({ type: 'create' });
  const created = await a.next('room_created');
  b.send({ type: 'join', roomId: created.roomId });
  const joined = await b.next('room_joined');
  // A learns whom to call only from initiate_call, exactly as Unity does.
  const cue = await a.next('initiate_call');
  assert.equal(cue.peerId, joined.myId);
  const heardByA = new Set<string>();
  const heardByB = new Set<string>();
  const pair = await connectDataChannel(
    unityPort(a, { id: cue.peerId as string }, heardByA),
    unityPort(b, { id: undefined }, heardByB),
  );
  assert.equal(pair.received, 'hello through switchboard');
  assert.deepEqual([...heardByA], [joined.myId]);
  assert.deepEqual([...heardByB], [created.myId]);
  pair.close();
  await a.close();
  await b.close();
});
