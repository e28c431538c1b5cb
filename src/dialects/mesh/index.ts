import { isHubError, type ErrorCode } from '../../core/errors.js';
import type { HubEvent, LeaveReason, PeerInfo } from '../../core/types.js';
import { type Conn, type Dialect, type DialectContext, type DialectHandler, seedCloseCodes } from '../dialect.js';
import { MESH_TYPES, ROOM_ID, isMeshFrame, parseFrame, type MeshRequest } from './frames.js';
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
 * The mesh protocol (seed 004, Unity `WebRTCManager.cs`): 4-digit rooms that expire when idle,
 * `initiate_call` to existing members when a peer joins, `signal` relayed to one member
 * (`targetId`) or to every other member. See docs/dialects/mesh.md.
 */
export const meshDialect: Dialect = {
  name: 'mesh',
  types: MESH_TYPES,
  // expired: 1000, not a private 4xxx code: Unity's socket libraries map unknown codes to "undefined".
  // No private 4xxx codes: Unity's socket libraries give them no name (docs/dialects/mesh.md).
  closeCodes: seedCloseCodes({ expired: [1000, 'room expired'], 'token-expired': [1008, 'token expired'] }),
  detect: isMeshFrame,
  accept: acceptMesh,
};

function acceptMesh(conn: Conn, ctx: DialectContext): DialectHandler {
  const { hub } = ctx;
  const defaults = { idleTtlMs: ctx.config.rooms.idleTtlMs || DEFAULT_IDLE_TTL_MS };
  /** The one room this connection is in (mesh clients know one room at a time). */
  let room: string | undefined;
  /** The room a join or create is entering; its events already count as ours. */
  let entering: string | undefined;
  const session = hub.openSession({ dialect: 'mesh', namespace: MESH_NAMESPACE, link: conn.link, sink: render, log: conn.log, identity: conn.info.identity, address: conn.info.remoteAddress });
  conn.attach(session);

  function error(code: string, message: string): void {
    ctx.countError('mesh', code);
    conn.send({ type: 'error', message });
  }

  function fail(err: unknown): void {
    if (isHubError(err) && err.code === 'room-quota') return error(err.code, `Too many open rooms created from your address (at most ${ctx.config.rooms.maxPerAddress}); try again later`);
    if (isHubError(err)) return error(err.code, HUB_TEXT[err.code] ?? err.message);
    conn.log.error({ err }, 'mesh request failed');
    error('internal-error', 'Internal server error');
  }

  function render(ev: HubEvent): void {
    if (ev.type === 'peer-left' && ev.peerId === session.id) return removed(ev.room, ev.reason);
    if (ev.room !== room && ev.room !== entering) return;
    switch (ev.type) {
      case 'peer-joined':
        // Unity's cue to build a peer connection and send its offer to the newcomer.
        return conn.send({ type: 'initiate_call', peerId: ev.peer.peerId });
      case 'peer-left':
        return conn.send({ type: 'peer_left', peerId: ev.peerId, reason: ev.reason });
      case 'signal':
      case 'broadcast':
        return conn.send({ type: 'signal', senderId: ev.from, payload: ev.data });
    }
  }

  /** The hub took this session out of a room (idle expiry, or a kick). */
  function removed(name: string, reason: LeaveReason): void {
    if (name !== room) return;
    room = undefined;
    if (reason === 'expired') {
      conn.send({ type: 'room_expired', roomId: name });
      conn.link.close('expired');
      return;
    }
    conn.send({ type: 'room_left', roomId: name, reason });
  }

  async function leaveCurrent(reason: LeaveReason): Promise<void> {
    const old = room;
    room = undefined;
    if (old !== undefined && session.rooms.has(old)) await hub.leave(session, old, reason);
  }

  async function joinHub(target: string): Promise<PeerInfo[]> {
    try {
      return (await hub.join(session, target, { create: false })).peers;
    } catch (err) {
      if (!isHubError(err) || err.code !== 'too-many-rooms' || room === undefined) throw err;
      // At a per-connection limit of one room: the old room must go before the new one can come.
      await leaveCurrent('switched-room');
      return (await hub.join(session, target, { create: false })).peers;
    }
  }

  /** Joins `target`, then leaves the previous room: a failed join keeps the client where it was. */
  async function enter(target: string): Promise<PeerInfo[]> {
    entering = target;
    try {
      const peers = await joinHub(target);
      const old = room;
      room = target;
      if (old !== undefined && old !== target && session.rooms.has(old)) {
        // The client is in its new room already; failing to leave the old one is not its error.
        await hub.leave(session, old, 'switched-room').catch((err) => conn.log.warn({ err, room: old }, 'could not leave the previous room'));
      }
      return peers;
    } finally {
      entering = undefined;
    }
  }

  async function create(): Promise<void> {
    // A fresh room can vanish before we enter it only if another node's sweeper raced us; retry then.
    for (let attempt = 0; ; attempt++) {
      const id = await createMeshRoom(hub, session, defaults);
      try {
        await enter(id);
        conn.send({ type: 'room_created', roomId: id, myId: session.id });
        return;
      } catch (err) {
        if (!isHubError(err) || err.code !== 'room-not-found' || attempt >= 2) throw err;
      }
    }
  }

  async function join(roomId: string): Promise<void> {
    if (room === roomId) {
      // Joining the room one is in again is a retry, not an error.
      conn.send({ type: 'room_joined', roomId, myId: session.id, peers: hub.members(session, roomId).map((p) => p.peerId).filter((id) => id !== session.id) });
      return;
    }
    if (!ROOM_ID.test(roomId)) return error('room-not-found', HUB_TEXT['room-not-found']!);
    const peers = await enter(roomId);
    conn.send({ type: 'room_joined', roomId, myId: session.id, peers: peers.map((p) => p.peerId) });
  }

  async function leave(): Promise<void> {
    const old = room;
    if (old === undefined) return error('not-in-room', NOT_IN_ROOM);
    await leaveCurrent('left');
    conn.send({ type: 'room_left', roomId: old, reason: 'left' });
  }

  function signal(payload: unknown, targetId: string | undefined): void {
    if (room === undefined) return error('not-in-room', NOT_IN_ROOM);
    try {
      // Both relays count as room activity in the hub: a call in progress keeps its room alive.
      if (targetId === undefined) hub.broadcast(session, room, payload)?.catch(fail);
      else hub.signal(session, targetId, payload, room)?.catch(fail);
    } catch (err) {
      // Naming the target tells a client which of its peers is gone.
      if (isHubError(err) && err.code === 'peer-not-found') return error(err.code, `${HUB_TEXT['peer-not-found']}: ${targetId!.slice(0, 64)}`);
      fail(err);
    }
  }

  function handle(req: MeshRequest): void | Promise<void> {
    switch (req.type) {
      case 'create':
        return create().catch((err) => fail(err));
      case 'join':
        return join(req.roomId).catch((err) => fail(err));
      case 'leave':
        return leave().catch((err) => fail(err));
      case 'signal':
        return signal(req.payload, req.targetId);
    }
  }

  return {
    message(msg: unknown): void | Promise<void> {
      const parsed = parseFrame(msg);
      if (!parsed.ok) return error(parsed.error.code, parsed.error.message);
      return handle(parsed.req);
    },
    reject(code, detail) {
      error(code, FRAMING_TEXT[code] ?? detail);
    },
    closed() {
      return hub.closeSession(session, 'disconnect');
    },
  };
}
