import { type Dialect, seedCloseCodes } from '../dialect.js';
import { INBOUND_TYPES, detectCall } from './frames.js';
import { acceptCall, type CallOptions } from './line.js';

export { detectCall } from './frames.js';

/** Defaults: a ring gives up after 30 s, like a phone's; user ids are uuids, so 128 characters is ample. */
export const CALL_DEFAULTS: Readonly<CallOptions> = { ringTimeoutMs: 30_000, maxUserIdLength: 128 };

/**
 * The mobile video-call app's protocol (seed 002, a Flet client): a directory of registered users,
 * call set-up with real call state (busy, ring timeout, hang-up on drop) and offer/answer/ICE relay
 * by username. Served on catch-all paths, picked by the first frame. See docs/dialects/call.md.
 */
export function createCallDialect(options: Partial<CallOptions> = {}): Dialect {
  const opts: CallOptions = { ...CALL_DEFAULTS, ...options };
  return {
    name: 'call',
    types: INBOUND_TYPES,
    closeCodes: seedCloseCodes(),
    detect: detectCall,
    // An explicit option wins; otherwise the operator's `call.ringTimeoutMs`.
    accept: (conn, ctx) => acceptCall(conn, ctx, { ...opts, ringTimeoutMs: options.ringTimeoutMs ?? ctx.config.call.ringTimeoutMs }),
  };
}

export const callDialect: Dialect = createCallDialect();
