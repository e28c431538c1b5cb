import { policyFor, type IdentityRule } from '../../core/access.js';
import { HubError, type ErrorCode } from '../../core/errors.js';
import { frameTypeOf } from '../../core/json-span.js';
import type { Session } from '../../core/session.js';
import type { HubEvent, LeaveReason, PeerInfo } from '../../core/types.js';
import type { Conn, Dialect, DialectContext, DialectHandler } from '../dialect.js';
import { NOT_A_FRAME, RELAY_TYPES, clip, closeReasonFor, has, hubErrorText, isFrame, rejectText, sendError, slamCloseCodes, type Frame } from './common.js';
import { clientTypeOf, parseRegister, relayFrame, relayText, type Mate, type Registration } from './frames.js';

const NAME = 'slam';
const NAMESPACE = 'slam';
/** The seed let a reconnecting device take its client_id over; slam addresses peers by client_id. */
const IDENTITY: IdentityRule = { default: 'replace', supports: ['reject', 'replace'] };

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

/** The roster of a room as a client knows it: client_id and client_type by peer id. */
function matesOf(peers: PeerInfo[]): Map<string, Mate> {
  return new Map(peers.flatMap((p) => (p.name === undefined ? [] : [[p.peerId, { clientId: p.name, clientType: clientTypeOf(p) }] as const])));
}

/**
 * One connection of the PC flavour: its registration (one room, one client_id) and what it knows of
 * its room mates. A class rather than a closure per handler, like the native dialect's: an idle
 * connection then costs one object, not a dozen function objects.
 */
class SlamLine implements DialectHandler {
  private readonly session: Session;
  private reg: Registration | undefined;
  /** A join in flight: events of that room wait here until `registered` has been sent. */
  private joining: { room: string; events: RoomEvent[] } | undefined;
  /**
   * client_id of each member of my room, by peer id (set while registered). Only a rendering aid:
   * the hub's `peer-left` carries the peer id alone and the roster has already dropped the leaver,
   * so its client_id must be remembered to say `peer_left`. Routing and uniqueness still come from
   * the hub.
   */
  private names: Map<string, Mate> | undefined;

  constructor(
    private readonly conn: Conn,
    private readonly ctx: DialectContext,
  ) {
    const info = conn.info;
    this.session = ctx.hub.openSession({ dialect: NAME, namespace: NAMESPACE, link: conn.link, sink: (ev) => this.sink(ev), log: conn.log, identity: info.identity, address: info.remoteAddress });
    conn.attach(this.session);
  }

  private error(code: string, message: string): void {
    sendError(this.conn, this.ctx, NAME, code, message);
  }

  // ---- hub events -----------------------------------------------------------------------------

  private sink(ev: HubEvent): void {
    if (ev.type === 'signal') {
      // Rendered by the sender around the client's own text (relayText): it goes out as it is.
      if (ev.raw !== undefined) return this.conn.sendRaw(frameTypeOf(ev.raw), ev.raw);
      if (isFrame(ev.data)) this.conn.send(ev.data);
      return;
    }
    if (ev.type === 'broadcast') return;
    const joining = this.joining;
    if (joining && ev.room === joining.room) {
      joining.events.push(ev);
      return;
    }
    if (this.reg && ev.room === this.reg.room) this.render(ev);
  }

  private render(ev: RoomEvent): void {
    // Unset between registrations: only events still waiting behind a join when removed() ran get here then.
    const names = (this.names ??= new Map());
    if (ev.type === 'peer-joined') {
      const id = ev.peer.name;
      if (id === undefined || names.has(ev.peer.peerId)) return;
      const mate = { clientId: id, clientType: clientTypeOf(ev.peer) };
      names.set(ev.peer.peerId, mate);
      this.conn.send({ type: 'peer_joined', client_id: mate.clientId, client_type: mate.clientType });
      return;
    }
    if (ev.type !== 'peer-left') return;
    if (ev.peerId === this.session.id) return this.removed(ev.reason);
    const mate = names.get(ev.peerId);
    if (mate === undefined) return;
    names.delete(ev.peerId);
    // Who left, as peer_joined introduced them: the PC client tells a device from another PC.
    this.conn.send({ type: 'peer_left', client_id: mate.clientId, client_type: mate.clientType });
  }

  /** The hub took us out of our room (kicked, or the room expired): say so with a close code. */
  private removed(reason: LeaveReason): void {
    this.conn.log.info({ room: this.reg?.room, reason }, 'removed from slam room; closing');
    this.reg = undefined;
    this.names = undefined;
    this.conn.link.close(closeReasonFor(reason));
    void this.ctx.hub.closeSession(this.session, reason);
  }

  // ---- register -------------------------------------------------------------------------------

  /** A token binds the client_id (its `sub`); the identity policy decides what a second holder of it gets. */
  private async register(m: Frame): Promise<void> {
    const { hub, config } = this.ctx;
    const session = this.session;
    const want = parseRegister(m, config.limits.maxNameLength);
    if ('error' in want) return this.error('invalid-message', want.error);
    const identity = this.conn.info.identity;
    if (identity && want.clientId !== identity.subject) return this.error('forbidden', `client_id must be the one your token names: ${clip(identity.subject)}`);
    const prev = this.reg;
    if (prev && prev.clientId === want.clientId && prev.room === want.room) {
      return this.sendRegistered(want, hub.members(session, want.room).filter((p) => p.peerId !== session.id));
    }
    const newAlias = !session.aliases.has(want.clientId);
    // Normally the new room is joined before the old one is left, so a failed join changes nothing.
    // A rename inside the room must leave first (the roster entry carries the name), and so must a
    // move when the server allows one room per connection.
    const leaveFirst = prev !== undefined && (prev.room === want.room || session.rooms.size >= config.rooms.maxRoomsPerPeer);
    let peers: PeerInfo[];
    let waiting: RoomEvent[];
    try {
      // 'replace' (the default): a device that reconnects wins; the previous holder is closed with
      // closeCodes.replaced. 'reject': the newcomer is told the client_id is taken.
      await hub.claimAlias(session, want.clientId, policyFor(config.identity, NAME, IDENTITY) === 'reject' ? 'reject' : 'replace');
      if (leaveFirst) {
        this.reg = undefined;
        this.names = undefined;
        await hub.leave(session, prev.room, prev.room === want.room ? 'left' : 'switched-room');
      }
      const joining = (this.joining = { room: want.room, events: [] });
      waiting = joining.events;
      ({ peers } = await hub.join(session, want.room, { name: want.clientId, meta: { client_type: want.clientType } }));
    } catch (err) {
      this.joining = undefined;
      // Undo this attempt, so a failed register never leaves a half-registered socket behind: it
      // keeps its previous registration, or (when it had already left) none at all.
      if (newAlias) await hub.releaseAlias(session, want.clientId);
      if (leaveFirst) await hub.releaseAlias(session, prev.clientId);
      return this.fail(err, want);
    }
    // From here on the new room is the one rendered; the old room's events no longer concern us.
    this.joining = undefined;
    this.reg = want;
    this.names = matesOf(peers);
    this.conn.log.info({ clientId: want.clientId, room: want.room, clientType: want.clientType }, 'slam client registered');
    this.sendRegistered(want, peers);
    for (const ev of waiting) this.render(ev);
    if (prev && !leaveFirst) await this.leaveQuietly(prev.room);
    if (prev && prev.clientId !== want.clientId) await hub.releaseAlias(session, prev.clientId);
  }

  private async leaveQuietly(room: string): Promise<void> {
    try {
      await this.ctx.hub.leave(this.session, room, 'switched-room');
    } catch (err) {
      this.conn.log.warn({ err, room }, 'leaving the previous slam room failed');
    }
  }

  private fail(err: unknown, want: Registration): void {
    if (err instanceof HubError && err.code === 'identity-taken') return this.error(err.code, `client_id already registered by another connection: ${clip(want.clientId)}`);
    if (err instanceof HubError && err.code === 'room-quota') return this.error(err.code, `Too many open rooms created from your address (at most ${this.ctx.config.rooms.maxPerAddress})`);
    const { code, message } = hubErrorText(err, this.conn, { room: want.room });
    this.error(code, message);
  }

  private sendRegistered(r: Registration, peers: PeerInfo[]): void {
    this.conn.send({ type: 'registered', client_id: r.clientId, room_id: r.room, peers: peers.flatMap((p) => (p.name === undefined ? [] : [p.name])) });
  }

  // ---- relays ---------------------------------------------------------------------------------

  private relay(m: Frame, text: string): void {
    const reg = this.reg;
    // The hub may have closed the session (timeout, replaced) while frames were still in flight.
    if (!reg || !this.session.rooms.has(reg.room)) return this.error('not-registered', 'Not registered: send register with a client_id first');
    const target = m.target_id;
    if (typeof target !== 'string' || target === '') return this.error('invalid-message', 'Missing target_id');
    const field = m.type === 'ice_candidate' ? 'candidate' : 'sdp';
    if (!has(m, field)) return this.error('invalid-message', `Missing ${field}`);
    const peerId = this.memberNamed(reg.room, target);
    if (peerId === undefined) return this.error('peer-not-found', `Peer not found: ${clip(target)}`);
    try {
      this.ctx.hub.signal(this.session, peerId, relayFrame(m, reg.clientId), reg.room, relayText(m, text, reg.clientId))?.catch((err: unknown) => this.undelivered(err, target));
      this.conn.log.debug({ type: m.type, target }, 'relayed');
    } catch (err) {
      this.undelivered(err, target);
    }
  }

  /** A relay the hub refused, or could not hand on once Redis answered (its node is gone, or Redis is), in the seed's words. */
  private undelivered(err: unknown, target: string): void {
    const e = hubErrorText(err, this.conn, { target });
    this.error(e.code, e.message);
  }

  /** The peer id holding client_id `name` in my room, per the hub's roster (the newest, should two briefly overlap). */
  private memberNamed(room: string, name: string): string | undefined {
    let found: string | undefined;
    for (const p of this.ctx.hub.members(this.session, room)) if (p.name === name && p.peerId !== this.session.id) found = p.peerId;
    return found;
  }

  // ---- the connection -------------------------------------------------------------------------

  message(msg: unknown, text: string): void | Promise<void> {
    if (!isFrame(msg)) return this.error('invalid-message', NOT_A_FRAME);
    if (msg.type === 'register') return this.register(msg);
    if (RELAY_TYPES.has(msg.type)) return this.relay(msg, text);
    this.error('unknown-type', `Unknown message type: ${clip(msg.type)}`);
  }

  reject(code: ErrorCode, detail: string): void {
    this.error(code, rejectText(code, detail));
  }

  closed(): Promise<void> {
    return this.ctx.hub.closeSession(this.session, 'disconnect');
  }
}

/** The VI-SLAM signaling protocol (PC client ↔ Android device): register into a room, relay by client_id. */
export const slamDialect: Dialect = {
  name: NAME,
  types: new Set(['register', ...RELAY_TYPES]),
  closeCodes: slamCloseCodes,
  identity: IDENTITY,
  accept: (conn: Conn, ctx: DialectContext): DialectHandler => new SlamLine(conn, ctx),
  detect: detectSlam,
};