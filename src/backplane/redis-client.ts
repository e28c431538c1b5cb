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
}

/** On a Redis Cluster, a command of a fail-fast client not answered within this long fails. */
export const CLUSTER_COMMAND_TIMEOUT_MS = 5000;

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
    // A moved slot is noticed from the next MOVED reply, or within a second at most.
    slotsRefreshInterval: 1000,
    redisOptions,
  };
  return new Cluster(seeds, options);
}

function parseSeed(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 6379) };
}

/** PUBLISH on one Redis; SPUBLISH (sharded: one shard, not every one) on a cluster. Resolves to the receivers. */
export function publishOn(r: RedisClient, sharded: boolean, channel: string, message: string): Promise<number> {
  return sharded ? (r as unknown as { spublish(c: string, m: string): Promise<number> }).spublish(channel, message) : r.publish(channel, message);
}
