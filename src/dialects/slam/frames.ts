import type { OutFrame } from '../dialect.js';
import type { PeerInfo } from '../../core/types.js';
import { memberText } from '../../core/json-span.js';
import { has, type Frame } from './common.js';

/**
 * The PC flavour's (`slam`) frames: a `register` read into a registration, the relay frame a
 * target receives, the roster entry a client knows a room mate by. Pure functions, no state.
 */

export const DEFAULT_ROOM = 'default';
export const DEFAULT_TYPE = 'unknown';

/** Where a registered socket stands: the identity it holds and the one room it is in. */
export interface Registration {
  clientId: string;
  room: string;
  clientType: string;
}

/** A member of my room as this client knows it (see SlamLine `names`). */
export interface Mate {
  clientId: string;
  clientType: string;
}

/** Reads an optional string field: absent or null → the default; anything else must be a non-empty string. */
function optionalString(m: Frame, key: string, fallback: string, max: number): string | { error: string } {
  const v = m[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string' || v === '') return { error: `Invalid ${key}: must be a non-empty string` };
  if (v.length > max) return { error: `Invalid ${key}: longer than ${max} characters` };
  return v;
}

export function parseRegister(m: Frame, max: number): Registration | { error: string } {
  const c = m.client_id;
  if (c === undefined || c === null || c === '') return { error: 'Missing client_id' };
  if (typeof c !== 'string') return { error: 'Invalid client_id: must be a non-empty string' };
  if (c.length > max) return { error: `Invalid client_id: longer than ${max} characters` };
  const room = optionalString(m, 'room_id', DEFAULT_ROOM, max);
  if (typeof room !== 'string') return room;
  const clientType = optionalString(m, 'client_type', DEFAULT_TYPE, max);
  if (typeof clientType !== 'string') return clientType;
  return { clientId: c, room, clientType };
}

export function clientTypeOf(peer: PeerInfo): string {
  const t = (peer.meta as { client_type?: unknown } | undefined)?.client_type;
  return typeof t === 'string' ? t : DEFAULT_TYPE;
}

/** The frame the target receives; built by the sender's server side, so `sender_id` cannot be forged. */
export function relayFrame(m: Frame, senderId: string): OutFrame {
  if (m.type !== 'ice_candidate') return { type: m.type, sender_id: senderId, sdp: m.sdp };
  const out: OutFrame = { type: m.type, sender_id: senderId, candidate: m.candidate };
  // A client sending flat candidates (the Android app's shape) keeps the fields it needs.
  if (has(m, 'sdpMid')) out.sdpMid = m.sdpMid;
  if (has(m, 'sdpMLineIndex')) out.sdpMLineIndex = m.sdpMLineIndex;
  return out;
}

/**
 * relayFrame as text, built around the client's own bytes of each forwarded field (located with
 * json-span: the values JSON.parse kept), so an SDP is never re-serialised. The fields and their
 * order are relayFrame's; the type is one of RELAY_TYPES, `sender_id` the server's.
 */
export function relayText(m: Frame, text: string, senderId: string): string {
  const fields = m.type === 'ice_candidate' ? ['candidate', ...['sdpMid', 'sdpMLineIndex'].filter((k) => has(m, k))] : ['sdp'];
  let out = `{"type":"${m.type}","sender_id":${JSON.stringify(senderId)}`;
  for (const f of fields) {
    out += `,"${f}":${memberText(text, f) ?? JSON.stringify(m[f] ?? null)}`;
  }
  return `${out}}`;
}

