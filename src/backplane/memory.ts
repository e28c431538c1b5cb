import {
  UNDELIVERED,
  type Backplane,
  type BackplaneSink,
  type ClaimOutcome,
  type Envelope,
  type Handoff,
  type JoinOutcome,
  type JoinRequest,
  type MemberRecord,
  type MemberRef,
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

  constructor(nodeId = randomId(6)) {
    this.nodeId = nodeId;
  }

  async start(sink: BackplaneSink): Promise<void> {
    this.sink = sink;
  }

  async stop(): Promise<void> {
    this.sink = undefined;
  }

  async createRoom(key: string, options: Required<RoomOptions>, now: number): Promise<'created' | 'exists'> {
    if (this.rooms.has(key)) return 'exists';
    this.rooms.set(key, { rec: { key, createdAt: now, lastActivity: now, options }, members: new Map(), emptySince: now });
    return 'created';
  }

  async joinRoom(key: string, req: JoinRequest): Promise<JoinOutcome> {
    let room = this.rooms.get(key);
    if (!room) {
      if (!req.create) return { ok: false, code: 'room-not-found' };
      room = { rec: { key, createdAt: req.now, lastActivity: req.now, options: req.defaults }, members: new Map(), emptySince: null };
      this.rooms.set(key, room);
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
      if (room.rec.options.emptyTtlMs <= 0) this.rooms.delete(key);
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
        this.rooms.delete(key);
        out.push({ key, reason: 'empty', members: [] });
      } else if (idleTtlMs > 0 && now - room.rec.lastActivity >= idleTtlMs) {
        this.rooms.delete(key);
        out.push({ key, reason: 'expired', members: [...room.members.values()] });
      }
    }
    return out;
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
}
