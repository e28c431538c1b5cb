import type { IdGenerator } from '../../core/ids.js';
import type { Dialect } from '../dialect.js';
import { createCliDialect } from './cli.js';
import { generateRoomId } from './ids.js';
import { createReadmeDialect } from './readme.js';

export { CLI_FRAME_TYPES } from './cli.js';
export { CLI_NAMESPACE, README_NAMESPACE, ROOM_LIFETIMES } from './rooms.js';

export interface FlyxOptions {
  /** Room id generator (default: 6 random letters or digits). Tests pass a tiny one to force collisions. */
  generate?: IdGenerator;
}

/**
 * The two shapes of the Flyx signaling protocol: the README's (`/ws/:room`, `POST /room`) and the
 * real CLI's (`/api/room/:id`, `POST /api/room`). Built fresh per call: nothing is shared.
 */
export function createFlyxDialects(opts: FlyxOptions = {}): { flyx: Dialect; flyxCli: Dialect } {
  const generate = opts.generate ?? generateRoomId;
  return { flyx: createReadmeDialect(generate), flyxCli: createCliDialect(generate) };
}

const builtin = createFlyxDialects();
export const flyxDialect: Dialect = builtin.flyx;
export const flyxCliDialect: Dialect = builtin.flyxCli;
