import { Type } from '@sinclair/typebox';

/** Sessions and ids of this dialect never meet another's: the key is fixed per server, so one namespace does. */
export const NAMESPACE = 'peerjs';

/** Config section `peerjs`. */
export const PEERJS_OPTIONS = {
  key: 'peerjs',
  schema: Type.Object(
    {
      path: Type.String({
        default: '/',
        pattern: '^/?([A-Za-z0-9._~-]+/?)*$',
        description: 'peerjs: mount point, as `peer`\'s `path` and the client\'s `path` option (`/myapp` serves `/myapp/peerjs`, `/myapp/<key>/id`, …); normalised to start and end with `/`.',
      }),
      key: Type.String({ default: 'peerjs', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._~-]+$', description: 'peerjs: the API key clients connect with (`?key=`; client option `key`); another key gets ERROR `Invalid key provided`.' }),
      allowDiscovery: Type.Boolean({ default: false, description: 'peerjs: answer `GET {path}{key}/peers` with the connected ids (client `listAllPeers()`); off: 401, as in `peer`.' }),
      expireTimeoutMs: Type.Integer({ minimum: 1, default: 5_000, description: 'peerjs: how long messages to an id that is not connected are kept for it; then the sender gets one EXPIRE per destination.' }),
      aliveTimeoutMs: Type.Integer({ minimum: 1, default: 60_000, description: 'peerjs: a client that sends nothing (not even its HEARTBEAT, every 5 s) this long is closed.' }),
      maxQueuedPerPeer: Type.Integer({ minimum: 0, default: 64, description: 'peerjs: messages kept at most for one id that is not connected (cluster-wide); past it they are dropped and their senders get EXPIRE. 0: nothing is kept.' }),
      maxIdLength: Type.Integer({ minimum: 1, maximum: 1024, default: 128, description: 'peerjs: the longest id (and `dst`) accepted, in characters.' }),
    },
    { default: {}, additionalProperties: false },
  ),
} as const;

/** `/myapp` → `/myapp/`, `` → `/`: what the client does to its own `path` option. */
export function mountPath(path: string): string {
  let p = path.startsWith('/') ? path : `/${path}`;
  if (!p.endsWith('/')) p += '/';
  return p.replace(/\/{2,}/g, '/');
}
