import type { IncomingMessage, ServerResponse } from 'node:http';
import { UNKNOWN_OP, type AskRequest, type Backplane } from '../core/backplane.js';
import type { Clock, Timer } from '../core/clock.js';
import type { Hub } from '../core/hub.js';
import type { CoreLogger } from '../core/session.js';
import type { LogTap } from '../observability/logger.js';
import { PathRouter } from '../server/routes.js';
import { ADMIN_REALM, adminAccess, type AdminAccessConfig } from './access.js';
import { EventStreams, LOG_BACKLOG_LINES } from './events.js';
import { openApiDocument } from './openapi.js';
import { History, HISTORY_STEP_MS, RateMeter } from './status.js';
import { ClusterViews, localPeers, mergePeers, PEERS_DEFAULT_LIMIT, PEERS_MAX_LIMIT, ROOM_DIALECTS, roomSummary, type NodePeers } from './views.js';

export const ADMIN_PREFIX = '/admin/v1/';

export interface AdminDeps {
  hub: Hub;
  backplane: Backplane;
  clock: Clock;
  log: CoreLogger;
  access: AdminAccessConfig;
  tap: LogTap | undefined;
  version: string;
  /** The dialects sessions can belong to (`GET /admin/v1/peers?dialect=` takes these). */
  dialects: readonly string[];
}

type Method = 'GET' | 'DELETE';
type Handler = (req: IncomingMessage, res: ServerResponse, params: Record<string, string>, url: URL) => Promise<void>;

/** The admin API's routes (the OpenAPI document lists exactly these; a test holds them to it). */
export const ADMIN_ROUTES: readonly { path: string; methods: readonly Method[] }[] = [
  { path: '/admin/v1/nodes', methods: ['GET'] },
  { path: '/admin/v1/rooms', methods: ['GET'] },
  { path: '/admin/v1/rooms/:dialect/:room', methods: ['GET', 'DELETE'] },
  { path: '/admin/v1/peers', methods: ['GET'] },
  { path: '/admin/v1/peers/:peerId', methods: ['DELETE'] },
  { path: '/admin/v1/events', methods: ['GET'] },
  { path: '/admin/v1/openapi.json', methods: ['GET'] },
];

/** Every admin response: never cached, never readable from another origin (no CORS headers at all). */
const NO_STORE = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

/** Longest peer id the API looks for (ids are short; this only bounds what a request can make us do). */
const MAX_ID = 256;


/**
 * `/admin/v1/*` (JSON, docs/operations.md "Admin API") and the access rule in front of the dashboard
 * page. Every node answers for the whole cluster: views come from the backplane, a room is closed
 * through the hub's kicks (which reach members on any node), and a peer is disconnected by the node
 * that holds it (asked over the backplane when it is not this one).
 */
export class AdminApi {
  private readonly router = new PathRouter<Partial<Record<Method, Handler>>>();
  private readonly views: ClusterViews;
  private readonly rates = new RateMeter();
  private readonly history = new History();
  readonly streams: EventStreams;
  private sampler: Timer | undefined;
  private draining = false;

  constructor(private readonly d: AdminDeps) {
    this.views = new ClusterViews(d.backplane);
    this.streams = new EventStreams({ clock: d.clock, views: this.views, rates: this.rates, history: this.history, backplane: d.backplane, tap: d.tap, log: d.log });
    const handlers: Record<string, Partial<Record<Method, Handler>>> = {
      '/admin/v1/nodes': { GET: (_q, res) => this.nodes(res) },
      '/admin/v1/rooms': { GET: (_q, res, _p, url) => this.rooms(res, url) },
      '/admin/v1/rooms/:dialect/:room': { GET: (_q, res, p) => this.room(res, p), DELETE: (_q, res, p) => this.closeRoom(res, p) },
      '/admin/v1/peers': { GET: (_q, res, _p, url) => this.peers(res, url) },
      '/admin/v1/peers/:peerId': { DELETE: (_q, res, p) => this.disconnect(res, p) },
      '/admin/v1/events': { GET: (_q, res, _p, url) => this.events(res, url) },
      '/admin/v1/openapi.json': { GET: async (_q, res) => json(res, 200, openApiDocument(this.d.version)) },
    };
    for (const r of ADMIN_ROUTES) this.router.add(r.path, handlers[r.path]!);
    d.backplane.answer((req) => this.answer(req));
  }

  /** Starts the history sampler (one point per HISTORY_STEP_MS, on the injected clock). */
  start(): void {
    this.sampler ??= this.d.clock.setInterval(() => void this.sample(), HISTORY_STEP_MS);
  }

  /** The server drains: streams end, new ones are refused, the sampler stops. */
  stop(): void {
    this.draining = true;
    this.sampler?.cancel();
    this.sampler = undefined;
    this.streams.closeAll();
  }

  /**
   * Serves the request when its path is the admin API's, or refuses a dashboard request the access
   * rule does not let through; resolves false (nothing written) for anything else, the dashboard's
   * allowed requests included (the static files serve those).
   */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const path = url.pathname;
    if (path === '/dashboard' || path.startsWith('/dashboard/')) {
      const ok = await adminAccess(req, this.d.access, 'page');
      if (ok.ok) return false;
      refuse(res, ok.status, ok.error);
      return true;
    }
    if (path !== '/admin/v1' && !path.startsWith(ADMIN_PREFIX)) return false;
    const ok = await adminAccess(req, this.d.access, 'api');
    if (!ok.ok) {
      refuse(res, ok.status, ok.error);
      return true;
    }
    const hit = this.router.match(path, false);
    if (!hit) {
      json(res, 404, { error: `no admin endpoint at ${path}; see ${ADMIN_PREFIX}openapi.json` });
      return true;
    }
    const handler = hit.value[req.method as Method];
    if (!handler) {
      const allow = Object.keys(hit.value).join(', ');
      json(res, 405, { error: `${req.method} is not allowed here (allowed: ${allow})` }, { allow });
      return true;
    }
    await handler(req, res, hit.params, url);
    return true;
  }

  // ---- endpoints ------------------------------------------------------------------------------

  private async nodes(res: ServerResponse): Promise<void> {
    const nodes = await this.views.nodes().catch(() => undefined);
    if (!nodes) return storeDown(res);
    json(res, 200, { nodes });
  }

  private async rooms(res: ServerResponse, url: URL): Promise<void> {
    const dialect = url.searchParams.get('dialect');
    if (dialect !== null && !(ROOM_DIALECTS as readonly string[]).includes(dialect)) {
      return json(res, 400, { error: `unknown dialect ${JSON.stringify(dialect.slice(0, 64))} (known: ${ROOM_DIALECTS.join(', ')})` });
    }
    const got = await this.views.rooms(dialect ?? undefined).catch(() => undefined);
    if (!got) return storeDown(res);
    json(res, 200, { rooms: got.rooms.map((r) => roomSummary(r.rec, r.members)) });
  }

  private async room(res: ServerResponse, p: Record<string, string>): Promise<void> {
    let detail;
    try {
      detail = await this.views.room(p.dialect!, p.room!);
    } catch {
      return storeDown(res);
    }
    if (!detail) return json(res, 404, { error: 'room not found' });
    json(res, 200, detail);
  }

  /**
   * Every member is kicked (each hears it in its dialect's words); the room, now empty, then goes
   * the way of every empty room (removed after its empty-room grace, rooms.emptyTtlMs).
   */
  private async closeRoom(res: ServerResponse, p: Record<string, string>): Promise<void> {
    const { dialect, room } = p as { dialect: string; room: string };
    let removed = 0;
    try {
      const got = await this.views.room(dialect, room);
      if (!got) return json(res, 404, { error: 'room not found' });
      for (const m of got.members) if (await this.d.hub.kick(dialect, room, m.peerId)) removed++;
    } catch {
      return storeDown(res);
    }
    this.d.log.info({ dialect, room, removed }, 'room closed by an operator');
    json(res, 200, { dialect, room, removed });
  }

  /**
   * Every live session cluster-wide: each node (asked at once over the backplane, this one read
   * directly) sends its first `limit` in order and its count; the merged list is cut to `limit`.
   */
  private async peers(res: ServerResponse, url: URL): Promise<void> {
    const q = peersQuery(url.searchParams, this.d.dialects);
    if (!q.ok) return json(res, 400, { error: q.error });
    const self = this.d.hub.nodeId;
    let nodes = [self];
    if (q.node !== self) {
      const live = await this.views.nodes().catch(() => undefined);
      if (!live) return storeDown(res);
      nodes = [...new Set([self, ...live.map((n) => n.id)])].filter((id) => q.node === undefined || id === q.node);
      if (nodes.length === 0) return json(res, 404, { error: `no live node ${JSON.stringify(q.node!.slice(0, 64))}` });
    }
    const args = { dialect: q.dialect, limit: q.limit };
    const replies = await Promise.all(
      nodes.map(async (id) => ({ node: id, r: id === self ? { ok: true as const, value: this.localPeers(args) } : await this.d.backplane.ask(id, { op: 'peers', args }) })),
    );
    const lists = replies.flatMap((x) => (x.r.ok ? [x.r.value as NodePeers] : []));
    const silent = replies.filter((x) => !x.r.ok).map((x) => x.node);
    const { peers, total } = mergePeers(lists, q.limit);
    json(res, 200, { peers, total, truncated: total > peers.length, ...(silent.length ? { unanswered: silent } : {}) });
  }

  private localPeers(args: { dialect?: unknown; limit?: unknown }): NodePeers {
    const limit = typeof args.limit === 'number' ? Math.max(1, Math.min(PEERS_MAX_LIMIT, Math.floor(args.limit))) : PEERS_DEFAULT_LIMIT;
    return localPeers(this.d.hub.sessions.values(), this.d.hub.nodeId, typeof args.dialect === 'string' ? args.dialect : undefined, limit);
  }

  /** This node first; otherwise every other live node is asked at once, and the one that holds it says so. */
  private async disconnect(res: ServerResponse, p: Record<string, string>): Promise<void> {
    const peerId = p.peerId!;
    if (peerId.length === 0 || peerId.length > MAX_ID) return json(res, 400, { error: `a peer id is 1-${MAX_ID} characters` });
    if (await this.d.hub.disconnect(peerId)) return json(res, 200, { peerId, node: this.d.hub.nodeId });
    const others = await this.views.nodes().then((ns) => ns.filter((n) => !n.self), () => undefined);
    if (!others) return storeDown(res);
    const replies = await Promise.all(others.map((n) => this.d.backplane.ask(n.id, { op: 'disconnect', args: { peerId } }).then((r) => ({ node: n.id, r }))));
    const holder = replies.find((x) => x.r.ok && x.r.value === true);
    if (holder) return json(res, 200, { peerId, node: holder.node });
    const silent = replies.filter((x) => !x.r.ok).map((x) => x.node);
    json(res, 404, silent.length ? { error: 'peer not found', unanswered: silent } : { error: 'peer not found' });
  }

  private async events(res: ServerResponse, url: URL): Promise<void> {
    const logs = url.searchParams.get('logs');
    if (logs !== null && logs !== '0' && logs !== '1') return json(res, 400, { error: '"logs" is 0 (no log events) or 1 (the default)' });
    if (this.draining) return json(res, 503, { error: 'the server is draining; reconnect to another node' });
    try {
      await this.streams.open(res, logs !== '0', NO_STORE);
    } catch {
      if (!res.headersSent) storeDown(res);
      else res.end();
    }
  }

  // ---- cluster --------------------------------------------------------------------------------

  /** Requests from other nodes' admin APIs (Backplane.ask). */
  private async answer(req: AskRequest): Promise<unknown> {
    const args = (typeof req.args === 'object' && req.args !== null ? req.args : {}) as Record<string, unknown>;
    switch (req.op) {
      case 'disconnect':
        if (typeof args.peerId !== 'string') throw new Error('disconnect needs a string "peerId"');
        return this.d.hub.disconnect(args.peerId);
      case 'peers':
        return this.localPeers(args);
      case 'logs': {
        // A node opened a log stream: publish from now on, and here is what came before.
        this.d.backplane.logs?.publishNow();
        const n = typeof args.lines === 'number' ? Math.max(0, Math.min(LOG_BACKLOG_LINES, Math.floor(args.lines))) : LOG_BACKLOG_LINES;
        return this.d.tap?.recent(n) ?? [];
      }
      default:
        return UNKNOWN_OP;
    }
  }

  private async sample(): Promise<void> {
    try {
      const nodes = await this.views.nodes();
      const rates = this.rates.update(nodes);
      this.history.add({ ts: this.d.clock.now(), ...rates, connections: nodes.reduce((n, x) => n + (x.connections ?? 0), 0) });
    } catch {
      // The store is down: a gap in the history, like in the metrics.
    }
  }
}

/** `?dialect=&node=&limit=` of GET /admin/v1/peers, checked. */
function peersQuery(q: URLSearchParams, dialects: readonly string[]): { ok: true; dialect?: string; node?: string; limit: number } | { ok: false; error: string } {
  const dialect = q.get('dialect') ?? undefined;
  if (dialect !== undefined && !dialects.includes(dialect)) return { ok: false, error: `unknown dialect ${JSON.stringify(dialect.slice(0, 64))} (known: ${dialects.join(', ')})` };
  const node = q.get('node') ?? undefined;
  if (node !== undefined && (node.length === 0 || node.length > MAX_ID)) return { ok: false, error: `a node id is 1-${MAX_ID} characters` };
  const raw = q.get('limit');
  const limit = raw === null ? PEERS_DEFAULT_LIMIT : /^[0-9]{1,7}$/.test(raw) ? Number(raw) : NaN;
  if (!(limit >= 1 && limit <= PEERS_MAX_LIMIT)) return { ok: false, error: `"limit" is an integer from 1 to ${PEERS_MAX_LIMIT} (default ${PEERS_DEFAULT_LIMIT})` };
  return { ok: true, dialect, node, limit };
}

function json(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...NO_STORE, ...extra, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) });
  res.end(text);
}

function refuse(res: ServerResponse, status: number, error: string): void {
  json(res, status, { error }, status === 401 ? { 'www-authenticate': `Bearer realm="${ADMIN_REALM}"` } : {});
}

function storeDown(res: ServerResponse): void {
  json(res, 503, { error: 'the shared store is unreachable; try again shortly' });
}
