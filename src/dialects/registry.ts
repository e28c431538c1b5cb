import { autoDialect } from './auto.js';
import { callDialect } from './call/index.js';
import type { Dialect } from './dialect.js';
import { flyxCliDialect, flyxDialect } from './flyx/index.js';
import { meshDialect } from './mesh/index.js';
import { nativeDialect } from './native/native.js';
import { peerjsDialect } from './peerjs/index.js';
import { slamDialect, slamPairDialect } from './slam/index.js';
import { vcDialect } from './vc/index.js';

/**
 * Every dialect the server speaks. Adding one is a folder under src/dialects/ and one entry here:
 * the dialect declares its paths, HTTP routes, options, identity rule and room-from-path rule
 * itself (docs/architecture.md, "Adding a dialect"). The order matters twice: it is the order of
 * first-frame detection on catch-all paths (slam before call: both know `register`), and of the
 * configuration table.
 */
export const DIALECTS = [nativeDialect, vcDialect, flyxDialect, flyxCliDialect, slamDialect, slamPairDialect, callDialect, meshDialect, peerjsDialect] as const;

/**
 * Every path no dialect claims: served by first-frame detection among the dialects that `detect`,
 * the one marked `catchAllFallback` serving a socket until its first frame decides. Fixed paths are
 * never guessed.
 */
export const catchAll: Dialect = autoDialect(
  DIALECTS.filter((d: Dialect) => d.detect && !d.catchAllFallback),
  DIALECTS.find((d: Dialect) => d.catchAllFallback),
);

export const builtinDialects: ReadonlyMap<string, Dialect> = new Map([...DIALECTS, catchAll].map((d: Dialect) => [d.name, d]));

/** A dialect's rule for duplicate identities, by name (config validation, dialects asking for their own). */
export function dialectByName(name: string): Dialect | undefined {
  return builtinDialects.get(name);
}
