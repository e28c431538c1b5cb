import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Server CPU and memory, read from /proc (Linux): the same numbers for every server under test,
 * whatever runtime it uses, and without asking the server.
 */

let ticks: number | undefined;
/** Clock ticks per second (CLK_TCK), the unit of utime/stime in /proc/<pid>/stat. */
export function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** utime + stime of a process, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / clockTicks();
}

/** Resident set size of a process, in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** CPU use of a process over a window, as % of one core. */
export function cpuWindow(pid: number): () => number {
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  return () => (100 * (cpuSeconds(pid) - c0)) / ((performance.now() - t0) / 1000);
}

/** CPU use of this process (every thread: the load-generator workers included), % of one core. */
export function selfCpuWindow(): () => number {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  return () => {
    const c = process.cpuUsage(c0);
    return (100 * (c.user + c.system) / 1000) / (performance.now() - t0);
  };
}

/** Samples a process's RSS every `everyMs` until stopped; reports the peak and the last value. */
export class RssSampler {
  peak = 0;
  last = 0;
  private timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    everyMs = 250,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  private sample(): void {
    try {
      this.last = rssBytes(this.pid);
      if (this.last > this.peak) this.peak = this.last;
    } catch {
      // The process is gone; whoever watches its exit reports that.
    }
  }

  stop(): { peak: number; last: number } {
    clearInterval(this.timer);
    this.sample();
    return { peak: this.peak, last: this.last };
  }
}

/** Busy CPU of the whole machine (every process), in seconds, from /proc/stat. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
  const busy = f.slice(0, 8).reduce((n, v, i) => (i === 3 || i === 4 ? n : n + v), 0);
  return busy / clockTicks();
}
