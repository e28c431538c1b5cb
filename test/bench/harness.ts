import assert from 'node:assert/strict';
import type { WindowResult } from '../../bench/loadgen/driver.js';
import type { RelayDriver } from '../../bench/loadgen/relay.js';
import { makePlan, type Plan } from '../../bench/plan.js';
import type { RunContext } from '../../bench/scenarios.js';

/** A tiny plan: the real harness path (launcher process, workers, /proc), in well under a second of load. */
export function tinyPlan(): Plan {
  const p = makePlan(true, 1);
  p.relay = { pairs: 2, window: 2, warmupMs: 20, measureMs: 150, halfWarmupMs: 20, halfMeasureMs: 150, rounds: 1 };
  p.latency = { rates: [500, 2000], warmupMs: 20, measureMs: 150 };
  p.drainMs = 2000;
  p.phaseTimeoutMs = 10_000;
  return p;
}

/** A run context on the tiny plan, silent. */
export function tinyCtx(extra: Partial<RunContext> = {}): RunContext {
  return { plan: tinyPlan(), tag: 'dt', log: () => {}, ...extra };
}

/**
 * Connects `d` (built with maxSends `n`) and runs its closed loop to the end inside one measured
 * window; asserts that all `n` messages were sent, received and sampled, and none lost.
 */
export async function closedLoopAll(d: RelayDriver, n: number): Promise<WindowResult> {
  await d.connect();
  d.beginMeasure();
  d.start({ mode: 'closed' });
  await Promise.race([d.idle(), d.failed]);
  const w = d.endMeasure();
  assert.deepEqual([d.sent, d.received, w.sent, w.received, w.samples.length], [n, n, n, n, n]);
  assert.deepEqual(await d.stop(0), { sent: n, received: n, lost: 0 });
  return w;
}
