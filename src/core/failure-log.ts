import type { Clock } from './clock.js';
import type { CoreLogger } from './session.js';

/** How often each kind of failure is logged at error level, at most. */
export const FAILURE_LOG_INTERVAL_MS = 60_000;

/**
 * Error lines for failures a client may be able to cause at will (an event the server cannot
 * render, a request handler that throws): each kind (its message) is logged at error level, with
 * its stack, at most once per interval, and carries how many were logged at debug level since.
 * A client repeating the failure every frame cannot flood the log.
 */
export class FailureLog {
  /** Per message: when it was last logged at error level, and how many went to debug since. */
  private readonly kinds = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs = FAILURE_LOG_INTERVAL_MS,
  ) {}

  /** `msg` names the kind of failure: a fixed text, never one built from client input (it is a map key). */
  error(log: CoreLogger, fields: Record<string, unknown>, msg: string): void {
    const now = this.clock.now();
    const k = this.kinds.get(msg);
    if (k && now - k.at < this.intervalMs) {
      k.suppressed++;
      return log.debug(fields, msg);
    }
    log.error(k?.suppressed ? { ...fields, suppressed: k.suppressed } : fields, msg);
    this.kinds.set(msg, { at: now, suppressed: 0 });
  }
}
