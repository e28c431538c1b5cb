import type { ChildProcess } from 'node:child_process';
import type { Config, DeepPartial } from '../../src/config.js';
import { ManualClock } from '../../src/core/clock.js';
import { launchServer } from '../helpers/launch.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { tick } from '../helpers/wait.js';
import { connect, type Frame, type TestClient } from '../helpers/ws.js';
import type { RedisBackplane } from '../../src/backplane/redis.js';
import type { Logger } from 'pino';

export interface Cluster {
  redis: TestRedis;
  clock: ManualClock;
  nodes: TestServer[];
  close(): Promise<void>;
}

/**
 * N Switchboard nodes in this process sharing one real store (a redis-server, or a 3-master Redis
 * Cluster when SWITCHBOARD_TEST_REDIS=cluster: see test/helpers/redis.ts) and one ManualClock (started
 * at the wall-clock time, so presence scores line up with nodes in other processes). `logger`
 * makes each node's logger (e.g. one with a tap, for the admin log stream); default: silent.
 */
export async function startCluster(n: number, overrides: DeepPartial<Config> = {}, redis?: TestRedis, logger?: () => Logger): Promise<Cluster> {
  const r = redis ?? (await startRedis());
  const clock = new ManualClock(Date.now());
  const nodes: TestServer[] = [];
  for (let i = 0; i < n; i++) {
    nodes.push(await startServer({ ...overrides, redis: { ...r.config, prefix: overrides.redis?.prefix ?? 'sb:', presenceTtlMs: overrides.redis?.presenceTtlMs ?? 10_000 } }, logger ? { clock, logger: logger() } : { clock }));
  }
  return {
    redis: r,
    clock,
    nodes,
    async close() {
      for (const node of nodes) await node.close();
      await r.kill();
    },
  };
}

export { tick } from '../helpers/wait.js';

/** Advances the shared clock step by step, letting each node's sweep (Redis round trips) finish in between. */
export async function advance(clock: ManualClock, ms: number, nodes: TestServer[] = [], step = 500): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    clock.advance(Math.min(step, ms - done));
    await tick();
    await Promise.all(nodes.map((n) => n.server.hub.sweepDone()));
    await tick();
  }
}

/** A Switchboard node in its own process (so it can be killed with SIGKILL). */
export async function spawnNode(redis: TestRedis, env: Record<string, string> = {}): Promise<{ proc: ChildProcess; port: number; ws(path?: string): string }> {
  const { child: proc, port } = await launchServer(process.execPath, ['bin/switchboard.js'], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...redis.env, SWITCHBOARD_LOG_LEVEL: 'info', ...env },
  });
  return { proc, port, ws: (path = '/v1') => `ws://127.0.0.1:${port}${path}` };
}

/** A native client on a node: connected, welcomed. */
export async function peer(url: string): Promise<{ c: TestClient; id: string }> {
  const c = await connect(url);
  const w = await c.next('welcome');
  return { c, id: w.peerId as string };
}

/** Joins a room; resolves with `joined` or the `error` that refused it. */
export async function join(c: TestClient, room: string, extra: object = {}): Promise<Frame> {
  c.send({ type: 'join', room, ...extra });
  return c.next((f) => f.type === 'joined' || f.type === 'error');
}

/** A round trip on this client's socket: everything the server sent it before has arrived. */
export async function sync(c: TestClient): Promise<void> {
  c.send({ type: 'ping', id: 'sync' });
  await c.next((f) => f.type === 'pong' && f.re === 'sync');
}

export const backplane = (n: TestServer) => n.server.hub.backplane as RedisBackplane;
