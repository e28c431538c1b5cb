import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

/** A connection to one Redis or to a Redis Cluster: the commands both answer are the same. */
export type RedisClient = Redis | Cluster;

/** Where the shared store is: one Redis (`url`), or a Redis Cluster seeded by `url` and `nodes`. */
export interface RedisTarget {
  url: string;
  cluster?: boolean;
  /** More seed nodes of the cluster (`redis://host:port`). */
  nodes?: string[];
}

export interface ClientRole {
  connectionName: string;
  /** Commands fail at once while disconnected (no unbounded offline queue on a hot path); else they wait. */
  failFast: boolean;
  /** A Redis Cluster client that will SSUBSCRIBE: one subscriber connection per shard (ioredis shardedSubscribers). */
  sharded?: boolean;
  /**
   * The client that subscribes. On one Redis it does not subscribe again by itself after a
   * reconnect (ioredis's autoResubscribe): the backplane does, where a refusal is handled (ioredis
   * leaves its own SUBSCRIBE's rejection unhandled, which ends the process).
   */
  subscriber?: boolean;
  /** On a cluster: how often the slot map is re-read besides on MOVED (default {@link CLUSTER_SLOTS_REFRESH_MS}). */
  slotsRefreshMs?: number;
}

/** On a Redis Cluster, a command of a fail-fast client not answered within this long fails. */
export const CLUSTER_COMMAND_TIMEOUT_MS = 5000;

/** On a cluster, the slot map is re-read this often, and at once on a MOVED reply. */
export const CLUSTER_SLOTS_REFRESH_MS = 1000;

/** Reconnect forever, backing off to 2 s: a Redis outage must never end the process. */
const backoff = (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000);

/**
 * A lazily connecting client (call `connect()`). On a cluster, one URL's credentials and TLS
 * (`rediss:`) apply to every shard; commands are auto-pipelined per shard (a cluster pipeline
 * must stay on one shard, so batching is left to ioredis, which groups a tick's commands by node).
 */
export function createRedisClient(target: RedisTarget, role: ClientRole): RedisClient {
  const base: RedisOptions = { retryStrategy: backoff, lazyConnect: true, connectionName: role.connectionName };
  const fail: RedisOptions = role.failFast ? { enableOfflineQueue: false, maxRetriesPerRequest: 0 } : { enableOfflineQueue: true, maxRetriesPerRequest: null };
  if (!target.cluster) return new Redis(target.url, { ...base, ...fail, ...(role.subscriber ? { autoResubscribe: false } : {}) });
  const seeds = [target.url, ...(target.nodes ?? [])].map(parseSeed);
  const first = new URL(target.url);
  const redisOptions: RedisOptions = { connectionName: role.connectionName };
  if (first.username) redisOptions.username = decodeURIComponent(first.username);
  if (first.password) redisOptions.password = decodeURIComponent(first.password);
  if (first.protocol === 'rediss:') redisOptions.tls = {};
  if (role.failFast) {
    redisOptions.maxRetriesPerRequest = 0;
    // A shard's connections queue commands while they (re)connect (ioredis needs that to reach a
    // node before it is ready), so a command to a shard that just died can wait on reconnects:
    // bounded here, it then fails like any other (`unavailable`).
    redisOptions.commandTimeout = CLUSTER_COMMAND_TIMEOUT_MS;
  }
  const options: ClusterOptions = {
    lazyConnect: true,
    clusterRetryStrategy: backoff,
    enableOfflineQueue: !role.failFast,
    enableAutoPipelining: !role.sharded,
    shardedSubscribers: role.sharded === true,
    // ioredis's own periodic refresh is off: its timer re-arms itself from the callback of a refresh
    // that was in flight when disconnect() ran (ioredis 5.11, Cluster#resetNodesRefreshInterval),
    // and then refreshes a closed client every interval forever, so the process never exits. Seen
    // as a CI run that hung after its Redis Cluster tests had passed. refreshEvery() does the same
    // job on a timer that ends with the connection.
    slotsRefreshInterval: 0,
    redisOptions,
  };
  const cluster = new Cluster(seeds, options);
  refreshEvery(cluster, role.slotsRefreshMs ?? CLUSTER_SLOTS_REFRESH_MS);
  return cluster;
}

/**
 * Re-reads the slot map every `ms` while the cluster client is ready, so a moved slot is known
 * within `ms` even before a command meets a MOVED reply. The timer is armed on 'ready' and cleared
 * on 'close' and 'end' (a manual disconnect, or a lost connection before a reconnect), and it is
 * unref'd: the slot map is never what keeps a process alive. A real-time timer, like the client's
 * reconnects: it belongs to the transport, not to Switchboard's injected clock.
 */
function refreshEvery(cluster: Cluster, ms: number): void {
  let timer: NodeJS.Timeout | undefined;
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
  };
  cluster.on('ready', () => {
    if (cluster.status !== 'ready') return; // the event comes a tick late: it may be closing already
    timer ??= setInterval(() => {
      if (cluster.status === 'ready') cluster.refreshSlotsCache();
    }, ms).unref();
  });
  cluster.on('close', stop);
  cluster.on('end', stop);
}

function parseSeed(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 6379) };
}

/** PUBLISH on one Redis; SPUBLISH (sharded: one shard, not every one) on a cluster. Resolves to the receivers. */
export function publishOn(r: RedisClient, sharded: boolean, channel: string, message: string): Promise<number> {
  return sharded ? (r as unknown as { spublish(c: string, m: string): Promise<number> }).spublish(channel, message) : r.publish(channel, message);
}
