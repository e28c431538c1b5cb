import type { Clock } from '../core/clock.js';
import { TokenBucket } from '../core/rate.js';

/**
 * One token bucket per client address, for HTTP requests that create server state (rooms) and so
 * have no connection to hang a limit on. Bounded: past `maxAddresses` the oldest bucket is dropped
 * (it can only have refilled meanwhile, so forgetting it never lets anyone through early by more
 * than one burst).
 */
export class AddressBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly clock: Clock,
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly maxAddresses = 50_000,
  ) {}

  take(address: string): boolean {
    if (this.perSecond <= 0) return true;
    let b = this.buckets.get(address);
    if (!b) {
      if (this.buckets.size >= this.maxAddresses) this.buckets.delete(this.buckets.keys().next().value as string);
      b = new TokenBucket(this.clock, this.perSecond, this.burst);
      this.buckets.set(address, b);
    }
    return b.take();
  }
}
