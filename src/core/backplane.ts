import type { LeaveReason, PeerInfo, RoomOptions } from './types.js';

/**
 * The Backplane: where room state lives and how deliveries travel between nodes.
 *
 * It is designed for the distributed case first: every operation is async, room membership and
 * aliases are atomic in the store, and delivery is at-most-once, but never silently lost: a delivery
 * says whether it was handed on (see Handoff). The in-memory implementation
 * satisfies it trivially; the Redis one (many nodes) implements the same contract. Room keys are
 * `<namespace>/<name>`; the hub never mixes namespaces, which is what keeps dialects apart.
 */

export interface MemberRecord extends PeerInfo {
  /** Node hosting the peer's session: a targeted delivery goes straight there (one hop). */
  node: string;
  joinedAt: number;
}

export interface RoomRecord {
  key: string;
  createdAt: number;
  lastActivity: number;
  options: Required<RoomOptions>;
}

export type JoinOutcome =
  | { ok: true; room: RoomRecord; members: MemberRecord[] }
  | { ok: false; code: 'room-full' | 'room-not-found' | 'room-quota' };

/**
 * The client address a new room is counted against (rooms.maxPerAddress). The store keeps, per
 * address, the rooms it created that still exist, and checks and changes that count in the same
 * atomic step that creates or removes a room, so no race across nodes lets an address exceed it.
 */
export interface RoomCreator {
  address: string;
  /** Rooms the address may have at once (at least 1); at it, creating another fails with room-quota. */
  max: number;
}

export interface JoinRequest {
  member: MemberRecord;
  /** Create the room if it does not exist (with `defaults`), else fail with room-not-found. */
  create: boolean;
  /** Counts a room this join creates against its creator's address; absent: not counted. */
  creator?: RoomCreator;
  defaults: Required<RoomOptions>;
  /** Hard cap on capacity, whatever the room options say. */
  maxCapacity: number;
  now: number;
}

/** A room the sweeper removed: empty past its grace period, or idle past its ttl. */
export interface SweptRoom {
  key: string;
  reason: 'empty' | 'expired';
  members: MemberRecord[];
}

/** What travels between nodes. Plain data: it must survive JSON. */
export type Envelope =
  /**
   * `raw`, when present, is the client's own JSON text of `data` (validated, never re-serialised):
   * dialects that can forward it do so byte for byte; across nodes only `raw` travels.
   */
  | { k: 'signal'; room: string; from: string; to: string; data: unknown; raw?: string }
  | { k: 'broadcast'; room: string; from: string; data: unknown; self: boolean; raw?: string }
  | { k: 'joined'; room: string; peer: MemberRecord }
  | { k: 'left'; room: string; peerId: string; reason: LeaveReason }
  /** Addressed to one peer: you are no longer in `room`. */
  | { k: 'removed'; room: string; peerId: string; reason: LeaveReason }
  /** Addressed to one peer: your session is to be closed (e.g. replaced by a newer one). */
  | { k: 'kick'; peerId: string; reason: LeaveReason };

/** The node side of delivery: the hub implements it. */
export interface BackplaneSink {
  /** A delivery addressed to one peer hosted on this node. */
  onPeer(peerId: string, env: Envelope): void;
  /** A delivery published to a room this node watches. */
  onRoom(roomKey: string, env: Envelope): void;
  /**
   * The shared store came back after an outage (or was unreachable at start): the node must
   * re-announce its sessions' memberships and identities, and refresh the rosters it caches.
   */
  onResync(): void;
}

export type ClaimOutcome = { ok: true; previous?: MemberRef } | { ok: false; holder: MemberRef };

export interface MemberRef {
  peerId: string;
  node: string;
}

export interface Backplane {
  readonly nodeId: string;
  /** True while the shared store is reachable (always, in memory). */
  readonly healthy: boolean;
  start(sink: BackplaneSink): Promise<void>;
  stop(): Promise<void>;

  /** `quota`: the creator's address already has `creator.max` rooms (checked before `exists`). */
  createRoom(key: string, options: Required<RoomOptions>, now: number, creator?: RoomCreator): Promise<'created' | 'exists' | 'quota'>;
  joinRoom(key: string, req: JoinRequest): Promise<JoinOutcome>;
  /**
   * Removes a member; returns false when it was not there. Empty rooms with no grace go at once.
   * Every removal of a room (here, by the sweep, or by a dead node's cleanup) uncounts it from its creator.
   */
  leaveRoom(key: string, peerId: string, now: number): Promise<boolean>;
  touchRoom(key: string, now: number): Promise<void>;
  getRoom(key: string): Promise<{ room: RoomRecord; members: MemberRecord[] } | undefined>;
  listRooms(namespace?: string): Promise<RoomRecord[]>;
  /** Removes rooms due at `now` and returns them; each runs exactly once cluster-wide. */
  sweep(now: number): Promise<SweptRoom[]>;

  /**
   * Claims a unique identity (an alias such as a username) within a namespace.
   * `replace` takes it over from its holder and reports the previous holder.
   */
  claimAlias(namespace: string, alias: string, who: MemberRef, replace: boolean): Promise<ClaimOutcome>;
  releaseAlias(namespace: string, alias: string, peerId: string): Promise<void>;
  resolveAlias(namespace: string, alias: string): Promise<MemberRef | undefined>;

  /** Start receiving a room's publications on this node; resolves once they will arrive. */
  watchRoom(key: string): Promise<void>;
  unwatchRoom(key: string): void;

  /**
   * Deliver to one peer on the node that hosts it: synchronously when that is this node (returns
   * undefined); else the promise of the handoff, which rejects with `unavailable` when no node
   * received it (its node is gone). Throws `unavailable` when the shared store is known down.
   */
  toPeer(target: MemberRef, env: Envelope): Handoff;
  /**
   * Publish to every node watching the room. This node's own watchers are served synchronously,
   * first; the promise (if any) settles once the shared store has taken the publication, and it
   * (or a synchronous throw, when the store is known down) says `unavailable` when it did not.
   */
  toRoom(key: string, env: Envelope): Handoff;
}

/**
 * What a delivery reports: `undefined` when it was handed on synchronously (every recipient is on
 * this node: nothing is allocated), or a promise that resolves once it has been handed on to the
 * node(s) hosting the recipients and rejects with HubError `unavailable` when it could not be.
 * A caller that gets a promise must handle its rejection.
 */
export type Handoff = Promise<void> | undefined;

/** The messages of `unavailable` for a delivery, by cause (each dialect shows or maps them). */
export const UNDELIVERED = {
  /** A targeted delivery could not leave this node. */
  storeDown: 'Not delivered: the peer is on another server and the shared store is unreachable; try again shortly.',
  /** It reached the shared store, but no node was listening for the target (its node died). */
  nodeGone: 'Not delivered: the server hosting that peer is not receiving (it may have just failed).',
  /** A room publication could not leave this node: only the room's members on this node got it. */
  roomStoreDown: 'Only members on this server got it: the shared store is unreachable; try again shortly.',
} as const;
