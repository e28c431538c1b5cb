import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { RedisCluster } from '../../bench/redis-cluster.js';
import { freePort, freeStorePort } from '../../bench/redis.js';
import { bucketOf, CLUSTER_BUCKETS } from '../../src/backplane/redis.js';
import type { RedisClient } from '../../src/backplane/redis-client.js';
import { needProgram } from './programs.js';

/**
 * Which backplane the Redis tests run on: one redis-server, or (SWITCHBOARD_TEST_REDIS=cluster) a
 * real 3-master Redis Cluster. `npm test` runs test/cluster/ both ways (scripts/run-tests.mjs).
 */
export const onRedisCluster = process.env.SWITCHBOARD_TEST_REDIS === 'cluster';

/** Whether redis-server (and, for a cluster, redis-cli) is on PATH; tests that need it skip loudly (naming the apt package) when not. */
export const redisSkip =
  needProgram('redis-server', ['--version'], 'redis-server', 'Redis cluster tests') || (onRedisCluster && needProgram('redis-cli', ['--version'], 'redis-tools', 'Redis Cluster tests'));
export const redisAvailable = redisSkip === false;

export { freePort };

/** What a test needs of the shared store: where it is, how to kill and restart it, a client of its own. */
export interface TestRedis {
  readonly url: string;
  readonly cluster: boolean;
  /** The `redis` settings of a node on it (besides prefix and presence). */
  readonly config: { url: string; cluster: boolean };
  /** The environment of a node in its own process on it. */
  readonly env: Record<string, string>;
  /** Starts it again on the same port(s), empty; `args`: more redis-server arguments for each server. */
  start(args?: string[]): Promise<void>;
  /** A command, on every server (redis-cli). */
  cliAll(...args: string[]): Promise<void>;
  /** Stops it the hard way (SIGKILL) and waits for every process to be gone. */
  kill(): Promise<void>;
  /** A client of the test's own (disconnect it when done). */
  client(): RedisClient;
  /**
   * The name a node gives key or channel `name` (after the prefix) that belongs to `owner` (a room
   * key, `NS/ALIAS`, a peerId, `@address`): on a cluster, tagged with owner's slot bucket.
   */
  key(name: string, owner: string, prefix?: string): string;
  /** How many connections listen on node `id`'s channels (every bucket's, on a cluster). */
  nodeSubscribers(id: string, prefix?: string): Promise<number>;
  /** CLIENT PAUSE on every server: commands are held unanswered for `ms`. */
  pause(ms: number): Promise<void>;
}

/** A fresh store of the kind this run tests on. */
export function startRedis(): Promise<TestRedis> {
  return onRedisCluster ? ClusterProcess.start() : RedisProcess.start();
}

/** A real redis-server child process on a free loopback port; kill and restart it at will. */
export class RedisProcess implements TestRedis {
  private proc: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'sb-redis-'));
  readonly cluster = false;

  private constructor(readonly port: number) {}

  static async start(port?: number): Promise<RedisProcess> {
    const r = new RedisProcess(port ?? (await freeStorePort()));
    await r.start();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get config(): { url: string; cluster: boolean } {
    return { url: this.url, cluster: false };
  }

  get env(): Record<string, string> {
    return { SWITCHBOARD_REDIS_URL: this.url };
  }

  client(): RedisClient {
    return new Redis(this.url);
  }

  key(name: string, _owner: string, prefix = 'sb:'): string {
    return `${prefix}${name}`;
  }

  async nodeSubscribers(id: string, prefix = 'sb:'): Promise<number> {
    const r = new Redis(this.url);
    try {
      return ((await r.pubsub('NUMSUB', `${prefix}n:${id}`)) as [string, number])[1];
    } finally {
      r.disconnect();
    }
  }

  async pause(ms: number): Promise<void> {
    const r = new Redis(this.url);
    await r.call('CLIENT', 'PAUSE', String(ms), 'ALL');
    r.disconnect();
  }

  async cliAll(...args: string[]): Promise<void> {
    const r = new Redis(this.url);
    try {
      await r.call(args[0]!, ...args.slice(1));
    } finally {
      r.disconnect();
    }
  }

  async start(args: string[] = []): Promise<void> {
    const proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', this.dir, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) resolve();
      });
      proc.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
    });
  }

  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill('SIGKILL');
    await gone;
  }
}

/** A real 3-master Redis Cluster (bench/redis-cluster.ts) behind the same interface. */
export class ClusterProcess implements TestRedis {
  readonly cluster = true;

  private constructor(readonly shards: RedisCluster) {}

  static async start(): Promise<ClusterProcess> {
    return new ClusterProcess(await RedisCluster.start(3));
  }

  get url(): string {
    return this.shards.url;
  }

  get config(): { url: string; cluster: boolean } {
    return { url: this.url, cluster: true };
  }

  get env(): Record<string, string> {
    return { SWITCHBOARD_REDIS_URL: this.url, SWITCHBOARD_REDIS_CLUSTER: 'true' };
  }

  client(): RedisClient {
    return new Cluster([{ host: '127.0.0.1', port: this.shards.ports[0]! }], { shardedSubscribers: true });
  }

  key(name: string, owner: string, prefix = 'sb:'): string {
    return `${prefix}{b${bucketOf(owner)}}${name}`;
  }

  async nodeSubscribers(id: string, prefix = 'sb:'): Promise<number> {
    const channels = Array.from({ length: CLUSTER_BUCKETS }, (_, b) => `${prefix}{b${b}}n:${id}`);
    let n = 0;
    // Each shard counts the subscribers of the channels whose slots it owns (0 for the others).
    for (const p of this.shards.ports) {
      const r = new Redis(p, '127.0.0.1');
      try {
        const reply = (await r.call('PUBSUB', 'SHARDNUMSUB', ...channels)) as (string | number)[];
        for (let i = 1; i < reply.length; i += 2) n += Number(reply[i]);
      } finally {
        r.disconnect();
      }
    }
    return n;
  }

  async pause(ms: number): Promise<void> {
    for (const p of this.shards.ports) await this.shards.cli(p, 'client', 'pause', String(ms), 'all');
  }

  /** Every shard again (each comes back empty, owning its slots), then the cluster is ok. */
  async start(args: string[] = []): Promise<void> {
    for (const p of this.shards.ports) await this.shards.startShard(p, args);
    await this.shards.waitOk();
  }

  async cliAll(...args: string[]): Promise<void> {
    for (const p of this.shards.ports) await this.shards.cli(p, ...args);
  }

  async kill(): Promise<void> {
    for (const p of this.shards.ports) await this.shards.killShard(p);
  }
}
