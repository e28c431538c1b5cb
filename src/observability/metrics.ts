import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { VERSION } from '../version.js';
import type { BackplaneObserver } from '../backplane/redis.js';
import type { HubObserver } from '../core/hub.js';

/**
 * Prometheus metrics for one server instance. A registry per instance (never the global one), so
 * several servers can live in one process.
 */
export class Metrics implements HubObserver, BackplaneObserver {
  readonly registry = new Registry();
  readonly connections: Gauge;
  readonly sessions: Gauge;
  readonly rooms: Gauge;
  readonly framesIn: Counter;
  readonly framesOut: Counter;
  readonly errors: Counter;
  readonly relayLatency: Histogram;
  readonly relayRecipients: Counter;
  readonly roomsRemoved: Counter;
  readonly closes: Counter;
  readonly joins: Counter;
  /** Totals since start, for the admin API's rates (prom-client's counters are read only at scrape time). */
  readonly totals = { framesIn: 0, joins: 0 };
  private readonly inCounts = new Map<string, FrameCount>();
  private readonly outCounts = new Map<string, FrameCount>();
  private readonly recipients = { signal: 0, broadcast: 0 };
  readonly backplaneUp: Gauge;
  readonly backplaneMessages: Counter;
  readonly backplaneLatency: Histogram;
  readonly backplaneReconnects: Counter;
  readonly backplaneDeadNodes: Counter;
  readonly backplaneDropped: Counter;

  constructor(collect: { connections: () => Map<string, number>; sessions: () => Map<string, number>; rooms: () => number }) {
    const registers = [this.registry];
    this.connections = new Gauge({
      name: 'switchboard_connections',
      help: 'Open WebSocket connections by dialect.',
      labelNames: ['dialect'],
      registers,
      collect() {
        this.reset();
        for (const [d, n] of collect.connections()) this.set({ dialect: d }, n);
      },
    });
    this.sessions = new Gauge({
      name: 'switchboard_sessions',
      help: 'Live sessions by dialect.',
      labelNames: ['dialect'],
      registers,
      collect() {
        this.reset();
        for (const [d, n] of collect.sessions()) this.set({ dialect: d }, n);
      },
    });
    this.rooms = new Gauge({
      name: 'switchboard_rooms',
      help: 'Rooms with at least one member on this node.',
      registers,
      collect() {
        this.set(collect.rooms());
      },
    });
    // Per-frame counts are plain numbers on the hot path, handed to prom-client at scrape time.
    const inCounts = this.inCounts;
    const outCounts = this.outCounts;
    this.framesIn = new Counter({
      name: 'switchboard_frames_in_total',
      help: 'Frames received, by dialect and message type.',
      labelNames: ['dialect', 'type'],
      registers,
      collect() {
        for (const c of inCounts.values()) {
          if (c.n > 0) this.inc({ dialect: c.dialect, type: c.type }, c.n);
          c.n = 0;
        }
      },
    });
    this.framesOut = new Counter({
      name: 'switchboard_frames_out_total',
      help: 'Frames sent, by dialect and message type.',
      labelNames: ['dialect', 'type'],
      registers,
      collect() {
        for (const c of outCounts.values()) {
          if (c.n > 0) this.inc({ dialect: c.dialect, type: c.type }, c.n);
          c.n = 0;
        }
      },
    });
    this.errors = new Counter({ name: 'switchboard_errors_total', help: 'Errors returned to clients, by dialect and code.', labelNames: ['dialect', 'code'], registers });
    this.relayLatency = new Histogram({
      name: 'switchboard_relay_latency_seconds',
      help: 'Time from the hub accepting a relay to handing it to every local recipient (a 1-in-16 sample of relays).',
      labelNames: ['kind'],
      buckets: [0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25],
      registers,
    });
    const recipients = this.recipients;
    this.relayRecipients = new Counter({
      name: 'switchboard_relay_recipients_total',
      help: 'Recipients of relayed messages, by kind.',
      labelNames: ['kind'],
      registers,
      collect() {
        for (const kind of ['signal', 'broadcast'] as const) {
          if (recipients[kind] > 0) this.inc({ kind }, recipients[kind]);
          recipients[kind] = 0;
        }
      },
    });
    this.roomsRemoved = new Counter({ name: 'switchboard_rooms_removed_total', help: 'Rooms removed by the sweeper, by reason (empty, expired).', labelNames: ['reason'], registers });
    this.joins = new Counter({ name: 'switchboard_joins_total', help: 'Room joins that succeeded, by dialect.', labelNames: ['dialect'], registers });
    this.closes = new Counter({ name: 'switchboard_server_closes_total', help: 'Connections closed by the server, by dialect and reason.', labelNames: ['dialect', 'reason'], registers });
    this.backplaneUp = new Gauge({ name: 'switchboard_backplane_up', help: '1 while the shared store (Redis) is reachable; always 1 in memory.', registers });
    this.backplaneUp.set(1);
    this.backplaneMessages = new Counter({
      name: 'switchboard_backplane_messages_total',
      help: 'Messages crossing the backplane, by direction (out, in) and channel kind (peer, room).',
      labelNames: ['direction', 'kind'],
      registers,
    });
    this.backplaneLatency = new Histogram({
      name: 'switchboard_backplane_latency_seconds',
      help: 'Publish-to-receive time of backplane messages (wall clocks of both nodes).',
      labelNames: ['kind'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers,
    });
    this.backplaneReconnects = new Counter({ name: 'switchboard_backplane_reconnects_total', help: 'Reconnections to the shared store after it was lost.', registers });
    this.backplaneDeadNodes = new Counter({ name: 'switchboard_backplane_presence_expiries_total', help: 'Dead nodes whose peers this node removed (presence expired).', registers });
    this.backplaneDropped = new Counter({ name: 'switchboard_backplane_dropped_total', help: 'Publications not handed on: the store was unreachable, or (peer) no node received it. The sender of a relay is told unavailable.', labelNames: ['kind'], registers });
    // The stock names (process_*, nodejs_*): the Node.js dashboards people already have look for them.
    collectDefaultMetrics({ register: this.registry });
    new Gauge({ name: 'switchboard_build_info', help: 'Always 1; the labels say which build is running.', labelNames: ['version', 'node_version'], registers }).set({ version: VERSION, node_version: process.version }, 1);
  }

  frameIn(dialect: string, type: string): void {
    this.totals.framesIn++;
    count(this.inCounts, dialect, type);
  }

  frameOut(dialect: string, type: string): void {
    count(this.outCounts, dialect, type);
  }

  relayed(kind: 'signal' | 'broadcast', recipients: number, seconds: number | undefined): void {
    if (seconds !== undefined) this.relayLatency.observe({ kind }, seconds);
    this.recipients[kind] += recipients;
  }

  joined(dialect: string): void {
    this.totals.joins++;
    this.joins.inc({ dialect });
  }

  roomRemoved(reason: 'empty' | 'expired'): void {
    this.roomsRemoved.inc({ reason });
  }

  backplaneState(up: boolean): void {
    this.backplaneUp.set(up ? 1 : 0);
  }

  published(kind: 'peer' | 'room'): void {
    this.backplaneMessages.inc({ direction: 'out', kind });
  }

  received(kind: 'peer' | 'room', seconds: number): void {
    this.backplaneMessages.inc({ direction: 'in', kind });
    if (seconds >= 0) this.backplaneLatency.observe({ kind }, seconds);
  }

  dropped(kind: 'peer' | 'room'): void {
    this.backplaneDropped.inc({ kind });
  }

  reconnected(): void {
    this.backplaneReconnects.inc();
  }

  nodeExpired(): void {
    this.backplaneDeadNodes.inc();
  }
}

interface FrameCount {
  dialect: string;
  type: string;
  n: number;
}

function count(m: Map<string, FrameCount>, dialect: string, type: string): void {
  const k = `${dialect}\u0000${type}`;
  const c = m.get(k);
  if (c) c.n++;
  else m.set(k, { dialect, type, n: 1 });
}
