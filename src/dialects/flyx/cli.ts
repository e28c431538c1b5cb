import { HubError } from '../../core/errors.js';
import type { IdGenerator } from '../../core/ids.js';
import type { HubEvent, PeerInfo } from '../../core/types.js';
import { refuseHttp } from '../../security/auth.js';
import type { Conn, Dialect, DialectContext, DialectHandler, HttpResponse, HttpRoute } from '../dialect.js';
import { parseRoomId, roomIdOf } from './ids.js';
import { admitToRoom, CLI_NAMESPACE, enterRoom, findRole, FLYX_CLOSE_CODES, iso, quotaText, roleOf, ROOM_LIFETIMES } from './rooms.js';

const NAME = 'flyx-cli';
const MASTER = 'master';
const SLAVE = 'slave';
const NOT_FOUND = { error: 'Could not find the room' };

/**
 * The only frames the Flyx CLI survives: it crashes on any other `type`. Every outbound frame goes
 * through `cliFrame`, so nothing else can ever be sent.
 */
export const CLI_FRAME_TYPES: ReadonlySet<string> = new Set(['offer', 'answer', 'icecandidate', 'slavejoined']);

type CliFrame = { type: 'offer' | 'answer'; sdp: string } | { type: 'icecandidate'; candidate: string };

/** A relayable frame, rebuilt from its known fields only; or why it is not one. */
function cliFrame(msg: unknown): CliFrame | { drop: string; code: string } {
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return { code: 'invalid-message', drop: 'not a JSON object' };
  const m = msg as Record<string, unknown>;
  switch (m.type) {
    case 'offer':
    case 'answer':
      if (typeof m.sdp !== 'string' || m.sdp.length === 0) return { code: 'invalid-message', drop: `${m.type} without an sdp string` };
      return { type: m.type, sdp: m.sdp };
    case 'icecandidate':
      // The CLI sends the RTCIceCandidateInit as a JSON *string*; it is passed on untouched.
      if (typeof m.candidate !== 'string' || m.candidate.length === 0) return { code: 'invalid-message', drop: 'icecandidate without a candidate string' };
      return { type: 'icecandidate', candidate: m.candidate };
    default:
      return { code: 'unknown-type', drop: typeof m.type === 'string' ? `unknown type ${m.type.slice(0, 64)}` : 'no string "type"' };
  }
}

function isDrop(f: ReturnType<typeof cliFrame>): f is { drop: string; code: string } {
  return 'drop' in f;
}

export function createCliDialect(generate: IdGenerator): Dialect {
  return {
    name: NAME,
    types: new Set(['offer', 'answer', 'icecandidate']),
    // Close frames are not messages: the CLI only ever parses text frames.
    closeCodes: FLYX_CLOSE_CODES,
    paths: () => ['/api/room/:id'],
    http: () => cliRoutes(generate),
    roomFromPath: (info) => info.params.id,

    async admit(info, ctx) {
      // The CLI knows one refusal: this body. A malformed id cannot name a room, so it gets it too.
      const notFound = { ok: false, status: 404, body: NOT_FOUND } as const;
      return admitToRoom(ctx, CLI_NAMESPACE, roomIdOf(info, 'id'), { invalid: notFound, notFound, full: { ok: false, status: 409, body: { error: 'Room is full' } } });
    },

    accept: acceptCli,
  };
}

function acceptCli(conn: Conn, ctx: DialectContext): DialectHandler {
  const { hub } = ctx;
  const room = roomIdOf(conn.info, 'id');
  const session = hub.openSession({ dialect: NAME, namespace: CLI_NAMESPACE, link: conn.link, sink: render, log: conn.log, identity: conn.info.identity, address: conn.info.remoteAddress });
  conn.attach(session);
  let role: string | undefined;

  /** Bad input is logged and counted, never answered: an error frame would crash the CLI. */
  function drop(code: string, detail: string): void {
    ctx.countError(NAME, code);
    conn.log.warn({ code, detail }, 'dropped a frame (the Flyx CLI cannot take error frames)');
  }

  /** A relay the hub could not hand on once Redis answered: dropped like bad input (logged, counted). */
  function undelivered(err: unknown): void {
    if (err instanceof HubError) return drop(err.code, err.message);
    conn.log.error({ err }, 'relay failed');
  }

  function send(frame: CliFrame | { type: 'slavejoined' }): void {
    if (CLI_FRAME_TYPES.has(frame.type)) conn.send(frame);
  }

  function render(ev: HubEvent): void {
    switch (ev.type) {
      case 'peer-joined':
        return onJoined(ev.peer);
      case 'peer-left':
        // Nobody is told of a departure (the CLI has no frame for it); a removed member is closed.
        if (ev.peerId === session.id) {
          if (ev.reason === 'expired') conn.close(4004, 'room expired');
          else conn.close(4003, 'removed from the room');
        }
        return;
      case 'signal':
      case 'broadcast': {
        const f = cliFrame(ev.data);
        if (isDrop(f)) return drop('internal-error', `relay from ${ev.from}: ${f.drop}`);
        return send(f);
      }
    }
  }

  function onJoined(peer: PeerInfo): void {
    if (role === MASTER && roleOf(peer) === SLAVE) send({ type: 'slavejoined' });
  }

  async function enter(): Promise<boolean> {
    if (room === undefined) {
      drop('invalid-message', 'no room id in the path');
      conn.close(1008, 'invalid room id');
      return false;
    }
    try {
      const got = await enterRoom(hub, session, room, MASTER, SLAVE);
      role = got.role;
      // A master that arrives after its slaves hears of each, as if they had just joined.
      if (role === MASTER) for (const p of got.peers) if (roleOf(p) === SLAVE) send({ type: 'slavejoined' });
      return true;
    } catch (err) {
      if (!session.closed) {
        const code = err instanceof HubError ? err.code : 'internal-error';
        drop(code, 'could not join the room');
        conn.close(code === 'shutting-down' ? 1001 : 1008, code === 'room-full' ? 'room is full' : 'could not find the room');
        void hub.closeSession(session, 'disconnect');
      }
      return false;
    }
  }

  function handle(msg: unknown): void {
    const f = cliFrame(msg);
    if (isDrop(f)) return drop(f.code, f.drop);
    try {
      if (role === MASTER) return void hub.broadcast(session, room!, f)?.catch(undelivered);
      const master = findRole(hub.members(session, room!), MASTER);
      if (!master) return drop('peer-not-found', `${f.type} from a slave while the room has no master`);
      hub.signal(session, master.peerId, f, room)?.catch(undelivered);
    } catch (err) {
      if (err instanceof HubError) return drop(err.code, err.message);
      throw err;
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
      drop(code, detail);
    },
    closed() {
      return hub.closeSession(session, 'disconnect');
    },
  };
}

async function cliStatus(ctx: DialectContext, raw: string | undefined): Promise<HttpResponse> {
  const room = parseRoomId(raw);
  if (room === undefined) return { status: 404, body: NOT_FOUND };
  const snap = await ctx.hub.roomInfo(CLI_NAMESPACE, room);
  if (!snap) return { status: 404, body: NOT_FOUND };
  return {
    status: 200,
    body: {
      id: room,
      created_at: iso(snap.createdAt),
      last_activity: iso(snap.lastActivity),
      master: findRole(snap.members, MASTER)?.peerId ?? null,
      members: snap.members.map((m) => ({ id: m.peerId, role: roleOf(m) ?? SLAVE })),
    },
  };
}

function cliRoutes(generate: IdGenerator): HttpRoute[] {
  return [
    {
      method: 'POST',
      path: '/api/room',
      creates: true,
      // The CLI sends no options; a body, if any, is ignored.
      async handle(req, _p, ctx) {
        // With authentication on, creating a room takes a token with the `create` permission.
        const denied = await refuseHttp(req, ctx.auth, NAME, 'create');
        if (denied) return { status: denied.status, body: { error: denied.message, reason: denied.reason } };
        try {
          const id = await ctx.hub.createRoom(CLI_NAMESPACE, { generate, defaults: ROOM_LIFETIMES, address: req.remoteAddress });
          return { status: 200, body: { id } };
        } catch (err) {
          if (!(err instanceof HubError)) throw err;
          if (err.code === 'room-quota') return { status: 429, body: { error: quotaText(ctx) } };
          return { status: 503, body: { error: err.code === 'shutting-down' ? 'Server is shutting down' : 'Could not generate a free room id; try again' } };
        }
      },
    },
    { method: 'GET', path: '/api/health', handle: () => ({ status: 200, body: 'Ok' }) },
    { method: 'GET', path: '/api/room/:id/status', handle: (_req, p, ctx) => cliStatus(ctx, p.id) },
  ];
}
