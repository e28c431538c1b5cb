import type { PeerInfo } from '../../core/types.js';

/** A parsed inbound frame once it is known to be an object with a non-empty string `type`. */
export type VcFrame = { type: string } & Record<string, unknown>;

/**
 * Every frame type the vc server itself sends. A relay may carry any other type, never one of
 * these: the vc-client acts on them, so a room-mate relaying a `peer-left` for a third peer, or a
 * `welcome`, would tear down calls or re-identify the victim. Every frame the server originates is
 * a `VcServerFrame`, so the compiler keeps this list complete.
 */
export const VC_SERVER_TYPES = ['welcome', 'joined', 'left', 'peer-joined', 'peer-left', 'ping', 'error'] as const;

/** A frame the vc server originates (as opposed to a relayed one). */
export type VcServerFrame = { type: (typeof VC_SERVER_TYPES)[number] } & Record<string, unknown>;

const SERVER_TYPES: ReadonlySet<string> = new Set(VC_SERVER_TYPES);

/** The peer shape of `joined.peers` and `peer-joined.peer`. */
export interface VcPeer {
  peer_id: string;
  name: string;
}

/**
 * The error texts vc clients know (dialects.md), verbatim: they are the original server's words and
 * the client only logs them. `metric` is a stable label for the error counter (no spaces or quotes).
 */
export const VC_ERRORS = {
  invalidJson: { wire: 'invalid-json', metric: 'invalid-json' },
  notObject: { wire: 'message must be a JSON object', metric: 'not-an-object' },
  badType: { wire: 'missing/invalid "type"', metric: 'invalid-type' },
  joinRoom: { wire: 'join requires room', metric: 'join-requires-room' },
  badTo: { wire: 'invalid "to"', metric: 'invalid-to' },
  badRoom: { wire: 'invalid "room"', metric: 'invalid-room' },
  notInRoom: { wire: 'not-in-room', metric: 'not-in-room' },
} as const;

export type VcError = { wire: string; metric: string };

/** Longest `type` echoed back in `unknown type: …`, so an error never grows with the abuse. */
const MAX_ECHOED_TYPE = 64;

/** Checks the envelope; on failure, the vc error. */
export function checkEnvelope(msg: unknown): { ok: true; frame: VcFrame } | { ok: false; error: VcError } {
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return { ok: false, error: VC_ERRORS.notObject };
  const t = (msg as { type?: unknown }).type;
  if (typeof t !== 'string' || t.length === 0) return { ok: false, error: VC_ERRORS.badType };
  return { ok: true, frame: msg as VcFrame };
}

/**
 * The original read `room` and `name` with `str(value).strip()`: numbers were accepted as their
 * decimal text. Anything else that is not a string counts as absent here (the original turned
 * `null` into the room "None", a bug).
 */
export function text(value: unknown): string {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return '';
}

export function unknownTypeError(type: string): VcError {
  const shown = type.length > MAX_ECHOED_TYPE ? `${type.slice(0, MAX_ECHOED_TYPE)}…` : type;
  return { wire: `unknown type: ${shown}`, metric: 'unknown-type' };
}

/** A type only the server may send; relaying it would let a client forge server events. */
export function serverOnlyError(type: string): VcError | undefined {
  return SERVER_TYPES.has(type) ? { wire: `server-only type: ${type}`, metric: 'server-only-type' } : undefined;
}

export function toVcPeer(p: PeerInfo): VcPeer {
  return { peer_id: p.peerId, name: p.name ?? '' };
}
