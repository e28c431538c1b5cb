import type { IncomingMessage, ServerResponse } from 'node:http';
import { HubError } from '../../core/errors.js';
import type { IdGenerator } from '../../core/ids.js';
import { refuseHttp } from '../../security/auth.js';
import { sendJson } from '../../server/http.js';
import type { Dialect, DialectContext, HttpRoute } from '../dialect.js';
import { readJsonBody } from './body.js';
import { parseRoomId, roomIdOf } from './ids.js';
import { parseRoomOptions } from './options.js';
import { acceptReadme, INVALID_ID, NAME, RECEIVER, SENDER } from './readme-line.js';
import { admitToRoom, findRole, FLYX_CLOSE_CODES, iso, quotaText, README_NAMESPACE, roleOf, ROOM_LIFETIMES } from './rooms.js';

export function createReadmeDialect(generate: IdGenerator): Dialect {
  return {
    name: NAME,
    types: new Set(['join', 'offer', 'answer', 'ice_candidate', 'disconnect']),
    closeCodes: FLYX_CLOSE_CODES,
    http: readmeRoutes(generate),

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

function roomStatus(res: ServerResponse, ctx: DialectContext, raw: string | undefined): Promise<void> {
  const room = parseRoomId(raw);
  if (room === undefined) {
    sendJson(res, 400, { error: INVALID_ID });
    return Promise.resolve();
  }
  return ctx.hub.roomInfo(README_NAMESPACE, room).then((snap) => {
    if (!snap) return sendJson(res, 404, { error: 'No room found' });
    const clients = snap.members.map((m) => ({ client_id: m.peerId, role: roleOf(m) ?? RECEIVER }));
    sendJson(res, 200, {
      id: room,
      created_at: iso(snap.createdAt),
      last_activity: iso(snap.lastActivity),
      options: { max_clients: snap.options.capacity, timeout: snap.options.idleTtlMs / 1000 },
      sender: findRole(snap.members, SENDER)?.peerId ?? null,
      clients,
    });
  });
}

async function createRoom(req: IncomingMessage, res: ServerResponse, ctx: DialectContext, generate: IdGenerator): Promise<void> {
  // With authentication on, creating a room takes a token with the `create` permission.
  const denied = await refuseHttp(req, ctx, NAME, 'create');
  if (denied) return sendJson(res, denied.status, { error: denied.message, reason: denied.reason });
  const body = await readJsonBody(req);
  if (!body.ok) {
    if (body.status === 413) res.setHeader('connection', 'close');
    return sendJson(res, body.status, { error: body.error });
  }
  const opts = parseRoomOptions(body.value, ctx.config.rooms.maxPeers);
  if (!opts.ok) return sendJson(res, 400, { error: opts.error });
  try {
    const id = await ctx.hub.createRoom(README_NAMESPACE, { generate, options: opts.options, defaults: ROOM_LIFETIMES, address: ctx.clientAddress(req) });
    sendJson(res, 201, { id });
  } catch (err) {
    if (!(err instanceof HubError)) throw err;
    if (err.code === 'room-quota') return sendJson(res, 429, { error: quotaText(ctx) });
    sendJson(res, 503, { error: err.code === 'shutting-down' ? 'Server is shutting down' : 'Could not generate a free room id; try again' });
  }
}

function readmeRoutes(generate: IdGenerator): HttpRoute[] {
  return [
    { method: 'POST', path: '/room', creates: true, handle: (req, res, _p, ctx) => createRoom(req, res, ctx, generate) },
    { method: 'GET', path: '/room/:id', handle: (_req, res, p, ctx) => roomStatus(res, ctx, p.id) },
  ];
}
