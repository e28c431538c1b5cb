import { HubError } from '../../core/errors.js';
import type { Hub } from '../../core/hub.js';
import type { Session } from '../../core/session.js';
import type { PeerInfo, RoomOptions, RoomSnapshot } from '../../core/types.js';
import { seedCloseCodes, type Admission, type DialectContext } from '../dialect.js';

/** Rooms of the README shape (`/ws/:room`, `/room`). */
export const README_NAMESPACE = 'flyx';
/** Rooms of the real CLI's shape (`/api/room/:id`): they speak other frames, so they never mix. */
export const CLI_NAMESPACE = 'flyx-cli';

/**
 * Lifetimes fit a file transfer: a room is created, its id is passed to a person who may connect
 * minutes later (empty rooms live 10 minutes), and a room nobody signals in for an hour is over.
 */
export const ROOM_LIFETIMES: Required<Pick<RoomOptions, 'emptyTtlMs' | 'idleTtlMs'>> = {
  emptyTtlMs: 10 * 60_000,
  idleTtlMs: 60 * 60_000,
};

/** Close codes of both flyx shapes: kicks and room expiry have their own codes (4003, 4004). */
export const FLYX_CLOSE_CODES = seedCloseCodes({ replaced: [4001, 'replaced'], kicked: [4003, 'removed from the room'], expired: [4004, 'room expired'] });

/** The role a member took on joining, carried in its hub meta so every roster knows it. */
export function roleOf(peer: PeerInfo): string | undefined {
  const meta = peer.meta as { role?: unknown } | undefined;
  return typeof meta?.role === 'string' ? meta.role : undefined;
}

export function findRole(peers: readonly PeerInfo[], role: string): PeerInfo | undefined {
  return peers.find((p) => roleOf(p) === role);
}

export interface Entered {
  role: string;
  /** The other members at the moment of joining. */
  peers: PeerInfo[];
}

/**
 * Joins `room` with a role. The leader role is a hub alias per room, so exactly one member holds
 * it; when the leader leaves, the alias is released and the next client to connect takes it.
 */
export async function enterRoom(hub: Hub, session: Session, room: string, leader: string, follower: string): Promise<Entered> {
  const alias = `${leader}:${room}`;
  let role = leader;
  try {
    await hub.claimAlias(session, alias, 'reject');
  } catch (err) {
    if (!(err instanceof HubError && err.code === 'identity-taken')) throw err;
    role = follower;
  }
  try {
    const { peers } = await hub.join(session, room, { create: false, meta: { role } });
    return { role, peers };
  } catch (err) {
    await hub.releaseAlias(session, alias);
    throw err;
  }
}

/** How a shape refuses a handshake, in its own words. */
export interface Refusals {
  invalid: Admission & { ok: false };
  notFound: Admission & { ok: false };
  full: Admission & { ok: false };
}

/** The room named in the path must exist and have a free seat (the join re-checks atomically). */
export async function admitToRoom(ctx: DialectContext, namespace: string, room: string | undefined, refuse: Refusals): Promise<Admission> {
  if (room === undefined) return refuse.invalid;
  const snap = await ctx.hub.roomInfo(namespace, room);
  if (!snap) return refuse.notFound;
  if (!hasRoom(snap)) return refuse.full;
  return { ok: true };
}

/** Whether one more client fits (checked at the handshake; the join re-checks atomically). */
export function hasRoom(snap: RoomSnapshot): boolean {
  return snap.members.length < snap.options.capacity;
}

/** Both shapes' 429 body text when the caller's address has created as many open rooms as it may. */
export function quotaText(ctx: DialectContext): string {
  return `Too many open rooms created from your address (at most ${ctx.config.rooms.maxPerAddress}); try again later`;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
