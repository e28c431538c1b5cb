import { Type } from '@sinclair/typebox';
import { identityPolicyFor } from '../identity.js';
import { type DialectContext, type DialectWith, seedCloseCodes } from '../dialect.js';
import { INBOUND_TYPES, detectCall } from './frames.js';
import { CallLine } from './line.js';
import type { CallOptions, CallSettings } from './lobby.js';

export { detectCall } from './frames.js';

/** Defaults: a ring gives up after 30 s, like a phone's; user ids are uuids, so 128 characters is ample. */
export const CALL_DEFAULTS: Readonly<CallOptions> = { ringTimeoutMs: 30_000, maxUserIdLength: 128 };

/** Config section `call`. */
export const CALL_OPTIONS = {
  key: 'call',
  schema: Type.Object(
    {
      ringTimeoutMs: Type.Integer({ minimum: 1, default: CALL_DEFAULTS.ringTimeoutMs, description: 'call dialect: an unanswered call stops ringing after this long (caller hears `call_rejected`, reason `timeout`).' }),
    },
    { default: {}, additionalProperties: false },
  ),
} as const;

/**
 * The mobile video-call app's protocol (seed 002, a Flet client): a directory of registered users,
 * call set-up with real call state (busy, ring timeout, hang-up on drop) and offer/answer/ICE relay
 * by username. Served on catch-all paths, picked by the first frame. See docs/dialects/call.md.
 */
export function createCallDialect(options: Partial<CallOptions> = {}): DialectWith<typeof CALL_OPTIONS> {
  const opts: CallOptions = { ...CALL_DEFAULTS, ...options };
  /** Keyed by the server's config object, so servers in one process never share anything. */
  const perServer = new WeakMap<DialectContext['config'], CallSettings>();
  const settings = (ctx: DialectContext): CallSettings => {
    let v = perServer.get(ctx.config);
    if (!v) {
      // An explicit option wins; otherwise the operator's `call.ringTimeoutMs`.
      const ringTimeoutMs = options.ringTimeoutMs ?? ctx.config.call.ringTimeoutMs;
      v = { ...opts, ringTimeoutMs, policy: identityPolicyFor(ctx.config.identity, 'call') === 'replace' ? 'replace' : 'reject' };
      perServer.set(ctx.config, v);
    }
    return v;
  };
  return {
    name: 'call',
    types: INBOUND_TYPES,
    closeCodes: seedCloseCodes(),
    detect: detectCall,
    // The seed refused a taken username; call addresses peers by username.
    identity: { default: 'reject', supports: ['reject', 'replace'] },
    options: CALL_OPTIONS,
    accept: (conn, ctx) => new CallLine(conn, ctx, settings(ctx)),
  };
}

export const callDialect = createCallDialect();
