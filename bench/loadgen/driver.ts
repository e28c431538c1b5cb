/** What every steady-state load driver (relay, fan-out) reports and how it is controlled. */

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
