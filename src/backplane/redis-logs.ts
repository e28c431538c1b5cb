import type { ClusterLogs } from '../core/backplane.js';
import type { Clock } from '../core/clock.js';
import { TokenBucket } from '../core/rate.js';
import type { CoreLogger } from '../core/session.js';
import type { RedisClient } from './redis-client.js';

/** Where a node's own log lines come from (the logger's tap, src/observability/logger.ts). */
export interface LineSource {
  subscribe(fn: (line: string) => void): () => void;
}

/** Lines one node publishes per second at most; the rest are dropped and counted. */
export const PUBLISHED_LINES_PER_SECOND = 200;

/** pino's numeric level of `info`: lines below it (debug, trace) never leave the node. */
const INFO = 30;

/** What RedisLogs needs of its backplane (kept narrow so this file knows nothing else of it). */
export interface LogRedis {
  readonly nodeId: string;
  readonly prefix: string;
  /** The command connection when it is up. */
  commands(): RedisClient | undefined;
  /** The subscriber connection when it is up. */
  subscriber(): RedisClient | undefined;
}

/**
 * The cluster's log channel, `<prefix>logs`. A node with a log watcher (an admin log stream) keeps
 * the key `<prefix>logwatch` alive (PX one presence TTL, refreshed on the presence timer) and
 * listens on the channel; every node checks the key on its presence timer and, while it exists,
 * publishes its info-and-above lines there as `<node>\n<line>`, at most PUBLISHED_LINES_PER_SECOND
 * (the rest dropped, counted, and the count logged on the next check). Nobody watching costs one
 * EXISTS per presence tick and nothing per line.
 */
export class RedisLogs implements ClusterLogs {
  private readonly watchers = new Set<(node: string, line: string) => void>();
  private unpublish: (() => void) | undefined;
  private readonly bucket: TokenBucket;
  dropped = 0;
  private unreported = 0;

  constructor(
    private readonly redis: LogRedis,
    private readonly source: LineSource | undefined,
    clock: Clock,
    private readonly ttlMs: number,
    private readonly log: CoreLogger,
  ) {
    this.bucket = new TokenBucket(clock, PUBLISHED_LINES_PER_SECOND, PUBLISHED_LINES_PER_SECOND);
  }

  get channel(): string {
    return `${this.redis.prefix}logs`;
  }

  private get key(): string {
    return `${this.redis.prefix}logwatch`;
  }

  watch(onLine: (node: string, line: string) => void): () => void {
    const own = (node: string, line: string) => onLine(node, line);
    this.watchers.add(own);
    if (this.watchers.size === 1) {
      void this.redis.subscriber()?.subscribe(this.channel).catch(() => {});
      void this.keepWatchKey();
    }
    return () => {
      if (!this.watchers.delete(own) || this.watchers.size > 0) return;
      void this.redis.subscriber()?.unsubscribe(this.channel).catch(() => {});
    };
  }

  /** Awaited by a new watcher before it asks the other nodes to publish (so their next check agrees). */
  async keepWatchKey(): Promise<void> {
    await this.redis.commands()?.set(this.key, '1', 'PX', this.ttlMs).catch(() => {});
  }

  /** The presence timer: keep our watch alive, then publish or not as the cluster's key says. */
  async check(): Promise<void> {
    if (this.watchers.size > 0) await this.keepWatchKey();
    const r = this.redis.commands();
    if (!r) return;
    const watched = await r.exists(this.key).catch(() => undefined);
    if (watched === 1) this.publishNow();
    else if (watched === 0) this.stopPublishing();
    if (this.unreported > 0) {
      this.log.warn({ dropped: this.unreported, perSecond: PUBLISHED_LINES_PER_SECOND }, 'log lines not published to the cluster log stream (over the rate bound)');
      this.unreported = 0;
    }
  }

  /** Whether this node publishes its lines now. */
  get publishing(): boolean {
    return this.unpublish !== undefined;
  }

  publishNow(): void {
    if (!this.source || this.unpublish) return;
    this.unpublish = this.source.subscribe((line) => this.publish(line));
  }

  stopPublishing(): void {
    this.unpublish?.();
    this.unpublish = undefined;
  }

  /** Runs inside a log write: it must never log, and never throw. */
  private publish(line: string): void {
    const m = /^\{"level":(\d+)/.exec(line);
    if (m && Number(m[1]) < INFO) return;
    if (!this.bucket.take()) {
      this.dropped++;
      this.unreported++;
      return;
    }
    this.redis.commands()?.publish(this.channel, `${this.redis.nodeId}\n${line}`).catch(() => {});
  }

  /** A message on the log channel. */
  deliver(message: string): void {
    const nl = message.indexOf('\n');
    if (nl <= 0) return;
    const node = message.slice(0, nl);
    if (node === this.redis.nodeId) return;
    const line = message.slice(nl + 1);
    for (const w of this.watchers) w(node, line);
  }

  stop(): void {
    this.stopPublishing();
    this.watchers.clear();
  }
}
