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
  type DirectOutcome,
  type Envelope,
  type MailboxOptions,
  type Handoff,
  type JoinOutcome,
  type JoinRequest,
  type LeaveOutcome,
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
  /** The owner each alias was claimed with, if any (claimAlias). */
  private readonly owners = new Map<string, string>();
  /** Addressed deliveries nobody could take yet, per alias key: the sender's tag and the frame. */
  private readonly mailboxes = new Map<string, { from: string; raw: string }[]>();
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
    const created = !room;
    if (!room) {
      if (!req.create) return { ok: false, code: 'room-not-found' };
      if (this.quotaFull(req.creator)) return { ok: false, code: 'room-quota' };
      room = { rec: { key, createdAt: req.now, lastActivity: req.now, options: req.defaults }, members: new Map(), emptySince: null };
      this.add(key, room, req.creator);
    }
    const cap = Math.min(room.rec.options.capacity || req.maxCapacity, req.maxCapacity);
    const added = !room.members.has(req.member.peerId);
    if (added && room.members.size >= cap) return { ok: false, code: 'room-full' };
    room.members.set(req.member.peerId, req.member);
    room.emptySince = null;
    room.rec.lastActivity = req.now;
    return { ok: true, room: { ...room.rec }, members: [...room.members.values()], created, added };
  }

  async leaveRoom(key: string, peerId: string, now: number): Promise<LeaveOutcome> {
    const room = this.rooms.get(key);
    if (!room || !room.members.delete(peerId)) return false;
    room.rec.lastActivity = now;
    if (room.members.size === 0) {
      if (room.rec.options.emptyTtlMs <= 0) {
        this.remove(key, room);
        return 'room-removed';
      }
      room.emptySince = now;
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

  async claimAlias(namespace: string, alias: string, who: MemberRef, replace: boolean, owner?: string): Promise<ClaimOutcome> {
    const k = aliasKey(namespace, alias);
    const holder = this.aliases.get(k);
    const other = holder !== undefined && holder.peerId !== who.peerId;
    if (other && (!replace || (owner !== undefined && this.owners.get(k) !== owner))) return { ok: false, holder };
    this.aliases.set(k, { peerId: who.peerId, node: who.node });
    if (owner === undefined) this.owners.delete(k);
    else this.owners.set(k, owner);
    return other ? { ok: true, previous: holder } : { ok: true };
  }

  async releaseAlias(namespace: string, alias: string, peerId: string): Promise<void> {
    const k = aliasKey(namespace, alias);
    if (this.aliases.get(k)?.peerId !== peerId) return;
    this.aliases.delete(k);
    this.owners.delete(k);
  }

  async resolveAlias(namespace: string, alias: string): Promise<MemberRef | undefined> {
    return this.aliases.get(aliasKey(namespace, alias));
  }

  async listAliases(namespace: string, max: number): Promise<string[]> {
    const prefix = aliasKey(namespace, '');
    const out: string[] = [];
    for (const k of this.aliases.keys()) {
      if (out.length >= max) break;
      if (k.startsWith(prefix)) out.push(k.slice(prefix.length));
    }
    return out;
  }

  toAlias(namespace: string, alias: string, env: Extract<Envelope, { k: 'direct' }>, mailbox?: MailboxOptions): DirectOutcome {
    const k = aliasKey(namespace, alias);
    const holder = this.aliases.get(k);
    if (holder && holder.node === this.nodeId && this.sink) {
      this.sink.onPeer(holder.peerId, env);
      return 'delivered';
    }
    if (!mailbox) return 'absent';
    let box = this.mailboxes.get(k);
    if (!box) this.mailboxes.set(k, (box = []));
    if (box.length >= mailbox.max) return 'full';
    box.push({ from: mailbox.from, raw: env.raw });
    return 'queued';
  }

  async takeMailbox(namespace: string, alias: string): Promise<string[]> {
    const k = aliasKey(namespace, alias);
    const box = this.mailboxes.get(k);
    this.mailboxes.delete(k);
    return box ? box.map((e) => e.raw) : [];
  }

  async expireMailbox(namespace: string, alias: string, from: string): Promise<number> {
    const k = aliasKey(namespace, alias);
    const box = this.mailboxes.get(k);
    if (!box) return 0;
    const kept = box.filter((e) => e.from !== from);
    if (kept.length) this.mailboxes.set(k, kept);
    else this.mailboxes.delete(k);
    return box.length - kept.length;
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

function aliasKey(namespace: string, alias: string): string {
  return `${namespace}\u0000${alias}`;
}
