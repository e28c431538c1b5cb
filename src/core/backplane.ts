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
  /**
   * The member's session lives in the shared store (SessionStore): relays to it are appended to its
   * log there, wherever it is (or whether it has a socket at all), and a dead node's cleanup leaves it.
   */
  resumable?: true;
}

export interface RoomRecord {
  key: string;
  createdAt: number;
  lastActivity: number;
  options: Required<RoomOptions>;
}

export type JoinOutcome =
  /** `created`: this join made the room; `added`: the member was not in it before (not a repeated join). */
  | { ok: true; room: RoomRecord; members: MemberRecord[]; created: boolean; added: boolean }
  | { ok: false; code: 'room-full' | 'room-not-found' | 'room-quota' };

/** A leave's outcome: false, not a member; true, removed; 'room-removed': removed, and the room went with it (empty, no grace). */
export type LeaveOutcome = boolean | 'room-removed';

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
  | { k: 'kick'; peerId: string; reason: LeaveReason }
  /**
   * Addressed to one peer: its session now lives elsewhere (resumed on another node, or ended by
   * another node's sweep): close its socket (if any) and forget it, leaving rooms and aliases alone.
   */
  | { k: 'moved'; peerId: string }
  /**
   * Addressed to the session holding alias `alias` (Backplane.toAlias, Hub.direct): `raw` is the
   * whole frame as the sender's dialect rendered it (namespaces never mix, so the receiver speaks
   * the same dialect); `from` is the sender's session. Across nodes `raw` travels after the header.
   */
  | { k: 'direct'; alias: string; from: string; raw: string };

/** The node side of delivery: the hub implements it. */
export interface BackplaneSink {
  /** A delivery addressed to one peer hosted on this node. */
  onPeer(peerId: string, env: Envelope): void;
  /** A delivery published to a room this node watches. */
  onRoom(roomKey: string, env: Envelope): void;
  /**
   * The shared store came back after an outage (or was unreachable at start): the node must
   * re-announce its sessions' memberships and identities, and refresh the rosters it caches.
   * Resolves to whether that went through (false: the backplane asks again later).
   */
  onResync(): void | Promise<boolean>;
  /**
   * Deliveries of stored sessions' frames may have been lost (a Redis Cluster slot moved and had no
   * subscriber for a moment): each local stored session reads what it missed from its log.
   */
  onCatchUp?(): void;
  /** The backplane published a room event of its own (a dead node's members leaving): stored members need it too. */
  announced?(roomKey: string, env: Envelope): void;
  /** The backplane removed a room of its own accord (a dead node's last members went): once cluster-wide. */
  roomGone?(roomKey: string): void;
  /** A numbered frame of a stored session (SessionStore.append), for its socket on this node. */
  onFrame?(peerId: string, seq: number, text: string): void;
}

/** A resumable session as the shared store keeps it (see SessionStore). */
export interface StoredSession {
  peerId: string;
  /** The node that held it when the store answered. */
  node: string;
  namespace: string;
  /** Room names (not keys) and aliases, as last written by its owner. */
  rooms: string[];
  aliases: string[];
}

/** An append's outcome: its seq, or why nothing was kept. */
export type AppendOutcome = number | 'gone' | 'moved' | 'overflow';

export type StoreResume =
  | { ok: true; session: StoredSession; missed: { seq: number; item: string; bytes: number }[] }
  | { ok: false; error: 'unknown-session' | 'session-expired' | 'session-ended' | 'buffer-overflow' | 'seq-out-of-range' | 'identity-mismatch'; peerId?: string };

/**
 * Resumable sessions in the shared store, so that any node can resume them (docs/operations.md,
 * "Session resume across nodes"). Write-ahead numbering: every frame to a stored session gets its
 * seq from the store together with its place in the log, and reaches the owner's socket only from
 * there (BackplaneSink.onFrame, in seq order). Token arguments are hashes; tokens never leave the node.
 */
export interface SessionStore {
  /** `last` (with `ifAbsent`): put back a session the store lost (after an outage), numbering on from there. */
  open(init: { peerId: string; namespace: string; subject: string; tokenHash: string; maxBytes: number; windowMs: number; last?: number; ifAbsent?: boolean }): Promise<boolean>;
  /** `owner`: append only if the session is still that node's (frames it renders itself); '' for relays. */
  append(peerId: string, text: string, owner: string): Promise<AppendOutcome>;
  /** A room event to every stored member of room `key` but `except`; resolves to the members whose logs overflowed. */
  fanout(key: string, text: string, except: string): Promise<string[]>;
  trim(peerId: string, seq: number): void;
  update(peerId: string, rooms: string[], aliases: string[]): void;
  /** The session has no socket: it ends at `deadline` unless resumed (only if `node` still holds it). */
  detach(peerId: string, node: string, deadline: number): Promise<void>;
  resume(tokenHash: string, newTokenHash: string, subject: string, afterSeq: number, now: number): Promise<StoreResume>;
  /** Ends it cluster-wide (tombstoning its tokens with `how`); `onlyDue`: only if its deadline passed. Returns it to the one caller that ended it. */
  end(peerId: string, how: string, now: number, onlyDue: boolean): Promise<StoredSession | undefined>;
  /** Sessions whose deadline passed. */
  due(now: number): Promise<string[]>;
  /**
   * Whether a token hashing to `tokenHash` may serve the session of `key` (its peerId, or the hash
   * of one of its tokens); absent: any. A Redis Cluster keeps a session's tokens in its own slot.
   */
  sameShard?(key: string, tokenHash: string): boolean;
  /** The entries kept after `afterSeq`: a catch-up of frames whose delivery was lost (a slot moved). */
  since?(peerId: string, afterSeq: number): Promise<{ seq: number; item: string; bytes: number }[]>;
}

export type ClaimOutcome = { ok: true; previous?: MemberRef } | { ok: false; holder: MemberRef };

/**
 * What an addressed delivery (Backplane.toAlias) came to: handed to the alias holder's node
 * (`delivered`), kept in the alias's mailbox because nobody holds it or its node is not receiving
 * (`queued`), not kept because the mailbox is at its cap (`full`), or nobody holds it and no
 * mailbox was asked for (`absent`).
 */
export type DirectOutcome = 'delivered' | 'queued' | 'full' | 'absent';

/**
 * A mailbox for an addressed delivery nobody can take now: per (namespace, alias), cluster-wide,
 * at most `max` entries, each tagged with `from` (a string without newlines: the sender's own
 * alias) so one sender's entries can be expired together. Redis keeps the list `ttlMs` past its
 * last push (a sender node that dies never expires its entries itself).
 */
export interface MailboxOptions {
  from: string;
  max: number;
  ttlMs: number;
}

export interface MemberRef {
  peerId: string;
  node: string;
}

/** What a node says about itself (the admin API's node view): plain JSON, written by the server. */
export type NodeStatus = Record<string, unknown>;

/** A live node of the cluster and its last written status (undefined: none written yet). */
export interface LiveNode {
  id: string;
  status: NodeStatus | undefined;
}

/** A request one node asks another (admin actions): an operation name and JSON arguments. */
export interface AskRequest {
  op: string;
  args: unknown;
}

/** The answer to an AskRequest; `no-answer`: no node took it, or none replied in time (ASK_TIMEOUT_MS). */
export type AskReply = { ok: true; value: unknown } | { ok: false; error: 'no-answer' | 'failed' | 'unknown-op'; message?: string };

/** Answers the AskRequests addressed to this node; throwing replies `failed`. */
export type AskHandler = (req: AskRequest) => unknown;

/** How long an ask waits for its reply (on the injected clock). */
export const ASK_TIMEOUT_MS = 2_000;

/**
 * The cluster's log channel (Redis only): while any node watches, every node publishes its
 * info-and-above lines (rate-bounded) and the watchers receive them with the node that logged them.
 */
export interface ClusterLogs {
  /** Receives other nodes' lines until the returned function is called. */
  watch(onLine: (node: string, line: string) => void): () => void;
  /** Starts publishing this node's lines at once (a watcher asked), not only at the next presence check. */
  publishNow(): void;
  /** Lines not published because of the rate bound, ever. */
  readonly dropped: number;
}

export interface Backplane {
  readonly nodeId: string;
  /** True while the shared store is reachable (always, in memory). */
  readonly healthy: boolean;
  /** Present when sessions can be kept in the shared store (Redis): then they resume on any node. */
  readonly sessions?: SessionStore;
  start(sink: BackplaneSink): Promise<void>;
  stop(): Promise<void>;

  /** `quota`: the creator's address already has `creator.max` rooms (checked before `exists`). */
  createRoom(key: string, options: Required<RoomOptions>, now: number, creator?: RoomCreator): Promise<'created' | 'exists' | 'quota'>;
  joinRoom(key: string, req: JoinRequest): Promise<JoinOutcome>;
  /**
   * Removes a member; returns false when it was not there. Empty rooms with no grace go at once.
   * Every removal of a room (here, by the sweep, or by a dead node's cleanup) uncounts it from its creator.
   */
  leaveRoom(key: string, peerId: string, now: number): Promise<LeaveOutcome>;
  touchRoom(key: string, now: number): Promise<void>;
  getRoom(key: string): Promise<{ room: RoomRecord; members: MemberRecord[] } | undefined>;
  listRooms(namespace?: string): Promise<RoomRecord[]>;
  /** Removes rooms due at `now` and returns them; each runs exactly once cluster-wide. */
  sweep(now: number): Promise<SweptRoom[]>;

  /**
   * Claims a unique identity (an alias such as a username) within a namespace.
   * `replace` takes it over from its holder and reports the previous holder. `owner` (an opaque
   * string, e.g. a hash of the client's secret) is stored beside the holder; a claim with an owner
   * replaces a holder only when `replace` is set and the holder was claimed with the same owner.
   * The check and the write are one atomic step.
   */
  claimAlias(namespace: string, alias: string, who: MemberRef, replace: boolean, owner?: string): Promise<ClaimOutcome>;
  releaseAlias(namespace: string, alias: string, peerId: string): Promise<void>;
  resolveAlias(namespace: string, alias: string): Promise<MemberRef | undefined>;
  /** Aliases held in a namespace, at most `max` of them (an inventory, not a hot path). */
  listAliases(namespace: string, max: number): Promise<string[]>;

  /**
   * Addressed delivery: `env` to whoever holds `alias` in `namespace`, wherever it is, resolved and
   * handed on in one atomic step of the store, in this node's order of deliveries (so one sender's
   * frames to one alias keep their order without waiting for a round trip). Nobody holds it, or
   * its node is not receiving: with `mailbox`, the envelope's `raw` is kept in the alias's mailbox
   * (DirectOutcome). In memory, synchronous; with Redis, the promise of the script's answer.
   * Throws (or rejects with) `unavailable` when the store is down.
   */
  toAlias(namespace: string, alias: string, env: Extract<Envelope, { k: 'direct' }>, mailbox?: MailboxOptions): DirectOutcome | Promise<DirectOutcome>;
  /** Takes every entry of an alias's mailbox, oldest first (their `raw` texts), atomically: each entry is taken once. */
  takeMailbox(namespace: string, alias: string): Promise<string[]>;
  /** Removes the entries of one sender (`from`) from an alias's mailbox atomically; how many were removed. */
  expireMailbox(namespace: string, alias: string, from: string): Promise<number>;

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

  /** The function whose result this node publishes as its status (Redis: on its presence timer). */
  setStatus(fn: () => NodeStatus): void;
  /** Every live node with its status; this node's own is always fresh. */
  nodes(): Promise<LiveNode[]>;
  /** Sends a request to a node (this one included) and resolves with its reply, or `no-answer`. */
  ask(node: string, req: AskRequest): Promise<AskReply>;
  /** Who answers this node's asks (one handler; a later call replaces it). */
  answer(handler: AskHandler): void;
  /** Present when other nodes' log lines can be streamed here. */
  readonly logs?: ClusterLogs;
}

/** Runs an ask handler on this node: what both backplanes do with a request addressed to themselves. */
export async function answerLocally(handler: AskHandler | undefined, req: AskRequest): Promise<AskReply> {
  if (!handler) return { ok: false, error: 'no-answer' };
  try {
    const value = await handler(req);
    return value === UNKNOWN_OP ? { ok: false, error: 'unknown-op', message: `unknown operation "${req.op}"` } : { ok: true, value };
  } catch (err) {
    return { ok: false, error: 'failed', message: err instanceof Error ? err.message : String(err) };
  }
}

/** What an AskHandler returns for an operation it does not know (a newer node asking an older one). */
export const UNKNOWN_OP: unique symbol = Symbol('unknown-op');

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
