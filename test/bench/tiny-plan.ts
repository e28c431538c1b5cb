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
