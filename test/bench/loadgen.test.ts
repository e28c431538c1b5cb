import assert from 'node:assert/strict';
import { test } from 'node:test';
import { markerText, readMarker } from '../../bench/marker.js';
import { RelayDriver } from '../../bench/loadgen/relay.js';
import { payloadBank } from '../../bench/payloads.js';
import { percentile, summarize } from '../../bench/stats.js';
import { WakeupProbe } from '../../bench/wakeup.js';
import { startTestRelay } from './test-relay.js';
import { closedLoopAll } from './harness.js';

test('the relay driver counts every message it sends and every one that arrives', async () => {
  const relay = await startTestRelay();
  const d = new RelayDriver({ base: relay.base, protocol: 'native', pairs: 3, window: 2, tagBase: 0, name: 'count', maxSends: 90, verifyEvery: 1 });
  try {
    await closedLoopAll(d, 90);
    assert.equal(relay.received, 90);
    assert.equal(relay.forwarded, 90);
  } finally {
    await d.close();
    await relay.close();
  }
});

test('a message the target never delivers is counted as sent and lost, not as received', async () => {
  // Drops every 4th signal; open loop, so a drop does not stall the sender.
  const relay = await startTestRelay((i, forward) => (i % 4 === 3 ? undefined : forward()));
  const d = new RelayDriver({ base: relay.base, protocol: 'native', pairs: 2, window: 1, tagBase: 0, name: 'drop', maxSends: 40, verifyEvery: 1 });
  try {
    await d.connect();
    d.start({ mode: 'rate', perSecond: 20_000 });
    await relay.receivedAtLeast(40);
    await Promise.race([d.receivedAtLeast(30), d.failed]);
    assert.equal(relay.forwarded, 30);
    assert.deepEqual(await d.stop(0), { sent: 40, received: 30, lost: 10 });
  } finally {
    await d.close();
    await relay.close();
  }
});

test('latency is the receiver\'s clock minus the send timestamp, for each message', async () => {
  // One clock shared by sender and receiver (as in a worker); only the relay moves it, by a
  // different known amount before forwarding each message.
  let now = 1_000_000;
  const delays = Array.from({ length: 24 }, (_, i) => 250 * ((i * 7) % 11) + 1);
  const relay = await startTestRelay((i, forward) => {
    now += delays[i]!;
    forward();
  });
  const d = new RelayDriver({ base: relay.base, protocol: 'native', pairs: 1, window: 1, tagBase: 5, name: 'lat', maxSends: delays.length, clock: () => now, recordRaw: true, verifyEvery: 1 });
  try {
    await d.connect();
    d.beginMeasure();
    d.start({ mode: 'closed' });
    await Promise.race([d.idle(), d.failed]);
    const w = d.endMeasure();
    assert.deepEqual([...w.samples], delays);
    assert.deepEqual(
      d.raw.map((r) => r.receivedAt - r.sentAt),
      delays,
    );
    assert.deepEqual(
      d.raw.map((r) => r.seq),
      delays.map((_, i) => i),
    );
    assert.equal(summarize(w.samples).max, Math.max(...delays) / 1000);
  } finally {
    await d.close();
    await relay.close();
  }
});

test('a delivery to the wrong member of a pair fails the driver', async () => {
  const relay = await startTestRelay();
  const d = new RelayDriver({ base: relay.base, protocol: 'native', pairs: 2, window: 1, tagBase: 0, name: 'mis', maxSends: 10, verifyEvery: 1 });
  try {
    await d.connect();
    // Pair 1's receiver gets a message marked as pair 0's.
    d.pairs[0]!.a.send(`{"type":"signal","to":"${d.pairs[1]!.b.id}","data":${markerText(0, 0, 0)}"x":1}}`);
    await assert.rejects(d.failed, /misrouted: pair 1 received a message of pair 0/);
  } finally {
    await d.close();
    await relay.close();
  }
});

test('the marker survives a server re-serialising the frame, and is read from the raw bytes', () => {
  const bank = payloadBank(1);
  for (const kind of ['offer', 'answer', 'candidate'] as const) {
    const data = JSON.parse(markerText(7, 42, 123456789) + bank[kind][0] + '}') as unknown;
    const delivered = Buffer.from(JSON.stringify({ type: 'signal', from: 'x', room: 'r', data }));
    assert.deepEqual(readMarker(delivered), { tag: 7, seq: 42, sentAt: 123456789 });
  }
  assert.equal(readMarker(Buffer.from('{"type":"peer-joined"}')), undefined);
});

test('payloads have realistic sizes: SDP 3–6 KB, candidates about 200 B', () => {
  const bank = payloadBank(3);
  for (const s of [...bank.offer, ...bank.answer]) assert.ok(s.length >= 3000 && s.length <= 6300, `SDP body of ${s.length} characters`);
  for (const c of bank.candidate) assert.ok(c.length >= 150 && c.length <= 260, `candidate body of ${c.length} characters`);
});

test('percentiles are nearest-rank over every sample', () => {
  const v = Float64Array.from({ length: 1000 }, (_, i) => 1000 - i);
  const s = summarize(v);
  assert.deepEqual([s.count, s.p50, s.p99, s.p999, s.max], [1000, 0.5, 0.99, 0.999, 1]);
  assert.equal(percentile(Float64Array.from([5]), 0.99), 5);
  assert.ok(Number.isNaN(percentile(new Float64Array(0), 0.5)));
});

test('the wake-up probe reports how late its timer fired, window by window', async () => {
  const probe = new WakeupProbe();
  try {
    // Poll the probe's windows (no sleeping here) until it has woken a few times.
    const first: number[] = [];
    for (let i = 0; i < 1000 && first.length < 5; i++) first.push(...(await probe.take()));
    assert.ok(first.length >= 5, 'the probe wakes and reports');
    assert.ok(first.every((v) => Number.isInteger(v) && v >= 0), 'lateness is whole microseconds, never negative');
    // Keeping the probe's thread busy for 40 ms makes the next wake-up at least ~39 ms late, and
    // the windows after it report that; earlier samples are not repeated (each take starts anew).
    probe.stall(40);
    let seen: number[] = [];
    for (let i = 0; i < 1000 && !seen.some((v) => v >= 39_000); i++) seen = seen.concat(await probe.take());
    assert.ok(seen.some((v) => v >= 39_000), `a 40 ms stall shows as a late wake-up (max seen ${Math.max(...seen)} µs)`);
    assert.equal(seen.filter((v) => v >= 39_000).length, 1, 'one stall, one late wake-up');
    assert.ok(summarize(Float64Array.from(seen)).max >= 39, 'summaries are in milliseconds');
  } finally {
    probe.stop();
  }
});
