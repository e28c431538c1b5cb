import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { MemoryBackplane } from '../backplane/memory.js';
import { loadConfig, validateConfig, type Config, type DeepPartial } from '../config.js';
import type { Backplane } from '../core/backplane.js';
import { systemClock, type Clock } from '../core/clock.js';
import { Hub } from '../core/hub.js';
import type { Dialect, DialectContext, UpgradeInfo } from '../dialects/dialect.js';
import { nativeDialect } from '../dialects/native/native.js';
import { createLogger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { VERSION } from '../version.js';
import { Connection } from './connection.js';
import { refuseUpgrade, remoteAddress, sendJson, sendText } from './http.js';
import { Router, type Route } from './routes.js';

export interface ServerDeps {
  clock?: Clock;
  logger?: Logger;
  backplane?: Backplane;
  /** Extra upgrade routes, consulted before the built-in ones. */
  routes?: Route[];
}

export type ServerState = 'idle' | 'starting' | 'ready' | 'draining' | 'stopped';

/**
 * The composition root: config → clock, logger, metrics, backplane, hub, dialects, HTTP/WebSocket
 * listener. Nothing here is module-level, so one process can run several servers (tests do).
 */
export class SwitchboardServer {
  readonly config: Config;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly hub: Hub;
  readonly connections = new Set<Connection>();
  state: ServerState = 'idle';
  private readonly http: HttpServer;
  private readonly wss: WebSocketServer;
  private readonly router: Router;
  private readonly ctx: DialectContext;
  private stopping: Promise<void> | undefined;
  /** Set while draining: called when the last connection has gone. */
  private onEmpty: (() => void) | undefined;

  constructor(config: Config, deps: ServerDeps = {}) {
    this.config = config;
    this.clock = deps.clock ?? systemClock;
    this.log = deps.logger ?? createLogger({ level: config.logLevel });
    const backplane = deps.backplane ?? new MemoryBackplane();
    this.metrics = new Metrics({
      connections: () => this.countBy((c) => c.dialect.name),
      sessions: () => this.hub.stats().sessionsByDialect,
      rooms: () => this.hub.stats().localRooms,
    });
    this.hub = new Hub({ backplane, clock: this.clock, config, log: this.log, observer: this.metrics });
    this.router = new Router([...(deps.routes ?? []), { path: '/v1', dialect: nativeDialect }]);
    this.ctx = {
      hub: this.hub,
      config,
      clock: this.clock,
      log: this.log,
      version: VERSION,
      countError: (dialect, code) => this.metrics.errors.inc({ dialect, code }),
    };
    this.wss = new WebSocketServer({ noServer: true, maxPayload: config.limits.maxFrameBytes, clientTracking: false });
    this.http = createHttpServer((req, res) => void this.onRequest(req, res));
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    this.http.on('clientError', (_err, socket) => socket.destroy());
  }

  /** Listens; resolves with the bound address (port 0 picks a free port). */
  async start(): Promise<{ host: string; port: number }> {
    if (this.state !== 'idle') throw new Error(`cannot start a server that is ${this.state}`);
    this.state = 'starting';
    await this.hub.start();
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.http.once('error', onError);
      this.http.listen(this.config.port, this.config.host, () => {
        this.http.off('error', onError);
        resolve();
      });
    });
    this.state = 'ready';
    const addr = this.address();
    this.log.info({ host: addr.host, port: addr.port, version: VERSION }, `switchboard listening on ${addr.host}:${addr.port}`);
    return addr;
  }

  address(): { host: string; port: number } {
    const a = this.http.address() as AddressInfo | null;
    return { host: a?.address ?? this.config.host, port: a?.port ?? this.config.port };
  }

  /**
   * Graceful stop: refuse new connections, /ready → 503, tell every client (native: `goaway`),
   * wait up to drainTimeoutMs for them to leave, close the rest (1001), then close the listener.
   */
  stop(opts: { drainTimeoutMs?: number } = {}): Promise<void> {
    this.stopping ??= this.doStop(opts.drainTimeoutMs ?? this.config.drainTimeoutMs);
    return this.stopping;
  }

  private async doStop(drainTimeoutMs: number): Promise<void> {
    this.state = 'draining';
    this.hub.draining = true;
    this.log.info({ connections: this.connections.size, drainTimeoutMs }, 'draining');
    for (const c of this.connections) c.drain();
    if (this.connections.size > 0 && drainTimeoutMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = this.clock.setTimeout(() => done(), drainTimeoutMs);
        const done = () => {
          timer.cancel();
          this.onEmpty = undefined;
          resolve();
        };
        this.onEmpty = done;
      });
    }
    const closing = [...this.connections].map(
      (c) => new Promise<void>((resolve) => {
        c.ws.once('close', () => resolve());
        c.closeFor('shutdown');
        // A peer that never answers the close handshake is cut off.
        setTimeout(() => {
          c.ws.terminate();
          resolve();
        }, 2000).unref();
      }),
    );
    await Promise.all(closing);
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
    });
    await this.hub.stop();
    this.state = 'stopped';
    this.log.info('stopped');
  }

  private countBy(key: (c: Connection) => string): Map<string, number> {
    const m = new Map<string, number>();
    for (const c of this.connections) m.set(key(c), (m.get(key(c)) ?? 0) + 1);
    return m;
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'method not allowed' });
      switch (url.pathname) {
        case '/health':
          return sendJson(res, 200, { ok: true, ts: Math.floor(this.clock.now() / 1000), version: VERSION, node: this.hub.nodeId, state: this.state });
        case '/ready': {
          const ready = this.state === 'ready';
          return sendJson(res, ready ? 200 : 503, { ready, state: this.state });
        }
        case '/metrics':
          return sendText(res, 200, await this.metrics.registry.metrics(), this.metrics.registry.contentType);
        default:
          if (this.router.resolve(url.pathname)) return sendJson(res, 426, { error: 'upgrade required: this path is a WebSocket endpoint' });
          return sendJson(res, 404, { error: 'not found' });
      }
    } catch (err) {
      this.log.error({ err }, 'http request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
    }
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://x');
    if (this.state !== 'ready') return refuseUpgrade(socket, 503, { error: 'server is not accepting connections', state: this.state });
    const dialect = this.router.resolve(url.pathname);
    if (!dialect) return refuseUpgrade(socket, 404, { error: 'no WebSocket endpoint at this path' });
    const info: UpgradeInfo = { path: url.pathname, query: url.searchParams, headers: req.headers, remoteAddress: remoteAddress(req) };
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, dialect, info));
  }

  private accept(ws: import('ws').WebSocket, dialect: Dialect, info: UpgradeInfo): void {
    const conn = new Connection(ws, dialect, info, {
      hub: this.hub,
      metrics: this.metrics,
      ctx: this.ctx,
      maxMessageBytes: this.config.limits.maxMessageBytes,
      maxBufferedBytes: this.config.limits.maxBufferedBytes,
      onClosed: (c) => {
        this.connections.delete(c);
        if (this.connections.size === 0) this.onEmpty?.();
      },
    });
    this.connections.add(conn);
  }
}

/**
 * Library entry: builds a server from a (partial) configuration. Call start() to listen and stop()
 * to drain and close.
 */
export function createServer(config: DeepPartial<Config> = {}, deps: ServerDeps = {}): SwitchboardServer {
  return new SwitchboardServer(loadConfig({ overrides: config }), deps);
}

export { validateConfig };
