import { HubError } from '../../core/errors.js';
import type { IdGenerator } from '../../core/ids.js';
import { refuseHttp } from '../../security/auth.js';
import type { Dialect, DialectContext, HttpResponse, HttpRoute } from '../dialect.js';
import { acceptCli, MASTER, NAME, SLAVE } from './cli-line.js';
import { parseRoomId, roomIdOf } from './ids.js';
import { admitToRoom, CLI_NAMESPACE, findRole, FLYX_CLOSE_CODES, iso, quotaText, roleOf, ROOM_LIFETIMES } from './rooms.js';

const NOT_FOUND = { error: 'Could not find the room' };

export { CLI_FRAME_TYPES } from './cli-line.js';

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
