/** A growable array of latency samples (microseconds), transferable to the main thread. */
export class Samples {
  private buf = new Float64Array(4096);
  length = 0;

  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }

  /** A copy holding exactly the samples (safe to transfer). */
  take(): Float64Array {
    const out = this.buf.slice(0, this.length);
    this.buf = new Float64Array(4096);
    this.length = 0;
    return out;
  }
}

/** The load generator's clock: integer microseconds from performance.now(). */
export function microClock(): number {
  return Math.round(performance.now() * 1000);
}
