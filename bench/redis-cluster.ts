import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freeStorePort, redisReady } from './redis.js';

const run = promisify(execFile);

/**
 * A real Redis Cluster of `masters` redis-server processes on loopback (no replicas, no
 * persistence), made with `redis-cli --cluster create`. Shared by the benchmark's cluster scenario
 * and the tests (test/helpers/redis.ts). Each shard can be killed and started again on its port;
 * it comes back empty (no persistence) but owning its slots (its nodes.conf is kept).
 */
export class RedisCluster {
  private readonly procs = new Map<number, ChildProcess>();
  private readonly dirs = new Map<number, string>();
  private stopping = false;

  private constructor(readonly ports: number[]) {}

  /** Starts the shards, joins them into one cluster and waits until every shard reports `cluster_state:ok`. */
  static async start(masters = 3): Promise<RedisCluster> {
    const ports: number[] = [];
    while (ports.length < masters) {
      const p = await freeStorePort(10_000);
      if (!ports.includes(p)) ports.push(p);
    }
    const c = new RedisCluster(ports);
    try {
      for (const p of ports) await c.startShard(p);
      await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
      await c.waitOk();
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  /** The seed URL (the first shard); a cluster client finds the others from it. */
  get url(): string {
    return `redis://127.0.0.1:${this.ports[0]}`;
  }

  /** Every shard's URL (`redis.nodes`). */
  get urls(): string[] {
    return this.ports.map((p) => `redis://127.0.0.1:${p}`);
  }

  pid(port: number): number | undefined {
    return this.procs.get(port)?.pid;
  }

  /** One shard's process on its port (its directory, and so its nodes.conf, kept across restarts); `args`: more redis-server arguments. */
  async startShard(port: number, args: string[] = []): Promise<void> {
    let dir = this.dirs.get(port);
    if (!dir) this.dirs.set(port, (dir = mkdtempSync(join(tmpdir(), 'sb-redis-cluster-'))));
    const proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir, ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.procs.set(port, proc);
    await redisReady(proc, () => this.stopping);
  }

  /** Kills one shard (SIGKILL) and waits for it to be gone. */
  async killShard(port: number): Promise<void> {
    const p = this.procs.get(port);
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill('SIGKILL');
    await gone;
  }

  /** Asks one shard a command with redis-cli; its reply as text. */
  async cli(port: number, ...args: string[]): Promise<string> {
    const { stdout } = await run('redis-cli', ['-p', String(port), ...args], { timeout: 30_000 });
    return stdout;
  }

  /** Every shard's node id, by port. */
  async nodeIds(): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    for (const p of this.ports) out.set(p, (await this.cli(p, 'cluster', 'myid')).trim());
    return out;
  }

  /** The port of the shard that owns a slot. */
  async ownerOf(slot: number): Promise<number> {
    const lines = (await this.cli(this.ports[0]!, 'cluster', 'nodes')).trim().split('\n');
    for (const line of lines) {
      const f = line.split(' ');
      const port = Number(f[1]!.split(':')[1]!.split('@')[0]);
      for (const range of f.slice(8)) {
        if (range.startsWith('[')) continue;
        const [a, b] = range.split('-').map(Number);
        if (slot >= a! && slot <= (b ?? a!)) return port;
      }
    }
    throw new Error(`no shard owns slot ${slot}`);
  }

  /**
   * Moves one slot, with its keys, from the shard that owns it to `toPort`, the way
   * `redis-cli --cluster reshard` does (SETSLOT IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE).
   */
  async moveSlot(slot: number, toPort: number): Promise<void> {
    const from = await this.ownerOf(slot);
    if (from === toPort) return;
    await this.beginMove(slot, toPort);
    for (;;) {
      const keys = (await this.cli(from, 'cluster', 'getkeysinslot', String(slot), '100')).split('\n').filter(Boolean);
      if (!keys.length) break;
      await this.migrate(from, toPort, keys);
    }
    await this.endMove(slot, toPort);
  }

  /** The steps of moveSlot, for a test to stop between them: slot `slot` now migrating to `toPort`. */
  async beginMove(slot: number, toPort: number): Promise<void> {
    const from = await this.ownerOf(slot);
    const ids = await this.nodeIds();
    await this.cli(toPort, 'cluster', 'setslot', String(slot), 'importing', ids.get(from)!);
    await this.cli(from, 'cluster', 'setslot', String(slot), 'migrating', ids.get(toPort)!);
  }

  /** Moves these keys of a migrating slot (MIGRATE … REPLACE, as redis-cli's reshard with --cluster-replace). */
  async migrate(fromPort: number, toPort: number, keys: string[]): Promise<void> {
    await this.cli(fromPort, 'migrate', '127.0.0.1', String(toPort), '', '0', '5000', 'replace', 'keys', ...keys);
  }

  /** The slot belongs to `toPort` on every shard. */
  async endMove(slot: number, toPort: number): Promise<void> {
    const ids = await this.nodeIds();
    for (const p of this.ports) await this.cli(p, 'cluster', 'setslot', String(slot), 'node', ids.get(toPort)!);
  }

  /** Resolves once every running shard says `cluster_state:ok` (polled: an outside process's readiness). */
  async waitOk(timeoutMs = 20_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(this.ports.filter((p) => this.procs.get(p)?.exitCode === null).map((p) => this.cli(p, 'cluster', 'info').catch(() => '')));
      if (states.every((s) => s.includes('cluster_state:ok'))) return;
      if (Date.now() > until) throw new Error(`Redis Cluster not ok after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const p of this.ports) await this.killShard(p);
    for (const d of this.dirs.values()) rmSync(d, { recursive: true, force: true });
  }
}
