import type { Clock } from './clock.js';

/**
 * A token bucket on the injected clock: `burst` tokens at most, refilled at `perSecond`. take()
 * spends one if there is one. A rate of 0 means unlimited (take() always succeeds).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly clock: Clock,
    private readonly perSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }

  take(): boolean {
    if (this.perSecond <= 0) return true;
    const now = this.clock.now();
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
      this.last = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
