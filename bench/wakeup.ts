import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ProbeCommand, ProbeReport } from './loadgen/wakeup-probe.js';
import { summarize, type LatencySummary } from './stats.js';

/**
 * Runs the wake-up probe (`loadgen/wakeup-probe.ts`) beside the benchmark and summarises how late
 * its 1 ms timer fired over a window. A latency figure is only meaningful next to this one: a
 * process that does nothing can be woken no sooner than the machine lets it.
 */
export class WakeupProbe {
  private readonly child: ChildProcess;
  private readonly waiting: ((samples: number[]) => void)[] = [];

  constructor() {
    this.child = fork(fileURLToPath(new URL('./loadgen/wakeup-probe.js', import.meta.url)), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    this.child.on('message', (m: ProbeReport) => {
      if (m.type === 'samples') this.waiting.shift()?.(m.samples);
    });
    this.child.on('exit', () => {
      for (const w of this.waiting.splice(0)) w([]);
    });
  }

  /** Every lateness recorded since the last call, in microseconds (starts a new window). */
  take(): Promise<number[]> {
    if (this.child.exitCode !== null || !this.child.connected) return Promise.resolve([]);
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.child.send({ type: 'take' } satisfies ProbeCommand);
    });
  }

  /** Starts a window now; the returned function ends it and summarises it (undefined: no samples). */
  async window(): Promise<() => Promise<LatencySummary | undefined>> {
    await this.take();
    return async () => {
      const s = await this.take();
      return s.length ? summarize(Float64Array.from(s)) : undefined;
    };
  }

  /** Keeps the probe busy for `ms` (tests). */
  stall(ms: number): void {
    this.child.send({ type: 'stall', ms } satisfies ProbeCommand);
  }

  stop(): void {
    if (this.child.exitCode === null) this.child.kill();
  }
}
