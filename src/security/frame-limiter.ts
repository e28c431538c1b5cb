import type { Config } from '../config.js';
import type { Clock } from '../core/clock.js';
import { TokenBucket } from '../core/rate.js';

export type FrameVerdict = 'ok' | 'limited' | 'abusive';

/**
 * Inbound frame rate of one connection. Over `messagesPerSecond` (bucket `messageBurst`) a frame
 * is `limited`: dropped with the dialect's rate-limited error. A client that keeps going is
 * `abusive`: every limited frame spends a token of a second bucket holding `closeAfter` tokens,
 * refilled over `closeWindowMs`; when that one is empty too, the connection is closed.
 */
export class FrameLimiter {
  private readonly frames: TokenBucket;
  /** Made on the first refused frame: a well-behaved connection never needs it. */
  private strikes: TokenBucket | undefined;
  /** Frames refused so far (for logs). */
  limited = 0;

  constructor(
    private readonly clock: Clock,
    private readonly limits: Config['rateLimits'],
  ) {
    this.frames = new TokenBucket(clock, limits.messagesPerSecond, limits.messageBurst);
  }

  take(): FrameVerdict {
    if (this.frames.take()) return 'ok';
    this.limited++;
    const { closeAfter, closeWindowMs } = this.limits;
    this.strikes ??= new TokenBucket(this.clock, (closeAfter * 1000) / closeWindowMs, closeAfter);
    return this.strikes.take() ? 'limited' : 'abusive';
  }
}
