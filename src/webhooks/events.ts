import type { LifecycleType } from '../core/lifecycle.js';

/** One event waiting for delivery: its webhook-id, its room key (delivery order is per room) and its body. */
export interface QueuedEvent {
  id: string;
  room: string;
  /** The JSON text that is signed and POSTed, byte for byte the same on every attempt. */
  body: string;
  /** Its type, for logs. */
  type: LifecycleType;
}

/**
 * The body of a lifecycle event: `{"type","timestamp","data":{"dialect","room",…}}` (docs/operations.md,
 * "Webhooks"). `dialect` is the room key's namespace, `room` its name.
 */
export function eventBody(type: LifecycleType, roomKey: string, data: Record<string, unknown>, at: number): string {
  const i = roomKey.indexOf('/');
  return JSON.stringify({ type, timestamp: new Date(at).toISOString(), data: { dialect: roomKey.slice(0, i), room: roomKey.slice(i + 1), ...data } });
}

/** An event as the Redis queue keeps it (one list entry: its exact text is also how it is removed). */
export function encodeEvent(e: QueuedEvent): string {
  return JSON.stringify({ i: e.id, r: e.room, t: e.type, b: e.body });
}

/** Undefined for an entry no node of ours wrote (it is then removed from the queue, and counted). */
export function decodeEvent(text: string): QueuedEvent | undefined {
  try {
    const o = JSON.parse(text) as { i?: unknown; r?: unknown; t?: unknown; b?: unknown };
    if (typeof o.i === 'string' && typeof o.r === 'string' && typeof o.t === 'string' && typeof o.b === 'string') return { id: o.i, room: o.r, type: o.t as LifecycleType, body: o.b };
  } catch {
    // fall through
  }
  return undefined;
}
