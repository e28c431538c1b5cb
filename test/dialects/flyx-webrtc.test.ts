import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';
import { connectDataChannel, type SignalKind, type SignalingPort } from '../helpers/webrtc.js';
import { connect, type TestClient } from '../helpers/ws.js';

/** Two real libwebrtc peers open a data channel through each Flyx shape. */

let srv: TestServer;
before(async () => {
  srv = await startServer({ rateLimits: { httpCreatesPerSecond: 0 } });
});
after(() => srv.close());

async function post(path: string): Promise<string> {
  const res = await fetch(srv.http(path), { method: 'POST' });
  return ((await res.json()) as { id: string }).id;
}

function onFrames(me: TestClient, fn: (f: Record<string, unknown>) => void): void {
  me.ws.on('message', (raw) => fn(JSON.parse(raw.toString()) as Record<string, unknown>));
}

/** README shape: sdp travels as the SDP string, candidates as RTCIceCandidateInit objects. */
function readmePort(me: TestClient, to: string | undefined): SignalingPort {
  const frameType: Record<SignalKind, string> = { offer: 'offer', answer: 'answer', ice: 'ice_candidate' };
  return {
    send(kind, payload) {
      const body = kind === 'ice' ? { candidate: payload } : { sdp: payload.sdp };
      me.send({ type: frameType[kind], data: to === undefined ? body : { ...body, to } });
    },
    onSignal(handler) {
      onFrames(me, (f) => {
        const d = f.data as Record<string, unknown>;
        if (f.type === 'offer' || f.type === 'answer') handler(f.type, { type: f.type, sdp: d.sdp });
        else if (f.type === 'ice_candidate') handler('ice', d.candidate as Record<string, unknown>);
      });
    },
  };
}

/** CLI shape: `sdp` is the SDP string; `candidate` is a JSON *string* of the RTCIceCandidateInit. */
function cliPort(me: TestClient): SignalingPort {
  return {
    send(kind, payload) {
      if (kind === 'ice') me.send({ type: 'icecandidate', candidate: JSON.stringify(payload) });
      else me.send({ type: kind, sdp: payload.sdp });
    },
    onSignal(handler) {
      onFrames(me, (f) => {
        if (f.type === 'offer' || f.type === 'answer') handler(f.type, { type: f.type, sdp: f.sdp });
        else if (f.type === 'icecandidate') handler('ice', JSON.parse(f.candidate as string) as Record<string, unknown>);
      });
    },
  };
}

test('a sender and a receiver open a data channel through the README shape', async () => {
  const room = await post('/room');
  const sender = await connect(srv.ws(`/ws/${room}`));
  assert.equal(((await sender.next('join')).data as { role: string }).role, 'sender');
  const receiver = await connect(srv.ws(`/ws/${room}`));
  await receiver.next('join');
  const joined = (await sender.next('join')).data as { client_id: string; role: string };
  assert.equal(joined.role, 'receiver');
  const pair = await connectDataChannel(readmePort(sender, joined.client_id), readmePort(receiver, undefined));
  assert.equal(pair.received, 'hello through switchboard');
  pair.close();
  await sender.close();
  await receiver.close();
});

test('a master and a slave open a data channel through the CLI shape', async () => {
  const room = await post('/api/room');
  const master = await connect(srv.ws(`/api/room/${room}`));
  const slave = await connect(srv.ws(`/api/room/${room}`));
  // The CLI's master makes its offer when it hears the slave join.
  assert.deepEqual(await master.next(), { type: 'slavejoined' });
  const pair = await connectDataChannel(cliPort(master), cliPort(slave));
  assert.equal(pair.received, 'hello through switchboard');
  pair.close();
  for (const c of [master, slave]) {
    for (const raw of c.raw) assert.ok(['offer', 'answer', 'icecandidate', 'slavejoined'].includes((JSON.parse(raw) as { type: string }).type));
  }
  await master.close();
  await slave.close();
});
