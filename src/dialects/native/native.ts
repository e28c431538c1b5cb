import { frameTypeOf, memberText } from '../../core/json-span.js';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TObject } from '@sinclair/typebox';
import { AccessPolicy, displayName, policyFor, type Identity } from '../../core/access.js';
import type { ResumeOutcome } from '../../core/hub.js';
import type { LogEntry } from '../../core/replay-log.js';
import type { ResumeError } from '../../core/resume-tokens.js';
import type { Handoff } from '../../core/backplane.js';
import type { Timer } from '../../core/clock.js';
import { HubError, ERROR_CODES, type ErrorCode } from '../../core/errors.js';
import { FailureLog } from '../../core/failure-log.js';
import type { Session } from '../../core/session.js';
import type { HubEvent, RoomOptions } from '../../core/types.js';
import { iceServersFor, turnRefreshMs } from '../../security/turn.js';
import type { CloseKind, Conn, Dialect, DialectContext, DialectHandler, OutFrame } from '../dialect.js';
import { IDENTITY, iceServersRoute, identityAlias, identityTaken, validateRoute } from './access.js';
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
  /** The line that carries each resumable session now: a resume moves a session to a new line. */
  lines: WeakMap<Session, NativeLine>;
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
      lines: new WeakMap(),
    };
    perServer.set(ctx.config, v);
    // Relays and room events to stored sessions are rendered by the publishing node, exactly as render() would.
    ctx.hub.setRenderer('native', (ev) => ((ev.type === 'signal' || ev.type === 'broadcast') && ev.raw !== undefined ? relayText(ev, ev.raw) : JSON.stringify(ev)));
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
  types: new Set(['join', 'leave', 'signal', 'broadcast', 'create-room', 'ping', 'received', 'refresh-token']),
  closeCodes: {
    shutdown: [1001, 'server shutting down'],
    timeout: [4000, 'heartbeat timeout'],
    replaced: [4001, 'session replaced'],
    'slow-consumer': [4002, 'slow consumer'],
    kicked: [4003, 'kicked'],
    expired: [4003, 'kicked'],
    policy: [4008, 'policy violation'],
    resumed: [4004, 'session resumed on another connection'],
    'token-expired': [4005, 'token expired'],
  },
  paths: () => ['/v1'],
  http: () => [validateRoute, iceServersRoute],
  identity: IDENTITY,

  /** With the `reject` identity policy, a second connection of a connected identity is refused here (409). */
  async admit(info, ctx) {
    // A resume brings its own session, which holds the identity already; should the resume fail,
    // the fresh session's claim applies the policy.
    if (info.query.has('resume')) return { ok: true };
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
  private session!: Session;
  private readonly identity: Identity | undefined;
  private readonly v: Shared;
  private iceTimer: Timer | undefined;
  /** Set while a token identity's claim is pending: frames wait for it (false: refused). */
  private ready: Promise<boolean> | undefined;
  /** Why this connection's resume failed (told in its welcome), if it asked for one. */
  private resumeError: ResumeError | undefined;

  constructor(
    private readonly conn: Conn,
    private readonly ctx: DialectContext,
  ) {
    this.v = shared(ctx);
    const identity = conn.info.identity;
    this.identity = identity;
    const token = conn.info.query.get('resume');
    let failed: ResumeError | undefined;
    if (token !== null && ctx.hub.storesSessions) {
      // Through the shared store (a cluster): frames wait for the outcome, as for an identity claim.
      this.ready = this.resumeStored(token, conn.info.query.get('seq'));
      return;
    }
    if (token !== null) {
      const got = this.resumeFrom(token, conn.info.query.get('seq'));
      if (got.ok) {
        this.session = got.session;
        conn.attach(this.session);
        this.welcome({ token: got.token, missed: got.missed });
        return;
      }
      failed = got.error;
    }
    this.fresh(failed);
  }

  /** A new session (no resume asked, or it failed with `failed`). */
  private fresh(failed: ResumeError | undefined): Promise<boolean> | undefined {
    const { ctx, conn, identity } = this;
    this.session = ctx.hub.openSession({ dialect: 'native', namespace: 'native', link: conn.link, sink: (ev) => this.render(ev), log: conn.log, identity, address: conn.info.remoteAddress, resumable: true });
    this.v.lines.set(this.session, this);
    this.session.frames = this.writer(this.session);
    conn.attach(this.session);
    this.resumeError = failed;
    /*
     * A token identity holds a hub alias per the identity policy before anything else happens:
     * `replace` closes an older session (4001), `reject` refuses this one (error, then 4008).
     */
    const policy = identity ? policyFor(ctx.config.identity, 'native', IDENTITY) : 'allow';
    if (identity && policy !== 'allow') return (this.ready = this.claim(identity, policy));
    this.welcome();
    return undefined;
  }

  /** A stored session's frames go to the line that carries it now. */
  private writer(s: Session): (seq: number, text: string) => void {
    return (seq, text) => (this.v.lines.get(s) ?? this).conn.sendRaw(frameTypeOf(text), withSeq(seq, text));
  }

  /** A resume through the shared store; on failure, a fresh session says why in its welcome. */
  private async resumeStored(token: string, seqParam: string | null): Promise<boolean> {
    const seq = seqParam === null ? NaN : Number(seqParam);
    let error: ResumeError = 'invalid-resume';
    if (/^[A-Za-z0-9_-]{1,64}$/.test(token) && Number.isSafeInteger(seq) && seq >= 0 && /^\d+$/.test(seqParam ?? '')) {
      const got = await this.ctx.hub.resumeAnywhere(token, seq, this.conn.link, (ev) => this.render(ev), this.identity?.subject, this.conn.log);
      if (got.ok) {
        const s = (this.session = got.session);
        this.v.lines.set(s, this);
        if (this.identity) s.access = new AccessPolicy(this.identity);
        this.conn.attach(s);
        this.ready = undefined;
        this.welcome({ token: got.token, missed: got.missed });
        s.frames = this.writer(s);
        this.ctx.hub.flushFrames(s);
        return true;
      }
      error = got.error;
    }
    this.ready = undefined;
    const claim = this.fresh(error);
    return claim ? claim : true;
  }

  /** Takes over the session a resume token names (`/v1?resume=<token>&seq=<last seq received>`). */
  private resumeFrom(token: string, seqParam: string | null): ResumeOutcome {
    const { hub } = this.ctx;
    const seq = seqParam === null ? NaN : Number(seqParam);
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(token) || !Number.isSafeInteger(seq) || seq < 0 || !/^\d+$/.test(seqParam ?? '')) return { ok: false, error: 'invalid-resume' };
    const got = hub.resume(token, seq, this.conn.link, (ev) => this.render(ev), this.identity?.subject);
    if (got.ok) {
      this.v.lines.set(got.session, this);
      // The token just verified is the one that speaks for the session now.
      if (this.identity) got.session.access = new AccessPolicy(this.identity);
    }
    return got;
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
    if (ev.type === 'signal' && ev.raw !== undefined) return this.relay(ev, ev.raw, relayText(ev, ev.raw));
    if (ev.type === 'broadcast' && ev.raw !== undefined) {
      let text = this.v.broadcastTexts.get(ev);
      if (text === undefined) this.v.broadcastTexts.set(ev, (text = relayText(ev, ev.raw)));
      return this.relay(ev, ev.raw, text);
    }
    this.send(ev);
  }

  /**
   * A relay: like `out`, but the numbered text is built around `raw` with its seq in place, never
   * as `withSeq` of the kept text: slicing that text (a rope around the client's bytes) would copy
   * the whole frame once more before the socket copies it again. The numbered text is what is kept
   * (hub.recordNumbered), so a relay is built once.
   */
  private relay(ev: { type: 'signal' | 'broadcast'; from: string; room: string }, raw: string, text: string): void {
    const s = this.session;
    if (!s.resume || s.resume.durable) return this.out(ev.type, text);
    const numbered = this.ctx.hub.recordNumbered(s, (seq) => relayText(ev, raw, seq), seqPrefixLength);
    if (numbered === undefined || !s.attached) return;
    (this.v.lines.get(s) ?? this).conn.sendRaw(ev.type, numbered);
  }

  /** Every frame after the welcome: numbered and kept when the session is resumable. */
  private send(frame: OutFrame): void {
    this.out(frame.type, JSON.stringify(frame));
  }

  /**
   * A resumable session's frame gets the next `seq` and is kept until acknowledged, then goes to
   * the line that carries the session now (a reply to a request made on a socket since taken over
   * goes to its successor), unless the session has no socket: then it waits for a resume.
   */
  private out(type: string, text: string): void {
    const s = this.session;
    if (!s.resume) return this.conn.sendRaw(type, text);
    const seq = this.ctx.hub.record(s, text);
    if (seq === undefined || !s.attached) return;
    (this.v.lines.get(s) ?? this).conn.sendRaw(type, withSeq(seq, text));
  }

  private error(code: ErrorCode, message: string, re: Id): void {
    this.ctx.countError('native', code);
    const frame: OutFrame = { type: 'error', code, message };
    if (re !== undefined) frame.re = re;
    this.conn.log.info({ error: code }, 'error sent to client');
    this.send(frame);
  }

  private fail(err: unknown, re: Id): void {
    if (err instanceof HubError) return this.error(err.code, err.message, re);
    this.v.failures.error(this.conn.log, { err }, 'request failed');
    this.error('internal-error', ERROR_CODES['internal-error'], re);
  }

  /**
   * `ack` means handed on: at once when the relay was delivered on this node, else once the
   * backplane knows (an `unavailable` error if it was not, with or without `re`: never silence).
   * The promise is not returned to the connection, so the next frame need not wait for Redis;
   * replies to relays that left the node may thus follow replies to later frames (matched by `re`).
   */
  private handedOn(out: Handoff, re: Id): void {
    if (out === undefined) {
      if (re !== undefined) this.send({ type: 'ack', re });
      return;
    }
    if (re === undefined) out.catch((err: unknown) => this.fail(err, undefined));
    else out.then(() => this.send({ type: 'ack', re }), (err: unknown) => this.fail(err, re));
  }

  private reply(frame: OutFrame, re: Id): void {
    this.send(re === undefined ? frame : { ...frame, re });
  }

  private iceServers(): unknown {
    return iceServersFor(this.ctx.config, this.session.id, this.ctx.clock.now(), this.conn.info.grant?.iceServers);
  }

  /** The welcome: unnumbered, first on every socket; after a resume, then the frames it missed. */
  private welcome(resumed?: { token: string; missed: LogEntry<string>[] }): void {
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
    const r = this.session.resume;
    if (r) frame.resume = { token: resumed?.token ?? r.tokens[0], windowMs: config.resume.windowMs };
    if (resumed) frame.resumed = true;
    else if (this.resumeError) {
      frame.resumed = false;
      frame.resumeError = this.resumeError;
    }
    this.conn.send(frame);
    for (const e of resumed?.missed ?? []) this.conn.sendRaw('replay', numbered(e.seq, e.item));
    // TURN credentials expire: fresh ones arrive before they do, for as long as the socket lives.
    if (config.turn.secret) {
      this.iceTimer = this.ctx.clock.setInterval(() => this.send({ type: 'ice-servers', iceServers: this.iceServers() }), turnRefreshMs(config.turn.ttlSeconds));
    }
  }

  message(msg: unknown, text: string): void | Promise<void> {
    const waiting = this.ready;
    return waiting ? waiting.then((ok) => (ok ? this.handle(msg, text) : undefined)) : this.handle(msg, text);
  }

  reject(code: ErrorCode, detail: string): void {
    this.error(code, detail, undefined);
  }

  /**
   * The socket is gone. A clean close leaves at once; a dropped socket of a resumable session
   * leaves it waiting for a resume (resume.windowMs); a line whose session moved on changes nothing.
   */
  closed(how: CloseKind = 'clean'): void | Promise<void> {
    if (this.ready && !this.session) return this.ready.then(() => this.closed(how));
    this.iceTimer?.cancel();
    this.iceTimer = undefined;
    const s = this.session;
    if (s.resume && this.v.lines.get(s) !== this) return;
    if (s.resume && how === 'dropped') return this.ctx.hub.detach(s);
    return this.ctx.hub.closeSession(s, 'disconnect');
  }

  /** Before `welcome` (an identity claim pending), the warning waits for it: welcome is always first. */
  tokenExpiring(expiresAt: number): void {
    const frame = { type: 'token-expiring', expiresAt };
    if (this.ready) void this.ready.then((ok) => ok && this.send(frame));
    else this.send(frame);
  }

  /** closeInMs is this connection's own moment in the drain window (the server spreads them). */
  drain(closeInMs: number): void {
    if (!this.session) return; // a resume still being looked up: its welcome comes first
    this.send({ type: 'goaway', reason: 'shutdown', reconnectMs: closeInMs });
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
        // Thrown refusals (peer-not-found, …) are answered by handle().
        this.handedOn(hub.signal(session, m.to as string, m.data, m.room as string | undefined, memberText(text, 'data')), re);
        return;
      case 'broadcast':
        this.handedOn(hub.broadcast(session, m.room as string, m.data, false, memberText(text, 'data')), re);
        return;
      case 'received':
        // Acknowledges frames up to seq: nothing is sent back (a reply would be a frame to acknowledge).
        hub.acknowledge(session, m.seq as number);
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
        return refreshToken(this.ctx, this.conn, session, m.token as string, re, (f) => this.send(f));
      default:
        return this.error('unknown-type', 'Unknown message type.', re);
    }
  }
}


/** A frame with its seq first: `{"seq":N,` and the rest of the rendered frame. */
function withSeq(seq: number, text: string): string {
  return `{"seq":${seq},${text.slice(1)}`;
}

/** What numbering adds to a frame's text: `"seq":N,`. */
function seqPrefixLength(seq: number): number {
  let digits = 1;
  for (let n = seq; n >= 10; n = Math.floor(n / 10)) digits++;
  return 7 + digits;
}

/** A kept frame as sent: relays are kept numbered already (hub.recordNumbered), every other frame gets its seq now. */
function numbered(seq: number, text: string): string {
  return text.startsWith('{"seq":') ? text : withSeq(seq, text);
}


/**
 * A relay frame around the sender's own `data` text. Every byte outside `raw` is written here from
 * the server's state; nothing else of the client's frame (its `to`, `id`, a forged `from`, `room`
 * or `type`, extra fields) is copied. `raw` is one complete JSON value (it was a member of a document
 * JSON.parse accepted), so it cannot close the object early or add keys. With `seq`, the frame is
 * numbered (`{"seq":N,"type":…`), exactly as `withSeq` would number the unnumbered text.
 */
function relayText(ev: { type: 'signal' | 'broadcast'; from: string; room: string }, raw: string, seq?: number): string {
  const head = seq === undefined ? '{' : `{"seq":${seq},`;
  return `${head}"type":"${ev.type}","from":${JSON.stringify(ev.from)},"room":${JSON.stringify(ev.room)},"data":${raw}}`;
}
