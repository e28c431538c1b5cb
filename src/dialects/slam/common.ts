import { HubError, type ErrorCode } from '../../core/errors.js';
import type { CloseReason, LeaveReason } from '../../core/types.js';
import type { Conn, DialectContext } from '../dialect.js';

/** What the seed's clients send and receive; everything is `{"type": ...}` JSON objects. */
export type Frame = { type: string } & Record<string, unknown>;

/** The three negotiation frames both slam flavours relay. */
export const RELAY_TYPES: ReadonlySet<string> = new Set(['offer', 'answer', 'ice_candidate']);

/**
 * Close codes shared by both flavours. The seed clients (Python `websockets`, the Android app's
 * OkHttp) only log close codes, so the point is a code and reason an operator can read in a trace.
 */
export const slamCloseCodes: Record<CloseReason, readonly [number, string]> = {
  shutdown: [1001, 'server shutting down'],
  timeout: [4000, 'heartbeat timeout'],
  replaced: [4001, 'client_id registered by another connection'],
  'slow-consumer': [4002, 'slow consumer'],
  kicked: [4003, 'removed from room'],
  expired: [4004, 'room expired'],
  policy: [1008, 'policy violation'],
  // Never used: slam sessions are not resumable.
  resumed: [1000, 'session resumed'],
  'token-expired': [4005, 'token expired'],
};

export function isFrame(msg: unknown): msg is Frame {
  return typeof msg === 'object' && msg !== null && !Array.isArray(msg) && typeof (msg as { type?: unknown }).type === 'string';
}

export function has(m: Frame, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(m, key);
}

/** Client-chosen text echoed in an error is capped, so an error frame never grows with abuse. */
export function clip(s: string, max = 64): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

export const NOT_A_FRAME = 'Message must be a JSON object with a string "type"';

/** The seed's one error shape: `{"type":"error","message":<text>}`, counted under `code`. */
export function sendError(conn: Conn, ctx: DialectContext, dialect: string, code: string, message: string): void {
  ctx.countError(dialect, code);
  conn.send({ type: 'error', message });
}

/** What a client over a rate limit (frames, or registers) reads. */
export const RATE_LIMITED = 'Rate limit exceeded: slow down';

/** Framing problems found by the connection layer, in the seed's words. */
export function rejectText(code: ErrorCode, detail: string): string {
  if (code === 'rate-limited') return RATE_LIMITED;
  return code === 'invalid-json' ? 'Invalid JSON' : detail;
}

/** A self-addressed peer-left (the hub removed us from a room) closes the socket with a clear code. */
export function closeReasonFor(reason: LeaveReason): CloseReason {
  return reason === 'expired' ? 'expired' : 'kicked';
}

/** Maps a hub failure to the seed's words; anything unexpected is logged and reported generically. */
export function hubErrorText(err: unknown, conn: Conn, context: { room?: string; target?: string }): { code: string; message: string } {
  if (!(err instanceof HubError)) {
    conn.log.error({ err }, 'slam request failed');
    return { code: 'internal-error', message: 'Internal server error' };
  }
  const room = clip(context.room ?? '');
  switch (err.code) {
    case 'room-full':
      return { code: err.code, message: `Room is full: ${room}` };
    case 'room-not-found':
      return { code: err.code, message: `Room not found: ${room}` };
    case 'peer-not-found':
      return { code: err.code, message: `Peer not found: ${clip(context.target ?? '')}` };
    case 'shutting-down':
      return { code: err.code, message: 'Server is shutting down' };
    case 'too-many-rooms':
      return { code: err.code, message: 'Too many rooms for one connection' };
    case 'not-in-room':
      return { code: err.code, message: 'Connection closed during register' };
    case 'rate-limited':
      return { code: err.code, message: RATE_LIMITED };
    default:
      return { code: err.code, message: err.message };
  }
}
