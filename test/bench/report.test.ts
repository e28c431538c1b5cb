import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makePlan } from '../../bench/plan.js';
import { checks, markdownReport, type RunResult } from '../../bench/report.js';
import type { RedisClusterResult, RelayResult, SteadyResult } from '../../bench/scenarios.js';

const lat = { count: 1, mean: 1, p50: 1, p90: 2, p99: 3, p999: 4, max: 5 };

function steady(perSecond: number, serverCpuPct: number): SteadyResult {
  return { seconds: 1, sent: perSecond, received: perSecond, perSecond, receivedMBps: 1, meanFrameBytes: 800, latency: lat, serverCpuPct, serverRssPeakMB: 100, clientCpuPct: 50, otherCpuPct: 0 };
}

function relayOf(perSecond: number, serverCpuPct = 100): RelayResult {
  return { closed: { ...steady(perSecond, serverCpuPct), pairs: 32, window: 4 }, half: { ...steady(perSecond / 2, serverCpuPct / 2), offeredPerSecond: perSecond / 2, behind: 0 }, lost: 0 };
}

function run(redisCluster: RedisClusterResult): RunResult {
  const r: RunResult = {
    version: 1,
    mode: 'quick',
    command: 'npm run bench -- --quick',
    revision: 'abc1234',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:01:00.000Z',
    seconds: 60,
    machine: { cpuModel: 'test', cores: 2, memoryGiB: 4, node: 'v20', kernel: '6', loadAverage: [1, 1, 1] },
    loadAverageAfter: [1, 1, 1],
    plan: makePlan(true),
    targets: ['switchboard', 'bare'],
    relay: { switchboard: relayOf(30_000), bare: relayOf(32_000) },
    relayRounds: { switchboard: [relayOf(30_000)], bare: [relayOf(32_000)] },
    relayVc: relayOf(40_000),
    relayVcRounds: [relayOf(40_000)],
    joinStorm: {},
    fanout: {},
    idle: {},
    latency: {},
    cluster: { ...relayOf(10_000, 120), nodes: 2 },
    redisCluster,
    skipped: [],
    checks: [],
    profiles: [],
  };
  r.checks = checks(r);
  return r;
}

const row = (md: string, start: string) => md.split('\n').find((l) => l.includes(start));

test('the report puts the vc relay beside the native one, with its ratio to the bare relay and a ≥ 1.0× check', () => {
  const md = markdownReport(run({ skipped: 'not run: redis-cli is not installed (apt-get install -y redis-tools)' }));
  assert.match(md, /\| relay, closed loop, Switchboard's vc dialect at \/ws [^|]*\| messages\/s \| 40,000 \| 32,000 \| 1\.25× \|/);
  assert.match(row(md, 'vc / native')!, /\| 1\.33× \|/);
  assert.match(md, /\| vc dialect relay throughput ≥ 1\.0 × bare relay [^|]*\| 1\.25× \| yes \|/);
});

test('the report gives Redis Cluster against one Redis and CPU per message over nodes and every shard', () => {
  // 60 % of a core at 5,000 messages/s is 120 µs per message; the one-Redis cluster: 120 % at 10,000, 120 µs.
  const md = markdownReport(run({ ...relayOf(5_000, 60), nodes: 2, shards: 3 }));
  assert.match(md, /\| Redis Cluster: cross-node relay \(2 Switchboard nodes \+ a 3-master Redis Cluster[^|]*\| messages\/s \| 5,000 \|/);
  assert.match(row(md, 'vs one Redis (cluster above)')!, /\| 0\.50× \|/);
  assert.match(row(md, 'CPU per message, both nodes + 3 Redis shards (µs)')!, /\| 120\.0 \|/);
  assert.match(row(md, 'CPU per message, both nodes + Redis (µs)')!, /\| 120\.0 \|/);
  assert.match(row(md, 'Redis Cluster cross-node relay vs one Redis')!, /\| 0\.50×; CPU per message 120\.0 µs vs 120\.0 µs \| — \|/);
});

test('a failed Redis Cluster run shows as FAILED in the table and as an unmet check, its stack trace left to the JSON', () => {
  const failed = 'Switchboard exited before it was ready (code 1): ConfigError: redis.cluster: unknown setting\n    at validateConfig (file:///x/config.js:1:1)\n    at loadConfig (file:///x/config.js:2:2)';
  const md = markdownReport(run({ failed }));
  assert.match(md, /\| Redis Cluster \| cross-node relay \| FAILED: Switchboard exited before it was ready \(code 1\): ConfigError: redis\.cluster: unknown setting \|/);
  assert.match(row(md, 'Redis Cluster cross-node relay vs one Redis')!, /\| failed: [^|]*unknown setting \| no \|/);
  assert.doesNotMatch(md, /validateConfig/);
});
