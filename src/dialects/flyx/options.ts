import type { RoomOptions } from '../../core/types.js';

/** The longest idle timeout a room may ask for: one day. */
export const MAX_TIMEOUT_S = 24 * 60 * 60;

const ALLOWED = ['max_clients', 'timeout'] as const;

export type OptionsResult = { ok: true; options: RoomOptions } | { ok: false; error: string };

function integerIn(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

/**
 * The README's "room configuration (max clients, timeout)", as a POST /room body:
 * `{"max_clients": 2..maxPeers, "timeout": seconds without signaling before the room expires}`.
 * Both optional; an empty body takes the defaults.
 */
export function parseRoomOptions(body: unknown, maxPeers: number): OptionsResult {
  if (body === undefined) return { ok: true, options: {} };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, error: 'Request body must be a JSON object like {"max_clients":2,"timeout":600}' };
  }
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).find((k) => !(ALLOWED as readonly string[]).includes(k));
  if (unknown !== undefined) return { ok: false, error: `Unknown room option "${unknown.slice(0, 64)}" (known: ${ALLOWED.join(', ')})` };
  const options: RoomOptions = {};
  if (b.max_clients !== undefined) {
    if (!integerIn(b.max_clients, 2, maxPeers)) return { ok: false, error: `max_clients must be an integer from 2 to ${maxPeers}` };
    options.capacity = b.max_clients;
  }
  if (b.timeout !== undefined) {
    if (!integerIn(b.timeout, 1, MAX_TIMEOUT_S)) return { ok: false, error: `timeout must be a whole number of seconds from 1 to ${MAX_TIMEOUT_S}` };
    options.idleTtlMs = b.timeout * 1000;
  }
  return { ok: true, options };
}
