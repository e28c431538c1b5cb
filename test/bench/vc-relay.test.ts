import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RelayDriver } from '../../bench/loadgen/relay.js';
import { markerText, readMarker } from '../../bench/marker.js';
import { payloadBank } from '../../bench/payloads.js';
import { nativeWire, vcWire } from '../../bench/protocol.js';
import { relay } from '../../bench/scenarios.js';
import { SWITCHBOARD_VC, TARGETS } from '../../bench/targets.js';
import { startServer } from '../helpers/server.js';
import { closedLoopAll, tinyCtx } from './harness.js';

test('vc frames: vc-client\'s offer/answer {to, sdp} and ice {to, candidate}, carrying the same payload as native', () => {
  const bank = payloadBank(1);
  const cases = [
    ['offer', 'offer', 'sdp'],
    ['answer', 'answer', 'sdp'],
    ['candidate', 'ice', 'candidate'],
  ] as const;
  for (const [kind, type, field] of cases) {
    const data = markerText(3, 9, 77) + bank[kind][0] + '}';
    const vc = JSON.parse(vcWire.signal('peer-b', kind, data)) as Record<string, unknown>;
    const native = JSON.parse(nativeWire.signal('peer-b', kind, data)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(vc), ['type', 'to', field]);
    assert.deepEqual([vc.type, vc.to], [type, 'peer-b']);
    assert.deepEqual(vc[field], native.data, 'the payload is the native data, byte for byte');
    assert.deepEqual(readMarker(Buffer.from(JSON.stringify({ ...vc, from: 'peer-a' }))), { tag: 3, seq: 9, sentAt: 77 });
  }
  assert.equal(vcWire.deliveredFrom({ type: 'ice', to: 'b', candidate: {}, from: 'a' }), 'a');
  assert.equal(vcWire.deliveredFrom({ type: 'signal', to: 'b', data: {}, from: 'a' }), undefined, 'a native signal is not a vc relay');
  assert.equal(vcWire.handshake({ type: 'welcome', peer_id: 'abc' }, 'ignored'), 'abc', 'vc ids are the server\'s');
  assert.throws(() => vcWire.handshake({ type: 'error', error: 'x' }, 'p'), /refused/);
});

test('the relay driver speaks vc to Switchboard at /ws: pairs share a room, every message arrives from the right sender', async () => {
  const srv = await startServer({ rateLimits: { messagesPerSecond: 0 } });
  const d = new RelayDriver({ base: `ws://127.0.0.1:${srv.port}`, protocol: 'vc', pairs: 3, window: 2, tagBase: 0, name: 'vc', maxSends: 90, verifyEvery: 1 });
  try {
    await closedLoopAll(d, 90);
  } finally {
    await d.close();
    await srv.close();
  }
});

test('the relay scenario runs Switchboard\'s vc dialect through the launcher, measured as the native one', async () => {
  assert.equal(SWITCHBOARD_VC.script.href, TARGETS.switchboard.script.href, 'the same server process');
  const r = await relay(tinyCtx(), SWITCHBOARD_VC);
  assert.ok(r.closed.received > 0 && r.closed.latency.count === r.closed.received);
  assert.ok(r.half.received > 0);
  assert.equal(r.lost, 0);
  assert.ok(r.closed.serverCpuPct > 0 && r.closed.serverRssPeakMB > 0, 'server CPU and RSS read from /proc');
});
