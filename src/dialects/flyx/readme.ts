import { HubError } from '../../core/errors.js';
import type { IdGenerator } from '../../core/ids.js';
import type { HubEvent, LeaveReason, PeerInfo } from '../../core/types.js';
import { refuseHttp } from '../../security/auth.js';
import type { Conn, Dialect, DialectContext, DialectHandler, HttpRequest, HttpResponse, HttpRoute } from '../dialect.js';
import { readJsonBody } from './body.js';
import { parseRoomId, roomIdOf } from './ids.js';
import { parseRoomOptions } from './options.js';
import { admitToRoom, enterRoom, findRole, FLYX_CLOSE_CODES, iso, quotaText, README_NAMESPACE, roleOf, ROOM_LIFETIMES } from './rooms.js';

const NAME = 'flyx';
const SENDER = 'sender';
const RECEIVER = 'receiver';
const RELAYED = new Set(['offer', 'answer', 'ice_candidate']);
const INVALID_ID = 'Invalid room id: room ids are 6 letters or digits';

/** What one client asks the server to pass on: the frame's type and its `data`, minus forged ids. */
interface Relay {
  type: string;
  data: Record<string, unknown>;
}

type Parsed = { kind: 'relay'; relay: Relay; to: string | undefined } | { kind: 'disconnect' } | { kind: 'join' } | { kind: 'error'; code: string; message: string };

function bad(code: string, message: string): Parsed {
  return { kind: 'error', code, message };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates one inbound frame of the README shape. */
function parseFrame(msg: unknown): Parsed {
  if (!isObject(msg) || typeof msg.type !== 'string') return bad('invalid-message', 'Message must be a JSON object with a string "type"');
  const type = msg.type;
  if (type === 'disconnect') return { kind: 'disconnect' };
  if (type === 'join') return { kind: 'join' };
  if (!RELAYED.has(type)) return bad('unknown-type', `Unknown message type: ${type.slice(0, 64)}`);
  if (!isObject(msg.data)) return bad('invalid-message', `${type} requires a "data" object`);
  const data = { ...msg.data };
  delete data.client_id;
  const field = type === 'ice_candidate' ? 'candidate' : 'sdp';
  const value = data[field];
  if (!(typeof value === 'string' && value.length > 0) && !isObject(value)) {
    return bad('invalid-message', `${type} requires data.${field} (a non-empty string or an object)`);
  }
  if (data.to !== undefined && (typeof data.to !== 'string' || data.to.length === 0)) return bad('invalid-message', 'data.to must be a client_id string');
  return { kind: 'relay', relay: { type, data }, to: data.to as string | undefined };
}

/** A relay as it travelled through the hub; anything else is not ours and is dropped. */
function asRelay(data: unknown): Relay | undefined {
  if (!isObject(data) || typeof data.type !== 'string' || !RELAYED.has(data.type) || !isObject(data.data)) return undefined;
  return { type: data.type, data: data.data };
}

export function createReadmeDialect(generate: IdGenerator): Dialect {
  return {
    name: NAME,
    types: new Set(['join', 'offer', 'answer', 'ice_candidate', 'disconnect']),
    closeCodes: FLYX_CLOSE_CODES,
    paths: () => ['/ws/:room'],
    http: () => readmeRoutes(generate),
    roomFromPath: (info) => info.params.room,

    async admit(info, ctx) {
      return admitToRoom(ctx, README_NAMESPACE, roomIdOf(info, 'room'), {
        invalid: { ok: false, status: 400, body: INVALID_ID },
        // 406 and these words are the original server's.
        notFound: { ok: false, status: 406, body: 'No room found' },
        full: { ok: false, status: 409, body: 'Room is full' },
      });
    },

    accept: acceptReadme,
  };
}

function acceptReadme(conn: Conn, ctx: DialectContext): DialectHandler {
  const { hub } = ctx;
  const room = roomIdOf(conn.info, 'room');
  const session = hub.openSession({ dialect: NAME, namespace: README_NAMESPACE, link: conn.link, sink: render, log: conn.log, identity: conn.info.identity, address: conn.info.remoteAddress });
  conn.attach(session);
  let role: string | undefined;
  // Who this receiver's sender is, so that only its departure is announced (receivers never hear of each other).
  let senderId: string | undefined;

  function error(code: string, message: string): void {
    ctx.countError(NAME, code);
    conn.send({ type: 'error', data: { message } });
  }

  /** A relay the hub could not hand on once Redis answered (the peer's node is gone, or Redis is). */
  function undelivered(err: unknown): void {
    if (err instanceof HubError) return error(err.code, err.message);
    conn.log.error({ err }, 'relay failed');
    error('internal-error', 'Internal server error');
  }

  function joinFrame(peerId: string, r: string): void {
    conn.send({ type: 'join', data: { client_id: peerId, role: r } });
  }

  function render(ev: HubEvent): void {
    switch (ev.type) {
      case 'peer-joined':
        return onJoined(ev.peer);
      case 'peer-left':
        return ev.peerId === session.id ? onRemoved(ev.reason) : onLeft(ev.peerId);
      case 'signal':
      case 'broadcast': {
        const relay = asRelay(ev.data);
        if (!relay) return conn.log.warn({ from: ev.from }, 'dropped a relay that is not a flyx frame');
        // The originator is the hub's word, never the client's: data.client_id cannot be forged.
        conn.send({ type: relay.type, data: { ...relay.data, client_id: ev.from } });
        return;
      }
    }
  }

  function onJoined(peer: PeerInfo): void {
    const r = roleOf(peer);
    if (role === SENDER && r === RECEIVER) joinFrame(peer.peerId, RECEIVER);
    else if (role === RECEIVER && r === SENDER) senderId = peer.peerId;
  }

  function onLeft(peerId: string): void {
    // The sender's other side is every receiver; a receiver's other side is only the sender.
    if (role !== SENDER && peerId !== senderId) return;
    if (peerId === senderId) senderId = undefined;
    conn.send({ type: 'disconnect', data: { client_id: peerId } });
  }

  function onRemoved(reason: LeaveReason): void {
    const [code, text] = reason === 'expired' ? [4004, 'room expired'] : [4003, 'removed from the room'];
    error(reason === 'expired' ? 'room-expired' : 'kicked', reason === 'expired' ? 'Room expired' : 'You were removed from the room');
    conn.close(code, text);
  }

  async function enter(): Promise<boolean> {
    if (room === undefined) {
      error('invalid-message', INVALID_ID);
      conn.close(1008, 'invalid room id');
      return false;
    }
    try {
      const got = await enterRoom(hub, session, room, SENDER, RECEIVER);
      role = got.role;
      joinFrame(session.id, role);
      if (role === SENDER) for (const p of got.peers) if (roleOf(p) === RECEIVER) joinFrame(p.peerId, RECEIVER);
      senderId = findRole(got.peers, SENDER)?.peerId;
      return true;
    } catch (err) {
      refuse(err);
      return false;
    }
  }

  /** The room vanished or filled up between the handshake and the join. */
  function refuse(err: unknown): void {
    if (session.closed) return;
    const code = err instanceof HubError ? err.code : 'internal-error';
    const words: Record<string, string> = { 'room-not-found': 'No room found', 'room-full': 'Room is full', 'shutting-down': 'Server is shutting down', 'rate-limited': 'Too many requests, slow down' };
    if (!(err instanceof HubError)) conn.log.error({ err }, 'join failed');
    error(code, words[code] ?? 'Could not join the room');
    conn.close(code === 'shutting-down' ? 1001 : 1008, (words[code] ?? 'join failed').toLowerCase());
    void hub.closeSession(session, 'disconnect');
  }

  function route(relay: Relay, to: string | undefined): void {
    if (role === SENDER) return fromSender(relay, to);
    const sender = findRole(hub.members(session, room!), SENDER);
    if (!sender) return error('peer-not-found', 'No sender in this room');
    if (to !== undefined && to !== sender.peerId) return error('forbidden', 'Receivers can only signal the sender');
    hub.signal(session, sender.peerId, relay, room)?.catch(undelivered);
  }

  function fromSender(relay: Relay, to: string | undefined): void {
    if (to === undefined) {
      if (hub.members(session, room!).length < 2) return error('peer-not-found', 'No receivers in this room');
      return void hub.broadcast(session, room!, relay)?.catch(undelivered);
    }
    try {
      hub.signal(session, to, relay, room)?.catch(undelivered);
    } catch (err) {
      if (err instanceof HubError && err.code === 'peer-not-found') return error('peer-not-found', `No receiver ${to.slice(0, 64)} in this room`);
      throw err;
    }
  }

  function handle(msg: unknown): void | Promise<void> {
    const p = parseFrame(msg);
    switch (p.kind) {
      case 'error':
        return error(p.code, p.message);
      case 'join':
        // Joining happens on connect; asking again just repeats who you are.
        return joinFrame(session.id, role!);
      case 'disconnect':
        return hub.closeSession(session, 'left').then(() => conn.close(1000, 'disconnected'));
      case 'relay':
        try {
          return route(p.relay, p.to);
        } catch (err) {
          if (err instanceof HubError) return error(err.code, err.code === 'not-in-room' ? 'You are no longer in the room' : err.message);
          throw err;
        }
    }
  }

  const ready = enter();

  return {
    message(msg) {
      if (session.closed) return;
      if (role === undefined) return ready.then((ok) => (ok && !session.closed ? handle(msg) : undefined));
      return handle(msg);
    },
    reject(code, detail) {
      error(code, code === 'invalid-json' ? 'Malformed JSON' : code === 'rate-limited' ? 'Too many messages, slow down' : detail);
    },
    closed() {
      return hub.closeSession(session, 'disconnect');
    },
  };
}

async function roomStatus(ctx: DialectContext, raw: string | undefined): Promise<HttpResponse> {
  const room = parseRoomId(raw);
  if (room === undefined) return { status: 400, body: { error: INVALID_ID } };
  const snap = await ctx.hub.roomInfo(README_NAMESPACE, room);
  if (!snap) return { status: 404, body: { error: 'No room found' } };
  const clients = snap.members.map((m) => ({ client_id: m.peerId, role: roleOf(m) ?? RECEIVER }));
  return {
    status: 200,
    body: {
      id: room,
      created_at: iso(snap.createdAt),
      last_activity: iso(snap.lastActivity),
      options: { max_clients: snap.options.capacity, timeout: snap.options.idleTtlMs / 1000 },
      sender: findRole(snap.members, SENDER)?.peerId ?? null,
      clients,
    },
  };
}

async function createRoom(req: HttpRequest, ctx: DialectContext, generate: IdGenerator): Promise<HttpResponse> {
  // With authentication on, creating a room takes a token with the `create` permission.
  const denied = await refuseHttp(req, ctx.auth, NAME, 'create');
  if (denied) return { status: denied.status, body: { error: denied.message, reason: denied.reason } };
  const body = await readJsonBody(req);
  if (!body.ok) return { status: body.status, body: { error: body.error }, close: body.status === 413 };
  const opts = parseRoomOptions(body.value, ctx.config.rooms.maxPeers);
  if (!opts.ok) return { status: 400, body: { error: opts.error } };
  try {
    const id = await ctx.hub.createRoom(README_NAMESPACE, { generate, options: opts.options, defaults: ROOM_LIFETIMES, address: req.remoteAddress });
    return { status: 201, body: { id } };
  } catch (err) {
    if (!(err instanceof HubError)) throw err;
    if (err.code === 'room-quota') return { status: 429, body: { error: quotaText(ctx) } };
    return { status: 503, body: { error: err.code === 'shutting-down' ? 'Server is shutting down' : 'Could not generate a free room id; try again' } };
  }
}

function readmeRoutes(generate: IdGenerator): HttpRoute[] {
  return [
    { method: 'POST', path: '/room', creates: true, handle: (req, _p, ctx) => createRoom(req, ctx, generate) },
    { method: 'GET', path: '/room/:id', handle: (_req, p, ctx) => roomStatus(ctx, p.id) },
  ];
}
