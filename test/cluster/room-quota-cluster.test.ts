import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import type { RedisClient } from '../../src/backplane/redis-client.js';
import { onRedisCluster, redisSkip, type TestRedis } from '../helpers/redis.js';
import type { TestServer } from '../helpers/server.js';
import { connect, type Frame, type TestClient } from '../helpers/ws.js';
import { advance, spawnNode, startCluster } from './cluster-helpers.js';

/**
 * rooms.maxPerAddress across nodes: the count lives in Redis, beside the rooms, and changes in the
 * same scripts that create and remove them. Every socket here comes from 127.0.0.1: one address.
 */

async function native(n: TestServer): Promise<TestClient> {
  const c = await connect(n.ws('/v1'));
  await c.next('welcome');
  return c;
}

let seq = 0;
async function ask(c: TestClient, frame: Frame): Promise<Frame> {
  const id = `q${++seq}`;
  c.send({ ...frame, id });
  return c.next((f) => f.re === id);
}

async function vc(url: string): Promise<TestClient> {
  const c = await connect(url);
  await c.next('welcome');
  return c;
}

async function vcJoin(c: TestClient, room: string): Promise<Frame> {
  c.send({ type: 'join', room, name: 'v' });
  return c.next((f) => f.type === 'joined' || f.type === 'error');
}

/**
 * The rooms Redis counts against 127.0.0.1. Read directly because a refusal also drops entries of
 * rooms that are gone: only the store shows that a removal uncounted its room at once. On a Redis
 * Cluster the count (a sorted set there) is in the address's slot, the rooms in others: a removal
 * leaves its entry, which stops counting with its room and is dropped at the next refusal, so there
 * the count is its entries whose rooms exist.
 */
async function counted(redis: RedisClient, store: TestRedis): Promise<number> {
  const set = store.key('created-by:127.0.0.1', '@127.0.0.1');
  if (!onRedisCluster) return redis.scard(set);
  const rooms = await redis.zrange(set, 0, -1);
  return (await Promise.all(rooms.map((r) => redis.exists(r)))).filter((n) => n === 1).length;
}

describe('the per-address room quota is cluster-wide (real redis-server)', { skip: redisSkip }, () => {
  test('two nodes, one address: rooms made on either count together, and a removal on one frees a slot on the other', async () => {
    const cl = await startCluster(2, { rooms: { maxPerAddress: 3 } });
    const [n0, n1] = cl.nodes as [TestServer, TestServer];
    const redis = cl.redis.client();
    try {
      // a vc room has no empty grace: it is uncounted the moment its last member leaves
      const v = await vc(n1.ws('/ws'));
      assert.equal((await vcJoin(v, 'brief')).type, 'joined');
      assert.equal(await counted(redis, cl.redis), 1);
      v.send({ type: 'leave' });
      await v.next('left');
      assert.equal(await counted(redis, cl.redis), 0);
      await v.close();

      const a = await native(n0);
      const b = await native(n1);
      assert.equal((await ask(a, { type: 'create-room' })).type, 'room-created');
      assert.equal((await ask(b, { type: 'join', room: 'made-on-n1' })).type, 'joined');
      assert.equal((await ask(a, { type: 'create-room' })).type, 'room-created');
      assert.equal((await ask(b, { type: 'create-room' })).code, 'room-quota');
      assert.equal((await ask(a, { type: 'join', room: 'one-too-many' })).code, 'room-quota');
      assert.equal(await n0.server.hub.roomInfo('native', 'one-too-many'), undefined);
      // b leaves its room; once the empty-room grace has passed, the sweeper (either node) removes it
      assert.equal((await ask(b, { type: 'leave', room: 'made-on-n1' })).type, 'left');
      assert.equal((await ask(a, { type: 'create-room' })).code, 'room-quota', 'an empty room still counts during its grace');
      await advance(cl.clock, 31_000, cl.nodes);
      // all three were empty, so all three went, and were uncounted as they went
      assert.equal(await counted(redis, cl.redis), 0);
      for (let i = 0; i < 3; i++) assert.equal((await ask(i % 2 ? a : b, { type: 'create-room' })).type, 'room-created');
      assert.equal((await ask(a, { type: 'create-room' })).code, 'room-quota');
      await Promise.all([a.close(), b.close()]);
    } finally {
      redis.disconnect();
      await cl.close();
    }
  });

  test('concurrent creations on both nodes never exceed the quota', async () => {
    const cl = await startCluster(2, { rooms: { maxPerAddress: 5 } });
    try {
      const clients = await Promise.all(Array.from({ length: 10 }, (_, i) => native(cl.nodes[i % 2]!)));
      // 20 attempts at once, 10 in flight together (each socket handles its own requests in order)
      const answers = await Promise.all(clients.flatMap((c) => [ask(c, { type: 'create-room' }), ask(c, { type: 'join', room: `r-${Math.random()}` })]));
      const created = answers.filter((f) => f.type === 'room-created' || f.type === 'joined').length;
      const refused = answers.filter((f) => f.code === 'room-quota').length;
      console.log(`# 20 concurrent creations from one address on 2 nodes, quota 5: ${created} created, ${refused} refused`);
      assert.equal(created, 5);
      assert.equal(refused, 15);
      assert.equal((await cl.nodes[0]!.server.hub.listRooms('native')).length, 5);
      const redis = cl.redis.client();
      assert.equal(await counted(redis, cl.redis), 5);
      redis.disconnect();
      await Promise.all(clients.map((c) => c.close()));
    } finally {
      await cl.close();
    }
  });

  test('kill -9 of the node a room was made on: the dead node\'s cleanup removes the room and frees the slot', async () => {
    const ttl = 10_000;
    const cl = await startCluster(1, { rooms: { maxPerAddress: 1 }, redis: { presenceTtlMs: ttl } });
    const survivor = cl.nodes[0]!;
    const redis = cl.redis.client();
    // The doomed node runs on the wall clock; it must not judge the others by it, so it gets a longer TTL.
    const doomed = await spawnNode(cl.redis, { SWITCHBOARD_REDIS_PRESENCE_TTL_MS: '600000', SWITCHBOARD_ROOMS_MAX_PER_ADDRESS: '1' });
    try {
      const there = await vc(doomed.ws('/ws'));
      assert.equal((await vcJoin(there, 'made-on-doomed')).type, 'joined');
      const here = await vc(survivor.ws('/ws'));
      assert.deepEqual(await vcJoin(here, 'wanted'), { type: 'error', error: 'room-quota', detail: 'at most 1 open rooms created from one address' });
      if (Date.now() > cl.clock.now()) await advance(cl.clock, Date.now() - cl.clock.now(), cl.nodes);
      doomed.proc.kill('SIGKILL');
      await once(doomed.proc, 'exit');
      const start = cl.clock.now();
      while ((await survivor.server.hub.roomInfo('vc', 'made-on-doomed')) && cl.clock.now() - start < 3 * ttl) await advance(cl.clock, 500, cl.nodes);
      assert.equal(await survivor.server.hub.roomInfo('vc', 'made-on-doomed'), undefined, 'the dead node\'s room was removed');
      assert.equal(await counted(redis, cl.redis), 0);
      assert.equal((await vcJoin(here, 'wanted')).type, 'joined');
      await here.close();
    } finally {
      if (doomed.proc.exitCode === null && doomed.proc.signalCode === null) doomed.proc.kill('SIGKILL');
      redis.disconnect();
      await cl.close();
    }
  });

  test('a room record lost from the store (evicted, deleted by hand) stops counting: the count is derived from the rooms', async () => {
    const cl = await startCluster(1, { rooms: { maxPerAddress: 1 } });
    const redis = cl.redis.client();
    try {
      const a = await native(cl.nodes[0]!);
      const { room } = await ask(a, { type: 'create-room' });
      assert.equal((await ask(a, { type: 'create-room' })).code, 'room-quota');
      const key = `native/${room as string}`;
      await redis.del(cl.redis.key(`room:${key}`, key));
      await redis.del(cl.redis.key(`members:${key}`, key));
      assert.equal((await ask(a, { type: 'create-room' })).type, 'room-created');
      assert.equal((await ask(a, { type: 'create-room' })).code, 'room-quota');
      await a.close();
    } finally {
      redis.disconnect();
      await cl.close();
    }
  });
});
