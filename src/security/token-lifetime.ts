import type { Identity } from '../core/access.js';
import type { Clock, Timer } from '../core/clock.js';
import type { CloseReason } from '../core/types.js';
import type { Config } from '../config.js';
import type { Authenticator } from './auth.js';

/**
 * How long a connection's credentials are good for. A token is checked when it is presented (the
 * handshake, a native `refresh-token`); the connection then lives until the token's `exp` plus the
 * same leeway the check allowed (`auth.clockToleranceSeconds`), or, for a token without `exp` (and
 * a webhook-only connection), `auth.maxSessionMs` after it was presented. At that moment the
 * connection is closed with its dialect's `token-expired` code; native clients are warned
 * `auth.expiryWarningMs` before. One timer per connection at a time (warning, then expiry), on the
 * server's clock. With authentication off there is no lifetime at all. See docs/authentication.md.
 */

/** The settings this reads (config `auth`). */
export interface LifetimeSettings {
  maxSessionMs: number;
  expiryWarningMs: number;
  clockToleranceSeconds: number;
}

/** What a lifetime acts on: the connection. */
export interface LifetimeOwner {
  /** The dialect may tell its client (native `token-expiring`); the others have no words for it. */
  tokenExpiring(expiresAt: number): void;
  closeFor(reason: CloseReason): void;
}

/** When credentials presented at `now` run out (ms since the epoch); undefined: never. */
export function deadlineOf(identity: Identity | undefined, now: number, s: LifetimeSettings): number | undefined {
  if (identity?.expiresAt !== undefined) return identity.expiresAt + s.clockToleranceSeconds * 1000;
  return s.maxSessionMs > 0 ? now + s.maxSessionMs : undefined;
}

export class TokenLifetime {
  private timer: Timer | undefined;
  private at: number | undefined;
  private over = false;

  private constructor(
    private readonly owner: LifetimeOwner,
    private readonly clock: Clock,
    private readonly s: LifetimeSettings,
  ) {}

  /** The lifetime of a connection that just passed its handshake; undefined with authentication off. */
  static start(owner: LifetimeOwner, ctx: { auth?: Authenticator; clock: Clock; config: Config }, identity: Identity | undefined): TokenLifetime | undefined {
    if (!ctx.auth?.enabled) return undefined;
    const l = new TokenLifetime(owner, ctx.clock, ctx.config.auth);
    l.arm(l.deadlineFor(identity));
    return l;
  }

  /** When the connection will be closed for expiry, unless refreshed; undefined: never. */
  get expiresAt(): number | undefined {
    return this.at;
  }

  /** Whether the connection is over (closed, or closing): nothing re-arms it. */
  get ended(): boolean {
    return this.over;
  }

  /** The deadline credentials presented now would give (see deadlineOf). */
  deadlineFor(identity: Identity | undefined): number | undefined {
    return deadlineOf(identity, this.clock.now(), this.s);
  }

  /**
   * Sets the deadline (at connect, and after a refresh): the warning is due `expiryWarningMs` before
   * it, and sent at once when that moment has passed already.
   */
  arm(deadline: number | undefined): void {
    if (this.over) return;
    this.timer?.cancel();
    this.timer = undefined;
    this.at = deadline;
    if (deadline === undefined) return;
    const now = this.clock.now();
    const warnAt = deadline - this.s.expiryWarningMs;
    if (this.s.expiryWarningMs > 0 && warnAt > now) {
      this.timer = this.clock.setTimeout(() => this.warn(), warnAt - now);
      return;
    }
    if (this.s.expiryWarningMs > 0) this.owner.tokenExpiring(deadline);
    this.timer = this.clock.setTimeout(() => this.expire(), deadline - now);
  }

  /** The connection is closing or closed: no more warnings, no expiry. */
  stop(): void {
    this.over = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private warn(): void {
    const at = this.at!;
    this.owner.tokenExpiring(at);
    this.timer = this.clock.setTimeout(() => this.expire(), at - this.clock.now());
  }

  private expire(): void {
    this.timer = undefined;
    this.owner.closeFor('token-expired');
  }
}
