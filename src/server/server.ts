import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, maxHeaderSize, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { MemoryBackplane } from '../backplane/memory.js';
import { RedisBackplane } from '../backplane/redis.js';
import { ConfigError, loadConfig, type Config, type DeepPartial } from '../config.js';
import type { Backplane } from '../core/backplane.js';
import { systemClock, type Clock, type Timer } from '../core/clock.js';
import { Hub } from '../core/hub.js';
import { FailureLog } from '../core/failure-log.js';
import type { Dialect, DialectContext, HttpRequest, HttpRoute, UpgradeInfo } from '../dialects/dialect.js';
import { builtinDialects, catchAll, DIALECTS } from '../dialects/registry.js';
import { createLogger, logTap } from '../observability/logger.js';
import { AdminApi } from '../admin/api.js';
import { nodeStatus } from '../admin/status.js';
import { Metrics } from '../observability/metrics.js';
import { Authenticator, selectProtocol } from '../security/auth.js';
import { VERSION } from '../version.js';
import { Connection, type ConnectionDeps } from './connection.js';
import { createClientAddress } from '../security/client-address.js';
import { ConnectionCaps } from '../security/connection-caps.js';
import { connectionCap, fdSoftLimit, socketCap } from '../security/fd-limit.js';
import { FrameLimiter } from '../security/frame-limiter.js';
import { readBody, refuseUpgrade, sendJson, sendResponse, sendText } from './http.js';
import { buildGates, type UpgradeGate } from './gates.js';
import { PathRouter } from './routes.js';
import { StaticFiles } from './static.js';
import { AddressBuckets } from '../security/address-buckets.js';
import { buildWebhooks } from '../webhooks/build.js';
import type { Webhooks } from '../webhooks/webhooks.js';

/** After the drain window, how long (real time) closed sockets get to finish their close handshake. */
export const SHUTDOWN_CLOSE_GUARD_MS = 2_000;

export interface ServerDeps {
  clock?: Clock;
  logger?: Logger;
  backplane?: Backplane;
  /** Extra dialects (by name) that config `routes` and `listeners` may name. */
  dialects?: Dialect[];
}

export type ServerState = 'idle' | 'starting' | 'ready' | 'draining' | 'stopped';

interface Listener {
  http: HttpServer;
  host: string;
  port: number;
  ws: PathRouter<Dialect>;
  httpRoutes: PathRouter<HttpRoute>[];
}

/**
 * The composition root: config → clock, logger, metrics, backplane, hub, dialects, HTTP/WebSocket
 * listeners. Nothing here is module-level, so one process can run several servers (tests do).
 */
export class SwitchboardServer {
  readonly config: Config;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly hub: Hub;
  /** Lifecycle webhooks, when webhooks.url is set. */
  readonly webhooks: Webhooks | undefined;
  readonly connections = new Set<Connection>();
  /** WebSocket connection counts and caps (node and per IP), enforced at the handshake. */
  readonly caps: ConnectionCaps;
  /** Open TCP sockets on every listener, and the count past which new ones are dropped unanswered. */
  readonly sockets = { open: 0, max: Infinity };
  state: ServerState = 'idle';
  private readonly listeners: Listener[];
  private readonly wss: WebSocketServer;
  private readonly ctx: DialectContext;
  private readonly dialects: Map<string, Dialect>;
  private readonly gates: UpgradeGate[];
  private stopping: Promise<void> | undefined;
  private readonly clientAddress: (req: IncomingMessage) => string;
  /** Room creations over HTTP, per client address (rateLimits.httpCreatesPerSecond). */
  private readonly httpCreations: AddressBuckets;
  private readonly tls: { cert: Buffer; key: Buffer } | undefined;
  /** Sockets that have not completed a request or an upgrade yet, with their handshake deadline. */
  private readonly handshakes = new Map<Socket, Timer>();
  /** Set while draining: called when the last connection has gone. */
  private onEmpty: (() => void) | undefined;
  /** Shared by every connection (see connectionDeps). */
  private deps: ConnectionDeps | undefined;
  /** The 'close' listener of every TCP socket: one function, `this` is the socket. */
  private readonly socketClosed: (this: Socket) => void;
  /** GET /sdk/* (the browser SDK), /demo (the demo page) and /dashboard (the admin dashboard). */
  private readonly statics = new StaticFiles();
  /** /admin/v1/* and the access rule of /dashboard. */
  readonly admin: AdminApi;
  /** When start() finished (ms epoch, injected clock); 0 before. */
  private startedAt = 0;

  constructor(config: Config, deps: ServerDeps = {}) {
    this.config = config;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the listener's own `this` is the socket
    const server = this;
    this.socketClosed = function (this: Socket) {
      server.sockets.open--;
      server.handshakeDone(this);
    };
    this.clock = deps.clock ?? systemClock;
    this.log = deps.logger ?? createLogger({ level: config.logLevel });
    this.dialects = new Map(builtinDialects);
    for (const d of deps.dialects ?? []) this.dialects.set(d.name, d);
    this.metrics = new Metrics({
      connections: () => this.countBy((c) => c.dialect.name),
      sessions: () => this.hub.stats().sessionsByDialect,
      rooms: () => this.hub.stats().localRooms,
      webhooksQueued: () => this.webhooks?.queued ?? 0,
    });
    const backplane: Backplane =
      deps.backplane ??
      (config.redis.url
        ? new RedisBackplane({ url: config.redis.url, prefix: config.redis.prefix, presenceTtlMs: config.redis.presenceTtlMs, resumeWindowMs: config.resume.windowMs, clock: this.clock, log: this.log, observer: this.metrics, logSource: logTap(this.log) })
        : new MemoryBackplane());
    backplane.setStatus(() =>
      nodeStatus({
        nodeId: backplane.nodeId,
        version: VERSION,
        state: this.state,
        startedAt: this.startedAt,
        now: this.clock.now(),
        connectionsByDialect: this.countBy((c) => c.dialect.name),
        sessions: this.hub.sessions.size,
        rooms: this.hub.stats().localRooms,
        framesIn: this.metrics.totals.framesIn,
        joins: this.metrics.totals.joins,
        logsDropped: backplane.logs?.dropped ?? 0,
      }),
    );
    this.webhooks = buildWebhooks(config, { clock: this.clock, log: this.log, observer: this.metrics, version: VERSION });
    this.hub = new Hub({ backplane, clock: this.clock, config, log: this.log, observer: this.metrics, lifecycle: this.webhooks });
    this.ctx = {
      hub: this.hub,
      config,
      clock: this.clock,
      log: this.log,
      version: VERSION,
      countError: (dialect, code) => this.metrics.errors.inc({ dialect, code }),
      auth: new Authenticator(config.auth, { clock: this.clock, log: this.log }),
    };
    const fds = fdSoftLimit();
    this.caps = new ConnectionCaps({ maxPerNode: connectionCap(config.connections.maxPerNode, fds), maxPerIp: config.connections.maxPerIp });
    this.sockets.max = socketCap(this.caps.opts.maxPerNode, fds);
    if (config.connections.maxPerNode > this.caps.opts.maxPerNode) {
      this.log.warn({ configured: config.connections.maxPerNode, fdSoftLimit: fds, effective: this.caps.opts.maxPerNode }, 'connections.maxPerNode lowered to fit the file-descriptor limit');
    }
    this.clientAddress = createClientAddress(config);
    this.httpCreations = new AddressBuckets(this.clock, config.rateLimits.httpCreatesPerSecond, config.rateLimits.httpCreateBurst);
    this.tls = config.tls.cert ? { cert: readTlsFile(config.tls.cert, 'tls.cert'), key: readTlsFile(config.tls.key, 'tls.key') } : undefined;
    this.gates = buildGates({ config, caps: this.caps });
    this.admin = new AdminApi({ hub: this.hub, backplane, clock: this.clock, log: this.log, access: { token: config.admin.token, auth: this.ctx.auth }, tap: logTap(this.log), version: VERSION });
    // handleProtocols: never answer with a `switchboard.token.<jwt>` subprotocol when another was offered.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: config.limits.maxFrameBytes, clientTracking: false, handleProtocols: selectProtocol });
    const main = { host: config.host, port: config.port, dialect: undefined as string | undefined };
    this.listeners = [main, ...config.listeners].map((l, i) => this.makeListener(l.host ?? config.host, l.port, l.dialect, i));
  }

  private dialectByName(name: string, key: string): Dialect {
    const d = this.dialects.get(name);
    if (!d) throw new ConfigError(key, `unknown dialect "${name}" (known: ${[...this.dialects.keys()].join(', ')})`);
    return d;
  }

  private makeListener(host: string, port: number, pinned: string | undefined, index: number): Listener {
    const ws = new PathRouter<Dialect>();
    const served = new Set<Dialect>();
    if (pinned !== undefined) {
      const d = this.dialectByName(pinned, `listeners.${index - 1}.dialect`);
      ws.add('*', d);
      served.add(d);
    } else {
      this.config.routes.forEach((r, i) => {
        const d = this.dialectByName(r.dialect, `routes.${i}.dialect`);
        ws.add(r.path, d);
        served.add(d);
      });
      for (const d of DIALECTS) {
        for (const path of d.paths?.(this.config) ?? []) {
          ws.add(path, d);
          served.add(d);
        }
      }
      ws.add('*', catchAll);
      served.add(catchAll);
    }
    const byMethod = new Map<string, PathRouter<HttpRoute>>();
    for (const d of served) {
      for (const r of d.http?.(this.config) ?? []) {
        if (!byMethod.has(r.method)) byMethod.set(r.method, new PathRouter());
        byMethod.get(r.method)!.add(r.path, r);
      }
    }
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.handshakeDone(req.socket);
      void this.onRequest(req, res, byMethod, ws);
    };
    const timeoutMs = this.config.connections.handshakeTimeoutMs;
    const http: HttpServer = this.tls
      ? createHttpsServer({ cert: this.tls.cert, key: this.tls.key, handshakeTimeout: timeoutMs }, handler)
      : createHttpServer(handler);
    // Node's own request deadlines (real time) back up the handshake timer below.
    http.headersTimeout = timeoutMs;
    http.requestTimeout = timeoutMs;
    const listener: Listener = { http, host, port, ws, httpRoutes: [...byMethod.values()] };
    http.on('connection', (socket: Socket) => this.onSocket(socket, !this.tls));
    if (this.tls) http.on('secureConnection', (socket: Socket) => this.startHandshake(socket));
    http.on('upgrade', (req, socket, head) => void this.onUpgrade(req, socket, head, listener));
    http.on('clientError', clientError);
    // accept() can still fail (EMFILE from elsewhere in the process): log it, never crash.
    http.on('error', (err) => {
      if (this.state !== 'starting') this.log.error({ err }, 'listener error');
    });
    return listener;
  }

  /**
   * Every TCP connection on every listener. Past the socket cap it is dropped at once: answering
   * would need descriptors the process is about to run out of. Others get a handshake deadline
   * (for TLS, once its TLS handshake is done; Node's handshakeTimeout bounds that part).
   */
  private onSocket(socket: Socket, plain: boolean): void {
    if (this.sockets.open >= this.sockets.max) {
      socket.destroy();
      return;
    }
    this.sockets.open++;
    socket.on('close', this.socketClosed);
    if (plain) this.startHandshake(socket);
  }

  private startHandshake(socket: Socket): void {
    if (socket.destroyed) return;
    const timer = this.clock.setTimeout(() => {
      this.handshakes.delete(socket);
      this.log.debug({ remote: socket.remoteAddress }, 'handshake timeout: dropping the connection');
      socket.destroy();
    }, this.config.connections.handshakeTimeoutMs);
    this.handshakes.set(socket, timer);
    if (this.tls) socket.once('close', () => this.handshakeDone(socket));
  }

  /** The socket sent a whole request, or its upgrade was accepted, or it closed. */
  private handshakeDone(socket: Duplex): void {
    const t = this.handshakes.get(socket as Socket);
    if (!t) return;
    t.cancel();
    this.handshakes.delete(socket as Socket);
  }

  /** Listens on every listener; resolves with the main bound address (port 0 picks a free port). */
  async start(): Promise<{ host: string; port: number }> {
    if (this.state !== 'idle') throw new Error(`cannot start a server that is ${this.state}`);
    this.state = 'starting';
    this.startedAt = this.clock.now();
    await this.hub.start();
    await this.webhooks?.start();
    try {
      for (const l of this.listeners) {
        await new Promise<void>((resolve, reject) => {
          const onError = (err: Error) => reject(err);
          l.http.once('error', onError);
          l.http.listen(l.port, l.host, () => {
            l.http.off('error', onError);
            resolve();
          });
        });
      }
    } catch (err) {
      for (const l of this.listeners) l.http.close();
      await this.hub.stop();
      await this.webhooks?.stop(0);
      this.state = 'stopped';
      throw err;
    }
    this.state = 'ready';
    this.admin.start();
    for (const a of this.addresses()) this.log.info({ host: a.host, port: a.port, version: VERSION }, `switchboard listening on ${a.host}:${a.port}`);
    this.log.info(
      { backplane: this.config.redis.url ? 'redis' : 'memory', node: this.hub.nodeId },
      `endpoints: ${endpoints(this.config)} · GET /health /ready /metrics · /admin/v1/ (admin API) · /dashboard`,
    );
    return this.address();
  }

  /** The main listener's bound address. */
  address(): { host: string; port: number } {
    return this.addresses()[0]!;
  }

  addresses(): { host: string; port: number }[] {
    return this.listeners.map((l) => {
      const a = l.http.address() as AddressInfo | null;
      return { host: a?.address ?? l.host, port: a?.port ?? l.port };
    });
  }

  /**
   * Graceful stop: refuse new connections, /ready → 503, give every connection its own moment in
   * the drain window and close it then (1001; native clients hear the moment in `goaway`), finish
   * early once all have left, then close the listeners. Resolves within drainTimeoutMs plus the
   * close guard (SHUTDOWN_CLOSE_GUARD_MS) and the backplane's stop.
   */
  stop(opts: { drainTimeoutMs?: number } = {}): Promise<void> {
    this.stopping ??= this.doStop(opts.drainTimeoutMs ?? this.config.drainTimeoutMs);
    return this.stopping;
  }

  private async doStop(drainTimeoutMs: number): Promise<void> {
    const deadline = this.clock.now() + drainTimeoutMs;
    this.state = 'draining';
    this.hub.draining = true;
    this.admin.stop();
    this.log.info({ connections: this.connections.size, drainTimeoutMs }, 'draining');
    const spread = this.spreadCloses(drainTimeoutMs);
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
    spread.cancel();
    await this.closeRemaining();
    await Promise.all(
      this.listeners.map(
        (l) =>
          new Promise<void>((resolve) => {
            if (!l.http.listening) return resolve();
            l.http.close(() => resolve());
            l.http.closeAllConnections();
          }),
      ),
    );
    await this.hub.stop();
    // After the hub: the peer.left and room.finished of its last sessions are queued too.
    await this.webhooks?.stop(Math.max(0, deadline - this.clock.now()));
    this.state = 'stopped';
    this.log.info('stopped');
  }

  /**
   * Spreads the drain so that clients do not all reconnect in one burst. The window is cut into one
   * equal slot per connection and each connection gets a moment drawn uniformly within its own slot
   * (stratified jitter: as random as uniform draws, without their clumps). A native client hears its
   * moment as `goaway.reconnectMs`; every connection still open at its moment is closed then (1001).
   * One timer walks the schedule, which is in time order by construction.
   */
  private spreadCloses(windowMs: number): Timer {
    const conns = [...this.connections];
    const start = this.clock.now();
    const slot = windowMs / conns.length;
    const at = conns.map((c, i) => {
      const ms = Math.floor((i + Math.random()) * slot);
      c.drain(ms);
      return ms;
    });
    let next = 0;
    let timer: Timer | undefined;
    const due = () => {
      const elapsed = this.clock.now() - start;
      for (; next < conns.length && at[next]! <= elapsed; next++) {
        const c = conns[next]!;
        if (c.ws.readyState === c.ws.OPEN) c.closeFor('shutdown');
      }
      if (next < conns.length) timer = this.clock.setTimeout(due, at[next]! - elapsed);
    };
    if (windowMs > 0) due();
    return { cancel: () => timer?.cancel() };
  }

  /**
   * The end of the window: closes what is still open (connections accepted during the drain, or a
   * zero window) and waits for every socket to go; a peer that never answers the close handshake is
   * cut after SHUTDOWN_CLOSE_GUARD_MS (a guard in real time, not behaviour).
   */
  private async closeRemaining(): Promise<void> {
    const left = [...this.connections];
    for (const c of left) if (c.ws.readyState === c.ws.OPEN) c.closeFor('shutdown');
    const closing = left.filter((c) => c.ws.readyState !== c.ws.CLOSED);
    if (closing.length === 0) return;
    await new Promise<void>((resolve) => {
      let open = closing.length;
      const guard = setTimeout(() => {
        for (const c of closing) c.ws.terminate();
        resolve();
      }, SHUTDOWN_CLOSE_GUARD_MS);
      guard.unref();
      const closed = () => {
        if (--open > 0) return;
        clearTimeout(guard);
        resolve();
      };
      for (const c of closing) c.ws.once('close', closed);
    });
  }

  private countBy(key: (c: Connection) => string): Map<string, number> {
    const m = new Map<string, number>();
    for (const c of this.connections) m.set(key(c), (m.get(key(c)) ?? 0) + 1);
    return m;
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse, routes: Map<string, PathRouter<HttpRoute>>, ws: PathRouter<Dialect>): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    try {
      if (req.method === 'GET' || req.method === 'HEAD') {
        switch (url.pathname) {
          case '/':
            return sendJson(res, 200, { service: 'switchboard', version: VERSION, ok: true });
          case '/health':
            return sendJson(res, 200, { ok: true, ts: Math.floor(this.clock.now() / 1000), version: VERSION, node: this.hub.nodeId, state: this.state });
          case '/ready': {
            const ready = this.state === 'ready' && this.hub.healthy;
            return sendJson(res, ready ? 200 : 503, { ready, state: this.state, backplane: this.hub.healthy ? 'ok' : 'down' });
          }
          case '/metrics':
            return sendText(res, 200, await this.metrics.registry.metrics(), this.metrics.registry.contentType);
        }
      }
      if (await this.admin.handle(req, res, url)) return;
      if (await this.statics.handle(req, res, url.pathname)) return;
      const hit = routes.get(req.method ?? 'GET')?.match(url.pathname);
      if (hit?.value.creates && !this.httpCreations.take(this.clientAddress(req))) {
        return sendJson(res, 429, { error: 'too many rooms created from your address; slow down' });
      }
      if (hit) return sendResponse(res, await hit.value.handle(httpRequest(req, url, this.clientAddress(req)), hit.params, this.ctx));
      if (ws.match(url.pathname, false)) return sendJson(res, 426, { error: 'upgrade required: this path is a WebSocket endpoint' });
      return sendJson(res, 404, { error: 'not found' });
    } catch (err) {
      this.log.error({ err }, 'http request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    }
  }

  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, l: Listener): Promise<void> {
    // Not a closure: a listener that lives as long as the socket must not keep this handshake's
    // request, URL and headers alive for the connection's whole life.
    socket.on('error', destroySelf);
    const url = new URL(req.url ?? '/', 'http://x');
    if (this.state !== 'ready') return refuseUpgrade(socket, 503, { error: 'server is not accepting connections', state: this.state });
    const hit = l.ws.match(url.pathname);
    if (!hit) return refuseUpgrade(socket, 404, { error: 'no WebSocket endpoint at this path' });
    const dialect = hit.value;
    const info: UpgradeInfo = { path: url.pathname, params: hit.params, query: url.searchParams, headers: req.headers, remoteAddress: this.clientAddress(req), dialect: dialect.name };
    const room = dialect.roomFromPath?.(info);
    if (room !== undefined) info.room = room;
    try {
      for (const gate of this.gates) {
        const ok = await gate(req, info, this.ctx);
        if (!ok.ok) return refuseUpgrade(socket, ok.status, ok.body);
      }
      if (dialect.admit) {
        const ok = await dialect.admit(info, this.ctx);
        if (!ok.ok) return refuseUpgrade(socket, ok.status, ok.body);
      }
    } catch (err) {
      this.log.error({ err, dialect: dialect.name }, 'admission check failed');
      return refuseUpgrade(socket, 500, { error: 'internal error' });
    }
    if (socket.destroyed) return;
    this.handshakeDone(socket);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, dialect, info));
  }

  /** What every connection shares: built once, so an idle connection does not carry its own copy. */
  private connectionDeps(): ConnectionDeps {
    return (this.deps ??= {
      hub: this.hub,
      metrics: this.metrics,
      ctx: this.ctx,
      maxMessageBytes: this.config.limits.maxMessageBytes,
      maxJsonDepth: this.config.limits.maxJsonDepth,
      maxBufferedBytes: this.config.limits.maxBufferedBytes,
      clock: this.clock,
      failures: new FailureLog(this.clock),
      onClosed: (c) => {
        this.connections.delete(c);
        if (this.connections.size === 0) this.onEmpty?.();
      },
    });
  }

  private accept(ws: WebSocket, dialect: Dialect, info: UpgradeInfo): void {
    let conn: Connection;
    try {
      conn = new Connection(ws, dialect, info, this.connectionDeps(), new FrameLimiter(this.clock, this.config.rateLimits));
    } catch (err) {
      this.log.error({ err, dialect: dialect.name }, 'dialect failed to accept a connection');
      ws.close(1011, 'internal error');
      return;
    }
    this.connections.add(conn);
  }
}

/** The startup log's list of WebSocket endpoints: each dialect's paths, then the catch-all's candidates. */
function endpoints(config: Config): string {
  const fixed = DIALECTS.flatMap((d) => {
    const paths = d.paths?.(config) ?? [];
    return paths.length ? [`${paths.map((p) => p.replace(/:(\w+)/g, '{$1}')).join(' ')} ${d.name}`] : [];
  });
  const guessed = DIALECTS.filter((d) => d.detect).map((d) => d.name);
  return [...fixed, `any other path: ${guessed.join(', ')} (by first frame)`].join(' · ');
}

/** An HTTP request as a dialect's route sees it. */
function httpRequest(req: IncomingMessage, url: URL, remoteAddress: string): HttpRequest {
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: url.searchParams,
    headers: req.headers,
    remoteAddress,
    body: (maxBytes) => readBody(req, maxBytes),
  };
}

function readTlsFile(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(key, `cannot read ${path}: ${(err as Error).message}`);
  }
}

/**
 * Library entry: builds a server from a (partial) configuration. Call start() to listen and stop()
 * to drain and close.
 */
export function createServer(config: DeepPartial<Config> = {}, deps: ServerDeps = {}): SwitchboardServer {
  return new SwitchboardServer(loadConfig({ overrides: config }), deps);
}

/**
 * A request Node's parser refused before any handler saw it. The client hears why (431 for headers
 * over Node's `maxHeaderSize`, e.g. a huge token; 400 for a malformed request) instead of a bare
 * TCP reset; a socket already gone is just destroyed.
 */
function clientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    refuseUpgrade(socket, 431, { error: 'request headers too large', maxHeaderBytes: maxHeaderSize });
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    refuseUpgrade(socket, 408, { error: 'request timeout' });
  } else {
    refuseUpgrade(socket, 400, { error: 'bad request' });
  }
}

function destroySelf(this: Duplex): void {
  this.destroy();
}
