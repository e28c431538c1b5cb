import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RedisProcess, redisSkip } from '../helpers/redis.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { SECRET, open, refusal, sign } from './auth-tokens.js';

/**
 * Duplicate-identity policies are hub aliases in the shared store, so they hold across nodes: one
 * identity connected to node A and then to node B is replaced (or refused) as on one node.
 */
describe('identity policies across two nodes (real redis-server)', { skip: redisSkip, timeout: 60_000 }, () => {
  let redis: RedisProcess;
  before(async () => {
    redis = await RedisProcess.start();
  });
  after(() => redis.kill());

  async function pair(extra: object = {}): Promise<[TestServer, TestServer]> {
    const cfg = { auth: { secret: SECRET }, redis: { url: redis.url, prefix: `sb-${Math.random().toString(36).slice(2)}:` }, ...extra };
    return [await startServer(cfg), await startServer(cfg)];
  }

  test('native replace: the connection on node B closes the one on node A with 4001; peer info carries the identity across', async () => {
    const [a, b] = await pair();
    try {
      const t = await sign({ sub: 'roamer', name: 'R' }, { now: a.clock.now() });
      const onA = await open(a.ws(`/v1?token=${t}`));
      await onA.next('welcome');
      onA.send({ type: 'join', room: 'x' });
      await onA.next('joined');
      const watcher = await open(b.ws(`/v1?token=${await sign({ sub: 'w' }, { now: b.clock.now() })}`));
      await watcher.next('welcome');
      watcher.send({ type: 'join', room: 'x' });
      const j = await watcher.next('joined');
      assert.deepEqual((j.peers as { identity: string; name: string }[]).map((p) => [p.identity, p.name]), [['roamer', 'R']]);
      const onB = await open(b.ws(`/v1?token=${t}`));
      assert.equal((await onB.next('welcome')).type, 'welcome');
      assert.deepEqual(await onA.closed, { code: 4001, reason: 'session replaced' });
      await onB.close();
      await watcher.close();
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('native reject: node B refuses an identity connected on node A with 409', async () => {
    const [a, b] = await pair({ identity: { dialects: { native: 'reject' } } });
    try {
      const t = await sign({ sub: 'once' }, { now: a.clock.now() });
      const onA = await open(a.ws(`/v1?token=${t}`));
      await onA.next('welcome');
      const r = await refusal(b.ws(`/v1?token=${t}`));
      assert.deepEqual([r.status, r.body.error], [409, 'identity-taken']);
      await onA.close();
    } finally {
      await a.close();
      await b.close();
    }
  });
});
