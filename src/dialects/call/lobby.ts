import type { Timer } from '../../core/clock.js';
import type { RoomOptions } from '../../core/types.js';
import { isObject } from './frames.js';

/**
 * How the call dialect sits on the hub: its namespace, the lobby room that is the online list, the
 * aliases that make users unique and busy, and the state one connection keeps. No per-connection
 * logic here (that is line.ts).
 */

/** Rooms and aliases of this dialect never mix with another's. */
export const NAMESPACE = 'call';
/** Every registered user is a member of this one hub room: it is the online list. */
export const LOBBY = 'lobby';
/** The directory must not expire for lack of relays, whatever the server-wide idle TTL says. */
export const LOBBY_DEFAULTS: RoomOptions = { idleTtlMs: 0 };

export interface CallOptions {
  /** How long a call may ring unanswered before both sides are told it timed out. */
  ringTimeoutMs: number;
  /** Longest accepted `user_id`, in characters. */
  maxUserIdLength: number;
}

/** What every call connection of one server (and one call dialect) shares. */
export interface CallSettings extends CallOptions {
  /** What a second registration of a username or user_id meets: refused (default) or takes over. */
  policy: 'reject' | 'replace';
}

/**
 * Hub aliases this dialect claims. `user:` and `id:` make usernames and user ids unique;
 * `busy:` marks a user as ringing or in a call. The caller's session claims `busy:` for both
 * parties, so one atomic claim decides a race, and a caller's disconnect frees both at once.
 */
export const alias = {
  user: (username: string) => `user:${username}`,
  id: (userId: string) => `id:${userId}`,
  busy: (username: string) => `busy:${username}`,
};

export interface Registration {
  username: string;
  userId: string;
}

/** This connection's side of a call. `holds` are the busy aliases it must release at the end. */
export interface Call {
  peerId: string;
  username: string;
  role: 'caller' | 'callee';
  phase: 'ringing' | 'active';
  timer: Timer | undefined;
  holds: string[];
}

/** The `user_id` a lobby member registered with (its roster `meta`). */
export function userIdOf(meta: unknown): string {
  return isObject(meta) && typeof meta.user_id === 'string' ? meta.user_id : '';
}
