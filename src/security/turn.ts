import { createHmac } from 'node:crypto';
import type { Config } from '../config.js';
import type { IceServer } from '../core/handshake.js';

/**
 * Ephemeral TURN credentials in the TURN REST API scheme that coturn implements as
 * `use-auth-secret` (`static-auth-secret=<turn.secret>`): the username is
 * `<expiry, unix seconds>:<peer id>` and the credential is base64(HMAC-SHA1(secret, username)).
 * The TURN server recomputes the HMAC and refuses the username once its expiry has passed.
 */
export function turnCredential(secret: string, peerId: string, nowMs: number, ttlSeconds: number): { username: string; credential: string; expiresAt: number } {
  const expiry = Math.floor(nowMs / 1000) + ttlSeconds;
  const username = `${expiry}:${peerId}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential, expiresAt: expiry * 1000 };
}

/** How often a connected native client gets fresh credentials: at 80% of their lifetime. */
export function turnRefreshMs(ttlSeconds: number): number {
  return Math.max(1000, Math.floor(ttlSeconds * 800));
}

/**
 * The ICE servers one client gets: the configured list, those the auth webhook granted it, then the
 * TURN servers with credentials of its own (when `turn.secret` is set).
 */
export function iceServersFor(config: Pick<Config, 'iceServers' | 'turn'>, peerId: string, nowMs: number, granted: readonly IceServer[] = []): IceServer[] {
  const out: IceServer[] = [...config.iceServers, ...granted];
  if (config.turn.secret && config.turn.urls.length > 0) {
    const { username, credential } = turnCredential(config.turn.secret, peerId, nowMs, config.turn.ttlSeconds);
    out.push({ urls: [...config.turn.urls], username, credential });
  }
  return out;
}
