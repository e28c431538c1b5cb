import WebSocket from 'ws';
import type { Clock, Timer } from '../core/clock.js';
import type { Hub } from '../core/hub.js';
import type { FailureLog } from '../core/failure-log.js';
import type { CoreLogger, Session } from '../core/session.js';
import type { CloseReason, Link } from '../core/types.js';
import type { CloseKind, Conn, Dialect, DialectContext, DialectHandler, OutFrame, UpgradeInfo } from '../dialects/dialect.js';
import { BoundLogger } from '../observability/bound-logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { FrameLimiter } from '../security/frame-limiter.js';
import { TokenLifetime } from '../security/token-lifetime.js';
import { deeperThan } from './json-depth.js';
import type { SharedFrames } from './shared-frames.js';


const NO_HEADERS: UpgradeInfo['headers'] = Object.freeze({});
const NO_QUERY = new URLSearchParams();
/** Frames waiting behind an async handler (a join in flight). Past this, the client is abusive. */
const MAX_QUEUED_FRAMES = 1024;
/**
 * After a server-initiated close, how long the peer has to answer the close handshake before the
 * socket is cut (on the injected clock). A dead or non-reading peer never answers; without this the
 * socket and its queued output would be held for ws's own 30-second close timeout.
 */
export const CLOSE_GRACE_MS = 5_000;

/**
 * Server-side closes after which the session is over at once, without waiting for the socket to
 * finish closing. Not `shutdown`, `timeout` or `resumed`: after those the client is meant to come
 * back (a resumable session waits for it; the hub ends a silent non-resumable one itself, with its
 * own reason; a resumed one lives on the newer socket).
 */
const ENDS_SESSION: ReadonlySet<CloseReason> = new Set(['slow-consumer', 'policy', 'kicked', 'replaced', 'expired', 'token-expired']);

/**
 * How a connection ended, for a dialect whose sessions can outlive their socket: `clean` when the
 * client closed it with a close frame (it means to leave) or the server closed it for a reason that
 * ends the session; `dropped` when the socket just went (no close frame: 1006), or the server cut it
 * for a reason the client is meant to come back from (heartbeat, drain, a resume elsewhere).
 */
function closeKind(serverReason: CloseReason | undefined, code: number): CloseKind {
  if (serverReason !== undefined) return ENDS_SESSION.has(serverReason) ? 'clean' : 'dropped';
  return code === 1006 ? 'dropped' : 'clean';
}

/** A frame that was refused by the rate limiter while an earlier one was still being handled. */
const RATE_LIMITED = Symbol('rate-limited');

/** What every connection of a server shares: one object per server, not per connection. */
export interface ConnectionDeps {
  hub: Hub;
  metrics: Metrics;
  ctx: DialectContext;
  maxMessageBytes: number;
  /** Deepest nesting of arrays and objects accepted (limits.maxJsonDepth). */
  maxJsonDepth: number;
  maxBufferedBytes: number;
  onClosed: (c: Connection) => void;
  /** Drives the close grace period (absent: no grace timer, ws's own close timeout applies). */
  clock?: Clock;
  /** Where a dialect handler's unexpected failure is logged, at a bounded rate (absent: every time). */
  failures?: FailureLog;
  /** One frame for many sockets (a broadcast's); absent: every frame through `ws.send`. */
  frames?: SharedFrames;
}

/** The hub's handle on a connection: one small object instead of an object and two closures. */
class ConnectionLink implements Link {
  constructor(private readonly conn: Connection) {}
  ping(): void {
    this.conn.ping();
  }
  close(reason: CloseReason): void {
    this.conn.closeFor(reason);
  }
}

/**
 * The socket's listeners are shared by every connection (`this` is the socket; its connection is
 * found through a symbol on it): four closures per connection add up at tens of thousands of idle
 * connections.
 */
const CONN = Symbol('switchboard.connection');
type Owned = WebSocket & { [CONN]: Connection };
const owner = (ws: WebSocket) => (ws as Owned)[CONN];
function onMessage(this: WebSocket, data: Buffer, binary: boolean): void {
  owner(this).onFrame(data, binary);
}
function onPong(this: WebSocket): void {
  owner(this).alive();
}
function onClose(this: WebSocket, code: number): void {
  void owner(this).onClose(code);
}
function onError(this: WebSocket, err: Error): void {
  const conn = owner(this);
  conn.log.debug({ err }, 'socket error');
  // ws closes the socket itself after a protocol error (a frame over maxPayload: 1009; an invalid
  // frame: 1002): the client broke the protocol, which ends its session like a policy close.
  if ((err as { code?: string }).code?.startsWith('WS_ERR_')) conn.protocolError();
}
/** A module-level tick callback, so corking allocates no closure per relayed frame. */
function uncork(conn: Connection, sock: { uncork(): void }): void {
  conn.uncorked();
  sock.uncork();
}

/**
 * One WebSocket and the dialect that speaks on it. Owns framing (JSON parse, size, binary),
 * per-connection ordering (a frame waits for the previous one's async work), liveness and
 * backpressure; everything else is the dialect's and the hub's.
 */
export class Connection implements Conn {
  readonly link: Link;
  session: Session | undefined;
  log: CoreLogger;
  dialect: Dialect;
  private handler: DialectHandler;
  /** Frames waiting behind an async handler; allocated on first use (most connections never wait). */
  private queue: ({ data: Buffer; binary: boolean } | typeof RATE_LIMITED)[] | undefined;
  private busy = false;
  private corked = false;
  private ended = false;
  /** The server closed (or is closing) this connection: inbound frames are ignored. */
  private closing = false;
  private grace: Timer | undefined;
  /** The first reason the server gave for closing this connection, if it did. */
  private closedFor: CloseReason | undefined;
  /** Set once the dialect has been told the connection is over (see endSession). */
  private sessionEnded: Promise<void> | undefined;
  /** When its credentials run out (authentication on; src/security/token-lifetime.ts). */
  readonly lifetime: TokenLifetime | undefined;
  /** The shared frames this socket may take (src/server/shared-frames.ts); undefined: `ws.send` only. */
  private readonly frames: SharedFrames | undefined;

  constructor(
    readonly ws: WebSocket,
    dialect: Dialect,
    public info: UpgradeInfo,
    private readonly deps: ConnectionDeps,
    /** Inbound frame rate limit (absent: unlimited). */
    private readonly limiter?: FrameLimiter,
  ) {
    this.dialect = dialect;
    this.log = new BoundLogger(deps.ctx.log, { dialect: dialect.name, remote: info.remoteAddress });
    this.link = new ConnectionLink(this);
    this.frames = deps.frames?.fits(ws) ? deps.frames : undefined;
    (ws as Owned)[CONN] = this;
    ws.on('message', onMessage);
    ws.on('pong', onPong);
    ws.on('close', onClose);
    ws.on('error', onError);
    this.handler = dialect.accept(this, deps.ctx);
    this.lifetime = TokenLifetime.start(this, deps.ctx, info.identity);
    // Headers and query are for the handshake (gates, admission, the dialect's accept); an idle
    // connection should not keep them alive for hours.
    this.info = { ...info, headers: NO_HEADERS, query: NO_QUERY };
    this.log.info({ path: info.path }, 'connected');
  }

  attach(session: Session): void {
    this.session = session;
    // The session's logger already carries this connection's bindings plus the peer id.
    this.log = session.log;
  }

  /** Relabels the connection; the attached session stays until the new dialect attaches its own. */
  rebind(dialect: Dialect): void {
    this.dialect = dialect;
    this.log = new BoundLogger(this.deps.ctx.log, { dialect: dialect.name, remote: this.info.remoteAddress, ...(this.session ? { peerId: this.session.id } : {}) });
  }

  send(frame: OutFrame): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.write(frame.type, JSON.stringify(frame));
    // Errors told to a client are worth an info line: they are what a user reports.
    if (frame.type === 'error') this.log.info({ error: frame.code ?? frame.error ?? frame.message ?? frame.data }, 'error sent to client');
  }

  sendRaw(type: string, text: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.write(type, text);
  }

  private write(type: string, text: string): void {
    if (this.ws.bufferedAmount + text.length > this.deps.maxBufferedBytes) {
      this.log.warn({ buffered: this.ws.bufferedAmount }, 'slow consumer: outbound queue full, closing');
      this.closeFor('slow-consumer');
      return;
    }
    this.cork();
    if (this.frames) this.frames.send(this.ws, text);
    else this.ws.send(text);
    this.deps.metrics.frameOut(this.dialect.name, type);
  }

  /**
   * Frames sent to one socket within one tick leave in one write: the socket is corked on the first
   * and uncorked on the next tick. The write syscall is most of a relay's cost (see
   * docs/benchmarks.md), and a burst of ICE candidates or a roster fan-out is several frames.
   */
  private cork(): void {
    if (this.corked) return;
    const sock = (this.ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
    if (!sock) return;
    sock.cork();
    this.corked = true;
    process.nextTick(uncork, this, sock);
  }

  /** @internal (the socket's error listener) */
  protocolError(): void {
    this.closing = true;
    this.closedFor ??= 'policy';
  }

  /** @internal (the tick after cork()) */
  uncorked(): void {
    this.corked = false;
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, reason);
  }

  closeFor(reason: CloseReason): void {
    const [code, text] = this.dialect.closeCodes[reason];
    this.deps.metrics.closes.inc({ dialect: this.dialect.name, reason });
    this.closing = true;
    this.lifetime?.stop();
    this.closedFor ??= reason;
    this.close(code, text);
    if (!this.grace && this.deps.clock && !this.ended) this.grace = this.deps.clock.setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS);
    // The decision ends the session now: its rooms must not keep a member that can no longer hear
    // them for the close grace (peer-left late, stale rosters, relays acked and dropped). After the
    // caller's own step: the hub closes a timed-out or replaced session itself, with its reason.
    if (ENDS_SESSION.has(reason)) queueMicrotask(() => void this.endSession('clean'));
  }

  /** Server draining: the server closes this connection in closeInMs; let the dialect tell its client. */
  drain(closeInMs: number): void {
    this.handler.drain?.(closeInMs);
  }

  /** @internal (the lifetime's: the dialect may warn its client) */
  tokenExpiring(expiresAt: number): void {
    this.handler.tokenExpiring?.(expiresAt);
  }

  /** @internal (the link's) */
  ping(): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.ping();
    this.handler.heartbeat?.();
  }

  /** @internal (a pong) */
  alive(): void {
    if (this.session) this.deps.hub.touch(this.session);
  }

  /** @internal (the socket's message listener) */
  onFrame(data: Buffer, binary: boolean): void {
    if (this.ended || this.closing) return;
    this.alive();
    const verdict = this.limiter?.take() ?? 'ok';
    if (verdict === 'abusive') {
      this.log.warn({ limited: this.limiter!.limited }, 'kept sending over the rate limit, closing');
      this.deps.metrics.framesIn.inc({ dialect: this.dialect.name, type: 'rate-limited' });
      this.closeFor('policy');
      return;
    }
    if (this.busy) {
      this.queue ??= [];
      if (this.queue.length >= MAX_QUEUED_FRAMES) {
        this.log.warn({}, 'too many frames queued behind a pending request, closing');
        this.closeFor('policy');
        return;
      }
      this.queue.push(verdict === 'limited' ? RATE_LIMITED : { data, binary });
      return;
    }
    if (verdict === 'limited') this.rateLimited();
    else this.process(data, binary);
  }

  private rateLimited(): void {
    this.deps.metrics.framesIn.inc({ dialect: this.dialect.name, type: 'rate-limited' });
    this.handler.reject('rate-limited', 'Too many messages: slow down (the message was dropped).');
  }

  private process(data: Buffer, binary: boolean): void {
    const name = this.dialect.name;
    if (binary) {
      this.deps.metrics.framesIn.inc({ dialect: name, type: 'binary' });
      this.handler.reject('invalid-message', 'Binary frames are not supported; send JSON text.');
      return;
    }
    if (data.length > this.deps.maxMessageBytes) {
      this.deps.metrics.framesIn.inc({ dialect: name, type: 'oversize' });
      this.handler.reject('message-too-large', `Message of ${data.length} bytes exceeds the limit of ${this.deps.maxMessageBytes}.`);
      return;
    }
    // Before parsing: a frame too deep to re-serialise is never built (see json-depth.ts).
    if (deeperThan(data, this.deps.maxJsonDepth)) {
      this.deps.metrics.framesIn.inc({ dialect: name, type: 'too-deep' });
      this.handler.reject('invalid-message', `Message nests arrays and objects deeper than the limit of ${this.deps.maxJsonDepth} levels.`);
      return;
    }
    let msg: unknown;
    let text: string;
    try {
      text = data.toString('utf8');
      msg = JSON.parse(text);
    } catch {
      this.deps.metrics.framesIn.inc({ dialect: name, type: 'invalid-json' });
      this.handler.reject('invalid-json', 'The frame is not valid JSON.');
      return;
    }
    const t = (msg as { type?: unknown } | null)?.type;
    this.deps.metrics.frameIn(name, typeof t === 'string' && this.dialect.types.has(t) ? t : 'other');
    let r: void | Promise<void>;
    try {
      r = this.handler.message(msg, text);
    } catch (err) {
      this.failed(err, 'dialect handler threw');
      return;
    }
    if (r && typeof (r as Promise<void>).then === 'function') {
      this.busy = true;
      (r as Promise<void>)
        .catch((err) => this.failed(err, 'dialect handler failed'))
        .finally(() => {
          this.busy = false;
          this.drainQueue();
        });
    }
  }

  /** A dialect's bug, or a failure a client may repeat at will: never a stack per frame. */
  private failed(err: unknown, msg: string): void {
    if (this.deps.failures) this.deps.failures.error(this.log, { err }, msg);
    else this.log.error({ err }, msg);
  }

  private drainQueue(): void {
    while (!this.busy && this.queue?.length && !this.ended) {
      const next = this.queue.shift()!;
      if (next === RATE_LIMITED) this.rateLimited();
      else this.process(next.data, next.binary);
    }
  }

  /** The dialect's end of the connection (leaves rooms, closes the session, or keeps it for a resume): once. */
  private endSession(how: CloseKind): Promise<void> {
    return (this.sessionEnded ??= (async () => {
      try {
        await this.handler.closed(how);
      } catch (err) {
        this.log.error({ err }, 'dialect close handler failed');
      }
    })());
  }

  /** @internal (the socket's close listener) */
  async onClose(code = 1005): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.queue = undefined;
    this.grace?.cancel();
    this.lifetime?.stop();
    await this.endSession(closeKind(this.closedFor, code));
    this.log.info({}, 'disconnected');
    this.deps.onClosed(this);
  }
}
