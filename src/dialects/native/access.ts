import { AccessPolicy, type Identity } from '../../core/access.js';
import { identityPolicyFor } from '../identity.js';
import { randomId } from '../../core/ids.js';
import { fail, type AuthFailure, type AuthRequest, type AuthResult } from '../../security/auth.js';
import { iceServersFor } from '../../security/turn.js';
import type { DialectContext, HttpRequest, HttpResponse, HttpRoute } from '../dialect.js';

/**
 * Native's side of authentication: the identity alias that carries the duplicate-identity policy,
 * the checks a join would meet (for the handshake and the pre-flight), and the HTTP routes
 * `GET /v1/validate` and `GET /v1/ice-servers`. See docs/authentication.md.
 */

export const NAMESPACE = 'native';

/** A room name as the native schema takes it: 1-128 characters, no control characters. */
function validRoom(room: string): boolean {
  if (room.length === 0 || [...room].length > 128) return false;
  for (let i = 0; i < room.length; i++) if (room.charCodeAt(i) < 0x20) return false;
  return true;
}

/** The hub alias a token identity holds in the native namespace (one per subject). */
export function identityAlias(id: Identity): string {
  return `identity:${id.subject}`;
}

/** Whether the native identity policy refuses a newcomer whose identity is already connected. */
export async function identityTaken(ctx: DialectContext, id: Identity | undefined): Promise<AuthFailure | undefined> {
  if (!id || identityPolicyFor(ctx.config.identity, NAMESPACE) !== 'reject') return undefined;
  if ((await ctx.hub.resolveAlias(NAMESPACE, identityAlias(id))) === undefined) return undefined;
  return fail(409, 'identity-taken', `identity ${JSON.stringify(id.subject.slice(0, 64))} is already connected (identity policy: reject)`);
}

/** What joining `room` would meet: the token's room patterns, existence and creation, capacity. */
export async function roomCheck(ctx: DialectContext, id: Identity | undefined, room: string): Promise<AuthFailure | undefined> {
  const access = id && new AccessPolicy(id);
  if (access && !access.allows('join', room)) return fail(403, 'room-forbidden', 'your token does not allow joining this room');
  const snap = await ctx.hub.roomInfo(NAMESPACE, room);
  if (!snap) {
    if (ctx.config.rooms.requireCreate) return fail(404, 'room-not-found', 'no such room, and this server requires create-room first');
    if (access && !access.allows('create')) return fail(404, 'room-not-found', 'no such room, and your token may not create rooms');
    return undefined;
  }
  if (snap.members.length >= snap.options.capacity) return fail(409, 'room-full', 'the room is at capacity');
  return undefined;
}

function requestOf(req: HttpRequest): AuthRequest {
  return { path: '/v1', dialect: 'native', remoteAddress: req.remoteAddress, headers: req.headers, query: req.query };
}

/**
 * Both routes answer browsers on any origin: they reveal nothing the caller's own token does not
 * already carry, and no cookie is involved.
 */
function reply(status: number, body: unknown): HttpResponse {
  return { status, body, headers: { 'access-control-allow-origin': '*' } };
}

function refused(f: AuthFailure, identity?: Identity): HttpResponse {
  return reply(f.status, { ok: false, reason: f.reason, message: f.message, ...(identity ? { identity } : {}) });
}

/**
 * `GET /v1/validate?token=…&room=…`: the reason a handshake (and a join of `room`) would be refused,
 * which a browser cannot read from a failed WebSocket. 200 `{ok:true, identity}` or 4xx/503
 * `{ok:false, reason, message}`.
 */
export const validateRoute: HttpRoute = {
  method: 'GET',
  path: '/v1/validate',
  async handle(req, _params, ctx) {
    if (ctx.hub.draining) return refused(fail(503, 'shutting-down', 'the server is draining'));
    const room = req.query.get('room');
    if (room !== null && !validRoom(room)) return refused(fail(400, 'invalid-room', 'room: 1-128 characters, no control characters'));
    const auth = ctx.auth;
    const r: AuthResult = auth ? await auth.authenticate(requestOf(req)) : { ok: true };
    if (!r.ok) return refused(r);
    const taken = await identityTaken(ctx, r.identity);
    if (taken) return refused(taken, r.identity);
    if (room !== null) {
      const bad = await roomCheck(ctx, r.identity, room);
      if (bad) return refused(bad, r.identity);
    }
    return reply(200, { ok: true, auth: auth?.enabled ?? false, identity: r.identity ?? null, ...(room !== null ? { room } : {}) });
  },
};

/**
 * `GET /v1/ice-servers`: the STUN/TURN list, with TURN credentials of the caller's own (named after
 * its token subject, or a random id). Needs a valid token when authentication is on.
 */
export const iceServersRoute: HttpRoute = {
  method: 'GET',
  path: '/v1/ice-servers',
  async handle(req, _params, ctx) {
    const auth = ctx.auth;
    const r: AuthResult = auth ? await auth.authenticate(requestOf(req)) : { ok: true };
    if (!r.ok) return refused(r);
    const peer = r.identity?.subject ?? randomId();
    const { config } = ctx;
    const iceServers = iceServersFor(config, peer, ctx.clock.now(), r.grant?.iceServers);
    return reply(200, { iceServers, ...(config.turn.secret ? { ttlSeconds: config.turn.ttlSeconds } : {}) });
  },
};
