import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Authenticator } from '../security/auth.js';
import { normalizeAddress } from '../security/client-address.js';

/** The realm of the admin API's `WWW-Authenticate` challenge. */
export const ADMIN_REALM = 'switchboard-admin';

/** What the rule looks at: enough of an IncomingMessage that a test can hand it a fake. */
export interface AdminRequest {
  headers: IncomingHttpHeaders;
  socket: { remoteAddress?: string | undefined };
}

export type AdminDecision = { ok: true } | { ok: false; status: 401 | 403 | 503; error: string };

export interface AdminAccessConfig {
  /** `admin.token`; empty: no token. */
  token: string;
  /** The server's authenticator; its JWTs count when it verifies tokens (`auth` on). */
  auth?: Pick<Authenticator, 'verifies' | 'verify'> | undefined;
}

/** Headers a reverse proxy adds: a request carrying any of them never counts as loopback. */
const PROXY_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip'] as const;

const NO_CREDENTIALS =
  'The admin API answers only to clients on this machine (loopback) when neither admin.token nor auth is configured; set admin.token (--admin-token, SWITCHBOARD_ADMIN_TOKEN) to reach it from elsewhere.';

/**
 * The one access rule of the admin API (`/admin/v1/*`) and the dashboard page (docs/operations.md,
 * "Admin API"). `page`: the dashboard's static files, which hold no data: public when a token or
 * auth is configured (the page asks for the token), loopback-only otherwise.
 *
 * - admin.token set: `Authorization: Bearer <token>` (compared in constant time) passes; with auth
 *   on, so does a JWT whose identity has the `admin` permission. Anything else: 401; a valid JWT
 *   without `admin`: 403.
 * - no token, auth on: the JWT rule alone.
 * - neither: loopback clients only, judged by the TCP peer. A proxy header (Forwarded,
 *   X-Forwarded-For, X-Real-IP) means a proxy in front, which would make every client look local:
 *   refused (403), whatever trustProxy says.
 */
export async function adminAccess(req: AdminRequest, cfg: AdminAccessConfig, kind: 'api' | 'page' = 'api'): Promise<AdminDecision> {
  const jwt = cfg.auth?.verifies === true;
  if (cfg.token === '' && !jwt) return loopbackOnly(req);
  if (kind === 'page') return { ok: true };
  const bearer = bearerOf(req.headers);
  if (bearer === undefined) return deny(401, 'admin credentials required: Authorization: Bearer <admin.token>' + (jwt ? ' (or a JWT with the "admin" permission)' : ''));
  if (cfg.token !== '' && sameSecret(bearer, cfg.token)) return { ok: true };
  if (!jwt) return deny(401, 'wrong admin token');
  const v = await cfg.auth!.verify(bearer);
  if (!v.ok) {
    if (v.status === 503) return deny(503, v.message);
    return deny(401, cfg.token !== '' ? 'neither the admin token nor a valid token: ' + v.message : 'invalid token: ' + v.message);
  }
  if (!v.identity.permissions.includes('admin')) return deny(403, 'your token does not have the "admin" permission');
  return { ok: true };
}

function loopbackOnly(req: AdminRequest): AdminDecision {
  const proxied = PROXY_HEADERS.find((h) => req.headers[h] !== undefined);
  if (proxied) return deny(403, `${NO_CREDENTIALS} A request through a proxy (it carries ${proxied}) never counts as local.`);
  if (!isLoopback(req.socket.remoteAddress)) return deny(403, NO_CREDENTIALS);
  return { ok: true };
}

/** 127.0.0.0/8, ::1, and their IPv4-mapped forms (::ffff:127.x.y.z). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = normalizeAddress(address);
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

function bearerOf(headers: IncomingHttpHeaders): string | undefined {
  const h = headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(h);
  return m?.[1];
}

/** Constant time whatever the lengths: both sides are hashed to 32 bytes first. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function deny(status: 401 | 403 | 503, error: string): AdminDecision {
  return { ok: false, status, error };
}
