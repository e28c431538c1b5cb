import type { Backplane, MemberRecord, RoomRecord } from '../core/backplane.js';
import type { Session } from '../core/session.js';
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

/** `GET /admin/v1/peers`: how many peers without `limit`, and the most one request may ask for. */
export const PEERS_DEFAULT_LIMIT = 100;
export const PEERS_MAX_LIMIT = 1000;

/** A live session as `GET /admin/v1/peers` lists it. */
export interface PeerView {
  peerId: string;
  /** The dialect that opened it (native, vc, …, peerjs). */
  dialect: string;
  /** The node holding it. */
  node: string;
  /** Its rooms (their names within its dialect's namespace), sorted. */
  rooms: string[];
  /** The identities it holds in its namespace (a username, a client id, a PeerJS id), sorted. */
  aliases: string[];
  name?: string;
  /** The verified token subject, when it has one. */
  identity?: string;
  /** When it opened on its node (ms since the epoch); a session resumed from another node: when it came. */
  connectedAt: number;
  /** Its last sign of life (ms since the epoch). */
  lastSeen: number;
  /** Whether it can be resumed on a new socket (native, with resume on). */
  resumable: boolean;
  /** False while a resumable session waits for its client to come back (no socket). */
  attached: boolean;
}

/** One node's answer to a peer listing: its first `limit` sessions in PeerView order, and how many matched. */
export interface NodePeers {
  peers: PeerView[];
  total: number;
}

/** Sessions of one node, of one dialect or all; sorted by dialect, then peer id, at most `limit`. */
export function localPeers(sessions: Iterable<Session>, node: string, dialect: string | undefined, limit: number): NodePeers {
  const found: Session[] = [];
  for (const s of sessions) if (!s.closed && (dialect === undefined || s.dialect === dialect)) found.push(s);
  found.sort((a, b) => byDialectThenId(a.dialect, a.id, b.dialect, b.id));
  return { peers: found.slice(0, limit).map((s) => peerView(s, node)), total: found.length };
}

/** Node answers merged: one list in PeerView order, at most `limit`. */
export function mergePeers(lists: NodePeers[], limit: number): NodePeers {
  const all = lists.flatMap((l) => l.peers).sort((a, b) => byDialectThenId(a.dialect, a.peerId, b.dialect, b.peerId));
  return { peers: all.slice(0, limit), total: lists.reduce((n, l) => n + l.total, 0) };
}

function byDialectThenId(da: string, ia: string, db: string, ib: string): number {
  if (da !== db) return da < db ? -1 : 1;
  return ia < ib ? -1 : ia > ib ? 1 : 0;
}

function peerView(s: Session, node: string): PeerView {
  const v: PeerView = { peerId: s.id, dialect: s.dialect, node, rooms: [...s.rooms].sort(), aliases: [...s.aliases].sort(), connectedAt: s.openedAt, lastSeen: s.lastSeen, resumable: s.resume !== undefined, attached: s.attached };
  if (s.name !== undefined) v.name = s.name;
  const subject = s.access?.identity.subject;
  if (subject !== undefined) v.identity = subject;
  return v;
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
