import {
  UNDELIVERED,
  answerLocally,
  type AskHandler,
  type AskReply,
  type AskRequest,
  type LiveNode,
  type NodeStatus,
  type Backplane,
  type BackplaneSink,
  type ClaimOutcome,
  type Envelope,
  type Handoff,
  type JoinOutcome,
  type JoinRequest,
  type MemberRecord,
  type MemberRef,
  type RoomCreator,
  type RoomRecord,
  type SweptRoom,
} from '../core/backplane.js';
import { HubError } from '../core/errors.js';
import { randomId } from '../core/ids.js';
import type { RoomOptions } from '../core/types.js';

interface Room {
  rec: RoomRecord;
  members: Map<string, MemberRecord>;
  emptySince: number | null;
  /** The client address the room counts against (rooms.maxPerAddress), if it is counted. */
  creator?: string;
}

/**
 * The embedded backplane: one node, everything in this process. Deliveries are synchronous calls
 * into the hub, so ordering is exactly the order of calls.
 */
export class MemoryBackplane implements Backplane {
  readonly nodeId: string;
  readonly healthy = true;
  private sink: BackplaneSink | undefined;
  private readonly rooms = new Map<string, Room>();
  private readonly aliases = new Map<string, MemberRef>();
  /** Per client address, the keys of the live rooms it created; an address goes with its last room. */
  private readonly created = new Map<string, Set<string>>();
  private status: (() => NodeStatus) | undefined;
  private handler: AskHandler | undefined;

  constructor(nodeId = randomId(6)) {
    this.nodeId = nodeId;
  }

  async start(sink: BackplaneSink): Promise<void> {
    this.sink = sink;
  }

  async stop(): Promise<void> {
    this.sink = undefined;
  }

  async createRoom(key: string, options: Required<RoomOptions>, now: number, creator?: RoomCreator): Promise<'created' | 'exists' | 'quota'> {
    if (this.quotaFull(creator)) return 'quota';
    if (this.rooms.has(key)) return 'exists';
    this.add(key, { rec: { key, createdAt: now, lastActivity: now, options }, members: new Map(), emptySince: now }, creator);
    return 'created';
  }

  async joinRoom(key: string, req: JoinRequest): Promise<JoinOutcome> {
    let room = this.rooms.get(key);
    if (!room) {
      if (!req.create) return { ok: false, code: 'room-not-found' };
      if (this.quotaFull(req.creator)) return { ok: false, code: 'room-quota' };
      room = { rec: { key, createdAt: req.now, lastActivity: req.now, options: req.defaults }, members: new Map(), emptySince: null };
      this.add(key, room, req.creator);
    }
    const cap = Math.min(room.rec.options.capacity || req.maxCapacity, req.maxCapacity);
    if (!room.members.has(req.member.peerId) && room.members.size >= cap) return { ok: false, code: 'room-full' };
    room.members.set(req.member.peerId, req.member);
    room.emptySince = null;
    room.rec.lastActivity = req.now;
    return { ok: true, room: { ...room.rec }, members: [...room.members.values()] };
  }

  async leaveRoom(key: string, peerId: string, now: number): Promise<boolean> {
    const room = this.rooms.get(key);
    if (!room || !room.members.delete(peerId)) return false;
    room.rec.lastActivity = now;
    if (room.members.size === 0) {
      if (room.rec.options.emptyTtlMs <= 0) this.remove(key, room);
      else room.emptySince = now;
    }
    return true;
  }

  async touchRoom(key: string, now: number): Promise<void> {
    const room = this.rooms.get(key);
    if (room) room.rec.lastActivity = now;
  }

  async getRoom(key: string): Promise<{ room: RoomRecord; members: MemberRecord[] } | undefined> {
    const room = this.rooms.get(key);
    return room && { room: { ...room.rec }, members: [...room.members.values()] };
  }

  async listRooms(namespace?: string): Promise<RoomRecord[]> {
    const out: RoomRecord[] = [];
    for (const r of this.rooms.values()) if (namespace === undefined || r.rec.key.startsWith(`${namespace}/`)) out.push({ ...r.rec });
    return out;
  }

  async sweep(now: number): Promise<SweptRoom[]> {
    const out: SweptRoom[] = [];
    for (const [key, room] of this.rooms) {
      const { emptyTtlMs, idleTtlMs } = room.rec.options;
      if (room.members.size === 0 && room.emptySince !== null && now - room.emptySince >= emptyTtlMs) {
        this.remove(key, room);
        out.push({ key, reason: 'empty', members: [] });
      } else if (idleTtlMs > 0 && now - room.rec.lastActivity >= idleTtlMs) {
        this.remove(key, room);
        out.push({ key, reason: 'expired', members: [...room.members.values()] });
      }
    }
    return out;
  }

  private quotaFull(creator: RoomCreator | undefined): boolean {
    return creator !== undefined && (this.created.get(creator.address)?.size ?? 0) >= creator.max;
  }

  private add(key: string, room: Room, creator: RoomCreator | undefined): void {
    this.rooms.set(key, room);
    if (!creator) return;
    room.creator = creator.address;
    let keys = this.created.get(creator.address);
    if (!keys) this.created.set(creator.address, (keys = new Set()));
    keys.add(key);
  }

  /** Every removal of a room passes here, so it is uncounted from its creator exactly when it goes. */
  private remove(key: string, room: Room): void {
    this.rooms.delete(key);
    if (room.creator === undefined) return;
    const keys = this.created.get(room.creator);
    if (keys?.delete(key) && keys.size === 0) this.created.delete(room.creator);
  }

  async claimAlias(namespace: string, alias: string, who: MemberRef, replace: boolean): Promise<ClaimOutcome> {
    const k = `${namespace}\u0000${alias}`;
    const holder = this.aliases.get(k);
    if (holder && holder.peerId !== who.peerId && !replace) return { ok: false, holder };
    this.aliases.set(k, who);
    return holder && holder.peerId !== who.peerId ? { ok: true, previous: holder } : { ok: true };
  }

  async releaseAlias(namespace: string, alias: string, peerId: string): Promise<void> {
    const k = `${namespace}\u0000${alias}`;
    if (this.aliases.get(k)?.peerId === peerId) this.aliases.delete(k);
  }

  async resolveAlias(namespace: string, alias: string): Promise<MemberRef | undefined> {
    return this.aliases.get(`${namespace}\u0000${alias}`);
  }

  async watchRoom(_key: string): Promise<void> {}
  unwatchRoom(_key: string): void {}

  toPeer(target: MemberRef, env: Envelope): Handoff {
    // One node: a record naming another one cannot be reached (never silently dropped).
    if (target.node !== this.nodeId) throw new HubError('unavailable', UNDELIVERED.nodeGone);
    this.sink?.onPeer(target.peerId, env);
    return undefined;
  }

  toRoom(key: string, env: Envelope): Handoff {
    this.sink?.onRoom(key, env);
    return undefined;
  }

  setStatus(fn: () => NodeStatus): void {
    this.status = fn;
  }

  /** One node: this one. */
  async nodes(): Promise<LiveNode[]> {
    return [{ id: this.nodeId, status: this.status?.() }];
  }

  ask(node: string, req: AskRequest): Promise<AskReply> {
    if (node !== this.nodeId) return Promise.resolve({ ok: false, error: 'no-answer' });
    return answerLocally(this.handler, req);
  }

  answer(handler: AskHandler): void {
    this.handler = handler;
  }
}
