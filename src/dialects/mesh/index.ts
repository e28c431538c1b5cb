import { type Conn, type Dialect, type DialectContext, type DialectHandler, seedCloseCodes } from '../dialect.js';
import { MESH_TYPES, isMeshFrame } from './frames.js';
import { MeshLine } from './line.js';

export { DEFAULT_IDLE_TTL_MS, MESH_NAMESPACE } from './line.js';

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
  accept(conn: Conn, ctx: DialectContext): DialectHandler {
    return new MeshLine(conn, ctx);
  },
};
