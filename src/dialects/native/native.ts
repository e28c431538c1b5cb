import { memberSpan } from '../../core/json-span.js';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TObject } from '@sinclair/typebox';
import { displayName, identityPolicyFor } from '../../core/access.js';
import type { Timer } from '../../core/clock.js';
import { HubError, ERROR_CODES, type ErrorCode } from '../../core/errors.js';
import type { HubEvent, RoomOptions } from '../../core/types.js';
import { iceServersFor, turnRefreshMs } from '../../security/turn.js';
import type { Conn, Dialect, DialectContext, DialectHandler, OutFrame } from '../dialect.js';
import { iceServersRoute, identityAlias, identityTaken, validateRoute } from './access.js';
import { PROTOCOL_VERSION, clientSchemas } from './schema.js';

type Id = string | number | undefined;

interface Validators {
  byType: Map<string, TypeCheck<TObject>>;
}

const compiled = new WeakMap<DialectContext['config'], Validators>();

function validators(ctx: DialectContext): Validators {
  let v = compiled.get(ctx.config);
  if (!v) {
    v = { byType: new Map(Object.entries(clientSchemas(ctx.config.limits)).map(([t, s]) => [t, TypeCompiler.Compile(s)])) };
    compiled.set(ctx.config, v);
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
  types: new Set(['join', 'leave', 'signal', 'broadcast', 'create-room', 'ping']),
  closeCodes: {
    shutdown: [1001, 'server shutting down'],
    timeout: [4000, 'heartbeat timeout'],
    replaced: [4001, 'session replaced'],
    'slow-consumer': [4002, 'slow consumer'],
    kicked: [4003, 'kicked'],
    expired: [4003, 'kicked'],
    policy: [4008, 'policy violation'],
  },
  http: [validateRoute, iceServersRoute],

  /** With the `reject` identity policy, a second connection of a connected identity is refused here (409). */
  async admit(info, ctx) {
    const taken = await identityTaken(ctx, info.identity);
    return taken ? { ok: false, status: taken.status, body: { error: taken.reason, message: taken.message } } : { ok: true };
  },

  accept(conn: Conn, ctx: DialectContext): DialectHandler {
    const { hub, config } = ctx;
    const v = validators(ctx);
    const identity = conn.info.identity;
    const session = hub.openSession({ dialect: 'native', namespace: 'native', link: conn.link, sink: render, log: conn.log, identity });
    conn.attach(session);
    let iceTimer: Timer | undefined;

    function render(ev: HubEvent): void {
      if ((ev.type === 'signal' || ev.type === 'broadcast') && ev.raw !== undefined) return conn.sendRaw(ev.type, relayText(ev, ev.raw));
      conn.send(ev);
    }

    function error(code: ErrorCode, message: string, re: Id): void {
      ctx.countError('native', code);
      const frame: OutFrame = { type: 'error', code, message };
      if (re !== undefined) frame.re = re;
      conn.send(frame);
    }

    function fail(err: unknown, re: Id): void {
      if (err instanceof HubError) return error(err.code, err.message, re);
      conn.log.error({ err }, 'request failed');
      error('internal-error', ERROR_CODES['internal-error'], re);
    }

    function reply(frame: OutFrame, re: Id): void {
      conn.send(re === undefined ? frame : { ...frame, re });
    }

    const iceServers = () => iceServersFor(config, session.id, ctx.clock.now(), conn.info.grant?.iceServers);

    function welcome(): void {
      const frame: OutFrame = {
        type: 'welcome',
        peerId: session.id,
        version: ctx.version,
        protocol: PROTOCOL_VERSION,
        heartbeat: { intervalMs: config.heartbeat.intervalMs, timeoutMs: config.heartbeat.timeoutMs },
        iceServers: iceServers(),
        limits: {
          maxMessageBytes: config.limits.maxMessageBytes,
          maxFrameBytes: config.limits.maxFrameBytes,
          maxNameLength: config.limits.maxNameLength,
          maxMetaBytes: config.limits.maxMetaBytes,
          maxRoomsPerPeer: config.rooms.maxRoomsPerPeer,
          maxPeersPerRoom: config.rooms.maxPeers,
        },
      };
      if (identity) {
        const id: Record<string, unknown> = { subject: identity.subject, name: displayName(identity), permissions: identity.permissions };
        if (identity.rooms) id.rooms = identity.rooms;
        frame.identity = id;
      }
      if (conn.info.grant?.metadata) frame.metadata = conn.info.grant.metadata;
      conn.send(frame);
      // TURN credentials expire: fresh ones arrive before they do, for as long as the socket lives.
      if (config.turn.secret) iceTimer = ctx.clock.setInterval(() => conn.send({ type: 'ice-servers', iceServers: iceServers() }), turnRefreshMs(config.turn.ttlSeconds));
    }

    /**
     * A token identity holds a hub alias per the identity policy before anything else happens:
     * `replace` closes an older session (4001), `reject` refuses this one (error, then 4008).
     * Frames that arrive meanwhile wait for it.
     */
    const policy = identity ? identityPolicyFor(config.identity, 'native') : 'allow';
    let ready: Promise<boolean> | undefined;
    if (identity && policy !== 'allow') {
      ready = hub.claimAlias(session, identityAlias(identity), policy).then(
        () => {
          ready = undefined;
          if (!session.closed) welcome();
          return !session.closed;
        },
        (err: unknown) => {
          if (session.closed) return false;
          if (err instanceof HubError && err.code === 'identity-taken') {
            error('identity-taken', `Identity ${identity.subject.slice(0, 64)} is already connected (identity policy: reject).`, undefined);
            conn.close(4008, 'identity taken');
          } else {
            conn.log.error({ err }, 'identity claim failed');
            error('internal-error', ERROR_CODES['internal-error'], undefined);
            conn.close(1011, 'internal error');
          }
          return false;
        },
      );
    } else {
      welcome();
    }

    /** The client's own text of `data`, forwarded as is (valid JSON: it passed JSON.parse). */
    function rawData(text: string): string | undefined {
      const span = memberSpan(text, 'data');
      return span && text.slice(span[0], span[1]);
    }

    function handle(msg: unknown, text: string): void | Promise<void> {
        if (typeof msg !== 'object' || msg === null || Array.isArray(msg) || typeof (msg as { type?: unknown }).type !== 'string') {
          return error('invalid-message', 'A message must be a JSON object with a string "type".', undefined);
        }
        const m = msg as { type: string; id?: unknown } & Record<string, unknown>;
        const re: Id = typeof m.id === 'string' || (typeof m.id === 'number' && Number.isInteger(m.id)) ? m.id : undefined;
        const check = v.byType.get(m.type);
        if (!check) return error('unknown-type', `Unknown message type: ${m.type.slice(0, 64)}`, re);
        if (!check.Check(msg)) return error('invalid-message', `${m.type}: ${firstError(check, m)}`, re);

        switch (m.type) {
          case 'ping':
            return reply({ type: 'pong', ts: typeof m.ts === 'number' ? m.ts : ctx.clock.now() }, re);
          case 'signal':
            try {
              hub.signal(session, m.to as string, m.data, m.room as string | undefined, rawData(text));
              if (re !== undefined) conn.send({ type: 'ack', re });
            } catch (err) {
              fail(err, re);
            }
            return;
          case 'broadcast':
            try {
              hub.broadcast(session, m.room as string, m.data, false, rawData(text));
              if (re !== undefined) conn.send({ type: 'ack', re });
            } catch (err) {
              fail(err, re);
            }
            return;
          case 'join': {
            if (m.meta !== undefined && Buffer.byteLength(JSON.stringify(m.meta)) > config.limits.maxMetaBytes) {
              return error('invalid-message', `join: /meta: larger than ${config.limits.maxMetaBytes} bytes`, re);
            }
            // A token's name is the name: a client cannot present itself as someone else.
            const name = identity ? displayName(identity) : (m.name as string | undefined);
            return hub
              .join(session, m.room as string, { name, meta: m.meta })
              .then((r) => reply({ type: 'joined', room: r.room, peers: r.peers }, re), (err) => fail(err, re));
          }
          case 'leave':
            return hub.leave(session, m.room as string).then(() => reply({ type: 'left', room: m.room }, re), (err) => fail(err, re));
          case 'create-room':
            return hub
              .createRoom(session, { options: m.options as RoomOptions | undefined })
              .then((room) => reply({ type: 'room-created', room }, re), (err) => fail(err, re));
          default:
            return error('unknown-type', 'Unknown message type.', re);
        }
    }

    return {
      message(msg: unknown, text: string): void | Promise<void> {
        const waiting = ready;
        return waiting ? waiting.then((ok) => (ok ? handle(msg, text) : undefined)) : handle(msg, text);
      },
      reject(code, detail) {
        error(code, detail, undefined);
      },
      closed() {
        iceTimer?.cancel();
        iceTimer = undefined;
        return hub.closeSession(session, 'disconnect');
      },
      drain() {
        conn.send({ type: 'goaway', reason: 'shutdown', reconnectMs: config.drainTimeoutMs });
      },
    };
  },
};

/**
 * A relay frame around the sender's own `data` text. Every byte outside `raw` is written here from
 * the server's state; nothing else of the client's frame (its `to`, `id`, a forged `from`, `room`
 * or `type`, extra fields) is copied. `raw` is one complete JSON value (it was a member of a document
 * JSON.parse accepted), so it cannot close the object early or add keys. The text is memoised per
 * event object (a pure cache, no observable state) so a broadcast's recipients share one string.
 */
const relayTexts = new WeakMap<object, string>();
function relayText(ev: { type: 'signal' | 'broadcast'; from: string; room: string }, raw: string): string {
  let text = relayTexts.get(ev);
  if (text === undefined) {
    text = `{"type":"${ev.type}","from":${JSON.stringify(ev.from)},"room":${JSON.stringify(ev.room)},"data":${raw}}`;
    relayTexts.set(ev, text);
  }
  return text;
}
