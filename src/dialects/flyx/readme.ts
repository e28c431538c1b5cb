import { HubError } from '../../core/errors.js';
import type { IdGenerator } from '../../core/ids.js';
import { refuseHttp } from '../../security/auth.js';
import type { Dialect, DialectContext, HttpRequest, HttpResponse, HttpRoute } from '../dialect.js';
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
