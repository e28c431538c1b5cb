import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { redisSkip } from '../helpers/redis.js';
import { SECRET, sign } from '../security/auth-tokens.js';
import { join, peer, startCluster, sync, type Cluster } from './cluster-helpers.js';

describe('an identity taken over on another node (native, 2 nodes, real redis-server)', { skip: redisSkip }, () => {
  let cl: Cluster;
  before(async () => {
    cl = await startCluster(2, { auth: { secret: SECRET } });
  });
  after(() => cl.close());

  test('the room hears the old session leave as replaced, once, not as a disconnect', async () => {
    const [n0, n1] = cl.nodes as [(typeof cl.nodes)[0], (typeof cl.nodes)[0]];
    const alice = await sign({ sub: 'alice' }, { now: n0.clock.now() });
    const bob = await sign({ sub: 'bob' }, { now: n0.clock.now() });
    const first = await peer(n0.ws(`/v1?token=${alice}`));
    const watcher = await peer(n1.ws(`/v1?token=${bob}`));
    await join(first.c, 'takeover');
    await join(watcher.c, 'takeover');
    await first.c.next('peer-joined');
    // The same subject on the other node replaces the first session (native's identity policy).
    const second = await peer(n1.ws(`/v1?token=${alice}`));
    const closed = await first.c.closed;
    assert.equal(closed.code, 4001);
    const left = await watcher.c.next('peer-left');
    assert.deepEqual(left, { type: 'peer-left', room: 'takeover', peerId: first.id, reason: 'replaced' });
    await sync(watcher.c);
    assert.deepEqual(watcher.c.take().filter((f) => f.type === 'peer-left'), [], 'it left once');
    await second.c.close();
    await watcher.c.close();
  });
});
