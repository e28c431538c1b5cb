import type { MailboxOptions } from '../../core/backplane.js';
import type { Clock, Timer } from '../../core/clock.js';
import type { Hub } from '../../core/hub.js';
import type { CoreLogger, Session } from '../../core/session.js';
import { expireText } from './wire.js';
import { NAMESPACE } from './settings.js';

/** How long Redis keeps a mailbox past its sender's expiry (its TTL), in case the sender's node dies first. */
const MAILBOX_MARGIN_MS = 10_000;
/** An expiry the store did not answer is tried again this often, within that margin. */
const RETRY_MS = 1_000;

/** One sender's undelivered messages to one id, waiting to expire. */
interface Pending {
  timer: Timer;
  /** Some were not even kept (the mailbox was full, or the store unreachable): EXPIRE whatever the mailbox says. */
  dropped: boolean;
  /** The sender's session when it last sent (the EXPIRE goes to whoever holds its id then). */
  sender: Session;
}

/**
 * The EXPIRE side of the mailbox, on the sender's node: the first message a sender leaves for an
 * id that is not connected arms one timer for that (sender, destination) pair; when it fires, the
 * pair's remaining entries are removed in one atomic step of the store. If any were (or some were
 * dropped on the way), the sender gets one `EXPIRE`. The destination's node takes the mailbox
 * atomically when the id registers, so an entry is either delivered or expired, never both.
 * Timers outlive the sender's socket: what it left is expired all the same, and the EXPIRE reaches
 * whoever holds its id by then.
 */
export class MailExpiry {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly hub: Hub,
    private readonly clock: Clock,
    private readonly log: CoreLogger,
    private readonly timeoutMs: number,
    readonly maxQueued: number,
  ) {}

  /** The mailbox a sender's message to an id that is not connected goes to. */
  mailbox(src: string): MailboxOptions {
    return { from: src, max: this.maxQueued, ttlMs: this.timeoutMs + MAILBOX_MARGIN_MS };
  }

  /** A message from `src` to `dst` waits in the mailbox (`dropped`: or was not even kept). */
  waiting(sender: Session, src: string, dst: string, dropped: boolean): void {
    const key = `${src}\u0000${dst}`;
    const p = this.pending.get(key);
    if (p) {
      p.dropped ||= dropped;
      p.sender = sender;
      return;
    }
    const timer = this.clock.setTimeout(() => void this.expire(key, src, dst), this.timeoutMs);
    this.pending.set(key, { timer, dropped, sender });
  }

  private async expire(key: string, src: string, dst: string, attempt = 1): Promise<void> {
    const p = this.pending.get(key);
    if (!p) return;
    let removed: number;
    try {
      removed = await this.hub.expireMail(NAMESPACE, dst, src);
    } catch (err) {
      // Some never even reached the mailbox: the sender hears it now, whatever became of the rest.
      if (p.dropped) {
        this.pending.delete(key);
        return this.tell(p.sender, src, dst);
      }
      // Unknown whether the entries are still there: try again, until the mailbox's own TTL has ended them.
      if (attempt * RETRY_MS > MAILBOX_MARGIN_MS) {
        this.pending.delete(key);
        this.log.warn({ err: err instanceof Error ? err.message : err, src, dst }, 'queued messages could not be expired in the shared store; giving up');
        return;
      }
      p.timer = this.clock.setTimeout(() => void this.expire(key, src, dst, attempt + 1), RETRY_MS);
      return;
    }
    this.pending.delete(key);
    if (removed === 0 && !p.dropped) return;
    this.log.info({ src, dst, removed, dropped: p.dropped }, 'queued messages expired; telling the sender');
    this.tell(p.sender, src, dst);
  }

  /** `{"type":"EXPIRE","src":dst,"dst":src}` to whoever holds the sender's id now, wherever. */
  private tell(sender: Session, src: string, dst: string): void {
    try {
      void Promise.resolve(this.hub.direct(sender, src, expireText(dst, src))).catch(() => {});
    } catch {
      // The store is down: the sender is on another node, or gone; nothing is left to tell.
    }
  }
}
