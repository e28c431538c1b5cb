import { identityPolicyFor } from '../identity.js';
import { HubError } from '../../core/errors.js';
import type { Session } from '../../core/session.js';
import type { HubEvent, LeaveReason, PeerInfo } from '../../core/types.js';
import type { Conn, Dialect, DialectContext, DialectHandler, OutFrame } from '../dialect.js';
import {
  NOT_A_FRAME,
  RELAY_TYPES,
  clip,
  closeReasonFor,
  has,
  hubErrorText,
  isFrame,
  rejectText,
  sendError,
  slamCloseCodes,
  type Frame,
} from './common.js';

const NAME = 'slam';
const NAMESPACE = 'slam';
const DEFAULT_ROOM = 'default';
const DEFAULT_TYPE = 'unknown';

/** Where a registered socket stands: the identity it holds and the one room it is in. */
interface Registration {
  clientId: string;
  room: string;
  clientType: string;
}

type Room = Extract<HubEvent, { room: string }>;
type RoomEvent = Exclude<Room, { type: 'signal' }>;

/**
 * First-frame detection on catch-all paths. `register` is slam's when it carries `client_id`, or
 * when it carries neither of call's identifying keys (`username`, `user_id`): such a frame is
 * answered "Missing client_id" here instead of an "unrecognised" error. Negotiation frames are
 * slam's when they address someone with `target_id`; bare ones are the Android pairing variant's.
 */
export function detectSlam(msg: unknown): boolean {
  if (!isFrame(msg)) return false;
  if (msg.type === 'register') return has(msg, 'client_id') || (!has(msg, 'username') && !has(msg, 'user_id'));
  return RELAY_TYPES.has(msg.type) && has(msg, 'target_id');
}

/** Reads an optional string field: absent or null → the default; anything else must be a non-empty string. */
function optionalString(m: Frame, key: string, fallback: string, max: number): string | { error: string } {
  const v = m[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string' || v === '') return { error: `Invalid ${key}: must be a non-empty string` };
  if (v.length > max) return { error: `Invalid ${key}: longer than ${max} characters` };
  return v;
}

function parseRegister(m: Frame, max: number): Registration | { error: string } {
  const c = m.client_id;
  if (c === undefined || c === null || c === '') return { error: 'Missing client_id' };
  if (typeof c !== 'string') return { error: 'Invalid client_id: must be a non-empty string' };
  if (c.length > max) return { error: `Invalid client_id: longer than ${max} characters` };
  const room = optionalString(m, 'room_id', DEFAULT_ROOM, max);
  if (typeof room !== 'string') return room;
  const clientType = optionalString(m, 'client_type', DEFAULT_TYPE, max);
  if (typeof clientType !== 'string') return clientType;
  return { clientId: c, room, clientType };
}

/** A member of my room as this client knows it (see `names`). */
interface Mate {
  clientId: string;
  clientType: string;
}

function clientTypeOf(peer: PeerInfo): string {
  const t = (peer.meta as { client_type?: unknown } | undefined)?.client_type;
  return typeof t === 'string' ? t : DEFAULT_TYPE;
}

/** The frame the target receives; built by the sender's server side, so `sender_id` cannot be forged. */
function relayFrame(m: Frame, senderId: string): OutFrame {
  if (m.type !== 'ice_candidate') return { type: m.type, sender_id: senderId, sdp: m.sdp };
  const out: OutFrame = { type: m.type, sender_id: senderId, candidate: m.candidate };
  // A client sending flat candidates (the Android app's shape) keeps the fields it needs.
  if (has(m, 'sdpMid')) out.sdpMid = m.sdpMid;
  if (has(m, 'sdpMLineIndex')) out.sdpMLineIndex = m.sdpMLineIndex;
  return out;
}

function acceptSlam(conn: Conn, ctx: DialectContext): DialectHandler {
  const { hub, config } = ctx;
  const maxName = config.limits.maxNameLength;
  const maxRooms = config.rooms.maxRoomsPerPeer;
  const session: Session = hub.openSession({ dialect: NAME, namespace: NAMESPACE, link: conn.link, sink, log: conn.log, identity: conn.info.identity, address: conn.info.remoteAddress });
  conn.attach(session);
  /** A token binds the client_id (its `sub`); the policy decides what a second holder of it gets. */
  const identity = conn.info.identity;
  const policy = identityPolicyFor(config.identity, NAME) === 'reject' ? 'reject' : 'replace';

  let reg: Registration | undefined;
  /** A join in flight: events of that room wait here until `registered` has been sent. */
  let joining: { room: string; events: RoomEvent[] } | undefined;
  /**
   * client_id of each member of my room, by peer id. Only a rendering aid: the hub's `peer-left`
   * carries the peer id alone and the roster has already dropped the leaver, so its client_id must
   * be remembered to say `peer_left`. Routing and uniqueness still come from the hub.
   */
  let names = new Map<string, Mate>();

  const error = (code: string, message: string) => sendError(conn, ctx, NAME, code, message);

  function sink(ev: HubEvent): void {
    if (ev.type === 'signal') return deliver(ev.data);
    if (ev.type === 'broadcast') return;
    if (joining && ev.room === joining.room) {
      joining.events.push(ev);
      return;
    }
    if (reg && ev.room === reg.room) render(ev);
  }

  function deliver(data: unknown): void {
    if (isFrame(data)) conn.send(data);
  }

  function render(ev: RoomEvent): void {
    if (ev.type === 'peer-joined') {
      const id = ev.peer.name;
      if (id === undefined || names.has(ev.peer.peerId)) return;
      const mate = { clientId: id, clientType: clientTypeOf(ev.peer) };
      names.set(ev.peer.peerId, mate);
      conn.send({ type: 'peer_joined', client_id: mate.clientId, client_type: mate.clientType });
      return;
    }
    if (ev.type !== 'peer-left') return;
    if (ev.peerId === session.id) return removed(ev.reason);
    const mate = names.get(ev.peerId);
    if (mate === undefined) return;
    names.delete(ev.peerId);
    // Who left, as peer_joined introduced them: the PC client tells a device from another PC.
    conn.send({ type: 'peer_left', client_id: mate.clientId, client_type: mate.clientType });
  }

  /** The hub took us out of our room (kicked, or the room expired): say so with a close code. */
  function removed(reason: LeaveReason): void {
    conn.log.info({ room: reg?.room, reason }, 'removed from slam room; closing');
    reg = undefined;
    names = new Map();
    conn.link.close(closeReasonFor(reason));
    void hub.closeSession(session, reason);
  }

  async function register(m: Frame): Promise<void> {
    const want = parseRegister(m, maxName);
    if ('error' in want) return error('invalid-message', want.error);
    if (identity && want.clientId !== identity.subject) return error('forbidden', `client_id must be the one your token names: ${clip(identity.subject)}`);
    const prev = reg;
    if (prev && prev.clientId === want.clientId && prev.room === want.room) {
      return sendRegistered(want, hub.members(session, want.room).filter((p) => p.peerId !== session.id));
    }
    const newAlias = !session.aliases.has(want.clientId);
    // Normally the new room is joined before the old one is left, so a failed join changes nothing.
    // A rename inside the room must leave first (the roster entry carries the name), and so must a
    // move when the server allows one room per connection.
    const leaveFirst = prev !== undefined && (prev.room === want.room || session.rooms.size >= maxRooms);
    let peers: PeerInfo[];
    try {
      // 'replace' (the default): a device that reconnects wins; the previous holder is closed with
      // closeCodes.replaced. 'reject': the newcomer is told the client_id is taken.
      await hub.claimAlias(session, want.clientId, policy);
      if (leaveFirst) {
        reg = undefined;
        names = new Map();
        await hub.leave(session, prev.room, prev.room === want.room ? 'left' : 'switched-room');
      }
      joining = { room: want.room, events: [] };
      ({ peers } = await hub.join(session, want.room, { name: want.clientId, meta: { client_type: want.clientType } }));
    } catch (err) {
      joining = undefined;
      // Undo this attempt, so a failed register never leaves a half-registered socket behind: it
      // keeps its previous registration, or (when it had already left) none at all.
      if (newAlias) await hub.releaseAlias(session, want.clientId);
      if (leaveFirst) await hub.releaseAlias(session, prev.clientId);
      return fail(err, want);
    }
    // From here on the new room is the one rendered; the old room's events no longer concern us.
    const waiting = joining.events;
    joining = undefined;
    reg = want;
    names = new Map(peers.flatMap((p) => (p.name === undefined ? [] : [[p.peerId, { clientId: p.name, clientType: clientTypeOf(p) }] as const])));
    conn.log.info({ clientId: want.clientId, room: want.room, clientType: want.clientType }, 'slam client registered');
    sendRegistered(want, peers);
    for (const ev of waiting) render(ev);
    if (prev && !leaveFirst) await leaveQuietly(prev.room);
    if (prev && prev.clientId !== want.clientId) await hub.releaseAlias(session, prev.clientId);
  }

  async function leaveQuietly(room: string): Promise<void> {
    try {
      await hub.leave(session, room, 'switched-room');
    } catch (err) {
      conn.log.warn({ err, room }, 'leaving the previous slam room failed');
    }
  }

  function fail(err: unknown, want: Registration): void {
    if (err instanceof HubError && err.code === 'identity-taken') return error(err.code, `client_id already registered by another connection: ${clip(want.clientId)}`);
    if (err instanceof HubError && err.code === 'room-quota') return error(err.code, `Too many open rooms created from your address (at most ${config.rooms.maxPerAddress})`);
    const { code, message } = hubErrorText(err, conn, { room: want.room });
    error(code, message);
  }

  /** A relay the hub could not hand on once Redis answered (its node is gone, or Redis is), in the seed's words. */
  function undelivered(err: unknown, target: string): void {
    const e = hubErrorText(err, conn, { target });
    error(e.code, e.message);
  }

  function sendRegistered(r: Registration, peers: PeerInfo[]): void {
    conn.send({ type: 'registered', client_id: r.clientId, room_id: r.room, peers: peers.flatMap((p) => (p.name === undefined ? [] : [p.name])) });
  }

  function relay(m: Frame): void {
    // The hub may have closed the session (timeout, replaced) while frames were still in flight.
    if (!reg || !session.rooms.has(reg.room)) return error('not-registered', 'Not registered: send register with a client_id first');
    const target = m.target_id;
    if (typeof target !== 'string' || target === '') return error('invalid-message', 'Missing target_id');
    const field = m.type === 'ice_candidate' ? 'candidate' : 'sdp';
    if (!has(m, field)) return error('invalid-message', `Missing ${field}`);
    const peerId = memberNamed(reg.room, target);
    if (peerId === undefined) return error('peer-not-found', `Peer not found: ${clip(target)}`);
    try {
      hub.signal(session, peerId, relayFrame(m, reg.clientId), reg.room)?.catch((err: unknown) => undelivered(err, target));
      conn.log.debug({ type: m.type, target }, 'relayed');
    } catch (err) {
      const e = hubErrorText(err, conn, { target });
      error(e.code, e.message);
    }
  }

  /** The peer id holding client_id `name` in my room, per the hub's roster (the newest, should two briefly overlap). */
  function memberNamed(room: string, name: string): string | undefined {
    let found: string | undefined;
    for (const p of hub.members(session, room)) if (p.name === name && p.peerId !== session.id) found = p.peerId;
    return found;
  }

  return {
    message(msg: unknown): void | Promise<void> {
      if (!isFrame(msg)) return error('invalid-message', NOT_A_FRAME);
      if (msg.type === 'register') return register(msg);
      if (RELAY_TYPES.has(msg.type)) return relay(msg);
      error('unknown-type', `Unknown message type: ${clip(msg.type)}`);
    },
    reject(code, detail) {
      error(code, rejectText(code, detail));
    },
    closed() {
      return hub.closeSession(session, 'disconnect');
    },
  };
}

/** The VI-SLAM signaling protocol (PC client ↔ Android device): register into a room, relay by client_id. */
export const slamDialect: Dialect = {
  name: NAME,
  types: new Set(['register', ...RELAY_TYPES]),
  closeCodes: slamCloseCodes,
  // The seed let a reconnecting device take its client_id over; slam addresses peers by client_id.
  identity: { default: 'replace', supports: ['reject', 'replace'] },
  accept: acceptSlam,
  detect: detectSlam,
};
