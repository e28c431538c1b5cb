/** How much load each scenario applies, and for how long: `--quick` (< 1 min) and full (< 10 min). */

export const SCENARIOS = ['relay', 'latency', 'join-storm', 'fan-out', 'idle', 'cluster', 'redis-cluster', 'resume'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface Plan {
  mode: 'quick' | 'full';
  /** Load-generator worker threads (relay, join storm, fan-out). */
  workers: number;
  relay: { pairs: number; window: number; warmupMs: number; measureMs: number; halfWarmupMs: number; halfMeasureMs: number; rounds: number };
  /** Open-loop relay at the same offered rates (messages/s) for every target, with `relay.pairs` pairs. */
  latency: { rates: number[]; warmupMs: number; measureMs: number };
  /** How long the wake-up probe runs alone before the first scenario (the machine at rest). */
  restMs: number;
  storm: { clients: number; roomSizes: number[]; concurrency: number };
  fanout: { members: number; window: number; warmupMs: number; measureMs: number };
  idle: { levels: number[]; perProcess: number; concurrency: number };
  /** Longest wait for in-flight messages after sending stops. */
  drainMs: number;
  /** Longest any one phase (connect, storm, open connections) may take before the run fails. */
  phaseTimeoutMs: number;
}

export function makePlan(quick: boolean, workers = 2): Plan {
  return quick
    ? {
        mode: 'quick',
        workers,
        relay: { pairs: 32, window: 4, warmupMs: 700, measureMs: 2500, halfWarmupMs: 400, halfMeasureMs: 2000, rounds: 1 },
        latency: { rates: [10_000], warmupMs: 300, measureMs: 1500 },
        restMs: 500,
        storm: { clients: 400, roomSizes: [2, 10, 50], concurrency: 128 },
        fanout: { members: 50, window: 16, warmupMs: 500, measureMs: 2000 },
        idle: { levels: [2000], perProcess: 5000, concurrency: 100 },
        drainMs: 5000,
        phaseTimeoutMs: 30_000,
      }
    : {
        mode: 'full',
        workers,
        relay: { pairs: 64, window: 4, warmupMs: 1500, measureMs: 6000, halfWarmupMs: 1000, halfMeasureMs: 6000, rounds: 3 },
        latency: { rates: [2500, 5000, 10_000, 20_000, 30_000], warmupMs: 1000, measureMs: 4000 },
        restMs: 3000,
        storm: { clients: 2000, roomSizes: [2, 10, 50], concurrency: 32 },
        fanout: { members: 50, window: 4, warmupMs: 1000, measureMs: 8000 },
        idle: { levels: [10_000, 18_000], perProcess: 5000, concurrency: 100 },
        drainMs: 10_000,
        phaseTimeoutMs: 90_000,
      };
}
