import type { Backplane, MemberRecord, RoomRecord } from '../core/backplane.js';
import type { RoomOptions } from '../core/types.js';
import { nodeView, type NodeView } from './status.js';

/** The room namespaces of the built-in dialects: a room's `dialect` in the admin API. */
export const ROOM_DIALECTS = ['native', 'vc', 'slam', 'slam-pair', 'call', 'mesh', 'flyx', 'flyx-cli'] as const;

export interface RoomSummary {
  dialect: string;
  room: string;
  members: number;
  createdAt: number;
  lastActivity: number;
  /** The nodes hosting its members, sorted. */
  nodes: string[];
}

export interface MemberView {
  peerId: string;
  name?: string;
  identity?: string;
  node: string;
  joinedAt: number;
}

export interface RoomDetail {
  dialect: string;
  room: string;
  createdAt: number;
  lastActivity: number;
  options: Required<RoomOptions>;
  members: MemberView[];
}

/** `<namespace>/<name>` → its parts (a name may itself hold slashes: slam-pair's are paths). */
export function splitRoomKey(key: string): { dialect: string; room: string } {
  const i = key.indexOf('/');
  return { dialect: key.slice(0, i), room: key.slice(i + 1) };
}

/** How many getRoom calls are in flight at once while listing. */
const BATCH = 200;

/** Read-only cluster views over the backplane (every node answers for all of them). */
export class ClusterViews {
  constructor(private readonly backplane: Backplane) {}

  async nodes(): Promise<NodeView[]> {
    return (await this.backplane.nodes()).map((n) => nodeView(n, this.backplane.nodeId));
  }

  /** Every room (of one dialect), with its members as the store has them; sorted by dialect, then name. */
  async rooms(dialect?: string, limit = Infinity): Promise<{ rooms: { rec: RoomRecord; members: MemberRecord[] }[]; total: number }> {
    const recs = (await this.backplane.listRooms(dialect)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const out: { rec: RoomRecord; members: MemberRecord[] }[] = [];
    for (let i = 0; i < recs.length && out.length < limit; i += BATCH) {
      const got = await Promise.all(recs.slice(i, i + BATCH).map((r) => this.backplane.getRoom(r.key)));
      // A room removed between the list and its read is simply gone.
      for (const g of got) if (g && out.length < limit) out.push({ rec: g.room, members: g.members });
    }
    return { rooms: out, total: recs.length };
  }

  async room(dialect: string, room: string): Promise<RoomDetail | undefined> {
    const got = await this.backplane.getRoom(`${dialect}/${room}`);
    return got && roomDetail(got.room, got.members);
  }
}

export function roomSummary(rec: RoomRecord, members: MemberRecord[]): RoomSummary {
  return { ...splitRoomKey(rec.key), members: members.length, createdAt: rec.createdAt, lastActivity: rec.lastActivity, nodes: [...new Set(members.map((m) => m.node))].sort() };
}

export function roomDetail(rec: RoomRecord, members: MemberRecord[]): RoomDetail {
  return { ...splitRoomKey(rec.key), createdAt: rec.createdAt, lastActivity: rec.lastActivity, options: rec.options, members: members.map(memberView) };
}

function memberView(m: MemberRecord): MemberView {
  const v: MemberView = { peerId: m.peerId, node: m.node, joinedAt: m.joinedAt };
  if (m.name !== undefined) v.name = m.name;
  if (m.identity !== undefined) v.identity = m.identity;
  return v;
}
