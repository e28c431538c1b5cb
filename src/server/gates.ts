import type { IncomingMessage } from 'node:http';
import type { Config } from '../config.js';
import type { Admission, DialectContext, UpgradeInfo } from '../dialects/dialect.js';

/**
 * Checks every WebSocket handshake passes before its dialect's own `admit` (connection caps,
 * origins, tokens…). The first refusal wins: the client gets its HTTP status and body.
 * Gates may annotate `info` (e.g. the verified identity) for the dialect to use.
 */
export type UpgradeGate = (req: IncomingMessage, info: UpgradeInfo, ctx: DialectContext) => Admission | Promise<Admission>;

export interface GateDeps {
  config: Config;
}

/** The server's gates, in order. Security modules register theirs here. */
export function buildGates(_deps: GateDeps): UpgradeGate[] {
  return [];
}
