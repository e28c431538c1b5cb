import type { DialectContext, DialectWith } from '../dialect.js';
import { seedCloseCodes } from '../dialect.js';
import { MailExpiry } from './expiry.js';
import { PeerjsLine, type PeerjsShared } from './line.js';
import { peerjsRoutes } from './routes.js';
import { PEERJS_OPTIONS, mountPath } from './settings.js';
import { INBOUND_TYPES } from './wire.js';

export { PEERJS_OPTIONS } from './settings.js';

/** Keyed by the server's config object, so servers in one process never share anything. */
const perServer = new WeakMap<DialectContext['config'], PeerjsShared>();

function shared(ctx: DialectContext): PeerjsShared {
  let v = perServer.get(ctx.config);
  if (!v) {
    const o = ctx.config.peerjs;
    const log = ctx.log.child({ dialect: 'peerjs' });
    v = { key: o.key, maxIdLength: o.maxIdLength, aliveTimeoutMs: o.aliveTimeoutMs, expiry: new MailExpiry(ctx.hub, ctx.clock, log, o.expireTimeoutMs, o.maxQueuedPerPeer) };
    perServer.set(ctx.config, v);
  }
  return v;
}

/**
 * The PeerJS server protocol, as the `peer` 1.x server speaks it to the `peerjs` client: a drop-in
 * server at `{peerjs.path}peerjs` (default `/peerjs`) with its `{key}/id` and `{key}/peers` routes,
 * ids unique and reachable cluster-wide, and messages to ids that are not connected queued and
 * expired as `peer` does. See docs/dialects/peerjs.md.
 */
export const peerjsDialect: DialectWith<typeof PEERJS_OPTIONS> = {
  name: 'peerjs',
  types: INBOUND_TYPES,
  closeCodes: seedCloseCodes(),
  options: PEERJS_OPTIONS,
  paths: (config) => [`${mountPath(config.peerjs.path)}peerjs`],
  http: (config) => peerjsRoutes(config),
  accept: (conn, ctx) => new PeerjsLine(conn, ctx, shared(ctx)),
};
