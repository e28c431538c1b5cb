import type { PeerInfo } from '../../core/types.js';

/** A parsed inbound frame once it is known to be an object with a non-empty string `type`. */
export type VcFrame = { type: string } & Record<string, unknown>;

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

export function toVcPeer(p: PeerInfo): VcPeer {
  return { peer_id: p.peerId, name: p.name ?? '' };
}
