import { hostname } from 'node:os';
import type { LiveNode, NodeStatus } from '../core/backplane.js';

/** One node as the admin API shows it (GET /admin/v1/nodes). */
export interface NodeView {
  id: string;
  self: boolean;
  version?: string;
  state?: string;
  startedAt?: number;
  uptimeMs?: number;
  connections?: number;
  connectionsByDialect?: Record<string, number>;
  sessions?: number;
  rooms?: number;
  framesIn?: number;
  joins?: number;
  rssBytes?: number;
  pid?: number;
  hostname?: string;
  /** When the status was taken (ms epoch): the rates are computed between two of these. */
  ts?: number;
  /** Log lines this node did not publish to the cluster log stream (over its rate bound). */
  logsDropped?: number;
}

/** What the server knows of itself; turned into the status the backplane publishes. */
export interface StatusSource {
  nodeId: string;
  version: string;
  state: string;
  startedAt: number;
  now: number;
  connectionsByDialect: Map<string, number>;
  sessions: number;
  rooms: number;
  framesIn: number;
  joins: number;
  logsDropped: number;
}

const HOSTNAME = hostname();

export function nodeStatus(s: StatusSource): NodeStatus {
  let connections = 0;
  const byDialect: Record<string, number> = {};
  for (const [d, n] of s.connectionsByDialect) {
    byDialect[d] = n;
    connections += n;
  }
  const started = s.startedAt > 0;
  return {
    id: s.nodeId,
    version: s.version,
    state: s.state,
    startedAt: started ? s.startedAt : null,
    uptimeMs: started ? Math.max(0, s.now - s.startedAt) : 0,
    connections,
    connectionsByDialect: byDialect,
    sessions: s.sessions,
    rooms: s.rooms,
    framesIn: s.framesIn,
    joins: s.joins,
    rssBytes: process.memoryUsage.rss(),
    pid: process.pid,
    hostname: HOSTNAME,
    ts: s.now,
    logsDropped: s.logsDropped,
  };
}

/** A live node and its status as the API shows it; a node that wrote none yet shows only its id. */
export function nodeView(n: LiveNode, self: string): NodeView {
  const v: NodeView = { ...(n.status as Partial<NodeView> | undefined), id: n.id, self: n.id === self };
  if (v.state === undefined) v.state = 'unknown';
  return v;
}

export interface Rates {
  messagesPerSecond: number;
  joinsPerSecond: number;
}

interface Seen {
  ts: number;
  framesIn: number;
  joins: number;
  rates: Rates;
}

/**
 * Cluster-wide message and join rates from the nodes' own counters. A node's rate is computed
 * between two of its statuses that differ in time (another node's status is refreshed on its
 * presence timer, not every second), and kept until its next one; the cluster's is their sum.
 */
export class RateMeter {
  private readonly seen = new Map<string, Seen>();

  update(nodes: NodeView[]): Rates {
    const out: Rates = { messagesPerSecond: 0, joinsPerSecond: 0 };
    const live = new Set<string>();
    for (const n of nodes) {
      if (typeof n.ts !== 'number' || typeof n.framesIn !== 'number' || typeof n.joins !== 'number') continue;
      live.add(n.id);
      const prev = this.seen.get(n.id);
      if (!prev) {
        this.seen.set(n.id, { ts: n.ts, framesIn: n.framesIn, joins: n.joins, rates: { messagesPerSecond: 0, joinsPerSecond: 0 } });
        continue;
      }
      if (n.ts > prev.ts) {
        const s = (n.ts - prev.ts) / 1000;
        prev.rates = { messagesPerSecond: Math.max(0, (n.framesIn - prev.framesIn) / s), joinsPerSecond: Math.max(0, (n.joins - prev.joins) / s) };
        prev.ts = n.ts;
        prev.framesIn = n.framesIn;
        prev.joins = n.joins;
      }
      out.messagesPerSecond += prev.rates.messagesPerSecond;
      out.joinsPerSecond += prev.rates.joinsPerSecond;
    }
    for (const id of this.seen.keys()) if (!live.has(id)) this.seen.delete(id);
    return { messagesPerSecond: round2(out.messagesPerSecond), joinsPerSecond: round2(out.joinsPerSecond) };
  }
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

export interface HistoryPoint extends Rates {
  ts: number;
  connections: number;
}

/** One point per HISTORY_STEP_MS for HISTORY_SPAN_MS: what the dashboard's charts start with. */
export const HISTORY_STEP_MS = 5_000;
export const HISTORY_SPAN_MS = 10 * 60_000;

export class History {
  private readonly points: HistoryPoint[] = [];

  add(p: HistoryPoint): void {
    this.points.push(p);
    const max = HISTORY_SPAN_MS / HISTORY_STEP_MS;
    if (this.points.length > max) this.points.splice(0, this.points.length - max);
  }

  list(): HistoryPoint[] {
    return [...this.points];
  }
}
