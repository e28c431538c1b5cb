import type { AccessPolicy } from './access.js';
import type { HubEvent, Link } from './types.js';

/** Minimal structured-logger shape the core needs (pino satisfies it); keeps pino out of core. */
export interface CoreLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: object): CoreLogger;
}

export const silentLogger: CoreLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};

/**
 * A session is the core's unit: a peer with an id, its rooms and aliases. A transport (Link) is
 * attached to it; the session is what rooms, relays and identity policies refer to, so that resume
 * and failover can later re-attach a new socket without touching the rest of the core.
 */
export class Session {
  readonly rooms = new Set<string>();
  readonly aliases = new Set<string>();
  closed = false;
  name: string | undefined;
  meta: unknown;
  /** What a verified identity (a token) allows; undefined: no identity, the server's rules only. */
  access: AccessPolicy | undefined;

  constructor(
    readonly id: string,
    readonly dialect: string,
    readonly namespace: string,
    public link: Link,
    public sink: (ev: HubEvent) => void,
    public lastSeen: number,
    readonly log: CoreLogger,
  ) {}
}
