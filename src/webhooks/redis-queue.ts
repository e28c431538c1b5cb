import { createRedisClient, type RedisClient } from '../backplane/redis-client.js';
import { randomId } from '../core/ids.js';
import { silentLogger, type CoreLogger } from '../core/session.js';
import { decodeEvent, encodeEvent, type QueuedEvent } from './events.js';
import type { WebhookQueue } from './queue.js';

/**
 * Keys (P = redis.prefix):
 *   P wh:q       list    waiting events, oldest first (events.ts encodeEvent); removed by exact text
 *   P wh:leader  string  the delivering node's token, with a TTL (leadMs) the leader renews
 */
const PUSH = `
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[2]) then return -1 end
return redis.call('RPUSH', KEYS[1], ARGV[1])
`;
const LEAD = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
`;
const RESIGN = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export interface RedisQueueOptions {
  url: string;
  /** A Redis Cluster (redis.cluster; `url` and `nodes` are seeds): the queue and the lock are one key each, so any shard serves them. */
  cluster?: boolean;
  nodes?: string[];
  prefix: string;
  maxQueue: number;
  /** The leader lock's TTL: a leader silent this long (dead, cut off) is replaced. */
  leadMs: number;
  log?: CoreLogger;
}

/**
 * One queue for the whole cluster, in Redis, on a connection of its own. Every node pushes the
 * events it produced (in the order its store operations were answered); one node at a time, the
 * holder of a lock it keeps renewing, delivers them. A leader that dies leaves the lock to expire,
 * and its in-flight event in the queue: the next leader delivers it again, with the same webhook-id.
 */
export class RedisQueue implements WebhookQueue {
  readonly shared = true;
  private redis: RedisClient | undefined;
  private readonly token = randomId(12);
  private readonly q: string;
  private readonly lock: string;
  private readonly log: CoreLogger;
  /** Each peeked event's exact list entry, which is how it is removed. */
  private readonly raw = new Map<string, string>();
  private seen = 0;

  constructor(private readonly opts: RedisQueueOptions) {
    this.q = `${opts.prefix}wh:q`;
    this.lock = `${opts.prefix}wh:leader`;
    this.log = (opts.log ?? silentLogger).child({ webhooks: 'redis' });
  }

  get size(): number {
    return this.seen;
  }

  async start(): Promise<void> {
    // Fail fast while disconnected: an event that cannot be queued is counted (store-down), never held in memory unbounded.
    this.redis = createRedisClient({ url: this.opts.url, cluster: this.opts.cluster === true, nodes: this.opts.nodes ?? [] }, { connectionName: 'switchboard-webhooks', failFast: true });
    this.redis.on('error', (err: Error) => this.log.debug({ err: err.message }, 'redis error'));
    await this.redis.connect().catch((err: Error) => this.log.warn({ err: err.message }, 'webhook queue: redis unreachable; retrying in the background'));
  }

  private get r(): RedisClient {
    if (!this.redis) throw new Error('webhook queue not started');
    return this.redis;
  }

  async push(e: QueuedEvent): Promise<'queued' | 'full'> {
    const n = Number(await this.r.eval(PUSH, 1, this.q, encodeEvent(e), this.opts.maxQueue));
    if (n < 0) return 'full';
    this.seen = n;
    return 'queued';
  }

  async peek(max: number): Promise<QueuedEvent[]> {
    const res = await this.r.multi().lrange(this.q, 0, max - 1).llen(this.q).exec();
    const [[e1, entries], [e2, len]] = res as [[Error | null, string[]], [Error | null, number]];
    if (e1 || e2) throw e1 ?? e2;
    this.seen = len;
    const out: QueuedEvent[] = [];
    for (const text of entries) {
      const e = decodeEvent(text);
      if (!e) {
        this.log.warn({ entry: text.slice(0, 200) }, 'webhook queue: an entry no node of ours wrote was removed');
        await this.r.lrem(this.q, 1, text);
        continue;
      }
      this.raw.set(e.id, text);
      out.push(e);
    }
    return out;
  }

  async remove(e: QueuedEvent): Promise<void> {
    const text = this.raw.get(e.id) ?? encodeEvent(e);
    await this.r.lrem(this.q, 1, text);
    this.raw.delete(e.id);
    this.seen = Math.max(0, this.seen - 1);
  }

  async lead(): Promise<boolean> {
    const ok = Number(await this.r.eval(LEAD, 1, this.lock, this.token, this.opts.leadMs)) === 1;
    if (!ok) this.raw.clear();
    return ok;
  }

  async close(): Promise<number> {
    const r = this.redis;
    if (!r) return 0;
    if (r.status === 'ready') await r.eval(RESIGN, 1, this.lock, this.token).catch(() => {});
    r.disconnect();
    this.redis = undefined;
    return 0;
  }
}
