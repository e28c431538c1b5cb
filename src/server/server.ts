import { readFileSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { createServer as createHttpServer, maxHeaderSize, type IncomingMessage, type RequestListener, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
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
import { SharedFrames } from './shared-frames.js';
import { createClientAddress } from '../security/client-address.js';
import { ConnectionCaps } from '../security/connection-caps.js';
import { connectionCap, fdSoftLimit, socketCap } from '../security/fd-limit.js';
import { FrameLimiter } from '../security/frame-limiter.js';
import { readBody, refuseUpgrade, sendJson, sendResponse, sendText } from './http.js';
import { buildGates, type UpgradeGate } from './gates.js';
import { PathRouter, type Match } from './routes.js';
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
  /**
   * @internal One WebSocket frame for all local recipients of a text (src/server/shared-frames.ts):
   * default `SharedFrames.detect()`; null: every frame through `ws.send` (the fallback's tests).
   */
  frames?: SharedFrames | null;
}

export type ServerState = 'idle' | 'starting' | 'ready' | 'draining' | 'stopped';

/** What one entry point serves: WebSocket paths (to their dialect) and HTTP routes by method. */
interface Routes {
  ws: PathRouter<Dialect>;
  byMethod: Map<string, PathRouter<HttpRoute>>;
}

interface Listener {
  http: HttpServer;
  host: string;
  port: number;
}

/** `start()` options (docs/embedding.md). */
export interface StartOptions {
  /**
   * false: open no listener of Switchboard's own (host, port, listeners are ignored); it is served
   * only through `requestHandler`/`upgradeHandler`/`attach` on the host application's server.
   */
  listen?: boolean;
  /**
   * Whether the mounted `upgradeHandler` also takes every WebSocket path no dialect claims (the
   * catch-all of first-frame detected seed dialects), as Switchboard's own listeners do. Default
   * false: a host app's own WebSocket paths are left alone; config `routes` with dialect `auto`
   * names the paths where detection runs.
   */
  catchAll?: boolean;
}

/** Express-compatible middleware and plain request listener (`next` absent: 404 for what is not Switchboard's). */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void;
/** For the host server's 'upgrade' event. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

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
  /** Found once per server: whether this build of ws lets a broadcast share one frame. */
  private readonly frames: SharedFrames | undefined;
  /** The 'close' listener of every TCP socket: one function, `this` is the socket. */
  private readonly socketClosed: (this: Socket) => void;
  /** GET /sdk/* (the browser SDK), /demo (the demo page) and /dashboard (the admin dashboard). */
  private readonly statics = new StaticFiles();
  /** /admin/v1/* and the access rule of /dashboard. */
  readonly admin: AdminApi;
  /** When start() finished (ms epoch, injected clock); 0 before. */
  private startedAt = 0;
  /** What the mounted handlers serve: the main listener's paths, the catch-all only when asked (StartOptions.catchAll). */
  private mount: Routes;
  /**
   * Serves every Switchboard HTTP path (dialect routes, /health, /ready, /metrics, /admin/v1/,
   * /dashboard, /sdk/, /demo) of a request on the host's server; anything else goes to `next()`
   * (Express), or is answered 404 without one. Paths are matched whole (`req.originalUrl` when
   * Express mounted it under a prefix).
   */
  readonly requestHandler: RequestHandler;
  /**
   * The host server's 'upgrade' listener: takes the WebSocket paths Switchboard serves and leaves
   * every other socket alone, unless it is the server's only 'upgrade' listener: then it answers 404
   * and closes, so that a stray upgrade never hangs. Call as the emitter's listener (`this` is the
   * server), or use handleUpgrade() to chain it in a handler of your own.
   */
  readonly upgradeHandler: UpgradeHandler;

  constructor(config: Config, deps: ServerDeps = {}) {
    this.config = config;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the listener's own `this` is the socket
    const server = this;
    this.socketClosed = function (this: Socket) {
      server.sockets.open--;
      server.handshakeDone(this);
    };
    this.requestHandler = (req, res, next) => {
      void this.handleRequest(req, res).then((served) => {
        if (served) return;
        if (next) next();
        else notFound(res);
      });
    };
    this.upgradeHandler = function (this: unknown, req: IncomingMessage, socket: Duplex, head: Buffer) {
      if (server.handleUpgrade(req, socket, head)) return;
      if (this instanceof EventEmitter && this.listenerCount('upgrade') === 1) refuseStray(socket);
    };
    this.clock = deps.clock ?? systemClock;
    this.frames = deps.frames === null ? undefined : (deps.frames ?? SharedFrames.detect());
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
        ? new RedisBackplane({ url: config.redis.url, cluster: config.redis.cluster, nodes: config.redis.nodes, prefix: config.redis.prefix, presenceTtlMs: config.redis.presenceTtlMs, resumeWindowMs: config.resume.windowMs, clock: this.clock, log: this.log, observer: this.metrics, logSource: logTap(this.log) })
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
    this.admin = new AdminApi({ hub: this.hub, backplane, clock: this.clock, log: this.log, access: { token: config.admin.token, auth: this.ctx.auth }, tap: logTap(this.log), version: VERSION, dialects: [...this.dialects.keys()].filter((n) => n !== catchAll.name) });
    // handleProtocols: never answer with a `switchboard.token.<jwt>` subprotocol when another was offered.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: config.limits.maxFrameBytes, clientTracking: false, handleProtocols: selectProtocol });
    const main = { host: config.host, port: config.port, dialect: undefined as string | undefined };
    this.listeners = [main, ...config.listeners].map((l, i) => this.makeListener(l.host ?? config.host, l.port, l.dialect, i));
    this.mount = this.routesFor(undefined, 0, false);
  }

  private dialectByName(name: string, key: string): Dialect {
    const d = this.dialects.get(name);
    if (!d) throw new ConfigError(key, `unknown dialect "${name}" (known: ${[...this.dialects.keys()].join(', ')})`);
    return d;
  }

  /** A listener's paths: one dialect on every path (`pinned`), or the configured routes, every dialect's own paths and (`catchAll`) the rest. */
  private routesFor(pinned: string | undefined, index: number, catchAllPaths: boolean): Routes {
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
      if (catchAllPaths) {
        ws.add('*', catchAll);
        served.add(catchAll);
      }
    }
    const byMethod = new Map<string, PathRouter<HttpRoute>>();
    for (const d of served) {
      for (const r of d.http?.(this.config) ?? []) {
        if (!byMethod.has(r.method)) byMethod.set(r.method, new PathRouter());
        byMethod.get(r.method)!.add(r.path, r);
      }
    }
    return { ws, byMethod };
  }

  private makeListener(host: string, port: number, pinned: string | undefined, index: number): Listener {
    const routes = this.routesFor(pinned, index, true);
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.handshakeDone(req.socket);
      void this.serveRequest(req, res, routes, true).then((served) => served || notFound(res));
    };
    const timeoutMs = this.config.connections.handshakeTimeoutMs;
    const http: HttpServer = this.tls
      ? createHttpsServer({ cert: this.tls.cert, key: this.tls.key, handshakeTimeout: timeoutMs }, handler)
      : createHttpServer(handler);
    // Node's own request deadlines (real time) back up the handshake timer below.
    http.headersTimeout = timeoutMs;
    http.requestTimeout = timeoutMs;
    const listener: Listener = { http, host, port };
    http.on('connection', (socket: Socket) => this.onSocket(socket, !this.tls));
    if (this.tls) http.on('secureConnection', (socket: Socket) => this.startHandshake(socket));
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!this.takeUpgrade(req, socket, head, routes)) refuseStray(socket);
    });
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

  /**
   * Starts the hub, the backplane and the webhooks, then listens on every listener and resolves with
   * the main bound address (port 0 picks a free port). With `listen: false` it opens no listener and
   * resolves with undefined: Switchboard is then served through requestHandler/upgradeHandler/attach.
   */
  start(opts?: StartOptions & { listen?: true }): Promise<{ host: string; port: number }>;
  start(opts: StartOptions & { listen: false }): Promise<undefined>;
  start(opts: StartOptions): Promise<{ host: string; port: number } | undefined>;
  async start(opts: StartOptions = {}): Promise<{ host: string; port: number } | undefined> {
    if (this.state !== 'idle') throw new Error(`cannot start a server that is ${this.state}`);
    const listen = opts.listen !== false;
    this.state = 'starting';
    this.startedAt = this.clock.now();
    if (opts.catchAll !== undefined) this.mount = this.routesFor(undefined, 0, opts.catchAll);
    await this.hub.start();
    await this.webhooks?.start();
    try {
      for (const l of listen ? this.listeners : []) {
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
    if (listen) for (const a of this.addresses()) this.log.info({ host: a.host, port: a.port, version: VERSION }, `switchboard listening on ${a.host}:${a.port}`);
    else this.log.info({ version: VERSION, catchAll: opts.catchAll === true }, 'switchboard started without listeners of its own: served through the host server (requestHandler, upgradeHandler)');
    this.log.info(
      { backplane: this.config.redis.url ? 'redis' : 'memory', node: this.hub.nodeId },
      `endpoints: ${endpoints(this.config, listen || opts.catchAll === true)} · GET /health /ready /metrics · /admin/v1/ (admin API) · /dashboard`,
    );
    return listen ? this.address() : undefined;
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

  /**
   * Serves the request when its path is one of Switchboard's; resolves false, with nothing written,
   * for any other path. For an Express, Fastify or Koa app: docs/embedding.md.
   */
  handleRequest(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    return this.serveRequest(req, res, this.mount, false);
  }

  /**
   * Takes the upgrade when its path is one Switchboard serves (the handshake, its gates and the
   * WebSocket are then Switchboard's) and returns true; returns false, touching nothing, otherwise.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    return this.takeUpgrade(req, socket, head, this.mount);
  }

  /**
   * Wires Switchboard onto a plain `http.Server` (or `https.Server`) of the host application, as
   * socket.io does: its request listener goes first, and the request listeners already there get
   * every request that is not Switchboard's (none there: 404, unless one was added since); its
   * upgradeHandler joins the 'upgrade' listeners. Start it with `start({ listen: false })`;
   * `stop()` drains Switchboard's connections and never closes the host's server.
   */
  attach(server: HttpServer | HttpsServer): this {
    const previous = server.listeners('request') as RequestListener[];
    server.removeAllListeners('request');
    const own: RequestListener = (req, res) => {
      void this.handleRequest(req, res).then((served) => {
        if (served) return;
        for (const l of previous) l.call(server, req, res);
        if (previous.length === 0 && server.listenerCount('request') === 1) notFound(res);
      });
    };
    server.on('request', own);
    server.on('upgrade', this.upgradeHandler);
    return this;
  }

  private async serveRequest(req: IncomingMessage, res: ServerResponse, routes: Routes, standalone: boolean): Promise<boolean> {
    // Express strips the mount path from req.url; Switchboard's paths are whole paths.
    const url = new URL((req as { originalUrl?: string }).originalUrl ?? req.url ?? '/', 'http://x');
    try {
      if (req.method === 'GET' || req.method === 'HEAD') {
        switch (url.pathname) {
          case '/':
            // The root is the host application's when Switchboard is mounted.
            if (!standalone) break;
            sendJson(res, 200, { service: 'switchboard', version: VERSION, ok: true });
            return true;
          case '/health':
            sendJson(res, 200, { ok: true, ts: Math.floor(this.clock.now() / 1000), version: VERSION, node: this.hub.nodeId, state: this.state });
            return true;
          case '/ready': {
            const ready = this.state === 'ready' && this.hub.healthy;
            sendJson(res, ready ? 200 : 503, { ready, state: this.state, backplane: this.hub.healthy ? 'ok' : 'down' });
            return true;
          }
          case '/metrics':
            sendText(res, 200, await this.metrics.registry.metrics(), this.metrics.registry.contentType);
            return true;
        }
      }
      if (await this.admin.handle(req, res, url)) return true;
      if (await this.statics.handle(req, res, url.pathname)) return true;
      const hit = routes.byMethod.get(req.method ?? 'GET')?.match(url.pathname);
      if (hit?.value.creates && !this.httpCreations.take(this.clientAddress(req))) {
        sendJson(res, 429, { error: 'too many rooms created from your address; slow down' });
        return true;
      }
      if (hit) {
        sendResponse(res, await hit.value.handle(httpRequest(req, url, this.clientAddress(req)), hit.params, this.ctx));
        return true;
      }
      if (routes.ws.match(url.pathname, false)) {
        sendJson(res, 426, { error: 'upgrade required: this path is a WebSocket endpoint' });
        return true;
      }
      return false;
    } catch (err) {
      this.log.error({ err }, 'http request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
      return true;
    }
  }

  /** Whether `routes` serve the upgrade's path; if so the handshake is Switchboard's from here on. */
  private takeUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, routes: Routes): boolean {
    const url = new URL(req.url ?? '/', 'http://x');
    const hit = routes.ws.match(url.pathname);
    if (!hit) return false;
    // Not a closure: a listener that lives as long as the socket must not keep this handshake's
    // request, URL and headers alive for the connection's whole life.
    socket.on('error', destroySelf);
    void this.upgrade(req, socket, head, url, hit);
    return true;
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL, hit: Match<Dialect>): Promise<void> {
    if (this.state !== 'ready') return refuseUpgrade(socket, 503, { error: 'server is not accepting connections', state: this.state });
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
      frames: this.frames,
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
function endpoints(config: Config, catchAllPaths: boolean): string {
  const fixed = DIALECTS.flatMap((d) => {
    const paths = d.paths?.(config) ?? [];
    return paths.length ? [`${paths.map((p) => p.replace(/:(\w+)/g, '{$1}')).join(' ')} ${d.name}`] : [];
  });
  const guessed = DIALECTS.filter((d) => d.detect).map((d) => d.name);
  const rest = catchAllPaths ? `any other path: ${guessed.join(', ')} (by first frame)` : 'other paths: left to the host server';
  return [...fixed, ...config.routes.map((r) => `${r.path} ${r.dialect}`), rest].join(' · ');
}

/** An HTTP request as a dialect's route sees it. */
function httpRequest(req: IncomingMessage, url: URL, remoteAddress: string): HttpRequest {
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: url.searchParams,
    headers: req.headers,
    remoteAddress,
    // Mounted behind a body parser, the body may be gone already: say so instead of waiting for it.
    body: (maxBytes) => (req.readableEnded ? Promise.resolve(BODY_TAKEN) : readBody(req, maxBytes)),
  };
}

const BODY_TAKEN = { ok: false as const, status: 500, error: 'The request body was read before Switchboard saw it: mount Switchboard before any body-parsing middleware' };

/** What is not Switchboard's, with nobody else to answer it. */
function notFound(res: ServerResponse): void {
  sendJson(res, 404, { error: 'not found' });
}

/** An upgrade Switchboard does not take, where nobody else would answer it. */
function refuseStray(socket: Duplex): void {
  socket.on('error', destroySelf);
  refuseUpgrade(socket, 404, { error: 'no WebSocket endpoint at this path' });
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

/** `attach()`'s options: the server's deps, and whether it takes the catch-all WebSocket paths too. */
export interface AttachOptions extends ServerDeps {
  catchAll?: boolean;
}

/**
 * Library entry for an existing `http.Server` (as PeerJS's `ExpressPeerServer(server)`): builds a
 * server from a (partial) configuration, attaches it (SwitchboardServer.attach) and starts it
 * without listeners of its own. Resolves once it is ready; stop() drains it, the host server stays.
 */
export async function attach(server: HttpServer | HttpsServer, config: DeepPartial<Config> = {}, opts: AttachOptions = {}): Promise<SwitchboardServer> {
  const { catchAll: all, ...deps } = opts;
  const sb = createServer(config, deps).attach(server);
  await sb.start({ listen: false, catchAll: all === true });
  return sb;
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
