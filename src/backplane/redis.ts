import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import {
  ASK_TIMEOUT_MS,
  UNDELIVERED,
  answerLocally,
  type AskHandler,
  type AskReply,
  type AskRequest,
  type LiveNode,
  type NodeStatus,
  type Backplane,
  type BackplaneSink,
  type ClaimOutcome,
  type DirectOutcome,
  type Envelope,
  type MailboxOptions,
  type Handoff,
  type JoinOutcome,
  type JoinRequest,
  type LeaveOutcome,
  type MemberRecord,
  type AppendOutcome,
  type SessionStore,
  type StoredSession,
  type StoreResume,
  type MemberRef,
  type RoomCreator,
  type RoomRecord,
  type SweptRoom,
} from '../core/backplane.js';
import type { Clock, Timer } from '../core/clock.js';
import { HubError } from '../core/errors.js';
import { randomId } from '../core/ids.js';
import { silentLogger, type CoreLogger } from '../core/session.js';
import type { RoomOptions } from '../core/types.js';
import { CLUSTER_SCRIPTS, MAX_RUN_SESSIONS, SCRIPTS, appendManyCommand, scriptDefs, type ScriptName } from './redis-scripts.js';
import { RedisLogs, type LineSource } from './redis-logs.js';
import { CLUSTER_COMMAND_TIMEOUT_MS, createRedisClient, publishOn, type RedisClient } from './redis-client.js';

/**
 * Slot buckets of a Redis Cluster. Every key and channel of a room, an alias or a session carries
 * the hash tag `{bN}` of its bucket (N = bucketOf(room key, alias or peerId)), and each bucket has
 * its own copy of the cluster-wide indexes (rooms, due:*, node-rooms:N, …). So every script's keys
 * share one slot, and the load spreads over as many shards as there are buckets. Every node of a
 * cluster must agree on it: it is not a setting.
 */
export const CLUSTER_BUCKETS = 16;

/** The pauses between attempts to subscribe again on a cluster that has just come back (subscribeAll). */
const SUBSCRIBE_RETRY_MS = [100, 200, 400, 800, 1600, 1600, 1600];

/** An SSUBSCRIBE (which has no command timeout: a shard that is down holds it) bounded like a command. */
async function bounded<T>(p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HubError('unavailable')), CLUSTER_COMMAND_TIMEOUT_MS);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The bucket of a room key, an alias or a peerId (FNV-1a of its UTF-16 code units). */
export function bucketOf(s: string, buckets = CLUSTER_BUCKETS): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % buckets;
}

/** Metrics hooks of the backplane. */
export interface BackplaneObserver {
  backplaneState(up: boolean): void;
  published(kind: 'peer' | 'room'): void;
  received(kind: 'peer' | 'room', seconds: number): void;
  dropped(kind: 'peer' | 'room'): void;
  reconnected(): void;
  nodeExpired(): void;
}

export interface RedisBackplaneOptions {
  url: string;
  /** A Redis Cluster (redis.cluster): `url` and `nodes` are seeds. */
  cluster?: boolean;
  nodes?: string[];
  prefix: string;
  /** A node silent this long is dead; refreshed every quarter of it. */
  presenceTtlMs: number;
  /** resume.windowMs: stored sessions (SessionStore) are kept only when it is above 0. */
  resumeWindowMs?: number;
  clock: Clock;
  log?: CoreLogger;
  observer?: BackplaneObserver;
  nodeId?: string;
  /** This node's log lines, published to the cluster's log channel while some node watches it. */
  logSource?: LineSource;
}

/** An admin request or reply on a node channel: `A` then this as JSON (see ask()). */
type AskWire = { q: string; o: string; op: string; args?: unknown } | ({ r: string; o: string } & AskReply);

/** One message on a channel: origin node, publish time (wall clock), target peer, envelope. */
export interface Wire {
  o: string;
  t: number;
  p?: string;
  e: Envelope;
}

interface Outgoing {
  channel: string;
  message: string;
  kind: 'peer' | 'room';
  /** Settle the publisher's Handoff from this publication's reply (see settle()). */
  resolve: () => void;
  reject: (err: HubError) => void;
}

/** A stored-session script riding the same per-tick pipeline as the publications. */
interface QueuedScript {
  script: ScriptName;
  args: (string | number)[];
  done: (err: unknown, reply: unknown) => void;
}

/**
 * A channel message: the wire object as JSON. A relay that carries its client's own `data` text
 * (`e.raw`) sends that text after the JSON and a newline instead of inside it, so the 3–6 KB of a
 * typical SDP is neither escaped on one node nor unescaped on the other (JSON.stringify never emits
 * a raw newline, so the first one ends the header).
 */
export function encodeWire(wire: Wire): string {
  const e = wire.e;
  if ((e.k === 'signal' || e.k === 'broadcast' || e.k === 'direct') && e.raw !== undefined) {
    return `${JSON.stringify({ ...wire, e: { ...e, data: undefined, raw: undefined } })}\n${e.raw}`;
  }
  return JSON.stringify(wire);
}

/** The wire object of a channel message; undefined for anything no node of ours would publish. */
export function decodeWire(message: string): Wire | undefined {
  const nl = message.indexOf('\n');
  let w: Wire;
  try {
    w = JSON.parse(nl < 0 ? message : message.slice(0, nl)) as Wire;
  } catch {
    return undefined;
  }
  if (typeof w !== 'object' || w === null || typeof w.o !== 'string' || typeof w.t !== 'number' || typeof w.e !== 'object' || w.e === null || typeof w.e.k !== 'string') return undefined;
  if (nl >= 0) {
    if (w.e.k !== 'signal' && w.e.k !== 'broadcast' && w.e.k !== 'direct') return undefined;
    w.e.raw = message.slice(nl + 1);
  }
  return w;
}

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

/**
 * Consecutive appends of one slot bucket, sent as one sbAppendMany: at most MAX_RUN of them, to at
 * most MAX_RUN_SESSIONS sessions, and about MAX_RUN_CHARS of text (one publication per node stays
 * far below Redis's pub/sub buffer limits).
 */
export interface AppendRun {
  run: QueuedScript[];
  /** peerId → its place among the run's sessions (1-based, as the script counts them). */
  sessions: Map<string, number>;
  chars: number;
}
const MAX_RUN = 128;
const MAX_RUN_CHARS = 256 * 1024;

/**
 * A batch with each stretch of consecutive sbAppends folded into runs, one per slot bucket (its
 * `prefix`, the last argument; one Redis has one), in the place of the run's first append. Order
 * holds where it matters: everything else keeps its place, and one session's frames share a bucket.
 */
export function coalesce(batch: (Outgoing | QueuedScript)[]): (Outgoing | QueuedScript | AppendRun)[] {
  const out: (Outgoing | QueuedScript | AppendRun)[] = [];
  let open: Map<string | number, AppendRun> | undefined;
  for (const b of batch) {
    if (!('script' in b) || b.script !== 'sbAppend') {
      open = undefined;
      out.push(b);
      continue;
    }
    const bucket = b.args[5]!;
    const peerId = String(b.args[2]);
    open ??= new Map();
    let r = open.get(bucket);
    if (!r || r.run.length >= MAX_RUN || r.chars >= MAX_RUN_CHARS || (r.sessions.size >= MAX_RUN_SESSIONS && !r.sessions.has(peerId))) {
      open.set(bucket, (r = { run: [], sessions: new Map(), chars: 0 }));
      out.push(r);
    }
    r.run.push(b);
    if (!r.sessions.has(peerId)) r.sessions.set(peerId, r.sessions.size + 1);
    r.chars += String(b.args[3]).length;
  }
  return out.map((u) => ('run' in u && u.run.length === 1 ? u.run[0]! : u));
}

/**
 * The frames of an sbAppendMany publication ("M", then "<peerId> <seq> <len>\n<text>" each, len in
 * UTF-16 units), in order; stops at the first malformed one (nothing of ours sends that).
 */
export function eachFrame(message: string, fn: (peerId: string, seq: number, text: string) => void): void {
  let i = 1;
  while (i < message.length) {
    const a = message.indexOf(' ', i);
    const b = a < 0 ? -1 : message.indexOf(' ', a + 1);
    const nl = b < 0 ? -1 : message.indexOf('\n', b + 1);
    const seq = Number(message.slice(a + 1, b));
    const len = nl < 0 ? NaN : Number(message.slice(b + 1, nl));
    if (a <= i || !(seq > 0) || !(len >= 0) || nl + 1 + len > message.length) return;
    fn(message.slice(i, a), seq, message.slice(nl + 1, nl + 1 + len));
    i = nl + 1 + len;
  }
}

/**
 * The sbAppendMany command for a run (its sbAppends: [sess, log, peerId, text, owner, prefix] each),
 * and its arguments: every session's two keys (padded to the command's size), then prefix, the
 * session count and peerIds, then session text owner len per frame.
 */
export function appendMany({ run, sessions }: AppendRun): { command: string; args: (string | number)[] } {
  const { name, size } = appendManyCommand(sessions.size);
  const keys: (string | number)[] = [];
  const ids: string[] = [];
  const frames: (string | number)[] = [];
  for (const { args } of run) {
    const i = sessions.get(String(args[2]))!;
    if (i > ids.length) {
      ids.push(String(args[2]));
      keys.push(args[0]!, args[1]!);
    }
    frames.push(i, args[3]!, args[4]!, String(args[3]!).length);
  }
  for (let i = ids.length; i < size; i++) keys.push(keys[0]!, keys[1]!);
  return { command: name, args: [...keys, run[0]!.args[5]!, ids.length, ...ids, ...frames] };
}

/**
 * Many nodes as one server, over Redis. Room state and identities live in Redis and change only
 * through atomic Lua scripts (redis-scripts.ts). Delivery is pub/sub: a targeted relay goes to the
 * hosting node's own channel (one hop, no firehose); a room publication goes to the room's channel,
 * which only nodes with members in the room subscribe to. Presence: each node refreshes its score in
 * a sorted set; a node whose score is older than presenceTtlMs is dead, and the first live node to
 * notice removes its peers from every room (the others hear the usual leave) — exactly once.
 *
 * Redis unreachable: local relays keep flowing (rosters are cached per node), new joins and
 * identity claims fail with `unavailable`, /ready turns 503, and so does every delivery that had to
 * leave the node (never silently dropped: see settle()). When Redis returns, the hub is asked to
 * re-announce its state (BackplaneSink.onResync).
 */
export class RedisBackplane extends EventEmitter implements Backplane {
  readonly nodeId: string;
  private readonly p: string;
  private readonly log: CoreLogger;
  private readonly observer: BackplaneObserver | undefined;
  private readonly clock: Clock;
  private cmd: RedisClient | undefined;
  private sub: RedisClient | undefined;
  /** A new subscriber client being connected (subscribeAll). */
  private renewing?: Promise<void>;
  /** On a Redis Cluster (keys in slot buckets, sharded pub/sub); on one Redis, key names carry no tag. */
  readonly cluster: boolean;
  private readonly buckets: number;
  /** Shards lost since the last resync (cluster): one that comes back may have come back empty. */
  private readonly lostShards = new Set<string>();
  private resyncWanted = false;
  private catchUpQueued = false;
  private sink: BackplaneSink | undefined;
  private cmdReady = false;
  private subReady = false;
  /** Set when the connection was lost (or never made): the next "both ready" triggers a resync. */
  private outage = false;
  private started = false;
  private stopping = false;
  private presenceTimer: Timer | undefined;
  private readonly watched = new Set<string>();
  private outbox: (Outgoing | QueuedScript)[] = [];
  readonly sessions: SessionStore;
  private flushQueued = false;
  private status: (() => NodeStatus) | undefined;
  private askHandler: AskHandler | undefined;
  /** Asks of this node waiting for their reply, by id. */
  private readonly asking = new Map<string, (reply: AskReply) => void>();
  readonly logs: RedisLogs;

  constructor(private readonly opts: RedisBackplaneOptions) {
    super();
    this.nodeId = opts.nodeId ?? randomId(6);
    this.p = opts.prefix;
    this.cluster = opts.cluster === true;
    this.buckets = this.cluster ? CLUSTER_BUCKETS : 1;
    this.log = (opts.log ?? silentLogger).child({ backplane: 'redis', node: this.nodeId });
    this.observer = opts.observer;
    this.clock = opts.clock;
    // Always present: a node that keeps no sessions itself still relays to (and fans out to) those of others.
    this.sessions = new RedisSessions(this, opts.resumeWindowMs ?? 0);
    this.logs = new RedisLogs(
      { nodeId: this.nodeId, prefix: this.p, commands: () => (this.cmdReady ? this.cmd : undefined), subscriber: () => (this.subReady ? this.sub : undefined) },
      opts.logSource,
      this.clock,
      opts.presenceTtlMs,
      this.log,
    );
  }

  get healthy(): boolean {
    return this.cmdReady && this.subReady;
  }

  /** Connects; resolves after the first connection attempt of both clients, whatever its outcome. */
  async start(sink: BackplaneSink): Promise<void> {
    this.sink = sink;
    // Commands fail fast while disconnected (no unbounded offline queue on the hot path).
    this.cmd = this.newClient(false);
    this.sub = this.newSubscriber();
    for (const [name, s] of scriptDefs(this.cluster ? CLUSTER_SCRIPTS : SCRIPTS)) this.cmd.defineCommand(name, s);
    this.wire(this.cmd, 'cmd');
    if (this.cluster) this.wireShards(this.cmd);
    this.outage = true;
    const first = (r: RedisClient) => r.connect().catch((err: Error) => this.log.warn({ err: err.message }, 'redis unreachable; retrying in the background'));
    await Promise.all([first(this.cmd), first(this.sub)]);
    this.started = true;
    // ioredis re-subscribes known channels itself after a reconnect; this covers the first time.
    if (this.subReady) await this.trySubscribeAll([]);
    this.presenceTimer = this.clock.setInterval(() => void this.refreshPresence(), Math.max(250, Math.floor(this.opts.presenceTtlMs / 4)));
    await this.refreshPresence();
    this.maybeResync();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.presenceTimer?.cancel();
    this.logs.stop();
    for (const settle of this.asking.values()) settle({ ok: false, error: 'no-answer', message: 'this node is stopping' });
    this.flushOutbox();
    if (this.cmdReady) await Promise.all([this.cmd!.zrem(`${this.p}nodes`, this.nodeId), this.cmd!.del(`${this.p}status:${this.nodeId}`)]).catch(() => {});
    this.cmd?.disconnect();
    this.sub?.disconnect();
    this.cmdReady = this.subReady = false;
  }

  private wire(r: RedisClient, which: 'cmd' | 'sub'): void {
    r.on('ready', () => {
      if (which === 'cmd') this.cmdReady = true;
      else {
        this.subReady = true;
        if (this.started) void this.trySubscribeAll([]);
      }
      this.observer?.backplaneState(this.healthy);
      if (this.healthy) {
        this.log.info({}, 'redis connected');
        this.emit('up');
      }
      if (this.started) this.maybeResync();
    });
    r.on('close', () => {
      if (this.stopping) return;
      const was = this.healthy;
      if (which === 'cmd') this.cmdReady = false;
      else this.subReady = false;
      this.outage = true;
      this.observer?.backplaneState(false);
      if (was) {
        this.log.warn({}, 'redis connection lost; serving local rooms, refusing new joins until it is back');
        this.emit('down');
      }
    });
    r.on('error', (err: Error) => this.log.debug({ err: err.message, which }, 'redis error'));
  }

  /**
   * Redis Cluster: a shard that was lost and is back may have come back empty (no persistence, or
   * a failover that lost writes), so every node puts its own state back (as after an outage of
   * one Redis: onResync), once the store answers again. And once the sharded subscribers are set up
   * anew (a slot moved: resharding, failover), frames of stored sessions published while a slot
   * had no subscriber are caught up from their logs (BackplaneSink.onCatchUp).
   */
  private wireShards(cmd: RedisClient): void {
    // While a shard is down ioredis drops and re-adds it on every slot refresh: logged once per
    // outage (until the resync that follows it went through), the flapping at debug.
    cmd.on('-node', (_r: Redis, key: string) => {
      if (this.stopping) return;
      if (!this.lostShards.has(key)) this.log.warn({ shard: key }, 'redis cluster shard lost; what it holds answers unavailable until it is back');
      this.lostShards.add(key);
    });
    cmd.on('+node', (_r: Redis, key: string) => {
      if (!this.started || !this.lostShards.has(key)) return;
      this.log.debug({ shard: key }, 'redis cluster shard listed again');
      this.resyncWanted = true;
    });
  }

  private newClient(subscriber: boolean): RedisClient {
    const target = { url: this.opts.url, cluster: this.cluster, nodes: this.opts.nodes ?? [] };
    return createRedisClient(target, { connectionName: `switchboard-${this.nodeId}`, failFast: !subscriber, sharded: subscriber, subscriber });
  }

  /** The connection (on a cluster: the sharded subscribers) that this node's deliveries come in on. */
  private newSubscriber(): RedisClient {
    const sub = this.newClient(true);
    this.wire(sub, 'sub');
    sub.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    sub.on('smessage', (channel: string, message: string) => this.onMessage(channel, message));
    if (!this.cluster) return sub;
    sub.on('subscribersReady', () => {
      if (!this.started || this.stopping || this.catchUpQueued) return;
      // A burst of resets (a shard flapping) is one catch-up, once the burst is over.
      this.catchUpQueued = true;
      setImmediate(() => {
        this.catchUpQueued = false;
        this.sink?.onCatchUp?.();
        // ioredis subscribes the moved slots' channels again but drops a failure (a shard not
        // serving yet): subscribed again here, and retried with a resync if that fails too.
        void this.subscribeAll().then((ok) => {
          if (!ok) this.resyncWanted = true;
        });
      });
    });
    return sub;
  }

  private maybeResync(): void {
    if (!this.healthy || !this.outage) return;
    this.outage = false;
    this.observer?.reconnected();
    void this.refreshPresence();
    void this.resync().then((ok) => {
      if (!ok) this.resyncWanted = true; // asked again on the next presence refresh
    });
  }

  /**
   * Every subscription of this node made anew, then the sink's resync: false if either did not go
   * through. On a Redis Cluster a sharded subscriber set up again while the cluster was still down
   * lost its SSUBSCRIBEs (ioredis drops the error) and nothing would restore them; an SSUBSCRIBE of
   * a channel already subscribed changes nothing. Before the sink's re-announcements, so that
   * those of the other nodes are heard.
   */
  private async resync(): Promise<boolean> {
    return (await this.subscribeAll()) && (await this.sink?.onResync()) !== false;
  }

  /**
   * Every channel of this node subscribed (again): false, logged, if that did not go through. On a
   * cluster that has just come back, ioredis sets its sharded subscribers up a moment after it
   * reports ready ("No sharded subscriber for slot"): retried a few times over about 6 s, on real
   * timers like ioredis's own retries (a transport matter, not the protocol's clock), before the
   * next presence refresh tries again.
   */
  private async subscribeAll(): Promise<boolean> {
    if (await this.trySubscribeAll()) return true;
    if (!this.cluster || this.stopping) return false;
    // Seen after a whole cluster's restart: ioredis left without a sharded subscriber for some
    // shard, and no slot refresh set one up again. A new client starts from a clean slate.
    this.renewing ??= (async () => {
      this.log.warn({}, 'the sharded subscribers did not come back; connecting them anew');
      const old = this.sub!;
      old.removeAllListeners();
      old.on('error', () => {});
      old.disconnect();
      this.subReady = false;
      this.sub = this.newSubscriber();
      await this.sub.connect().catch((err: Error) => this.log.warn({ err: err.message }, 'redis unreachable; retrying in the background'));
    })().finally(() => (this.renewing = undefined));
    await this.renewing;
    return this.trySubscribeAll();
  }

  /** This node's channels (one per slot bucket, each on its own shard) and its rooms', with `waits` between attempts. */
  private async trySubscribeAll(waits = this.cluster ? SUBSCRIBE_RETRY_MS : []): Promise<boolean> {
    const channels = [...Array.from({ length: this.buckets }, (_, b) => this.nodeChannel(this.nodeId, b)), ...[...this.watched].map((k) => this.roomChannel(k))];
    for (let attempt = 0; ; attempt++) {
      try {
        if (!this.cluster) await this.sub!.subscribe(...channels);
        else await Promise.all(channels.map((c) => bounded(this.sub!.ssubscribe(c))));
        return true;
      } catch (err) {
        const message = err instanceof Error ? err.message : err;
        if (this.stopping) return false;
        if (attempt >= waits.length) {
          this.log.warn({ err: message }, 'subscribing failed; the next resync tries again');
          return false;
        }
        this.log.debug({ err: message, attempt }, 'subscribing failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, waits[attempt]).unref());
      }
    }
  }

  private async refreshPresence(): Promise<void> {
    if (!this.cmdReady) return;
    const status = this.statusJson();
    const writes: Promise<unknown>[] = [this.cmd!.zadd(`${this.p}nodes`, this.clock.now(), this.nodeId)];
    if (status !== undefined) writes.push(this.cmd!.set(`${this.p}status:${this.nodeId}`, status, 'PX', 2 * this.opts.presenceTtlMs));
    const ok = await Promise.all(writes).then(
      () => true,
      () => false,
    );
    await this.logs.check();
    if (ok && this.resyncWanted) {
      this.resyncWanted = false;
      if (!(await this.resync())) this.resyncWanted = true;
      else if (this.lostShards.size) {
        this.log.info({ shards: [...this.lostShards] }, 'redis cluster shard back: this node\'s state is put back');
        this.lostShards.clear();
      }
    }
  }

  // ---- key and channel names ------------------------------------------------------------------

  /** The key prefix of slot bucket `b`: `P{bN}` on a Redis Cluster, just `P` on one Redis. */
  bk(b: number): string {
    return this.cluster ? `${this.p}{b${b}}` : this.p;
  }

  /** The key prefix of the bucket of a room key, an alias (`NS/ALIAS`) or a peerId. */
  at(s: string): string {
    return this.cluster ? this.bk(bucketOf(s)) : this.p;
  }

  /** Every bucket's key prefix (one on one Redis). */
  allBuckets(): string[] {
    return Array.from({ length: this.buckets }, (_, b) => this.bk(b));
  }

  /** One command per bucket (auto-pipelined per shard on a cluster), as a store operation. */
  private everyBucket<T>(fn: (r: RedisClient, bucket: string) => Promise<T>): Promise<T[]> {
    return this.call((r) => Promise.all(this.allBuckets().map((b) => fn(r, b))));
  }

  /** Node N's channel in bucket b (a script may publish only within its own slot). */
  private nodeChannel(node: string, b: number): string {
    return `${this.bk(b)}n:${node}`;
  }

  private roomChannel(key: string): string {
    return `${this.at(key)}r:${key}`;
  }

  /** The room key of a room channel, or undefined for any other channel. */
  private roomOfChannel(channel: string): string | undefined {
    if (!this.cluster) return channel.startsWith(`${this.p}r:`) ? channel.slice(this.p.length + 2) : undefined;
    const i = channel.indexOf('}r:', this.p.length);
    return i < 0 ? undefined : channel.slice(i + 3);
  }

  private pub(r: RedisClient, channel: string, message: string): Promise<number> {
    return publishOn(r, this.cluster, channel, message);
  }

  private statusJson(): string | undefined {
    if (!this.status) return undefined;
    try {
      return JSON.stringify(this.status());
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'node status not written');
      return undefined;
    }
  }

  // ---- cluster views and admin requests -------------------------------------------------------

  setStatus(fn: () => NodeStatus): void {
    this.status = fn;
  }

  /** The `nodes` set within presenceTtlMs and their statuses (one MGET); this node's is computed now. */
  async nodes(): Promise<LiveNode[]> {
    const ids = await this.call((r) => r.zrangebyscore(`${this.p}nodes`, this.clock.now() - this.opts.presenceTtlMs, '+inf'));
    if (!ids.includes(this.nodeId)) ids.push(this.nodeId);
    ids.sort();
    const others = ids.filter((id) => id !== this.nodeId);
    // One slot per status key: no MGET across them on a cluster (auto-pipelined there instead).
    const stored = others.length ? await this.call((r) => (this.cluster ? Promise.all(others.map((id) => r.get(`${this.p}status:${id}`))) : r.mget(others.map((id) => `${this.p}status:${id}`)))) : [];
    const byId = new Map(others.map((id, i) => [id, stored[i]]));
    return ids.map((id) => ({ id, status: id === this.nodeId ? this.status?.() : parseStatus(byId.get(id)) }));
  }

  answer(handler: AskHandler): void {
    this.askHandler = handler;
  }

  /**
   * An admin request to a node: `A{"q":id,"o":asker,"op","args"}` on its node channel; it replies
   * `A{"r":id,"o":itself,"ok",…}` on the asker's. No receiver (PUBLISH answered 0), the store down,
   * or no reply within ASK_TIMEOUT_MS (the injected clock): `no-answer`.
   */
  async ask(node: string, req: AskRequest): Promise<AskReply> {
    if (node === this.nodeId) return answerLocally(this.askHandler, req);
    const id = randomId(9);
    const reply = new Promise<AskReply>((resolve) => {
      const timer = this.clock.setTimeout(() => settle({ ok: false, error: 'no-answer', message: `no reply within ${ASK_TIMEOUT_MS} ms` }), ASK_TIMEOUT_MS);
      const settle = (r: AskReply) => {
        if (!this.asking.delete(id)) return;
        timer.cancel();
        resolve(r);
      };
      this.asking.set(id, settle);
    });
    const wire: AskWire = { q: id, o: this.nodeId, op: req.op, args: req.args };
    let receivers = 0;
    try {
      receivers = await this.call((r) => this.pub(r, this.nodeChannel(node, 0), `A${JSON.stringify(wire)}`));
    } catch {
      this.asking.get(id)?.({ ok: false, error: 'no-answer', message: 'the shared store is unreachable' });
    }
    if (receivers === 0) this.asking.get(id)?.({ ok: false, error: 'no-answer', message: 'no node received it' });
    return reply;
  }

  private onAsk(message: string): void {
    let w: AskWire;
    try {
      w = JSON.parse(message.slice(1)) as AskWire;
    } catch {
      return;
    }
    if (typeof w !== 'object' || w === null || typeof w.o !== 'string') return;
    if ('r' in w) {
      const { r, o: _o, ...reply } = w;
      this.asking.get(r)?.(reply as AskReply);
      return;
    }
    if (typeof w.q !== 'string' || typeof w.op !== 'string') return;
    const asker = w.o;
    const id = w.q;
    void answerLocally(this.askHandler, { op: w.op, args: w.args }).then((reply) => {
      const out: AskWire = { r: id, o: this.nodeId, ...reply };
      if (!this.cmdReady) return;
      let text: string;
      try {
        text = `A${JSON.stringify(out)}`;
      } catch (err) {
        text = `A${JSON.stringify({ r: id, o: this.nodeId, ok: false, error: 'failed', message: (err as Error).message })}`;
      }
      this.pub(this.cmd!, this.nodeChannel(asker, 0), text).catch(() => {});
    });
  }

  // ---- commands -------------------------------------------------------------------------------

  /** Runs a store operation; any failure is the typed `unavailable` the dialects know how to say. */
  private async call<T>(fn: (r: RedisClient) => Promise<T>): Promise<T> {
    if (!this.cmdReady) throw new HubError('unavailable');
    this.flushOutbox();
    try {
      return await fn(this.cmd!);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'redis command failed');
      throw new HubError('unavailable');
    }
  }

  private script(name: ScriptName, ...args: (string | number)[]): Promise<unknown> {
    return this.call((r) => (r as unknown as Record<ScriptName, ScriptFn>)[name](...args));
  }

  private roomKeys(key: string): string[] {
    const p = this.at(key);
    return [`${p}room:${key}`, `${p}members:${key}`, `${p}rooms`, `${p}due:empty`, `${p}due:idle`];
  }

  private aliasKey(namespace: string, alias: string): string {
    const a = `${namespace}/${alias}`;
    return `${this.at(a)}alias:${a}`;
  }

  private mailKey(namespace: string, alias: string): string {
    const a = `${namespace}/${alias}`;
    return `${this.at(a)}mail:${a}`;
  }

  /**
   * The set of an address's live rooms (redis-scripts.ts); no key at all for a room not counted.
   * On a Redis Cluster it is in the address's own slot and the room scripts cannot reach it: the
   * scripts are then handed a key of the room's own slot they leave alone, and a quota of 0.
   */
  private createdBy(creator: RoomCreator | undefined): string {
    if (!creator) return '';
    return this.cluster ? `${this.at(`@${creator.address}`)}created-by:${creator.address}` : `${this.p}created-by:${creator.address}`;
  }

  async createRoom(key: string, options: Required<RoomOptions>, now: number, creator?: RoomCreator): Promise<'created' | 'exists' | 'quota'> {
    const [room, , rooms, dueEmpty] = this.roomKeys(key);
    if (this.cluster && creator && creator.max > 0) {
      const counted = await this.reserve(creator, room!, now);
      if (counted === 0) return 'quota';
      const r = await this.script('sbCreate', room!, rooms!, dueEmpty!, room!, key, JSON.stringify(options), now, options.emptyTtlMs, 0);
      if (r === 1) await this.confirm(creator, room!);
      else if (counted === 1) await this.unreserve(creator, room!);
      return r === 1 ? 'created' : 'exists';
    }
    const r = await this.script('sbCreate', room!, rooms!, dueEmpty!, this.cluster ? room! : this.createdBy(creator), key, JSON.stringify(options), now, options.emptyTtlMs, this.cluster ? 0 : (creator?.max ?? 0));
    return r === 1 ? 'created' : r === 2 ? 'quota' : 'exists';
  }

  async joinRoom(key: string, req: JoinRequest): Promise<JoinOutcome> {
    if (!(this.cluster && req.create && req.creator && req.creator.max > 0)) return this.joinOnce(key, req);
    // Redis Cluster, a room that counts against its creator: join if it exists; else count it, then create it.
    const existing = await this.joinOnce(key, { ...req, create: false });
    if (existing.ok || existing.code !== 'room-not-found') return existing;
    const room = this.roomKeys(key)[0]!;
    const counted = await this.reserve(req.creator, room, req.now);
    if (counted === 0) return { ok: false, code: 'room-quota' };
    const out = await this.joinOnce(key, req);
    if (out.ok && out.created) await this.confirm(req.creator, room);
    else if (counted === 1) await this.unreserve(req.creator, room);
    return out;
  }

  private async joinOnce(key: string, req: JoinRequest): Promise<JoinOutcome> {
    const keys = this.roomKeys(key);
    const r = (await this.script(
      'sbJoin',
      ...keys,
      `${this.at(key)}node-rooms:${req.member.node}`,
      this.cluster ? keys[0]! : this.createdBy(req.creator),
      key,
      req.member.peerId,
      JSON.stringify(req.member),
      req.create ? '1' : '0',
      JSON.stringify(req.defaults),
      req.maxCapacity,
      req.now,
      this.cluster ? 0 : (req.creator?.max ?? 0),
    )) as [number, string, string, string, string[], number, number];
    if (r[0] !== 1) return { ok: false, code: r[1] as 'room-full' | 'room-not-found' | 'room-quota' };
    return { ok: true, room: record(key, r[1], r[2], r[3]), members: r[4].map(parseMember), created: r[5] === 1, added: r[6] === 1 };
  }

  /**
   * Redis Cluster: counts room `room` (its hash's key) against its creator's quota, in the
   * address's slot: 2 counted already, 1 counted now, 0 at the quota. At the quota every entry is
   * checked against its room (rooms are removed without touching the count, which is in another
   * slot), and those whose room is gone are dropped before asking again — unless counted within
   * the last QUOTA_GRACE_MS and not yet confirmed (score 0, see confirm()), when their room may
   * still be being created on some node. So the count is exact when it refuses. A node that dies
   * between counting and creating leaves an entry with no room: dropped once the grace is over.
   */
  private async reserve(creator: RoomCreator, room: string, now: number): Promise<number> {
    const set = this.createdBy(creator);
    const first = Number(await this.script('sbReserve', set, room, creator.max, now));
    if (first !== 0) return first;
    const entries = await this.call((r) => r.zrangebyscore(set, '-inf', now - QUOTA_GRACE_MS));
    const live = await this.call((r) => Promise.all(entries.map((e) => r.exists(e))));
    const gone = entries.filter((_, i) => live[i] === 0);
    if (!gone.length) return 0;
    await this.call((r) => r.zrem(set, ...gone));
    return Number(await this.script('sbReserve', set, room, creator.max, now));
  }

  /** The counted room exists now: its entry's score becomes 0 (past any grace: judged by its room alone). */
  private async confirm(creator: RoomCreator, room: string): Promise<void> {
    await this.call((r) => r.zadd(this.createdBy(creator), 'XX', 0, room)).catch(() => {});
  }

  private async unreserve(creator: RoomCreator, room: string): Promise<void> {
    await this.call((r) => r.zrem(this.createdBy(creator), room)).catch(() => {});
  }

  async leaveRoom(key: string, peerId: string, now: number): Promise<LeaveOutcome> {
    const r = await this.script('sbLeave', ...this.roomKeys(key), key, peerId, now);
    return r === 2 ? 'room-removed' : r === 1;
  }

  async touchRoom(key: string, now: number): Promise<void> {
    if (!this.cmdReady) return;
    const [room, , , , dueIdle] = this.roomKeys(key);
    await this.script('sbTouch', room!, dueIdle!, key, now).catch(() => {});
  }

  async getRoom(key: string): Promise<{ room: RoomRecord; members: MemberRecord[] } | undefined> {
    const [room, members] = this.roomKeys(key);
    const res = await this.call((r) => r.multi().hmget(room!, 'createdAt', 'lastActivity', 'options').hvals(members!).exec());
    const [fields, vals] = (res ?? []).map(([err, v]) => {
      if (err) throw new HubError('unavailable');
      return v;
    }) as [(string | null)[], string[]];
    if (!fields?.[2]) return undefined;
    return { room: record(key, fields[0]!, fields[1]!, fields[2]), members: vals.map(parseMember) };
  }

  async listRooms(namespace?: string): Promise<RoomRecord[]> {
    const keys = (await this.everyBucket((r, b) => r.smembers(`${b}rooms`))).flat().filter((k) => namespace === undefined || k.startsWith(`${namespace}/`));
    if (!keys.length) return [];
    // One pipelined write on one Redis; on a cluster, auto-pipelined per shard.
    const res = await this.call((r): Promise<[Error | null, unknown][]> => {
      if (this.cluster) return Promise.all(keys.map((k) => r.hmget(`${this.at(k)}room:${k}`, 'createdAt', 'lastActivity', 'options').then((v): [Error | null, unknown] => [null, v], (err: Error): [Error | null, unknown] => [err, null])));
      const pipe = r.pipeline();
      for (const k of keys) pipe.hmget(`${this.p}room:${k}`, 'createdAt', 'lastActivity', 'options');
      return pipe.exec().then((x) => x ?? []);
    });
    const out: RoomRecord[] = [];
    res.forEach(([err, v], i) => {
      const f = v as (string | null)[];
      if (!err && f?.[2]) out.push(record(keys[i]!, f[0]!, f[1]!, f[2]));
    });
    return out;
  }

  async sweep(now: number): Promise<SweptRoom[]> {
    const out: SweptRoom[] = [];
    for (const which of ['empty', 'idle'] as const) {
      const due = (await this.everyBucket((r, b) => r.zrangebyscore(`${b}due:${which}`, '-inf', now, 'LIMIT', 0, 500))).flat();
      for (const key of due) {
        const r = (await this.script('sbSweepRoom', ...this.roomKeys(key), key, now, which)) as 0 | [number, string[]];
        if (r === 0) continue;
        out.push({ key, reason: which === 'empty' ? 'empty' : 'expired', members: r[1].map(parseMember) });
      }
    }
    await this.expireDeadNodes(now);
    return out;
  }

  /** Removes the peers of every node whose presence is older than the TTL, once cluster-wide. */
  private async expireDeadNodes(now: number): Promise<void> {
    const staleBefore = now - this.opts.presenceTtlMs;
    const stale = await this.call((r) => r.zrangebyscore(`${this.p}nodes`, '-inf', staleBefore));
    for (const node of stale) {
      if (node === this.nodeId) continue;
      if ((await this.script('sbExpireNode', `${this.p}nodes`, node, staleBefore)) !== 1) continue;
      this.observer?.nodeExpired();
      // Its stored sessions wait for a resume elsewhere (their window starts now) and stay in their rooms.
      let waiting = 0;
      for (const b of this.allBuckets()) waiting += Number(await this.script('sbNodeSessions', `${b}node-sess:${node}`, `${b}sess-due`, node, now, RESUME_KEY_MARGIN_MS, b));
      const rooms = (await this.everyBucket((r, b) => r.smembers(`${b}node-rooms:${node}`))).flat();
      let peers = 0;
      for (const key of rooms) {
        const keep = this.cluster ? [JSON.stringify(await this.storedMembers(key, node))] : [];
        const [gone, ...removed] = (await this.script('sbRemoveNodeMembers', ...this.roomKeys(key), key, node, now, this.p, ...keep)) as [number, ...string[]];
        for (const peerId of removed) this.announce(key, { k: 'left', room: key, peerId, reason: 'disconnect' });
        if (gone === 1) this.sink?.roomGone?.(key);
        peers += removed.length;
      }
      const aliases = (await this.everyBucket((r, b) => r.smembers(`${b}node-aliases:${node}`))).flat();
      for (const a of aliases) await this.script('sbReleaseNodeAlias', a, node, this.p, ...(this.cluster ? [await this.storedHolder(a, node)] : []));
      await this.everyBucket((r, b) => r.del(`${b}node-rooms:${node}`, `${b}node-aliases:${node}`));
      this.log.warn({ deadNode: node, peers, rooms: rooms.length, waiting }, 'node presence expired: its peers were removed (resumable sessions wait for a resume)');
    }
  }

  /** Redis Cluster: the resumable members of a dead node in room `key` whose session is still stored (sessions live in other slots). */
  private async storedMembers(key: string, node: string): Promise<string[]> {
    const all = (await this.members(key)).filter((m) => m.node === node && m.resumable);
    const live = await this.call((r) => Promise.all(all.map((m) => r.exists(`${this.at(m.peerId)}sess:${m.peerId}`))));
    return all.filter((_, i) => live[i] === 1).map((m) => m.peerId);
  }

  /** Redis Cluster: the holder of alias key `aliasKey` if it is node's and its session is still stored, else ''. */
  private async storedHolder(aliasKey: string, node: string): Promise<string> {
    const v = await this.call((r) => r.get(aliasKey));
    if (!v) return '';
    const h = memberRef(v);
    if (h.node !== node) return '';
    return (await this.call((r) => r.exists(`${this.at(h.peerId)}sess:${h.peerId}`))) === 1 ? h.peerId : '';
  }

  async claimAlias(namespace: string, alias: string, who: MemberRef, replace: boolean, owner?: string): Promise<ClaimOutcome> {
    const holder = JSON.stringify(owner === undefined ? { peerId: who.peerId, node: who.node } : { peerId: who.peerId, node: who.node, owner });
    const r = (await this.script('sbClaim', this.aliasKey(namespace, alias), `${this.at(`${namespace}/${alias}`)}node-aliases:${who.node}`, holder, who.peerId, replace ? '1' : '0', owner ?? '')) as [number, string];
    const prev = r[1] ? memberRef(r[1]) : undefined;
    if (r[0] !== 1) return { ok: false, holder: prev! };
    return prev && prev.peerId !== who.peerId ? { ok: true, previous: prev } : { ok: true };
  }

  async releaseAlias(namespace: string, alias: string, peerId: string): Promise<void> {
    if (!this.cmdReady) return; // reconciled by the dead-node sweep or the next resync
    await this.script('sbRelease', this.aliasKey(namespace, alias), peerId).catch(() => {});
  }

  async resolveAlias(namespace: string, alias: string): Promise<MemberRef | undefined> {
    const v = await this.call((r) => r.get(this.aliasKey(namespace, alias)));
    return v ? memberRef(v) : undefined;
  }

  /**
   * A SCAN over the namespace's alias keys (glob characters in the prefix escaped); on a cluster,
   * over every master, matching any bucket's tag and then checked exactly.
   */
  async listAliases(namespace: string, max: number): Promise<string[]> {
    const esc = (t: string) => t.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
    const rest = `alias:${namespace}/`;
    const match = this.cluster ? `${esc(`${this.p}{b`)}*${esc(`}${rest}`)}*` : `${esc(`${this.p}${rest}`)}*`;
    const nameOf = (k: string): string | undefined => {
      const at = this.cluster ? k.indexOf('}', this.p.length) + 1 : this.p.length;
      return at > 0 && k.startsWith(rest, at) ? k.slice(at + rest.length) : undefined;
    };
    const shards = this.cluster ? (this.cmd as unknown as { nodes(role: 'master'): Redis[] }).nodes('master') : [this.cmd!];
    const out: string[] = [];
    for (const shard of shards) {
      let cursor = '0';
      do {
        const [next, keys] = await this.call(() => shard.scan(cursor, 'MATCH', match, 'COUNT', 1000));
        cursor = next;
        for (const k of keys) {
          const name = nameOf(k);
          if (name !== undefined && out.length < max) out.push(name);
        }
      } while (cursor !== '0' && out.length < max);
    }
    return out;
  }

  /**
   * One script (sbDirect) in this turn's pipeline: it resolves the alias and publishes to its
   * holder's node, or keeps the frame in the mailbox, atomically. Riding the pipeline keeps one
   * sender's deliveries in order with its other publications, and costs the sender no round trip.
   */
  toAlias(namespace: string, alias: string, env: Extract<Envelope, { k: 'direct' }>, mailbox?: MailboxOptions): Promise<DirectOutcome> {
    if (!this.cmdReady) {
      this.observer?.dropped('peer');
      throw new HubError('unavailable', UNDELIVERED.storeDown);
    }
    const head = `{"o":${JSON.stringify(this.nodeId)},"t":${Date.now()},"p":`;
    const tail = `,"e":${JSON.stringify({ k: 'direct', alias: env.alias, from: env.from })}}\n`;
    this.observer?.published('peer');
    return this.queue('sbDirect', [this.aliasKey(namespace, alias), this.mailKey(namespace, alias), `${this.at(`${namespace}/${alias}`)}n:`, head, tail, env.raw, mailbox ? '1' : '0', mailbox?.from ?? '', mailbox?.max ?? 0, mailbox?.ttlMs ?? 0]) as Promise<DirectOutcome>;
  }

  async takeMailbox(namespace: string, alias: string): Promise<string[]> {
    const all = (await this.script('sbTakeMail', this.mailKey(namespace, alias))) as string[];
    return all.map((e) => e.slice(e.indexOf('\n') + 1));
  }

  async expireMailbox(namespace: string, alias: string, from: string): Promise<number> {
    return Number(await this.script('sbExpireMail', this.mailKey(namespace, alias), from));
  }

  // ---- delivery -------------------------------------------------------------------------------

  async watchRoom(key: string): Promise<void> {
    if (!this.subReady) throw new HubError('unavailable');
    this.watched.add(key);
    const channel = this.roomChannel(key);
    if (!this.cluster) return void (await this.sub!.subscribe(channel));
    // A shard that is down holds the SSUBSCRIBE until it is back: bounded, the join then fails
    // (unavailable) like the store operations on that shard.
    await bounded(this.sub!.ssubscribe(channel));
  }

  unwatchRoom(key: string): void {
    if (!this.watched.delete(key)) return;
    const channel = this.roomChannel(key);
    void (this.cluster ? this.sub?.sunsubscribe(channel) : this.sub?.unsubscribe(channel))?.catch(() => {});
  }

  toPeer(target: MemberRef, env: Envelope): Handoff {
    if (target.node === this.nodeId) {
      this.sink?.onPeer(target.peerId, env);
      return undefined;
    }
    // On a cluster, through the bucket of the room it is about (the shard its room publications
    // take, so the two stay in order), else of the peer.
    const b = this.cluster ? bucketOf('room' in env && typeof env.room === 'string' ? env.room : target.peerId) : 0;
    return this.publish(this.nodeChannel(target.node, b), { o: this.nodeId, t: Date.now(), p: target.peerId, e: env }, 'peer');
  }

  toRoom(key: string, env: Envelope): Handoff {
    this.sink?.onRoom(key, env);
    // Always published, even when this node knows of no member elsewhere: one may have just joined
    // on another node, admitted by the store before its 'joined' reached us.
    return this.publish(this.roomChannel(key), { o: this.nodeId, t: Date.now(), e: env }, 'room');
  }

  /** A room publication of the backplane's own (a dead node's members leaving): logged if it fails. */
  private announce(key: string, env: Envelope): void {
    const failed = (err: unknown) => this.log.warn({ err: (err as Error).message, room: key, kind: env.k }, 'announcement not handed on');
    try {
      this.toRoom(key, env)?.catch(failed);
    } catch (err) {
      failed(err);
    }
    this.sink?.announced?.(key, env);
  }

  /**
   * Queues a publication for this turn's pipelined write and returns its Handoff. The promise is
   * the one allocation a cross-node delivery adds: the sender's ack waits for Redis's reply.
   */
  private publish(channel: string, wire: Wire, kind: 'peer' | 'room'): Promise<void> {
    if (!this.cmdReady) {
      this.observer?.dropped(kind);
      throw new HubError('unavailable', kind === 'peer' ? UNDELIVERED.storeDown : UNDELIVERED.roomStoreDown);
    }
    const message = encodeWire(wire);
    this.observer?.published(kind);
    const handoff = new Promise<void>((resolve, reject) => {
      this.outbox.push({ channel, message, kind, resolve, reject });
    });
    if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(this.flushOutbox);
    }
    return handoff;
  }

  /**
   * Sends what was published since the last flush. Publications wait for the end of the event-loop
   * turn (`setImmediate`, right after the turn's socket reads), so one turn's worth — every frame
   * read from every socket in it — leaves in one pipelined write instead of one write per message.
   * Store commands flush first (see call()), so Redis still sees everything in the order it was issued.
   */
  private readonly flushOutbox = (): void => {
    this.flushQueued = false;
    const batch = this.outbox;
    if (!batch.length) return;
    this.outbox = [];
    if (!this.cmdReady) {
      for (const b of batch) this.settle(b, 'not sent', 0);
      return;
    }
    const units = coalesce(batch);
    if (this.cluster) return this.sendEach(units);
    // One Redis: the commands go out corked, so the turn's batch leaves in one write (a pipeline
    // object would do the same, but ioredis builds one per exec with a copy of every script on it).
    const stream = (this.cmd as unknown as { stream?: { cork?: () => void; uncork?: () => void } }).stream;
    stream?.cork?.();
    try {
      this.sendEach(units);
    } finally {
      stream?.uncork?.();
    }
  };

  /**
   * The batch one command at a time, in order: on one Redis corked into one write (above); on a
   * Redis Cluster ioredis writes each to its shard's connection. Commands to one shard keep their
   * order.
   */
  private sendEach(units: (Outgoing | QueuedScript | AppendRun)[]): void {
    const r = this.cmd!;
    const scripts = r as unknown as Record<string, ScriptFn>;
    for (const u of units) {
      let sent: Promise<unknown>;
      if ('run' in u) {
        const m = appendMany(u);
        sent = scripts[m.command]!(...m.args);
      } else sent = 'script' in u ? scripts[u.script]!(...u.args) : this.pub(r, u.channel, u.message);
      sent.then(
        (reply) => this.settleUnit(u, null, reply),
        (err: unknown) => this.settleUnit(u, err, 0),
      );
    }
  }

  /** A run's reply is one result per append, in order; anything else has its own. */
  private settleUnit(u: Outgoing | QueuedScript | AppendRun, err: unknown, reply: unknown): void {
    if (!('run' in u)) return this.settle(u, err, reply);
    const each = Array.isArray(reply) ? reply : [];
    for (let i = 0; i < u.run.length; i++) this.settle(u.run[i]!, err ?? (i < each.length ? null : 'no reply'), err ? 0 : each[i]);
  }

  /**
   * One publication's outcome, from its reply. Handed on: Redis took it and — for a peer, whose
   * node's channel has exactly one subscriber, that node — someone received it (PUBLISH answers
   * with the number of receivers; 0 means the target's node is gone, though its presence may not
   * have expired yet). Otherwise the publisher hears `unavailable` and the drop is counted.
   */
  private settle(b: Outgoing | QueuedScript, err: unknown, receivers: unknown): void {
    if ('script' in b) {
      if (err) this.log.warn({ err: err instanceof Error ? err.message : err, script: b.script }, 'stored-session command failed');
      return b.done(err, receivers);
    }
    if (err) {
      this.observer?.dropped(b.kind);
      b.reject(new HubError('unavailable', b.kind === 'peer' ? UNDELIVERED.storeDown : UNDELIVERED.roomStoreDown));
    } else if (b.kind === 'peer' && receivers === 0) {
      this.observer?.dropped(b.kind);
      b.reject(new HubError('unavailable', UNDELIVERED.nodeGone));
    } else {
      b.resolve();
    }
  }

  /** Queues a script for this turn's pipelined write (stored sessions: one round trip per tick). */
  queue(script: ScriptName, args: (string | number)[]): Promise<unknown> {
    if (!this.cmdReady) return Promise.reject(new HubError('unavailable', UNDELIVERED.storeDown));
    return new Promise((resolve, reject) => {
      this.outbox.push({ script, args, done: (err, reply) => (err ? reject(new HubError('unavailable', UNDELIVERED.storeDown)) : resolve(reply)) });
      if (!this.flushQueued) {
        this.flushQueued = true;
        setImmediate(this.flushOutbox);
      }
    });
  }

  /** A store operation outside the pipeline (resume, end, sweep): the typed `unavailable` when it fails. */
  run(script: ScriptName, args: (string | number)[]): Promise<unknown> {
    return this.script(script, ...args);
  }

  get prefix(): string {
    return this.p;
  }

  /** Room `key`'s roster as stored (after this tick's writes). */
  async members(key: string): Promise<MemberRecord[]> {
    return (await this.call((r) => r.hvals(this.roomKeys(key)[1]!))).map(parseMember);
  }

  zrange(key: string, max: number): Promise<string[]> {
    return this.call((r) => r.zrangebyscore(key, '-inf', max, 'LIMIT', 0, 200));
  }

  private onMessage(channel: string, message: string): void {
    if (channel === this.logs.channel) return this.logs.deliver(message);
    if (message.charCodeAt(0) === 65 /* A */) return this.onAsk(message);
    // A stored session's frame (sbAppend): "F<peerId> <seq>\n<text>", on this node's channel only.
    if (message.charCodeAt(0) === 70 /* F */) {
      const sp = message.indexOf(' ');
      const nl = message.indexOf('\n', sp);
      if (sp > 1 && nl > sp) this.sink?.onFrame?.(message.slice(1, sp), Number(message.slice(sp + 1, nl)), message.slice(nl + 1));
      return;
    }
    // Many of them (sbAppendMany): "M", then "<peerId> <seq> <len>\n<text>" each.
    if (message.charCodeAt(0) === 77 /* M */) return eachFrame(message, (peerId, seq, text) => this.sink?.onFrame?.(peerId, seq, text));
    const w = decodeWire(message);
    if (!w) return;
    // Served synchronously when published; not an addressed delivery, which the store routed (sbDirect).
    if (w.o === this.nodeId && w.e.k !== 'direct') return;
    const latency = (Date.now() - w.t) / 1000;
    if (w.p !== undefined) {
      this.observer?.received('peer', latency);
      this.sink?.onPeer(w.p, w.e);
      return;
    }
    const room = this.roomOfChannel(channel);
    if (room !== undefined) {
      this.observer?.received('room', latency);
      this.sink?.onRoom(room, w.e);
    }
  }
}

function record(key: string, createdAt: string, lastActivity: string, options: string): RoomRecord {
  return { key, createdAt: Number(createdAt), lastActivity: Number(lastActivity), options: JSON.parse(options) as Required<RoomOptions> };
}

function parseStatus(json: string | null | undefined): NodeStatus | undefined {
  if (!json) return undefined;
  try {
    const v = JSON.parse(json) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as NodeStatus) : undefined;
  } catch {
    return undefined;
  }
}

/** An alias holder as stored ({peerId, node[, owner]}): the owner stays in the store. */
function memberRef(json: string): MemberRef {
  const { peerId, node } = JSON.parse(json) as MemberRef;
  return { peerId, node };
}

function parseMember(json: string): MemberRecord {
  return JSON.parse(json) as MemberRecord;
}

/** Redis Cluster: a room counted against its creator this recently may still be being created (see reserve()). */
const QUOTA_GRACE_MS = 10_000;

/** Stored keys outlive a detached session's deadline by this much (the sweep ends it first). */
const RESUME_KEY_MARGIN_MS = 60_000;

/**
 * The SessionStore over Redis (keys and scripts: redis-scripts.ts, "Stored sessions"). On a Redis
 * Cluster a session's keys (sess, log, its tokens, and its place in node-sess and sess-due) are all
 * in its peerId's slot bucket: its tokens are drawn so they hash there too (sameShard), which is
 * what lets a resume by token alone find the session in one script.
 */
class RedisSessions implements SessionStore {
  private readonly rememberMs: number;
  /**
   * Cluster: the room fan-outs still reading their rosters. Appends made after one wait for it, so
   * that this node's frames reach each log in the order they were sent.
   */
  private gate: Promise<void> | undefined;
  /**
   * Cluster: the last fan-out not yet settled. What is appended after it settles after it too, so
   * the senders' acks come in the order they sent (a fan-out settles a few steps after its appends).
   */
  private tail: Promise<unknown> | undefined;

  constructor(
    private readonly bp: RedisBackplane,
    windowMs: number,
  ) {
    this.rememberMs = Math.max(60_000, 2 * windowMs);
  }

  /** A key of session `id`'s own (or of a token hash, which lands in the same bucket). */
  private k(what: string, id: string): string {
    return `${this.bp.at(id)}${what}:${id}`;
  }

  sameShard(key: string, tokenHash: string): boolean {
    return !this.bp.cluster || bucketOf(key) === bucketOf(tokenHash);
  }

  open(init: { peerId: string; namespace: string; subject: string; tokenHash: string; maxBytes: number; windowMs: number; last?: number; ifAbsent?: boolean }): Promise<boolean> {
    const { peerId } = init;
    const p = this.bp.at(peerId);
    return this.bp
      .queue('sbOpenSession', [this.k('sess', peerId), this.k('log', peerId), `${p}node-sess:${this.bp.nodeId}`, `${p}tok:${init.tokenHash}`, peerId, this.bp.nodeId, init.namespace, init.subject, init.tokenHash, init.maxBytes, init.windowMs, init.last ?? 0, init.ifAbsent ? '1' : '0'])
      .then(
        (r) => r === 1,
        () => false,
      );
  }

  append(peerId: string, text: string, owner: string): Promise<AppendOutcome> {
    const run = () => this.appendNow(peerId, text, owner);
    const mine = this.gate ? this.gate.then(run) : run();
    return this.tail ? Promise.all([this.tail, mine]).then(([, r]) => r) : mine;
  }

  private async appendNow(peerId: string, text: string, owner: string): Promise<AppendOutcome> {
    const r = Number(await this.bp.queue('sbAppend', [this.k('sess', peerId), this.k('log', peerId), peerId, text, owner, this.bp.at(peerId)]));
    return r > 0 ? r : r === -2 ? 'moved' : r === -3 ? 'overflow' : 'gone';
  }

  async fanout(key: string, text: string, except: string): Promise<string[]> {
    if (!this.bp.cluster) return ((await this.bp.queue('sbFanout', [`${this.bp.prefix}members:${key}`, text, except, this.bp.prefix])) as string[]) ?? [];
    // Cluster: each member's log is in its own slot, so no one script reaches them all: the roster
    // is read, then one append per stored member (in this tick's writes, per shard).
    let over: Promise<string[]> = Promise.resolve([]);
    const prevGate = this.gate;
    const prevTail = this.tail;
    const gate = (async () => {
      await prevGate;
      const members = (await this.bp.members(key)).filter((m) => m.resumable && m.peerId !== except);
      const outs = members.map((m) => this.appendNow(m.peerId, text, '').catch((): AppendOutcome => 'gone'));
      over = Promise.all(outs).then((r) => members.filter((_, i) => r[i] === 'overflow').map((m) => m.peerId));
    })();
    const done = gate.then(async () => {
      await prevTail;
      return over;
    });
    const queued = gate.catch(() => {});
    const settled = done.catch(() => {});
    this.gate = queued;
    this.tail = settled;
    void queued.then(() => {
      if (this.gate === queued) this.gate = undefined;
    });
    void settled.then(() => {
      if (this.tail === settled) this.tail = undefined;
    });
    return done;
  }

  trim(peerId: string, seq: number): void {
    void this.bp.queue('sbTrim', [this.k('sess', peerId), this.k('log', peerId), seq]).catch(() => {});
  }

  update(peerId: string, rooms: string[], aliases: string[]): void {
    void this.bp.queue('sbUpdateSession', [this.k('sess', peerId), JSON.stringify(rooms), JSON.stringify(aliases)]).catch(() => {});
  }

  async detach(peerId: string, node: string, deadline: number): Promise<void> {
    // Real-time TTL for the keys: past any window (the sweep ends the session at its deadline first).
    const ttl = this.rememberMs + RESUME_KEY_MARGIN_MS;
    const p = this.bp.at(peerId);
    await this.bp.queue('sbDetachSession', [this.k('sess', peerId), this.k('log', peerId), `${p}sess-due`, peerId, node, deadline, ttl, p]);
  }

  async resume(tokenHash: string, newTokenHash: string, subject: string, afterSeq: number, now: number): Promise<StoreResume> {
    const p = this.bp.at(tokenHash);
    const r = (await this.bp.run('sbResumeSession', [this.k('tok', tokenHash), `${p}sess-due`, tokenHash, newTokenHash, this.bp.nodeId, subject, afterSeq, now, p])) as (string | number)[];
    if (r[0] !== 1) {
      const out: StoreResume = { ok: false, error: String(r[1]) as Extract<StoreResume, { ok: false }>['error'] };
      if (r[2] !== undefined) out.peerId = String(r[2]);
      return out;
    }
    return { ok: true, session: stored(String(r[1]), r.slice(2, 6).map(String)), missed: entries(r.slice(6)) };
  }

  async since(peerId: string, afterSeq: number): Promise<{ seq: number; item: string; bytes: number }[]> {
    return entries((await this.bp.run('sbReadLog', [this.k('sess', peerId), this.k('log', peerId), afterSeq])) as string[]);
  }

  async end(peerId: string, how: string, now: number, onlyDue: boolean): Promise<StoredSession | undefined> {
    const p = this.bp.at(peerId);
    const r = await this.bp.run('sbEndSession', [this.k('sess', peerId), this.k('log', peerId), `${p}sess-due`, peerId, how, this.rememberMs, now, onlyDue ? '1' : '0', p]);
    return Array.isArray(r) ? stored(peerId, r.map(String)) : undefined;
  }

  async due(now: number): Promise<string[]> {
    return (await Promise.all(this.bp.allBuckets().map((b) => this.bp.zrange(`${b}sess-due`, now)))).flat();
  }
}

/** Log entries as stored ("<seq> <text>"). */
function entries(list: (string | number)[]): { seq: number; item: string; bytes: number }[] {
  return list.map((x) => {
    const e = String(x);
    const sp = e.indexOf(' ');
    return { seq: Number(e.slice(0, sp)), item: e.slice(sp + 1), bytes: e.length - sp - 1 };
  });
}

function stored(peerId: string, [node, ns, rooms, aliases]: string[]): StoredSession {
  return { peerId, node: node!, namespace: ns!, rooms: JSON.parse(rooms || '[]') as string[], aliases: JSON.parse(aliases || '[]') as string[] };
}
