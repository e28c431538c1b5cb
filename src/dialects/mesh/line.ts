import { isHubError, type ErrorCode } from '../../core/errors.js';
import type { Session } from '../../core/session.js';
import { memberText } from '../../core/json-span.js';
import type { HubEvent, LeaveReason, PeerInfo } from '../../core/types.js';
import type { Conn, DialectContext, DialectHandler } from '../dialect.js';
import { ROOM_ID, parseFrame, type MeshRequest } from './frames.js';
import { NO_FREE_ROOM_ID, createMeshRoom } from './room-ids.js';

/** Rooms of this dialect live in their own namespace: a mesh room id never names another dialect's room. */
export const MESH_NAMESPACE = 'mesh';

/** The original's ROOM_TIMEOUT_MS; used unless the operator set `rooms.idleTtlMs`. */
export const DEFAULT_IDLE_TTL_MS = 300_000;

const NOT_IN_ROOM = 'Not in a room: create or join one first';

/** The hub's typed errors in this protocol's words. */
const HUB_TEXT: Partial<Record<ErrorCode, string>> = {
  'room-not-found': 'Room not found',
  'room-full': 'Room is full',
  'not-in-room': NOT_IN_ROOM,
  'peer-not-found': 'Peer not found in this room',
  'room-exists': NO_FREE_ROOM_ID,
  'too-many-rooms': 'Too many rooms for this connection',
  'shutting-down': 'Server is shutting down',
  'rate-limited': 'Too many requests, slow down',
};

const FRAMING_TEXT: Partial<Record<ErrorCode, string>> = {
  'invalid-json': 'Invalid JSON',
  'rate-limited': 'Too many requests, slow down',
};

/**
 * One mesh connection: a session in at most one room. A class rather than a closure per handler, as
 * the native dialect's NativeLine: an idle connection costs its fields, not a dozen functions.
 */
export class MeshLine implements DialectHandler {
  private readonly session: Session;
  /** The one room this connection is in (mesh clients know one room at a time). */
  private room: string | undefined;
  /** The room a join or create is entering; its events already count as ours. */
  private entering: string | undefined;

  constructor(
    private readonly conn: Conn,
    private readonly ctx: DialectContext,
  ) {
    this.session = ctx.hub.openSession({ dialect: 'mesh', namespace: MESH_NAMESPACE, link: conn.link, sink: (ev) => this.render(ev), log: conn.log, identity: conn.info.identity, address: conn.info.remoteAddress });
    conn.attach(this.session);
  }

  private error(code: string, message: string): void {
    this.ctx.countError('mesh', code);
    this.conn.send({ type: 'error', message });
  }

  private fail(err: unknown): void {
    if (isHubError(err) && err.code === 'room-quota') return this.error(err.code, `Too many open rooms created from your address (at most ${this.ctx.config.rooms.maxPerAddress}); try again later`);
    if (isHubError(err)) return this.error(err.code, HUB_TEXT[err.code] ?? err.message);
    this.conn.log.error({ err }, 'mesh request failed');
    this.error('internal-error', 'Internal server error');
  }

  private render(ev: HubEvent): void {
    if (ev.type === 'peer-left' && ev.peerId === this.session.id) return this.removed(ev.room, ev.reason);
    if (ev.room !== this.room && ev.room !== this.entering) return;
    switch (ev.type) {
      case 'peer-joined':
        // Unity's cue to build a peer connection and send its offer to the newcomer.
        return this.conn.send({ type: 'initiate_call', peerId: ev.peer.peerId });
      case 'peer-left':
        return this.conn.send({ type: 'peer_left', peerId: ev.peerId, reason: ev.reason });
      case 'signal':
        return ev.raw === undefined ? this.conn.send({ type: 'signal', senderId: ev.from, payload: ev.data }) : this.conn.sendRaw('signal', signalText(ev.from, ev.raw));
      case 'broadcast': {
        if (ev.raw === undefined) return this.conn.send({ type: 'signal', senderId: ev.from, payload: ev.data });
        // One text for every local member of the room.
        let text = broadcastTexts.get(ev);
        if (text === undefined) broadcastTexts.set(ev, (text = signalText(ev.from, ev.raw)));
        return this.conn.sendRaw('signal', text);
      }
    }
  }

  /** The hub took this session out of a room (idle expiry, or a kick). */
  private removed(name: string, reason: LeaveReason): void {
    if (name !== this.room) return;
    this.room = undefined;
    if (reason === 'expired') {
      this.conn.send({ type: 'room_expired', roomId: name });
      this.conn.link.close('expired');
      return;
    }
    this.conn.send({ type: 'room_left', roomId: name, reason });
  }

  message(msg: unknown, text: string): void | Promise<void> {
    const parsed = parseFrame(msg);
    if (!parsed.ok) return this.error(parsed.error.code, parsed.error.message);
    return this.handle(parsed.req, text);
  }

  reject(code: ErrorCode, detail: string): void {
    this.error(code, FRAMING_TEXT[code] ?? detail);
  }

  closed(): Promise<void> {
    return this.ctx.hub.closeSession(this.session, 'disconnect');
  }

  private handle(req: MeshRequest, text: string): void | Promise<void> {
    switch (req.type) {
      case 'create':
        return this.create().catch((err: unknown) => this.fail(err));
      case 'join':
        return this.join(req.roomId).catch((err: unknown) => this.fail(err));
      case 'leave':
        return this.leave().catch((err: unknown) => this.fail(err));
      case 'signal':
        return this.signal(req.payload, req.targetId, memberText(text, 'payload'));
    }
  }

  private async create(): Promise<void> {
    const defaults = { idleTtlMs: this.ctx.config.rooms.idleTtlMs || DEFAULT_IDLE_TTL_MS };
    // A fresh room can vanish before we enter it only if another node's sweeper raced us; retry then.
    for (let attempt = 0; ; attempt++) {
      const id = await createMeshRoom(this.ctx.hub, this.session, defaults);
      try {
        await this.enter(id);
        this.conn.send({ type: 'room_created', roomId: id, myId: this.session.id });
        return;
      } catch (err) {
        if (!isHubError(err) || err.code !== 'room-not-found' || attempt >= 2) throw err;
      }
    }
  }

  private async join(roomId: string): Promise<void> {
    const session = this.session;
    if (this.room === roomId) {
      // Joining the room one is in again is a retry, not an error.
      this.conn.send({ type: 'room_joined', roomId, myId: session.id, peers: this.ctx.hub.members(session, roomId).map((p) => p.peerId).filter((id) => id !== session.id) });
      return;
    }
    if (!ROOM_ID.test(roomId)) return this.error('room-not-found', HUB_TEXT['room-not-found']!);
    const peers = await this.enter(roomId);
    this.conn.send({ type: 'room_joined', roomId, myId: session.id, peers: peers.map((p) => p.peerId) });
  }

  private async leave(): Promise<void> {
    const old = this.room;
    if (old === undefined) return this.error('not-in-room', NOT_IN_ROOM);
    await this.leaveCurrent('left');
    this.conn.send({ type: 'room_left', roomId: old, reason: 'left' });
  }

  /** `raw`: the client's own text of `payload`, forwarded as it is (the server writes only `type` and `senderId`). */
  private signal(payload: unknown, targetId: string | undefined, raw: string | undefined): void {
    const { hub } = this.ctx;
    const room = this.room;
    if (room === undefined) return this.error('not-in-room', NOT_IN_ROOM);
    try {
      // Both relays count as room activity in the hub: a call in progress keeps its room alive.
      if (targetId === undefined) hub.broadcast(this.session, room, payload, false, raw)?.catch((err: unknown) => this.fail(err));
      else hub.signal(this.session, targetId, payload, room, raw)?.catch((err: unknown) => this.fail(err));
    } catch (err) {
      // Naming the target tells a client which of its peers is gone.
      if (isHubError(err) && err.code === 'peer-not-found') return this.error(err.code, `${HUB_TEXT['peer-not-found']}: ${targetId!.slice(0, 64)}`);
      this.fail(err);
    }
  }

  /** Joins `target`, then leaves the previous room: a failed join keeps the client where it was. */
  private async enter(target: string): Promise<PeerInfo[]> {
    const session = this.session;
    this.entering = target;
    try {
      const peers = await this.joinHub(target);
      const old = this.room;
      this.room = target;
      if (old !== undefined && old !== target && session.rooms.has(old)) {
        // The client is in its new room already; failing to leave the old one is not its error.
        await this.ctx.hub.leave(session, old, 'switched-room').catch((err: unknown) => this.conn.log.warn({ err, room: old }, 'could not leave the previous room'));
      }
      return peers;
    } finally {
      this.entering = undefined;
    }
  }

  private async joinHub(target: string): Promise<PeerInfo[]> {
    const { hub } = this.ctx;
    try {
      return (await hub.join(this.session, target, { create: false })).peers;
    } catch (err) {
      if (!isHubError(err) || err.code !== 'too-many-rooms' || this.room === undefined) throw err;
      // At a per-connection limit of one room: the old room must go before the new one can come.
      await this.leaveCurrent('switched-room');
      return (await hub.join(this.session, target, { create: false })).peers;
    }
  }

  private async leaveCurrent(reason: LeaveReason): Promise<void> {
    const old = this.room;
    this.room = undefined;
    if (old !== undefined && this.session.rooms.has(old)) await this.ctx.hub.leave(this.session, old, reason);
  }
}

/** Broadcast texts, built once per event for all its local recipients. */
const broadcastTexts = new WeakMap<object, string>();

/** The relayed frame around the sender's own `payload` text: `senderId` is the server's word. */
function signalText(from: string, payload: string): string {
  return `{"type":"signal","senderId":${JSON.stringify(from)},"payload":${payload}}`;
}

