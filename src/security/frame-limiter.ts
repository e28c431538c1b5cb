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
  private readonly strikes: TokenBucket;
  /** Frames refused so far (for logs). */
  limited = 0;

  constructor(clock: Clock, limits: Config['rateLimits']) {
    this.frames = new TokenBucket(clock, limits.messagesPerSecond, limits.messageBurst);
    this.strikes = new TokenBucket(clock, (limits.closeAfter * 1000) / limits.closeWindowMs, limits.closeAfter);
  }

  take(): FrameVerdict {
    if (this.frames.take()) return 'ok';
    this.limited++;
    return this.strikes.take() ? 'limited' : 'abusive';
  }
}
