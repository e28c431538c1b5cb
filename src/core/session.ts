import type { AccessPolicy } from './access.js';
import type { Timer } from './clock.js';
import type { ReplayLog } from './replay-log.js';
import type { HubEvent, Link } from './types.js';

/**
 * What a resumable session keeps beyond its socket (see docs/protocol.md, Resume): its numbered
 * outbound frames, the secrets that let a new socket take it over, and while it has no socket,
 * when it stops waiting for one.
 */
export interface ResumeState {
  /** Every frame sent to the session after its welcome, as the dialect rendered it (without seq). */
  log: ReplayLog<string>;
  /** The current resume token and, until the next resume, the one before it. */
  tokens: string[];
  /** Set while the session has no socket: when that began, and the timer that ends the wait. */
  detachedAt?: number;
  expiry?: Timer;
  /**
   * Kept in the shared store (Backplane.sessions): numbered there, resumable on any node. Its frames
   * reach the socket through `Session.frames`, in seq order: `written` is the last one written,
   * `pending` holds those that came early (or before the dialect was ready for them).
   */
  durable?: boolean;
  /** Was stored, until the store went away: numbered on this node since (Hub.demote). */
  demoted?: boolean;
  written?: number;
  pending?: Map<number, string>;
  /** A frame came past a gap: the catch-up from the log that runs if the gap is still open then (Hub.catchUp). */
  gapTimer?: Timer;
  /** A catch-up is reading the log (one at a time). */
  catchingUp?: boolean;
}

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
/** What an empty `rooms` or `aliases` reads as: one shared set, never written. */
const NONE: ReadonlySet<string> = new Set<string>();

export class Session {
  /** Allocated on first use and dropped when emptied: an empty Set is ~150 bytes per idle session. */
  private roomSet: Set<string> | undefined;
  private aliasSet: Set<string> | undefined;
  closed = false;
  name: string | undefined;
  meta: unknown;
  /** What a verified identity (a token) allows; undefined: no identity, the server's rules only. */
  access: AccessPolicy | undefined;
  /** Present on a resumable session (native, with resume.windowMs > 0). */
  resume: ResumeState | undefined;
  /** The client's address (as the server names it, trustProxy honoured): rooms it creates count against it. */
  address: string | undefined;
  /** A stored session's writer: puts frame `seq` (rendered `text`, without seq) on its socket. */
  frames: ((seq: number, text: string) => void) | undefined;
  /** When it opened on this node (or came here, resumed from another): its first `lastSeen`. */
  readonly openedAt: number;

  constructor(
    readonly id: string,
    readonly dialect: string,
    readonly namespace: string,
    public link: Link,
    public sink: (ev: HubEvent) => void,
    public lastSeen: number,
    readonly log: CoreLogger,
  ) {
    this.openedAt = lastSeen;
  }

  /** False while a resumable session waits for a new socket (its frames are only logged). */
  get attached(): boolean {
    return this.resume?.detachedAt === undefined;
  }

  /** The rooms this session is in (its own names, not namespaced keys). */
  get rooms(): ReadonlySet<string> {
    return this.roomSet ?? NONE;
  }

  addRoom(name: string): void {
    (this.roomSet ??= new Set()).add(name);
  }

  /** Whether it was in the room. */
  deleteRoom(name: string): boolean {
    const had = this.roomSet?.delete(name) ?? false;
    if (this.roomSet?.size === 0) this.roomSet = undefined;
    return had;
  }

  /** Aliases (names, identities) this session holds in its namespace. */
  get aliases(): ReadonlySet<string> {
    return this.aliasSet ?? NONE;
  }

  addAlias(alias: string): void {
    (this.aliasSet ??= new Set()).add(alias);
  }

  deleteAlias(alias: string): boolean {
    const had = this.aliasSet?.delete(alias) ?? false;
    if (this.aliasSet?.size === 0) this.aliasSet = undefined;
    return had;
  }

  clearAliases(): void {
    this.aliasSet = undefined;
  }
}
