import type { IncomingMessage } from 'node:http';
import type { Config } from '../config.js';
import type { Admission, UpgradeInfo } from '../core/handshake.js';
import type { DialectContext } from '../dialects/dialect.js';
import { authGate } from '../security/auth.js';
import type { ConnectionCaps } from '../security/connection-caps.js';
import { createOriginCheck } from '../security/origins.js';

/**
 * Checks every WebSocket handshake passes before its dialect's own `admit` (connection caps,
 * origins, tokens…). The first refusal wins: the client gets its HTTP status and body.
 * Gates may annotate `info` (e.g. the verified identity) for the dialect to use.
 */
export type UpgradeGate = (req: IncomingMessage, info: UpgradeInfo, ctx: DialectContext) => Admission | Promise<Admission>;

export interface GateDeps {
  config: Config;
  /** Node and per-IP connection counts (the server owns them; see security/connection-caps.ts). */
  caps?: ConnectionCaps;
}

/** The server's gates, in order. Security modules register theirs here. */
export function buildGates(deps: GateDeps): UpgradeGate[] {
  const originOk = createOriginCheck(deps.config.allowedOrigins);
  const caps = deps.caps;
  return [
    // Cheap and stateless first: a foreign browser origin never takes a connection slot.
    (_req, info) => originOk(typeof info.headers.origin === 'string' ? info.headers.origin : undefined),
    ...(caps ? [(req: IncomingMessage, info: UpgradeInfo) => caps.admit(req, info)] : []),
    // Last: token checks cost a signature verification, the webhook a round trip (off unless configured).
    (_req, info, ctx) => authGate(ctx.auth, info),
  ];
}
