import { memberSpan } from '../../core/json-span.js';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TObject } from '@sinclair/typebox';
import { displayName, identityPolicyFor, type Identity } from '../../core/access.js';
import type { Timer } from '../../core/clock.js';
import { HubError, ERROR_CODES, type ErrorCode } from '../../core/errors.js';
import { FailureLog } from '../../core/failure-log.js';
import type { Session } from '../../core/session.js';
import type { HubEvent, RoomOptions } from '../../core/types.js';
import { iceServersFor, turnRefreshMs } from '../../security/turn.js';
import type { Conn, Dialect, DialectContext, DialectHandler, OutFrame } from '../dialect.js';
import { iceServersRoute, identityAlias, identityTaken, validateRoute } from './access.js';
import { refreshToken } from './refresh.js';
import { PROTOCOL_VERSION, clientSchemas } from './schema.js';

type Id = string | number | undefined;
type Request = { type: string; id?: unknown } & Record<string, unknown>;

/** What every native connection of one server shares: compiled validators, broadcast texts. */
interface Shared {
  byType: Map<string, TypeCheck<TObject>>;
  /** The frame text of a broadcast event, built once for all its recipients. */
  broadcastTexts: WeakMap<object, string>;
  /** Requests that failed unexpectedly: a client may repeat one at will, so the log is rate-bound. */
  failures: FailureLog;
}

/** Keyed by the server's config object, so servers in one process never share anything. */
const perServer = new WeakMap<DialectContext['config'], Shared>();

function shared(ctx: DialectContext): Shared {
  let v = perServer.get(ctx.config);
  if (!v) {
    v = {
      byType: new Map(Object.entries(clientSchemas(ctx.config.limits)).map(([t, s]) => [t, TypeCompiler.Compile(s)])),
      broadcastTexts: new WeakMap(),
      failures: new FailureLog(ctx.clock),
    };
    perServer.set(ctx.config, v);
  }
  return v;
}

function firstError(check: TypeCheck<TObject>, value: unknown): string {
  const e = check.Errors(value).First();
  if (!e) return ERROR_CODES['invalid-message'];
  return `${e.path || '/'}: ${e.message}`;
}

/** The native protocol v1 at /v1: typed messages, request ids, typed errors. See docs/protocol.md. */
export const nativeDialect: Dialect = {
  name: 'native',
  types: new Set(['join', 'leave', 'signal', 'broadcast', 'create-room', 'ping', 'refresh-token']),
  closeCodes: {
    shutdown: [1001, 'server shutting down'],
    timeout: [4000, 'heartbeat timeout'],
    replaced: [4001, 'session replaced'],
    'slow-consumer': [4002, 'slow consumer'],
    kicked: [4003, 'kicked'],
    expired: [4003, 'kicked'],
    policy: [4008, 'policy violation'],
    'token-expired': [4005, 'token expired'],
  },
  http: [validateRoute, iceServersRoute],

  /** With the `reject` identity policy, a second connection of a connected identity is refused here (409). */
  async admit(info, ctx) {
    const taken = await identityTaken(ctx, info.identity);
    return taken ? { ok: false, status: taken.status, body: { error: taken.reason, message: taken.message } } : { ok: true };
  },

  accept(conn: Conn, ctx: DialectContext): DialectHandler {
    return new NativeLine(conn, ctx);
  },
};

/**
 * One native connection. A class rather than a closure per handler: an idle connection then costs
 * one object, not a dozen function objects (see docs/benchmarks.md, idle capacity).
 */
class NativeLine implements DialectHandler {
  private readonly session: Session;
  private readonly identity: Identity | undefined;
  private readonly v: Shared;
  private iceTimer: Timer | undefined;
  /** Set while a token identity's claim is pending: frames wait for it (false: refused). */
  private ready: Promise<boolean> | undefined;

  constructor(
    private readonly conn: Conn,
    private readonly ctx: DialectContext,
  ) {
    this.v = shared(ctx);
    const identity = conn.info.identity;
    this.identity = identity;
    this.session = ctx.hub.openSession({ dialect: 'native', namespace: 'native', link: conn.link, sink: (ev) => this.render(ev), log: conn.log, identity, address: conn.info.remoteAddress });
    conn.attach(this.session);
    /*
     * A token identity holds a hub alias per the identity policy before anything else happens:
     * `replace` closes an older session (4001), `reject` refuses this one (error, then 4008).
     */
    const policy = identity ? identityPolicyFor(ctx.config.identity, 'native') : 'allow';
    if (identity && policy !== 'allow') this.ready = this.claim(identity, policy);
    else this.welcome();
  }

  private claim(identity: Identity, policy: 'reject' | 'replace'): Promise<boolean> {
    const { session, conn } = this;
    return this.ctx.hub.claimAlias(session, identityAlias(identity), policy).then(
      () => {
        this.ready = undefined;
        if (!session.closed) this.welcome();
        return !session.closed;
      },
      (err: unknown) => {
        if (session.closed) return false;
        if (err instanceof HubError && err.code === 'identity-taken') {
          this.error('identity-taken', `Identity ${identity.subject.slice(0, 64)} is already connected (identity policy: reject).`, undefined);
          conn.close(4008, 'identity taken');
        } else {
          conn.log.error({ err }, 'identity claim failed');
          this.error('internal-error', ERROR_CODES['internal-error'], undefined);
          conn.close(1011, 'internal error');
        }
        return false;
      },
    );
  }

  private render(ev: HubEvent): void {
    if (ev.type === 'signal' && ev.raw !== undefined) return this.conn.sendRaw('signal', relayText(ev, ev.raw));
    if (ev.type === 'broadcast' && ev.raw !== undefined) {
      let text = this.v.broadcastTexts.get(ev);
      if (text === undefined) this.v.broadcastTexts.set(ev, (text = relayText(ev, ev.raw)));
      return this.conn.sendRaw('broadcast', text);
    }
    this.conn.send(ev);
  }

  private error(code: ErrorCode, message: string, re: Id): void {
    this.ctx.countError('native', code);
    const frame: OutFrame = { type: 'error', code, message };
    if (re !== undefined) frame.re = re;
    this.conn.send(frame);
  }

  private fail(err: unknown, re: Id): void {
    if (err instanceof HubError) return this.error(err.code, err.message, re);
    this.v.failures.error(this.conn.log, { err }, 'request failed');
    this.error('internal-error', ERROR_CODES['internal-error'], re);
  }

  private reply(frame: OutFrame, re: Id): void {
    this.conn.send(re === undefined ? frame : { ...frame, re });
  }

  private iceServers(): unknown {
    return iceServersFor(this.ctx.config, this.session.id, this.ctx.clock.now(), this.conn.info.grant?.iceServers);
  }

  private welcome(): void {
    const { config } = this.ctx;
    const identity = this.identity;
    const frame: OutFrame = {
      type: 'welcome',
      peerId: this.session.id,
      version: this.ctx.version,
      protocol: PROTOCOL_VERSION,
      heartbeat: { intervalMs: config.heartbeat.intervalMs, timeoutMs: config.heartbeat.timeoutMs },
      iceServers: this.iceServers(),
      limits: {
        maxMessageBytes: config.limits.maxMessageBytes,
        maxFrameBytes: config.limits.maxFrameBytes,
        maxNameLength: config.limits.maxNameLength,
        maxMetaBytes: config.limits.maxMetaBytes,
        maxJsonDepth: config.limits.maxJsonDepth,
        maxRoomsPerPeer: config.rooms.maxRoomsPerPeer,
        maxPeersPerRoom: config.rooms.maxPeers,
      },
    };
    if (identity) {
      const id: Record<string, unknown> = { subject: identity.subject, name: displayName(identity), permissions: identity.permissions };
      if (identity.rooms) id.rooms = identity.rooms;
      frame.identity = id;
    }
    if (this.conn.info.grant?.metadata) frame.metadata = this.conn.info.grant.metadata;
    this.conn.send(frame);
    // TURN credentials expire: fresh ones arrive before they do, for as long as the socket lives.
    if (config.turn.secret) {
      this.iceTimer = this.ctx.clock.setInterval(() => this.conn.send({ type: 'ice-servers', iceServers: this.iceServers() }), turnRefreshMs(config.turn.ttlSeconds));
    }
  }

  message(msg: unknown, text: string): void | Promise<void> {
    const waiting = this.ready;
    return waiting ? waiting.then((ok) => (ok ? this.handle(msg, text) : undefined)) : this.handle(msg, text);
  }

  reject(code: ErrorCode, detail: string): void {
    this.error(code, detail, undefined);
  }

  closed(): Promise<void> {
    this.iceTimer?.cancel();
    this.iceTimer = undefined;
    return this.ctx.hub.closeSession(this.session, 'disconnect');
  }

  /** Before `welcome` (an identity claim pending), the warning waits for it: welcome is always first. */
  tokenExpiring(expiresAt: number): void {
    const frame = { type: 'token-expiring', expiresAt };
    if (this.ready) void this.ready.then((ok) => ok && this.conn.send(frame));
    else this.conn.send(frame);
  }

  /** closeInMs is this connection's own moment in the drain window (the server spreads them). */
  drain(closeInMs: number): void {
    this.conn.send({ type: 'goaway', reason: 'shutdown', reconnectMs: closeInMs });
  }

  /** Every request gets a reply: an unexpected failure (thrown or rejected) is an `internal-error` with its `re`. */
  private handle(msg: unknown, text: string): void | Promise<void> {
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg) || typeof (msg as { type?: unknown }).type !== 'string') {
      return this.error('invalid-message', 'A message must be a JSON object with a string "type".', undefined);
    }
    const m = msg as Request;
    const re: Id = typeof m.id === 'string' || (typeof m.id === 'number' && Number.isInteger(m.id)) ? m.id : undefined;
    try {
      return this.request(m, text, re)?.catch((err: unknown) => this.fail(err, re));
    } catch (err) {
      this.fail(err, re);
    }
  }

  private request(m: Request, text: string, re: Id): void | Promise<void> {
    const { hub, config } = this.ctx;
    const session = this.session;
    const check = this.v.byType.get(m.type);
    if (!check) return this.error('unknown-type', `Unknown message type: ${m.type.slice(0, 64)}`, re);
    if (!check.Check(m as unknown)) return this.error('invalid-message', `${m.type}: ${firstError(check, m)}`, re);

    switch (m.type) {
      case 'ping':
        return this.reply({ type: 'pong', ts: typeof m.ts === 'number' ? m.ts : this.ctx.clock.now() }, re);
      case 'signal':
        hub.signal(session, m.to as string, m.data, m.room as string | undefined, rawData(text));
        if (re !== undefined) this.conn.send({ type: 'ack', re });
        return;
      case 'broadcast':
        hub.broadcast(session, m.room as string, m.data, false, rawData(text));
        if (re !== undefined) this.conn.send({ type: 'ack', re });
        return;
      case 'join': {
        if (m.meta !== undefined && Buffer.byteLength(JSON.stringify(m.meta)) > config.limits.maxMetaBytes) {
          return this.error('invalid-message', `join: /meta: larger than ${config.limits.maxMetaBytes} bytes`, re);
        }
        // A token's name is the name: a client cannot present itself as someone else (the latest token's, after a refresh).
        const identity = session.access?.identity;
        const name = identity ? displayName(identity) : (m.name as string | undefined);
        return hub.join(session, m.room as string, { name, meta: m.meta }).then((r) => this.reply({ type: 'joined', room: r.room, peers: r.peers }, re));
      }
      case 'leave':
        return hub.leave(session, m.room as string).then(() => this.reply({ type: 'left', room: m.room }, re));
      case 'create-room':
        return hub.createRoom(session, { options: m.options as RoomOptions | undefined }).then((room) => this.reply({ type: 'room-created', room }, re));
      case 'refresh-token':
        return refreshToken(this.ctx, this.conn, session, m.token as string, re);
      default:
        return this.error('unknown-type', 'Unknown message type.', re);
    }
  }
}

/** The client's own text of `data`, forwarded as is (valid JSON: it passed JSON.parse). */
function rawData(text: string): string | undefined {
  const span = memberSpan(text, 'data');
  return span && text.slice(span[0], span[1]);
}

/**
 * A relay frame around the sender's own `data` text. Every byte outside `raw` is written here from
 * the server's state; nothing else of the client's frame (its `to`, `id`, a forged `from`, `room`
 * or `type`, extra fields) is copied. `raw` is one complete JSON value (it was a member of a document
 * JSON.parse accepted), so it cannot close the object early or add keys.
 */
function relayText(ev: { type: 'signal' | 'broadcast'; from: string; room: string }, raw: string): string {
  return `{"type":"${ev.type}","from":${JSON.stringify(ev.from)},"room":${JSON.stringify(ev.room)},"data":${raw}}`;
}
