import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { ClusterProcess, redisSkip } from '../helpers/redis.js';
import { needProgram } from '../helpers/programs.js';

/*
 * A Redis Cluster client must let its process exit once it is disconnected, even when it was
 * re-reading the slot map at that moment. ioredis's own periodic refresh does not (it re-arms its
 * timer from the callback of the refresh in flight, forever): a CI run once hung on it after every
 * test had passed. Each case runs in a child process that exits by itself or is ended by an unref'd
 * guard timer with exit code 3 and its open handles printed.
 */
const skip = redisSkip || needProgram('redis-cli', ['--version'], 'redis-tools', 'Redis Cluster tests');

const moduleUrl = new URL('../../src/backplane/redis-client.js', import.meta.url).href;

/** The child: connects, waits until a timer-started refresh is in flight, disconnects (or quits). */
const child = `
const { createRedisClient } = await import(process.env.MODULE);
const role = JSON.parse(process.env.ROLE);
const c = createRedisClient({ url: process.env.URL, cluster: true }, { connectionName: 'exit-test', slotsRefreshMs: 1, ...role });
c.on('error', () => {});
await c.connect();
await c.ping();
let turns = 0;
while (!c.isRefreshing && turns++ < 100000) await new Promise((r) => setImmediate(r));
const inFlight = c.isRefreshing === true;
if (process.env.HOW === 'quit') await c.quit(); else c.disconnect();
console.log(JSON.stringify({ inFlight }));
setTimeout(() => {
  console.error('still running:', JSON.stringify(process.getActiveResourcesInfo()));
  process.exit(3);
}, 10000).unref();
`;

function runChild(url: string, how: 'disconnect' | 'quit', role: object): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', child], {
      env: { ...process.env, MODULE: moduleUrl, URL: url, HOW: how, ROLE: JSON.stringify(role) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => resolve({ code, out, err }));
  });
}

describe('a Redis Cluster client, disconnected mid slot refresh', { skip }, () => {
  let store: ClusterProcess;
  before(async () => {
    store = await ClusterProcess.start();
  });
  after(async () => {
    await store?.kill();
  });

  const roles = {
    'a fail-fast command client': { failFast: true },
    'a queueing client': { failFast: false },
    'a sharded subscriber': { failFast: false, sharded: true, subscriber: true },
  };
  for (const [name, role] of Object.entries(roles)) {
    for (const how of ['disconnect', 'quit'] as const) {
      test(`${name}, after ${how}(), lets its process exit`, async () => {
        const r = await runChild(store.url, how, role);
        assert.equal(r.code, 0, `the child did not exit by itself (code ${r.code}): ${r.err}`);
        assert.deepEqual(JSON.parse(r.out.trim()), { inFlight: true }, 'a slot refresh was in flight at the disconnect');
      });
    }
  }
});
