import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { redisCluster } from '../../bench/scenarios.js';
import { startTarget, TARGETS } from '../../bench/targets.js';
import { redisSkip } from '../helpers/redis.js';
import { tinyCtx } from './harness.js';

/** The config the Switchboard launcher builds from `env` (recorded by a stand-in library). */
async function launcherConfig(env: Record<string, string>): Promise<{ redis?: unknown }> {
  const out = join(mkdtempSync(join(tmpdir(), 'sb-bench-cfg-')), 'config.json');
  const lib = fileURLToPath(new URL('./fixtures/config-recorder.js', import.meta.url));
  const t = await startTarget(TARGETS.switchboard, { env: { ...env, BENCH_SWITCHBOARD_MODULE: lib, BENCH_TEST_CONFIG_OUT: out } });
  await t.stop();
  return JSON.parse(readFileSync(out, 'utf8')) as { redis?: unknown };
}

test('the Switchboard launcher turns BENCH_SWITCHBOARD_REDIS_CLUSTER into redis.cluster, with the seeds as redis.url and redis.nodes', async () => {
  const seed = 'redis://127.0.0.1:7001';
  assert.deepEqual((await launcherConfig({ BENCH_SWITCHBOARD_REDIS: seed })).redis, { url: seed });
  assert.deepEqual((await launcherConfig({ BENCH_SWITCHBOARD_REDIS: seed, BENCH_SWITCHBOARD_REDIS_CLUSTER: 'true' })).redis, { url: seed, cluster: true });
  const nodes = 'redis://127.0.0.1:7002,redis://127.0.0.1:7003';
  assert.deepEqual((await launcherConfig({ BENCH_SWITCHBOARD_REDIS: seed, BENCH_SWITCHBOARD_REDIS_CLUSTER: 'true', BENCH_SWITCHBOARD_REDIS_NODES: nodes })).redis, {
    url: seed,
    cluster: true,
    nodes: ['redis://127.0.0.1:7002', 'redis://127.0.0.1:7003'],
  });
  await assert.rejects(launcherConfig({ BENCH_SWITCHBOARD_REDIS_CLUSTER: 'true' }), /needs BENCH_SWITCHBOARD_REDIS/);
});

test('a Redis Cluster run whose nodes never relay is reported as failed within the phase deadline, not hung', { skip: redisSkip }, async () => {
  const ctx = tinyCtx({ script: () => new URL('./fixtures/silent-relay.js', import.meta.url) });
  // Nodes that never see each other's joins: the relay's connect phase cannot finish.
  ctx.plan.phaseTimeoutMs = 1500;
  const r = await redisCluster(ctx);
  assert.ok('failed' in r, `expected a failure, got ${JSON.stringify(r).slice(0, 200)}`);
  assert.match(r.failed, /^Switchboard on Redis Cluster \(2 nodes \+ 3 shards\): connect did not finish within 1500 ms/);
});
