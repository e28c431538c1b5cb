import { randomUUID } from 'node:crypto';
import type { Config } from '../../config.js';
import { createOriginCheck } from '../../security/origins.js';
import type { HttpRequest, HttpResponse, HttpRoute } from '../dialect.js';
import { NAMESPACE, mountPath } from './settings.js';

/**
 * The HTTP side of the PeerJS server protocol, as the client fetches it (cross-origin, so with
 * CORS): `GET {path}{key}/id`, `GET {path}{key}/peers`, and `GET {path}` (its info JSON; at `/`
 * the server's own root JSON answers instead). Like `peer`, any key works in these paths.
 */

/** What `peer` answers at its mount point. */
const INFO = { name: 'PeerJS Server', description: 'A server side element to broker connections between PeerJS clients.', website: 'https://peerjs.com/' };

/** The most ids a discovery listing returns. */
export const MAX_LISTED = 10_000;

/** Preflights get what `peer`'s `cors` middleware sends. */
const ALLOW_METHODS = 'GET,HEAD,PUT,PATCH,POST,DELETE';

/** CORS as `peer` does it (the Origin reflected, `Vary: Origin`), limited to `allowedOrigins` when that is set. */
function corsFor(config: Config): (req: HttpRequest) => Record<string, string> {
  const check = createOriginCheck(config.allowedOrigins);
  return (req) => {
    const origin = req.headers.origin;
    const headers: Record<string, string> = { vary: 'Origin' };
    if (typeof origin === 'string' && check(origin).ok) headers['access-control-allow-origin'] = origin;
    return headers;
  };
}

export function peerjsRoutes(config: Config): HttpRoute[] {
  const base = mountPath(config.peerjs.path);
  const cors = corsFor(config);
  const answer = (req: HttpRequest, r: HttpResponse): HttpResponse => ({ ...r, headers: { ...cors(req), ...r.headers } });
  const get = (path: string, handle: HttpRoute['handle']): HttpRoute[] => [
    { method: 'GET', path, handle: async (req, params, ctx) => answer(req, await handle(req, params, ctx)) },
    { method: 'OPTIONS', path, handle: (req) => answer(req, preflight(req)) },
  ];
  const routes: HttpRoute[] = [
    // The client asks only when `new Peer()` gets no id, and takes the body verbatim.
    ...get(`${base}:key/id`, () => ({ status: 200, body: randomUUID(), type: 'text/html; charset=utf-8' })),
    ...get(`${base}:key/peers`, async (req, _params, ctx) => {
      if (!ctx.config.peerjs.allowDiscovery) return { status: 401, body: 'Unauthorized' };
      // With authentication on, the listing is for holders of a valid token only.
      if (ctx.auth?.enabled) {
        const r = await ctx.auth.authenticate({ path: req.path, dialect: 'peerjs', remoteAddress: req.remoteAddress, headers: req.headers, query: req.query });
        if (!r.ok) return { status: 401, body: 'Unauthorized' };
      }
      return { status: 200, body: await ctx.hub.listAliases(NAMESPACE, MAX_LISTED) };
    }),
  ];
  if (base !== '/') routes.push(...get(base.slice(0, -1), () => ({ status: 200, body: INFO })));
  return routes;
}

function preflight(req: HttpRequest): HttpResponse {
  const headers: Record<string, string> = { 'access-control-allow-methods': ALLOW_METHODS };
  const asked = req.headers['access-control-request-headers'];
  if (typeof asked === 'string') {
    headers['access-control-allow-headers'] = asked;
    headers.vary = 'Origin, Access-Control-Request-Headers';
  }
  return { status: 204, body: '', headers };
}
