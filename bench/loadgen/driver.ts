/** What every steady-state load driver (relay, fan-out) reports and how it is controlled. */
import { Samples } from './samples.js';

export interface WindowResult {
  /** Messages sent / received while measuring. */
  sent: number;
  received: number;
  bytesSent: number;
  bytesReceived: number;
  /** Send → receive latency of each message received while measuring, in microseconds. */
  samples: Float64Array;
  /** Sends the open-loop schedule had to skip because the client fell behind it. */
  behind: number;
}

export interface Totals {
  sent: number;
  received: number;
  /** Sent but never received (after the drain). */
  lost: number;
}

export type StartMode = { mode: 'closed' } | { mode: 'rate'; perSecond: number };

export interface LoadDriver {
  connect(): Promise<void>;
  start(mode: StartMode): void;
  beginMeasure(): void;
  endMeasure(): WindowResult;
  /** Stops sending and waits (up to timeoutMs) for what is in flight. */
  stop(timeoutMs: number): Promise<Totals>;
  close(): Promise<void>;
  /** Rejects when the target misbehaves or dies (never resolves). */
  readonly failed: Promise<never>;
}

/** A promise that rejects on the first `fail()`; unhandled-rejection-safe until someone listens. */
export class Failure {
  readonly promise: Promise<never>;
  error: Error | undefined;
  private rejectFn!: (e: Error) => void;

  constructor() {
    this.promise = new Promise<never>((_, reject) => (this.rejectFn = reject));
    this.promise.catch(() => {});
  }

  fail(message: string): void {
    if (this.error) return;
    this.error = new Error(message);
    this.rejectFn(this.error);
  }
}

/** The measured window of a steady driver: counts and latency samples, recorded only while open. */
export class MeasureWindow {
  private open = false;
  private counts = { sent: 0, received: 0, bytesSent: 0, bytesReceived: 0, behind: 0 };
  private samples = new Samples();

  begin(): void {
    this.counts = { sent: 0, received: 0, bytesSent: 0, bytesReceived: 0, behind: 0 };
    this.samples.take();
    this.open = true;
  }

  end(): WindowResult {
    this.open = false;
    return { ...this.counts, samples: this.samples.take() };
  }

  sent(bytes: number): void {
    if (!this.open) return;
    this.counts.sent++;
    this.counts.bytesSent += bytes;
  }

  received(bytes: number, latencyUs: number): void {
    if (!this.open) return;
    this.counts.received++;
    this.counts.bytesReceived += bytes;
    this.samples.push(latencyUs);
  }

  /** Open-loop sends skipped because the client fell behind its schedule. */
  behind(n: number): void {
    if (this.open) this.counts.behind += n;
  }
}

/** Waits for `p`, or `ms` at most (whatever is still in flight then is counted as lost). */
export async function settleWithin(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
