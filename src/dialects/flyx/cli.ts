import type { ServerResponse } from 'node:http';
import { HubError } from '../../core/errors.js';
import type { IdGenerator } from '../../core/ids.js';
import { refuseHttp } from '../../security/auth.js';
import { sendJson, sendText } from '../../server/http.js';
import type { Dialect, DialectContext, HttpRoute } from '../dialect.js';
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
    http: cliRoutes(generate),

    async admit(info, ctx) {
      // The CLI knows one refusal: this body. A malformed id cannot name a room, so it gets it too.
      const notFound = { ok: false, status: 404, body: NOT_FOUND } as const;
      return admitToRoom(ctx, CLI_NAMESPACE, roomIdOf(info, 'id'), { invalid: notFound, notFound, full: { ok: false, status: 409, body: { error: 'Room is full' } } });
    },

    accept: acceptCli,
  };
}

function cliStatus(res: ServerResponse, ctx: DialectContext, raw: string | undefined): Promise<void> {
  const room = parseRoomId(raw);
  if (room === undefined) {
    sendJson(res, 404, NOT_FOUND);
    return Promise.resolve();
  }
  return ctx.hub.roomInfo(CLI_NAMESPACE, room).then((snap) => {
    if (!snap) return sendJson(res, 404, NOT_FOUND);
    sendJson(res, 200, {
      id: room,
      created_at: iso(snap.createdAt),
      last_activity: iso(snap.lastActivity),
      master: findRole(snap.members, MASTER)?.peerId ?? null,
      members: snap.members.map((m) => ({ id: m.peerId, role: roleOf(m) ?? SLAVE })),
    });
  });
}

function cliRoutes(generate: IdGenerator): HttpRoute[] {
  return [
    {
      method: 'POST',
      path: '/api/room',
      creates: true,
      // The CLI sends no options; a body, if any, is ignored.
      async handle(req, res, _p, ctx) {
        // With authentication on, creating a room takes a token with the `create` permission.
        const denied = await refuseHttp(req, ctx, NAME, 'create');
        if (denied) return sendJson(res, denied.status, { error: denied.message, reason: denied.reason });
        try {
          const id = await ctx.hub.createRoom(CLI_NAMESPACE, { generate, defaults: ROOM_LIFETIMES, address: ctx.clientAddress(req) });
          sendJson(res, 200, { id });
        } catch (err) {
          if (!(err instanceof HubError)) throw err;
          if (err.code === 'room-quota') return sendJson(res, 429, { error: quotaText(ctx) });
          sendJson(res, 503, { error: err.code === 'shutting-down' ? 'Server is shutting down' : 'Could not generate a free room id; try again' });
        }
      },
    },
    { method: 'GET', path: '/api/health', handle: (_req, res) => sendText(res, 200, 'Ok') },
    { method: 'GET', path: '/api/room/:id/status', handle: (_req, res, p, ctx) => cliStatus(res, ctx, p.id) },
  ];
}
