import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRemoteJWKSet, errors, jwtVerify, type CryptoKey, type JWTHeaderParameters, type JWTPayload } from 'jose';
import type { Config } from '../config.js';
import { ConfigError } from '../config-error.js';
import { AccessPolicy, PERMISSIONS, type Identity, type Permission } from '../core/access.js';
import type { Clock } from '../core/clock.js';
import type { CoreLogger } from '../core/session.js';
import type { Admission, AuthGrant, Headers, HttpRequest, IceServer, UpgradeInfo } from '../core/handshake.js';

/**
 * Authentication: signed tokens (JWT, via `jose`) and an optional auth webhook. Off unless one of
 * `auth.secret`, `auth.publicKeyFile`, `auth.jwksUrl`, `auth.webhookUrl` is set. The gate at the
 * bottom runs it on every WebSocket handshake; native's `GET /v1/validate` runs the same code so a
 * browser (which cannot read a refused handshake) learns the real reason. See docs/authentication.md.
 */

/** WebSocket subprotocol carrying a token: `switchboard.token.<jwt>` (browsers cannot set headers). */
export const TOKEN_PROTOCOL_PREFIX = 'switchboard.token.';

/** Machine-readable refusal reasons (HTTP bodies of refused handshakes and of /v1/validate). */
export type AuthReason =
  | 'token-missing'
  | 'token-expired'
  | 'token-invalid'
  | 'access-denied'
  | 'auth-unavailable'
  | 'room-forbidden'
  | 'room-not-found'
  | 'room-full'
  | 'identity-taken'
  | 'invalid-room'
  | 'shutting-down';

export interface AuthFailure {
  ok: false;
  status: number;
  reason: AuthReason;
  message: string;
}

export type AuthResult = { ok: true; identity?: Identity; grant?: AuthGrant } | AuthFailure;

/** What the authenticator needs to know about a connection attempt (an UpgradeInfo satisfies it). */
export interface AuthRequest {
  path: string;
  dialect?: string;
  remoteAddress: string;
  headers: Headers;
  query: URLSearchParams;
}

const HMAC_ALGS = ['HS256', 'HS384', 'HS512'];
const ASYMMETRIC_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];
/** Headers the auth webhook sees: enough to recognise a browser session, nothing of the token. */
const WEBHOOK_HEADERS = ['origin', 'user-agent', 'cookie', 'host', 'x-forwarded-for', 'x-real-ip', 'forwarded'];
const MAX_WEBHOOK_REPLY_BYTES = 65_536;

export function fail(status: number, reason: AuthReason, message: string): AuthFailure {
  return { ok: false, status, reason, message };
}

function clip(s: string, max = 200): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The token of a request: `Authorization: Bearer`, then the subprotocol, then `?token=`. */
export function tokenOf(req: { headers: Headers; query: URLSearchParams }): string | undefined {
  const h = req.headers.authorization;
  if (typeof h === 'string') {
    const m = /^Bearer[ \t]+(\S+)\s*$/i.exec(h);
    if (m) return m[1];
  }
  const proto = req.headers['sec-websocket-protocol'];
  if (typeof proto === 'string') {
    for (const p of proto.split(',')) {
      const t = p.trim();
      if (t.startsWith(TOKEN_PROTOCOL_PREFIX) && t.length > TOKEN_PROTOCOL_PREFIX.length) return t.slice(TOKEN_PROTOCOL_PREFIX.length);
    }
  }
  const q = req.query.get('token');
  return q ? q : undefined;
}

/**
 * ws `handleProtocols`: the first offered subprotocol that is not a token. When the token is the only
 * one offered it is echoed, because a browser fails a handshake whose offered subprotocols all went
 * unanswered; clients should offer a plain one (e.g. `switchboard`) beside it.
 */
export function selectProtocol(protocols: Set<string>): string | false {
  let token: string | undefined;
  for (const p of protocols) {
    if (!p.startsWith(TOKEN_PROTOCOL_PREFIX)) return p;
    token ??= p;
  }
  return token ?? false;
}

/** Reads a claim that is a string or a list of strings (space-separated in a string, OAuth style for permissions). */
function stringList(v: unknown, split: boolean): string[] | undefined | 'bad' {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return split ? v.split(/\s+/).filter((x) => x.length > 0) : [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  return 'bad';
}

/**
 * Claims → Identity. `sub` (required) is the identity, `name` the display name, `<prefix>rooms`
 * the room patterns, `<prefix>permissions` the permissions (unknown ones are ignored).
 */
export function identityFromClaims(claims: Record<string, unknown>, opts: { claimPrefix: string; defaultPermissions: readonly Permission[] }): Identity | string {
  const sub = claims.sub;
  if (typeof sub !== 'string' || sub.length === 0) return 'the token has no "sub" (identity) claim';
  if (sub.length > 256) return 'the "sub" claim is longer than 256 characters';
  const id: Identity = { subject: sub, permissions: [...opts.defaultPermissions] };
  if (claims.name !== undefined) {
    if (typeof claims.name !== 'string' || claims.name.length === 0 || claims.name.length > 256) return 'the "name" claim must be a string of 1-256 characters';
    id.name = claims.name;
  }
  const rooms = stringList(claims[`${opts.claimPrefix}rooms`], false);
  if (rooms === 'bad') return `the "${opts.claimPrefix}rooms" claim must be a string or a list of strings`;
  if (rooms !== undefined && (rooms.length > 100 || rooms.some((r) => r.length > 256))) return `the "${opts.claimPrefix}rooms" claim allows at most 100 patterns of 256 characters`;
  if (rooms !== undefined) id.rooms = rooms;
  const perms = stringList(claims[`${opts.claimPrefix}permissions`], true);
  if (perms === 'bad') return `the "${opts.claimPrefix}permissions" claim must be a list of strings`;
  if (perms !== undefined) id.permissions = perms.filter((p): p is Permission => (PERMISSIONS as readonly string[]).includes(p));
  if (typeof claims.exp === 'number') id.expiresAt = claims.exp * 1000;
  return id;
}

/** Key resolution failed for lack of the key server, not because of the token. */
class KeysUnavailable extends Error {}

export interface AuthenticatorDeps {
  clock: Clock;
  log: CoreLogger;
}

/** One per server (it caches the JWKS): verifies tokens and consults the webhook. */
export class Authenticator {
  /** Authentication is on: every handshake is checked. */
  readonly enabled: boolean;
  /** A token verifier is configured: a handshake without a valid token is refused. */
  readonly verifies: boolean;
  private readonly secret: Uint8Array | undefined;
  private readonly publicKey: KeyObject | undefined;
  private readonly jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  private readonly algorithms: string[];

  constructor(
    private readonly cfg: Config['auth'],
    private readonly deps: AuthenticatorDeps,
  ) {
    this.secret = cfg.secret ? new TextEncoder().encode(cfg.secret) : undefined;
    if (cfg.publicKeyFile) {
      try {
        this.publicKey = createPublicKey(readFileSync(cfg.publicKeyFile, 'utf8'));
      } catch (err) {
        throw new ConfigError('auth.publicKeyFile', `cannot read a PEM public key from ${cfg.publicKeyFile}: ${(err as Error).message}`);
      }
      if (this.publicKey.asymmetricKeyType === undefined) throw new ConfigError('auth.publicKeyFile', 'not an asymmetric public key');
    }
    if (cfg.jwksUrl) this.jwks = createRemoteJWKSet(new URL(cfg.jwksUrl));
    this.verifies = Boolean(this.secret || this.publicKey || this.jwks);
    this.enabled = this.verifies || cfg.webhookUrl !== '';
    this.algorithms = [...(this.secret ? HMAC_ALGS : []), ...(this.publicKey || this.jwks ? ASYMMETRIC_ALGS : [])];
  }

  /** Verifies a token and reads its claims. */
  async verify(token: string): Promise<{ ok: true; identity: Identity } | AuthFailure> {
    if (!this.verifies) return fail(401, 'token-invalid', 'this server verifies no tokens');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, (header: JWTHeaderParameters) => this.keyFor(header), {
        algorithms: this.algorithms,
        currentDate: new Date(this.deps.clock.now()),
        clockTolerance: this.cfg.clockToleranceSeconds,
        ...(this.cfg.issuer ? { issuer: this.cfg.issuer } : {}),
        ...(this.cfg.audience ? { audience: this.cfg.audience } : {}),
      }));
    } catch (err) {
      if (err instanceof errors.JWTExpired) return fail(401, 'token-expired', 'the token has expired');
      if (err instanceof KeysUnavailable) {
        this.deps.log.warn({ err: err.cause }, 'JWKS unavailable');
        return fail(503, 'auth-unavailable', 'the key set that verifies tokens is unreachable; try again shortly');
      }
      if (err instanceof errors.JOSEError) return fail(401, 'token-invalid', clip(err.message));
      this.deps.log.warn({ err }, 'token verification failed unexpectedly');
      return fail(401, 'token-invalid', 'the token could not be verified');
    }
    const id = identityFromClaims(payload as Record<string, unknown>, this.cfg);
    if (typeof id === 'string') return fail(401, 'token-invalid', id);
    return { ok: true, identity: id };
  }

  private async keyFor(header: JWTHeaderParameters): Promise<Uint8Array | KeyObject | CryptoKey> {
    if (HMAC_ALGS.includes(header.alg)) {
      if (!this.secret) throw new errors.JOSEAlgNotAllowed('HMAC-signed tokens are not accepted');
      return this.secret;
    }
    if (this.jwks) {
      try {
        return await this.jwks(header);
      } catch (err) {
        // A key set without the token's key says nothing good about the token; anything else is the key server's fault.
        if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys || err instanceof errors.JOSENotSupported) throw err;
        throw new KeysUnavailable('JWKS fetch failed', { cause: err });
      }
    }
    if (this.publicKey) return this.publicKey;
    throw new errors.JOSEAlgNotAllowed('asymmetrically signed tokens are not accepted');
  }

  /** The whole check of one connection attempt: token (when tokens are verified), then the webhook. */
  async authenticate(req: AuthRequest): Promise<AuthResult> {
    if (!this.enabled) return { ok: true };
    const token = tokenOf(req);
    let identity: Identity | undefined;
    if (this.verifies) {
      if (!token) return fail(401, 'token-missing', 'a token is required: ?token=, Authorization: Bearer, or the switchboard.token.<jwt> subprotocol');
      const v = await this.verify(token);
      if (!v.ok) return v;
      identity = v.identity;
    }
    if (!this.cfg.webhookUrl) return { ok: true, identity };
    return this.webhook(req, identity, this.verifies ? undefined : token);
  }

  /**
   * POSTs the connection's details to the auth webhook. Its reply `{"allow":true|false, "reason",
   * "metadata", "iceServers", "identity"}` decides; a timeout, an HTTP error or a reply that is not
   * such an object is a failure, handled per `auth.webhookFailure`.
   */
  private async webhook(req: AuthRequest, identity: Identity | undefined, opaqueToken: string | undefined): Promise<AuthResult> {
    const headers: Record<string, string> = {};
    for (const h of WEBHOOK_HEADERS) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
      else if (Array.isArray(v)) headers[h] = v.join(', ');
    }
    const query: Record<string, string> = {};
    for (const [k, v] of req.query) if (k !== 'token') query[k] = v;
    const body: Record<string, unknown> = { path: req.path, dialect: req.dialect ?? null, remoteAddress: req.remoteAddress, headers, query, identity: identity ?? null };
    // Without a token verifier, the webhook is the one that understands tokens (opaque ones too).
    if (opaqueToken !== undefined) body.token = opaqueToken;

    const abort = new AbortController();
    const timer = this.deps.clock.setTimeout(() => abort.abort(), this.cfg.webhookTimeoutMs);
    let reply: unknown;
    try {
      const res = await fetch(this.cfg.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        signal: abort.signal,
        redirect: 'error',
      });
      const text = await res.text();
      if (!res.ok) return this.webhookFailed(identity, `answered HTTP ${res.status}`);
      if (Buffer.byteLength(text) > MAX_WEBHOOK_REPLY_BYTES) return this.webhookFailed(identity, 'reply too large');
      reply = JSON.parse(text);
    } catch (err) {
      return this.webhookFailed(identity, abort.signal.aborted ? `no answer within ${this.cfg.webhookTimeoutMs} ms` : `failed: ${(err as Error).message}`);
    } finally {
      timer.cancel();
    }
    if (!isObject(reply) || typeof reply.allow !== 'boolean') return this.webhookFailed(identity, 'reply has no boolean "allow"');
    if (!reply.allow) {
      const why = typeof reply.reason === 'string' && reply.reason ? clip(reply.reason) : 'denied by the auth webhook';
      return fail(403, 'access-denied', why);
    }
    if (!identity && reply.identity !== undefined && reply.identity !== null) {
      if (!isObject(reply.identity)) return this.webhookFailed(undefined, '"identity" is not an object');
      const id = identityFromClaims(reply.identity, { claimPrefix: '', defaultPermissions: this.cfg.defaultPermissions });
      if (typeof id === 'string') return this.webhookFailed(undefined, `bad "identity": ${id}`);
      identity = id;
    }
    const grant: AuthGrant = {};
    if (reply.metadata !== undefined) {
      if (!isObject(reply.metadata)) return this.webhookFailed(identity, '"metadata" is not an object');
      grant.metadata = reply.metadata;
    }
    if (reply.iceServers !== undefined) {
      const ice = iceServerList(reply.iceServers);
      if (!ice) return this.webhookFailed(identity, '"iceServers" is not a list of RTCIceServer objects');
      grant.iceServers = ice;
    }
    return { ok: true, identity, grant };
  }

  private webhookFailed(identity: Identity | undefined, why: string): AuthResult {
    if (this.cfg.webhookFailure === 'allow') {
      this.deps.log.warn({ why }, 'auth webhook failed; allowing (auth.webhookFailure=allow)');
      return { ok: true, identity };
    }
    this.deps.log.warn({ why }, 'auth webhook failed; denying');
    return fail(503, 'auth-unavailable', 'the authorization service did not answer; try again shortly');
  }
}

function iceServerList(v: unknown): IceServer[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: IceServer[] = [];
  for (const s of v) {
    if (!isObject(s)) return undefined;
    const urls = s.urls;
    const okUrls = (typeof urls === 'string' && urls.length > 0) || (Array.isArray(urls) && urls.length > 0 && urls.every((u) => typeof u === 'string' && u.length > 0));
    if (!okUrls) return undefined;
    if (s.username !== undefined && typeof s.username !== 'string') return undefined;
    if (s.credential !== undefined && typeof s.credential !== 'string') return undefined;
    const e: IceServer = { urls: urls as string | string[] };
    if (s.username !== undefined) e.username = s.username as string;
    if (s.credential !== undefined) e.credential = s.credential as string;
    out.push(e);
  }
  return out;
}

/**
 * The handshake gate: 401/403/503 with `{"error":<reason>,"message":…}` when refused; otherwise the
 * verified identity and the webhook's grant go on the UpgradeInfo for the dialect.
 */
export async function authGate(auth: Authenticator | undefined, info: UpgradeInfo): Promise<Admission> {
  if (!auth?.enabled) return { ok: true };
  const r = await auth.authenticate(info);
  if (!r.ok) return { ok: false, status: r.status, body: { error: r.reason, message: r.message } };
  if (r.identity) info.identity = r.identity;
  if (r.grant) info.grant = r.grant;
  const room = info.room;
  if (r.identity && room !== undefined && !new AccessPolicy(r.identity).allows('join', room)) {
    return { ok: false, status: 403, body: { error: 'room-forbidden', message: 'your token does not allow this room' } };
  }
  return { ok: true };
};

/**
 * For HTTP routes that change state (flyx room creation): the checks of a handshake on `dialect`'s
 * behalf, plus a permission. Undefined when allowed (always, with authentication off).
 */
export async function refuseHttp(req: HttpRequest, auth: Authenticator | undefined, dialect: string, perm: Permission): Promise<AuthFailure | undefined> {
  if (!auth?.enabled) return undefined;
  const r = await auth.authenticate({ path: req.path, dialect, remoteAddress: req.remoteAddress, headers: req.headers, query: req.query });
  if (!r.ok) return r;
  if (r.identity && !new AccessPolicy(r.identity).allows(perm)) return fail(403, 'access-denied', `your token does not have the "${perm}" permission`);
  return undefined;
}
