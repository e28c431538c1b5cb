import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RelayDriver } from '../../bench/loadgen/relay.js';
import { freePort } from '../../bench/redis.js';
import { latency, relay } from '../../bench/scenarios.js';
import { startTarget, TARGETS } from '../../bench/targets.js';
import { WakeupProbe } from '../../bench/wakeup.js';
import { tinyCtx } from './harness.js';

const ctx = tinyCtx;

test('the relay scenario measures a live target end to end: everything sent arrives, with latencies', async () => {
  const r = await relay(ctx(), TARGETS.bare);
  assert.ok(r.closed.received > 0 && r.closed.perSecond > 0);
  assert.equal(r.closed.latency.count, r.closed.received);
  assert.ok(r.half.received > 0);
  assert.equal(r.lost, 0);
  assert.ok(r.closed.serverCpuPct > 0, 'server CPU read from /proc');
  assert.ok(r.closed.serverRssPeakMB > 0, 'server RSS read from /proc');
});

test('the latency scenario runs every target at the same offered rates, each window with the wake-up probe beside it', async () => {
  const probe = new WakeupProbe();
  try {
    const r = await latency(ctx({ probe }), TARGETS.bare);
    assert.deepEqual(r.points.map((p) => p.offeredPerSecond), [500, 2000]);
    for (const p of r.points) {
      assert.ok(p.received > 0 && p.latency.count === p.received, 'every delivery has a latency sample');
      assert.ok(p.wakeup && p.wakeup.count > 0 && p.wakeup.max >= 0, 'the probe was sampled over the window');
    }
    assert.equal(r.lost, 0);
  } finally {
    probe.stop();
  }
});

test('a target can run under a wrapper program (how bench:instructions runs it under valgrind)', async () => {
  // A shell stands in for valgrind: it leaves a mark (so the test knows the wrapper really ran), then
  // becomes `node --expose-gc launcher`, which must come up, relay and stop.
  const mark = join(mkdtempSync(join(tmpdir(), 'sb-wrap-')), 'wrapped');
  const t = await startTarget(TARGETS.bare, { wrap: { execPath: '/bin/sh', args: ['-c', `echo wrapped > '${mark}'; exec "$0" "$@"`] } });
  assert.equal(readFileSync(mark, 'utf8'), 'wrapped\n', 'the server was started through the wrapper');
  const d = new RelayDriver({ base: t.base, protocol: 'native', pairs: 1, window: 1, tagBase: 0, name: 'wrap', maxSends: 10 });
  try {
    await d.connect();
    d.start({ mode: 'closed' });
    await Promise.race([d.receivedAtLeast(10), d.failed, t.dead]);
    assert.equal(d.received, 10);
  } finally {
    await d.close();
    await t.stop();
  }
});

test('a target that refuses connections fails with the reason, not with zeros', async () => {
  const port = await freePort();
  const d = new RelayDriver({ base: `ws://127.0.0.1:${port}`, protocol: 'native', pairs: 1, window: 1, tagBase: 0, name: 'x' });
  await assert.rejects(d.connect(), /cannot connect to ws:\/\/127\.0\.0\.1:\d+\/v1: ECONNREFUSED/);
});

test('a target that delivers nothing fails the run', async () => {
  const script = new URL('./fixtures/silent-relay.js', import.meta.url);
  await assert.rejects(relay(ctx({ script: () => script }), TARGETS.bare), /bare ws relay: the target delivered nothing/);
});

test('a target that dies during the run fails it', async () => {
  const c = ctx({ onPhase: (phase, t) => phase === 'measure' && t.kill() });
  // Whichever the harness notices first (the exit, a closed socket, or an empty window), the run
  // fails naming the target; it never reports figures.
  await assert.rejects(relay(c, TARGETS.bare), /bare ws relay.*(exited during the run|closed a connection|socket error|delivered nothing|never delivered)/);
});

test('npm run bench exits non-zero with a clear message when a target cannot start', async () => {
  const run = fileURLToPath(new URL('../../bench/run.js', import.meta.url));
  const child = spawn(process.execPath, [run, '--quick', '--scenarios=relay', '--targets=switchboard', '--switchboard=/nonexistent/dist/src/index.js', '--no-docs'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 1);
  assert.match(stderr, /bench FAILED: Switchboard exited before it was ready/);
});
