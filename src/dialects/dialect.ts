import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { IdentityRule } from '../core/access.js';
import type { Clock } from '../core/clock.js';
import type { ErrorCode } from '../core/errors.js';
import type { Hub } from '../core/hub.js';
import type { CoreLogger, Session } from '../core/session.js';
import type { Admission, HttpRequest, HttpResponse, UpgradeInfo } from '../core/handshake.js';
import type { CloseReason, Link } from '../core/types.js';
import type { Authenticator } from '../security/auth.js';
import type { TokenLifetime } from '../security/token-lifetime.js';

export type { Admission, AuthGrant, HttpRequest, HttpResponse, IceServer, UpgradeInfo } from '../core/handshake.js';

/** An outbound frame: any JSON object with a string `type`. */
export type OutFrame = { type: string; [k: string]: unknown };

/** The connection as a dialect sees it: send frames, close, attach the session it opened. */
export interface Conn {
  readonly info: UpgradeInfo;
  readonly log: CoreLogger;
  /** The transport handle to give the hub when opening a session. */
  readonly link: Link;
  /** Serialises and sends one frame; counted by its `type`. Dropped if the socket is gone. */
  send(frame: OutFrame): void;
  /** Sends a frame the dialect serialised itself (counted under `type`). */
  sendRaw(type: string, text: string): void;
  /** Closes with an explicit code (the dialect's own words). */
  close(code: number, reason: string): void;
  /** Tells the connection which session it carries (liveness, logs, cleanup). */
  attach(session: Session): void;
  /** Re-labels the connection with another dialect (metrics, close codes); used by first-frame detection. */
  rebind(dialect: Dialect): void;
  /** When the connection's credentials run out (authentication on); a token refresh re-arms it. */
  readonly lifetime?: TokenLifetime;
}

/** How a connection ended (src/server/connection.ts closeKind). */
export type CloseKind = 'clean' | 'dropped';

/** A dialect's per-connection logic. */
export interface DialectHandler {
  /** One inbound text frame, parsed as JSON (any JSON value). May return a promise: the next frame waits. */
  message(msg: unknown, text: string): void | Promise<void>;
  /** A framing problem found before the dialect saw the frame: bad JSON, too large, binary. */
  reject(code: ErrorCode, detail: string): void;
  /**
   * The socket closed, `clean`ly (the client said goodbye, or the server ended the session) or
   * `dropped` (see CloseKind): only a resumable session treats the two differently.
   */
  closed(how?: CloseKind): void | Promise<void>;
  /** The server is draining (graceful shutdown) and will close this connection in closeInMs. */
  drain?(closeInMs: number): void;
  /** Heartbeat tick: an application-level ping where the dialect has one. */
  heartbeat?(): void;
  /** The connection's token expires at `expiresAt` (ms since the epoch) unless refreshed: tell the client, where the dialect can. */
  tokenExpiring?(expiresAt: number): void;
}

export interface DialectContext {
  hub: Hub;
  config: Config;
  clock: Clock;
  log: Logger;
  version: string;
  /** Counts an error code sent to a client, for metrics. */
  countError(dialect: string, code: string): void;
  /** Token and webhook checks (the auth gate, native's /v1/validate); absent in hand-built contexts. */
  auth?: Authenticator;
}

/** The seed protocols' close codes; a dialect overrides the ones its clients read differently. */
export function seedCloseCodes(overrides: Partial<Record<CloseReason, readonly [number, string]>> = {}): Record<CloseReason, readonly [number, string]> {
  return {
    shutdown: [1001, 'server shutting down'],
    timeout: [1001, 'heartbeat timeout'],
    replaced: [4001, 'session replaced'],
    'slow-consumer': [1008, 'slow consumer'],
    kicked: [4003, 'kicked'],
    expired: [1000, 'expired'],
    policy: [1008, 'policy violation'],
    // Only resumable (native) sessions are resumed; a seed dialect never closes for it.
    resumed: [4004, 'session resumed on another connection'],
    'token-expired': [4005, 'token expired'],
    ...overrides,
  };
}

/** An HTTP route a dialect serves (on every listener that serves the dialect). */
export interface HttpRoute {
  /** OPTIONS: a CORS preflight the dialect answers itself (PeerJS answers them as `peer` does). */
  method: 'GET' | 'POST' | 'DELETE' | 'OPTIONS';
  /** Path pattern; `:name` segments match one segment and land in `params`. */
  path: string;
  /** The answer, as a value: the server writes it (and HEAD, CORS preflights, errors). */
  handle(req: HttpRequest, params: Record<string, string>, ctx: DialectContext): HttpResponse | Promise<HttpResponse>;
  /** Creates server state (a room): limited per client address (rateLimits.httpCreatesPerSecond; HTTP 429 past it). */
  creates?: boolean;
}

/** A dialect's own configuration section: `config[key]`, validated by `schema`, a TypeBox object (every leaf with a default and a description; typed loosely here: comparing TypeBox types structurally is too deep for the compiler). */
export interface DialectOptions<K extends string = string, S = unknown> {
  readonly key: K;
  readonly schema: S;
}

/**
 * A dialect: everything the server needs to know to serve one protocol, declared in one place (its
 * folder under src/dialects/, registered by one line in registry.ts). See docs/architecture.md,
 * "Adding a dialect".
 */
export interface Dialect {
  readonly name: string;
  /** Inbound message types counted by name in metrics (others count as "other"). */
  readonly types: ReadonlySet<string>;
  /** Close code and reason text for each server-initiated close. */
  readonly closeCodes: Record<CloseReason, readonly [number, string]>;
  accept(conn: Conn, ctx: DialectContext): DialectHandler;
  /** Checked before the WebSocket upgrade (e.g. the room must exist). */
  admit?(info: UpgradeInfo, ctx: DialectContext): Admission | Promise<Admission>;
  /** WebSocket paths this dialect is served at by default (`:name` segments allowed); config `routes` adds more. */
  paths?(config: Config): readonly string[];
  /** HTTP routes of this dialect. */
  http?(config: Config): readonly HttpRoute[];
  /** The room a handshake's path names (e.g. flyx `/ws/:room`): the auth gate refuses a token that does not allow it. */
  roomFromPath?(info: UpgradeInfo): string | undefined;
  /** Duplicate identities: this dialect's default policy and the ones its protocol can carry (config `identity`). */
  readonly identity?: IdentityRule;
  /** This dialect's configuration section, if it has settings of its own. */
  readonly options?: DialectOptions;
  /**
   * For shared catch-all paths: true when a connection's first frame is this dialect's.
   * Only dialects with `detect` are candidates for first-frame detection.
   */
  detect?(msg: unknown): boolean;
  /** Serves catch-all connections that have not been recognised yet (at most one dialect: slam-pair, whose sockets may receive before they speak). */
  readonly catchAllFallback?: boolean;
}

/**
 * A dialect with a configuration section, typed: declare a dialect that has options with this
 * annotation (`DialectWith<typeof MY_OPTIONS>`), so the Config type gains `config[key]` without
 * inferring the dialect's own type (which refers to Config).
 */
export type DialectWith<O extends DialectOptions> = Dialect & { readonly options: O };
