import { AccessPolicy } from '../../core/access.js';
import { HubError } from '../../core/errors.js';
import type { Session } from '../../core/session.js';
import type { Conn, DialectContext, OutFrame } from '../dialect.js';

/**
 * Native's `refresh-token`: a new token for the same identity replaces the connection's, so it
 * outlives the old one's expiry. The token is checked exactly like a handshake's (signature, `iss`,
 * `aud`, `exp`/`nbf` with the leeway); the auth webhook is not asked again: it judged the connection
 * (its origin, cookies, address), which a refresh does not change, and the token's issuer judged the
 * identity by issuing. The session then carries the new token's name, rooms and permissions (for
 * what it does next), and the connection's lifetime is re-armed from it. See docs/protocol.md.
 */

type Id = string | number | undefined;

/** `send` is the line's own output (numbered, for a resumable session). */
export async function refreshToken(ctx: DialectContext, conn: Conn, session: Session, token: string, re: Id, send: (frame: OutFrame) => void): Promise<void> {
  const auth = ctx.auth;
  if (!auth?.enabled) throw new HubError('unauthorized', 'Authentication is off on this server: there is no token to refresh, and connections do not expire.');
  if (!auth.verifies) throw new HubError('unauthorized', 'This server verifies no tokens (its auth webhook alone admits connections): reconnect to authenticate again.');
  const v = await auth.verify(token);
  const lifetime = conn.lifetime;
  if (session.closed || lifetime?.ended) return;
  if (!v.ok) {
    if (v.reason === 'auth-unavailable') throw new HubError('unavailable', `The token cannot be checked now: ${v.message}.`);
    throw new HubError('unauthorized', `The token was refused (${v.reason}): ${v.message}.`);
  }
  const current = session.access?.identity;
  if (!current || v.identity.subject !== current.subject) {
    throw new HubError('forbidden', `A refreshed token must carry the same identity (sub) as the connection's${current ? ` (${JSON.stringify(current.subject.slice(0, 64))})` : ''}; reconnect to change identity.`);
  }
  // No membership may outlive a token that allows it: narrowing below the rooms held is refused.
  const next = new AccessPolicy(v.identity);
  for (const room of session.rooms) {
    if (!next.allows('join', room)) throw new HubError('forbidden', `The new token does not allow room ${JSON.stringify(room.slice(0, 128))}, which you are in: leave it first.`);
  }
  session.access = next;
  const expiresAt = lifetime?.deadlineFor(v.identity);
  const frame: OutFrame = { type: 'token-refreshed' };
  if (re !== undefined) frame.re = re;
  if (expiresAt !== undefined) frame.expiresAt = expiresAt;
  send(frame);
  // After the reply: a token that is already within its warning period is warned about at once.
  lifetime?.arm(expiresAt);
}
