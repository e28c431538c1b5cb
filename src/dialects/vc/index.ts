import { type Conn, type Dialect, type DialectContext, type DialectHandler, seedCloseCodes } from '../dialect.js';
import { IDENTITY, NAME, VcLine } from './line.js';

/**
 * vc-server's protocol at `/ws` (desktop vc-client): one room per connection, rooms made by the
 * first join and gone when empty, any frame with `to` relayed whole with a server-set `from`.
 * See docs/dialects/vc.md.
 */
export const vcDialect: Dialect = {
  name: NAME,
  types: new Set(['join', 'leave', 'pong', 'offer', 'answer', 'ice', 'broadcast']),
  // timeout stays 1001 (going away), as the original closed silent peers.
  closeCodes: seedCloseCodes({ replaced: [1008, 'replaced'], expired: [1000, 'room expired'] }),
  paths: () => ['/ws'],
  identity: IDENTITY,

  accept(conn: Conn, ctx: DialectContext): DialectHandler {
    return new VcLine(conn, ctx);
  },
};
