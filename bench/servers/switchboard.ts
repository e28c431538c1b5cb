/**
 * Switchboard under test: the library entry, default configuration, silent logs — except the
 * per-client abuse limits (and the per-address room quota), which are lifted: every benchmark client comes from 127.0.0.1 and each
 * sends thousands of messages per second, which is exactly what those limits exist to refuse. The
 * limiter's per-frame bookkeeping still runs (only its thresholds change). Keys are set only where
 * the build has them, so older builds can be measured too.
 *
 * The module comes from this build, or from BENCH_SWITCHBOARD_MODULE (the path of another build's
 * dist/src/index.js, for before/after comparisons; `--switchboard=PATH` on the harness).
 * BENCH_SWITCHBOARD_REDIS turns on the Redis backplane (the cluster scenario);
 * BENCH_SWITCHBOARD_REDIS_CLUSTER=true runs it on a Redis Cluster (redis.cluster; the Redis Cluster
 * scenario), BENCH_SWITCHBOARD_REDIS then being a seed node and BENCH_SWITCHBOARD_REDIS_NODES
 * (comma-separated URLs, optional) more seeds (redis.nodes);
 * BENCH_SWITCHBOARD_RESUME_MS sets resume.windowMs (0: resume off; the resume scenario).
 */
import { pathToFileURL } from 'node:url';
import { launch } from './launcher.js';

type Lib = typeof import('../../src/index.js');

launch('switchboard', async () => {
  const from = process.env.BENCH_SWITCHBOARD_MODULE;
  const redis = process.env.BENCH_SWITCHBOARD_REDIS;
  const redisCluster = process.env.BENCH_SWITCHBOARD_REDIS_CLUSTER === 'true';
  const redisNodes = (process.env.BENCH_SWITCHBOARD_REDIS_NODES ?? '').split(',').filter(Boolean);
  if (redisCluster && !redis) throw new Error('BENCH_SWITCHBOARD_REDIS_CLUSTER needs BENCH_SWITCHBOARD_REDIS (a seed node of the cluster)');
  const lib = (await (from ? import(pathToFileURL(from).href) : import('../../src/index.js'))) as Lib;
  const has = (key: string) => key in ((lib.ConfigSchema as { properties?: Record<string, unknown> }).properties ?? {});
  const config: Record<string, unknown> = { host: '127.0.0.1', port: 0, logLevel: 'silent' };
  if (has('rateLimits')) config.rateLimits = { messagesPerSecond: 0, joinsPerSecond: 0 };
  if (has('connections')) config.connections = { maxPerIp: 0 };
  // Every benchmark client is 127.0.0.1: the per-address room quota would refuse the join storm.
  if (has('rooms')) config.rooms = { maxPerAddress: 0 };
  // redis.cluster and redis.nodes come with the Redis Cluster backplane. They are set whether or not
  // the build has them: a build without refuses them ("unknown setting") and so cannot start, which
  // is the Redis Cluster scenario's failure to report, rather than meeting the cluster as one Redis.
  if (redis) config.redis = { url: redis, ...(redisCluster ? { cluster: true, ...(redisNodes.length ? { nodes: redisNodes } : {}) } : {}) };
  const resumeMs = process.env.BENCH_SWITCHBOARD_RESUME_MS;
  if (resumeMs !== undefined && has('resume')) config.resume = { windowMs: Number(resumeMs) };
  const server = lib.createServer(config as Parameters<Lib['createServer']>[0]);
  const { port } = await server.start();
  return { port, stop: () => server.stop({ drainTimeoutMs: 0 }) };
});
