import type { ServerResponse } from 'node:http';
import type { Backplane } from '../core/backplane.js';
import type { Clock, Timer } from '../core/clock.js';
import type { CoreLogger } from '../core/session.js';
import type { LogTap } from '../observability/logger.js';
import type { History, RateMeter } from './status.js';
import { roomDetail, type ClusterViews } from './views.js';

/** Rooms a snapshot carries at most (with `"truncated":true` past it). */
export const SNAPSHOT_ROOMS = 200;
export const SNAPSHOT_INTERVAL_MS = 1_000;
export const PING_INTERVAL_MS = 15_000;
/** Lines of each node's log sent when a stream opens. */
export const LOG_BACKLOG_LINES = 200;
/** Bytes a stream may have waiting for its client; past it the client is too slow and the stream ends. */
export const MAX_STREAM_BUFFER_BYTES = 1024 * 1024;

export interface EventStreamDeps {
  clock: Clock;
  views: ClusterViews;
  rates: RateMeter;
  history: History;
  backplane: Backplane;
  tap: LogTap | undefined;
  log: CoreLogger;
}

interface Client {
  res: ServerResponse;
  logs: boolean;
  /** Live log events held back while the backlog is being gathered (then sent after it). */
  held?: string[];
}

/**
 * GET /admin/v1/events: the dashboard's live feed as Server-Sent Events (docs/operations.md,
 * "Admin API"). One snapshot loop and one log subscription serve every open stream: a snapshot
 * is built once a second (on the injected clock) for all of them, and each log line is rendered once.
 */
export class EventStreams {
  private readonly clients = new Set<Client>();
  private ticker: Timer | undefined;
  private pinger: Timer | undefined;
  private building = false;
  private untap: (() => void) | undefined;
  private unwatch: (() => void) | undefined;
  private closed = false;

  constructor(private readonly d: EventStreamDeps) {}

  get size(): number {
    return this.clients.size;
  }

  /** One snapshot of the cluster (the first of a stream carries the history too). */
  async snapshot(withHistory: boolean): Promise<Record<string, unknown>> {
    const [nodes, rooms] = await Promise.all([this.d.views.nodes(), this.d.views.rooms(undefined, SNAPSHOT_ROOMS)]);
    const rates = this.d.rates.update(nodes);
    let connections = 0;
    let peers = 0;
    const byDialect: Record<string, number> = {};
    for (const n of nodes) {
      connections += n.connections ?? 0;
      peers += n.sessions ?? 0;
      for (const [d, c] of Object.entries(n.connectionsByDialect ?? {})) byDialect[d] = (byDialect[d] ?? 0) + c;
    }
    const out: Record<string, unknown> = {
      ts: this.d.clock.now(),
      nodes,
      rooms: rooms.rooms.map((r) => roomDetail(r.rec, r.members)),
      totals: { connections, connectionsByDialect: byDialect, rooms: rooms.total, peers },
      rates,
    };
    if (rooms.total > rooms.rooms.length) out.truncated = true;
    if (withHistory) out.history = this.d.history.list();
    return out;
  }

  /**
   * Starts a stream on `res`. The first snapshot is built before anything is written, so a store
   * that is down is an ordinary 503 rather than a stream that says nothing.
   */
  async open(res: ServerResponse, logs: boolean, headers: Record<string, string>): Promise<void> {
    const first = await this.snapshot(true);
    if (this.closed || res.destroyed) return void res.end();
    res.writeHead(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.flushHeaders();
    const client: Client = { res, logs };
    if (logs) client.held = [];
    this.clients.add(client);
    res.on('close', () => this.drop(client));
    this.send(client, event('snapshot', JSON.stringify(first)));
    this.ticker ??= this.d.clock.setInterval(() => void this.tick(), SNAPSHOT_INTERVAL_MS);
    this.pinger ??= this.d.clock.setInterval(() => this.broadcast(': ping\n\n', false), PING_INTERVAL_MS);
    if (logs) await this.startLogs(client);
  }

  /** The server drains: every stream ends (clients reconnect to another node). */
  closeAll(): void {
    this.closed = true;
    for (const c of [...this.clients]) c.res.end();
    this.stopIfIdle();
  }

  private async tick(): Promise<void> {
    if (this.building || this.clients.size === 0) return;
    this.building = true;
    try {
      const snap = await this.snapshot(false);
      this.broadcast(event('snapshot', JSON.stringify(snap)), false);
    } catch (err) {
      this.d.log.debug({ err: err instanceof Error ? err.message : err }, 'admin snapshot skipped');
    } finally {
      this.building = false;
    }
  }

  /** Lines already logged (this node's and every other's), then the live ones. */
  private async startLogs(client: Client): Promise<void> {
    const self = this.d.backplane.nodeId;
    if (!this.d.tap) {
      const line = JSON.stringify({ level: 40, time: new Date(this.d.clock.now()).toISOString(), node: self, msg: "no log lines to stream: this server's logger was not made by createLogger (an embedder's own logger has no tap)" });
      this.send(client, event('log', line));
      client.held = undefined;
      return;
    }
    this.untap ??= this.d.tap.subscribe((line) => this.onLine(self, line));
    // Watching before asking: the others' next presence check then agrees that someone watches.
    if (this.d.backplane.logs) this.unwatch ??= this.d.backplane.logs.watch((node, line) => this.onLine(node, line));
    const backlog: { node: string; line: string }[] = this.d.tap.recent(LOG_BACKLOG_LINES).map((line) => ({ node: self, line }));
    if (this.d.backplane.logs) {
      const others = (await this.d.views.nodes().catch(() => [])).filter((n) => !n.self);
      const replies = await Promise.all(others.map((n) => this.d.backplane.ask(n.id, { op: 'logs', args: { lines: LOG_BACKLOG_LINES } }).then((r) => ({ node: n.id, r }))));
      for (const { node, r } of replies) if (r.ok && Array.isArray(r.value)) for (const line of r.value) if (typeof line === 'string') backlog.push({ node, line });
    }
    const rendered = backlog.map((b) => logEvent(b.node, b.line));
    rendered.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    for (const r of rendered) this.send(client, r.text);
    const held = client.held ?? [];
    client.held = undefined;
    for (const text of held) this.send(client, text);
  }

  /** Runs inside a log write (for this node's lines): must not log synchronously. */
  private onLine(node: string, line: string): void {
    let text: string | undefined;
    for (const c of this.clients) {
      if (!c.logs) continue;
      text ??= logEvent(node, line).text;
      if (c.held) c.held.push(text);
      else this.send(c, text);
    }
  }

  private broadcast(text: string, logsOnly: boolean): void {
    for (const c of this.clients) if (!logsOnly || c.logs) this.send(c, text);
  }

  private send(c: Client, text: string): void {
    if (c.res.destroyed || c.res.writableEnded) return;
    c.res.write(text);
    if (c.res.writableLength > MAX_STREAM_BUFFER_BYTES) {
      c.res.end();
      this.drop(c);
      setImmediate(() => this.d.log.warn({ bufferedBytes: MAX_STREAM_BUFFER_BYTES }, 'admin event stream ended: its client does not keep up'));
    }
  }

  private drop(c: Client): void {
    if (!this.clients.delete(c)) return;
    this.stopIfIdle();
  }

  private stopIfIdle(): void {
    if (![...this.clients].some((c) => c.logs)) {
      this.untap?.();
      this.untap = undefined;
      this.unwatch?.();
      this.unwatch = undefined;
    }
    if (this.clients.size > 0) return;
    this.ticker?.cancel();
    this.ticker = undefined;
    this.pinger?.cancel();
    this.pinger = undefined;
  }
}

function event(name: string, data: string): string {
  return `event: ${name}\ndata: ${data}\n\n`;
}

/** A log line as its event: the pino object plus the node that logged it (a line that is not JSON becomes its `msg`). */
function logEvent(node: string, line: string): { time: string; text: string } {
  let obj: Record<string, unknown>;
  try {
    const v = JSON.parse(line) as unknown;
    obj = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : { msg: line };
  } catch {
    obj = { msg: line };
  }
  obj.node = node;
  return { time: typeof obj.time === 'string' ? obj.time : '', text: event('log', JSON.stringify(obj)) };
}
