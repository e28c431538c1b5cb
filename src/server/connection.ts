import type { Logger } from 'pino';
import WebSocket from 'ws';
import type { Hub } from '../core/hub.js';
import type { Session } from '../core/session.js';
import type { CloseReason, Link } from '../core/types.js';
import type { Conn, Dialect, DialectContext, DialectHandler, OutFrame, UpgradeInfo } from '../dialects/dialect.js';
import type { Metrics } from '../observability/metrics.js';

/** Frames waiting behind an async handler (a join in flight). Past this, the client is abusive. */
const MAX_QUEUED_FRAMES = 1024;

export interface ConnectionDeps {
  hub: Hub;
  metrics: Metrics;
  ctx: DialectContext;
  maxMessageBytes: number;
  maxBufferedBytes: number;
  onClosed: (c: Connection) => void;
}

/**
 * One WebSocket and the dialect that speaks on it. Owns framing (JSON parse, size, binary),
 * per-connection ordering (a frame waits for the previous one's async work), liveness and
 * backpressure; everything else is the dialect's and the hub's.
 */
export class Connection implements Conn {
  readonly link: Link;
  session: Session | undefined;
  log: Logger;
  dialect: Dialect;
  private handler: DialectHandler;
  private queue: { data: Buffer; binary: boolean }[] = [];
  private busy = false;
  private ended = false;

  constructor(
    readonly ws: WebSocket,
    dialect: Dialect,
    readonly info: UpgradeInfo,
    private readonly deps: ConnectionDeps,
  ) {
    this.dialect = dialect;
    this.log = deps.ctx.log.child({ dialect: dialect.name, remote: info.remoteAddress });
    this.link = {
      ping: () => this.ping(),
      close: (reason) => this.closeFor(reason),
    };
    ws.on('message', (data: Buffer, binary: boolean) => this.onFrame(data, binary));
    ws.on('pong', () => this.alive());
    ws.on('close', () => void this.onClose());
    ws.on('error', (err) => this.log.debug({ err }, 'socket error'));
    this.handler = dialect.accept(this, deps.ctx);
    this.log.info({ path: info.path }, 'connected');
  }

  attach(session: Session): void {
    this.session = session;
    this.log = this.deps.ctx.log.child({ dialect: this.dialect.name, remote: this.info.remoteAddress, peerId: session.id });
  }

  /** Relabels the connection; the attached session stays until the new dialect attaches its own. */
  rebind(dialect: Dialect): void {
    this.dialect = dialect;
    this.log = this.deps.ctx.log.child({ dialect: dialect.name, remote: this.info.remoteAddress, ...(this.session ? { peerId: this.session.id } : {}) });
  }

  send(frame: OutFrame): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const text = JSON.stringify(frame);
    if (this.ws.bufferedAmount + text.length > this.deps.maxBufferedBytes) {
      this.log.warn({ buffered: this.ws.bufferedAmount }, 'slow consumer: outbound queue full, closing');
      this.closeFor('slow-consumer');
      return;
    }
    this.ws.send(text);
    this.deps.metrics.framesOut.inc({ dialect: this.dialect.name, type: frame.type });
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, reason);
  }

  closeFor(reason: CloseReason): void {
    const [code, text] = this.dialect.closeCodes[reason];
    this.deps.metrics.closes.inc({ dialect: this.dialect.name, reason });
    this.close(code, text);
  }

  /** Server draining: let the dialect tell its client. */
  drain(): void {
    this.handler.drain?.();
  }

  private ping(): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.ping();
    this.handler.heartbeat?.();
  }

  private alive(): void {
    if (this.session) this.deps.hub.touch(this.session);
  }

  private onFrame(data: Buffer, binary: boolean): void {
    if (this.ended) return;
    this.alive();
    if (this.busy) {
      if (this.queue.length >= MAX_QUEUED_FRAMES) {
        this.log.warn('too many frames queued behind a pending request, closing');
        this.closeFor('policy');
        return;
      }
      this.queue.push({ data, binary });
      return;
    }
    this.process(data, binary);
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
    let msg: unknown;
    try {
      msg = JSON.parse(data.toString('utf8'));
    } catch {
      this.deps.metrics.framesIn.inc({ dialect: name, type: 'invalid-json' });
      this.handler.reject('invalid-json', 'The frame is not valid JSON.');
      return;
    }
    const t = (msg as { type?: unknown } | null)?.type;
    this.deps.metrics.framesIn.inc({ dialect: name, type: typeof t === 'string' && this.dialect.types.has(t) ? t : 'other' });
    let r: void | Promise<void>;
    try {
      r = this.handler.message(msg);
    } catch (err) {
      this.log.error({ err }, 'dialect handler threw');
      return;
    }
    if (r && typeof (r as Promise<void>).then === 'function') {
      this.busy = true;
      (r as Promise<void>)
        .catch((err) => this.log.error({ err }, 'dialect handler failed'))
        .finally(() => {
          this.busy = false;
          this.drainQueue();
        });
    }
  }

  private drainQueue(): void {
    while (!this.busy && this.queue.length && !this.ended) {
      const next = this.queue.shift()!;
      this.process(next.data, next.binary);
    }
  }

  private async onClose(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.queue = [];
    try {
      await this.handler.closed();
    } catch (err) {
      this.log.error({ err }, 'dialect close handler failed');
    }
    this.log.info('disconnected');
    this.deps.onClosed(this);
  }
}
