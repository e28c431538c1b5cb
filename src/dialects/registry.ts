import { autoDialect } from './auto.js';
import { callDialect } from './call/index.js';
import type { Dialect } from './dialect.js';
import { flyxCliDialect, flyxDialect } from './flyx/index.js';
import { meshDialect } from './mesh/index.js';
import { nativeDialect } from './native/native.js';
import { slamDialect, slamPairDialect } from './slam/index.js';
import { vcDialect } from './vc/index.js';

/**
 * Every dialect the server speaks, and where. Adding a dialect is one module and one line here.
 * Fixed paths are never guessed; every other path is served by first-frame detection (`auto`).
 */
export const catchAll: Dialect = autoDialect([slamDialect, callDialect, meshDialect], slamPairDialect);

export const builtinDialects: ReadonlyMap<string, Dialect> = new Map(
  [nativeDialect, vcDialect, slamDialect, slamPairDialect, callDialect, flyxDialect, flyxCliDialect, meshDialect, catchAll].map((d) => [d.name, d]),
);

/** Default WebSocket routes on every listener. `*` is the catch-all. */
export const defaultRoutes: readonly { path: string; dialect: Dialect }[] = [
  { path: '/v1', dialect: nativeDialect },
  { path: '/ws', dialect: vcDialect },
  { path: '/ws/:room', dialect: flyxDialect },
  { path: '/api/room/:id', dialect: flyxCliDialect },
  { path: '*', dialect: catchAll },
];
