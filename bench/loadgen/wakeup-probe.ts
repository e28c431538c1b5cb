/**
 * The wake-up probe: a child process that does nothing but sleep 1 ms on a timer, over and over,
 * and records how late each wake-up came (actual − requested, microseconds). It uses almost no CPU,
 * so what it records is what the machine does to any process that sleeps and wakes — the floor
 * under every latency the benchmark measures (scheduler contention between the server and the load
 * generator on a small machine, the hypervisor not running an idle vCPU). Controlled over IPC:
 * {type:'take'} → {type:'samples', samples: number[]} (everything since the last take);
 * {type:'stall', ms} keeps the probe's thread busy for `ms` (tests: the wake-up after it is that late).
 * Exits when the harness goes away.
 */
import { Samples } from './samples.js';

export type ProbeCommand = { type: 'take' } | { type: 'stall'; ms: number };
export type ProbeReport = { type: 'samples'; samples: number[] };

const SLEEP_MS = 1;
let samples = new Samples();

function step(): void {
  const asked = performance.now();
  setTimeout(() => {
    samples.push(Math.max(0, Math.round((performance.now() - asked - SLEEP_MS) * 1000)));
    step();
  }, SLEEP_MS);
}

process.on('disconnect', () => process.exit(0));
process.on('message', (m: ProbeCommand) => {
  if (m.type === 'stall') {
    const until = performance.now() + m.ms;
    while (performance.now() < until);
    return;
  }
  const out = samples.take();
  samples = new Samples();
  process.send?.({ type: 'samples', samples: Array.from(out) } satisfies ProbeReport);
});
step();
