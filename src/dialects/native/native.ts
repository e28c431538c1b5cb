import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TObject } from '@sinclair/typebox';
import { HubError, ERROR_CODES, type ErrorCode } from '../../core/errors.js';
import type { HubEvent, RoomOptions } from '../../core/types.js';
import type { Conn, Dialect, DialectContext, DialectHandler, OutFrame } from '../dialect.js';
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

  accept(conn: Conn, ctx: DialectContext): DialectHandler {
    const { hub, config } = ctx;
    const v = validators(ctx);
    const session = hub.openSession({ dialect: 'native', namespace: 'native', link: conn.link, sink: render, log: conn.log });
    conn.attach(session);

    function render(ev: HubEvent): void {
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

    conn.send({
      type: 'welcome',
      peerId: session.id,
      version: ctx.version,
      protocol: PROTOCOL_VERSION,
      heartbeat: { intervalMs: config.heartbeat.intervalMs, timeoutMs: config.heartbeat.timeoutMs },
      iceServers: config.iceServers,
      limits: {
        maxMessageBytes: config.limits.maxMessageBytes,
        maxFrameBytes: config.limits.maxFrameBytes,
        maxNameLength: config.limits.maxNameLength,
        maxMetaBytes: config.limits.maxMetaBytes,
        maxRoomsPerPeer: config.rooms.maxRoomsPerPeer,
        maxPeersPerRoom: config.rooms.maxPeers,
      },
    });

    return {
      message(msg: unknown): void | Promise<void> {
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
              hub.signal(session, m.to as string, m.data, m.room as string | undefined);
              if (re !== undefined) conn.send({ type: 'ack', re });
            } catch (err) {
              fail(err, re);
            }
            return;
          case 'broadcast':
            try {
              hub.broadcast(session, m.room as string, m.data);
              if (re !== undefined) conn.send({ type: 'ack', re });
            } catch (err) {
              fail(err, re);
            }
            return;
          case 'join': {
            if (m.meta !== undefined && Buffer.byteLength(JSON.stringify(m.meta)) > config.limits.maxMetaBytes) {
              return error('invalid-message', `join: /meta: larger than ${config.limits.maxMetaBytes} bytes`, re);
            }
            return hub
              .join(session, m.room as string, { name: m.name as string | undefined, meta: m.meta })
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
      },
      reject(code, detail) {
        error(code, detail, undefined);
      },
      closed() {
        return hub.closeSession(session, 'disconnect');
      },
      drain() {
        conn.send({ type: 'goaway', reason: 'shutdown', reconnectMs: config.drainTimeoutMs });
      },
    };
  },
};
