import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { RedisQueue } from '../../src/webhooks/redis-queue.js';
import { RedisProcess, redisSkip } from '../helpers/redis.js';
import { until } from '../helpers/wait.js';
import { connect } from '../helpers/ws.js';
import { advance, join, peer, spawnNode, startCluster, type Cluster } from '../cluster/cluster-helpers.js';
import { Receiver, SECRET, verify, type Received } from './receiver.js';

/** Advances the cluster's clock until the receiver has what `done` waits for (the leader polls the shared queue each second). */
async function deliveredUntil(cl: Cluster, done: () => boolean, nodes = cl.nodes): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await advance(cl.clock, 500, nodes);
  await until(done, 'the webhook requests');
}

const summary = (r: Received) => `${r.event.type} ${String(r.event.data.peerId ?? '')}`.trim();

describe('webhooks on a 3-node cluster (real redis-server)', { skip: redisSkip }, () => {
  let cl: Cluster;
  let rx: Receiver;
  before(async () => {
    rx = await Receiver.start();
    cl = await startCluster(3, { webhooks: { url: rx.url, secret: SECRET } });
  });
  after(async () => {
    await cl.close();
    await rx.close();
  });

  test('one delivering node at a time', () => {
    assert.equal(cl.nodes.filter((n) => n.server.webhooks!.isLeader).length, 1);
  });

  test('a room spanning three nodes: one room.started, three peer.joined, three peer.left, one room.finished, in order', async () => {
    rx.got.length = 0;
    const ps = [];
    for (const n of cl.nodes) {
      const p = await peer(n.ws());
      assert.equal((await join(p.c, 'span')).type, 'joined');
      ps.push(p);
    }
    for (const p of ps) {
      p.c.send({ type: 'leave', room: 'span' });
      await p.c.next('left');
    }
    const span = () => rx.got.filter((r) => r.event.data.room === 'span');
    await deliveredUntil(cl, () => span().length >= 7);
    // the empty room's grace (30 s), swept by whichever node gets there first
    await advance(cl.clock, 32_000, cl.nodes);
    await deliveredUntil(cl, () => span().length >= 8);
    await advance(cl.clock, 3_000, cl.nodes);
    const got = span();
    assert.deepEqual(got.map(summary), ['room.started', ...ps.map((p) => `peer.joined ${p.id}`), ...ps.map((p) => `peer.left ${p.id}`), 'room.finished']);
    assert.equal(new Set(got.map((r) => r.headers['webhook-id'])).size, 8, 'each event once');
    // each member's join names the node it joined on
    assert.deepEqual(got.slice(1, 4).map((r) => r.event.data.node), cl.nodes.map((n) => n.server.hub.nodeId));
    for (const r of got) verify(r);
    const delivered = await Promise.all(cl.nodes.map(async (n) => (await n.server.metrics.webhooksDelivered.get()).values[0]?.value ?? 0));
    assert.equal(delivered.reduce((a, b) => a + b, 0), rx.got.length);
    assert.equal(delivered.filter((d) => d > 0).length, 1, 'all by the leader');
    for (const p of ps) await p.c.close();
  });

  test('vc and slam members produce events too (dialect in the data)', async () => {
    rx.got.length = 0;
    const v = await connect(cl.nodes[1]!.ws('/ws'));
    const vid = (await v.next('welcome')).peer_id as string;
    v.send({ type: 'join', room: 'vc-room', name: 'Vee' });
    await v.next('joined');
    const s = await connect(cl.nodes[2]!.ws('/'));
    s.send({ type: 'register', client_id: 'pc-7', room_id: 'lab', client_type: 'pc' });
    await s.next('registered');
    await v.close();
    await s.close();
    const byDialect = (d: string) => rx.got.filter((r) => r.event.data.dialect === d);
    await deliveredUntil(cl, () => byDialect('vc').length >= 3 && byDialect('slam').length >= 3);
    // a dialect whose rooms have no empty grace finishes them with the last leave
    const lifecycle = (d: string) => byDialect(d).map((r) => r.event.type).join(' ').replace(/ room\.finished$/, '');
    assert.equal(lifecycle('vc'), 'room.started peer.joined peer.left');
    assert.deepEqual(byDialect('vc')[1]!.event.data, { dialect: 'vc', room: 'vc-room', peerId: vid, name: 'Vee', node: cl.nodes[1]!.server.hub.nodeId });
    assert.equal(lifecycle('slam'), 'room.started peer.joined peer.left');
    assert.equal(byDialect('slam')[0]!.event.data.room, 'lab');
  });

  test('the leader stops mid-delivery: another node takes over and redelivers with the same webhook-id', async () => {
    const leader = cl.nodes.find((n) => n.server.webhooks!.isLeader)!;
    const others = cl.nodes.filter((n) => n !== leader);
    const got = () => rx.got.filter((r) => r.event.data.room === 'handover');
    rx.answer = (r) => (r.event.data.room === 'handover' ? 'hang' : 200);
    const p = await peer(others[0]!.ws());
    await join(p.c, 'handover');
    await deliveredUntil(cl, () => got().length >= 1);
    const hungId = got()[0]!.headers['webhook-id'];
    assert.equal(got()[0]!.event.type, 'room.started');
    await leader.close();
    rx.answer = () => 200;
    await deliveredUntil(cl, () => got().length >= 3, others);
    assert.deepEqual(got().map((r) => r.event.type), ['room.started', 'room.started', 'peer.joined']);
    assert.equal(got()[1]!.headers['webhook-id'], hungId, 'at least once: the same id again');
    assert.equal(others.filter((n) => n.server.webhooks!.isLeader).length, 1);
    await p.c.close();
  });
});

test('a dead leader\'s lock expires and another node takes the lead', { skip: redisSkip }, async () => {
  const redis = await RedisProcess.start();
  const opts = { url: redis.url, prefix: 'sbt:', maxQueue: 10, leadMs: 300 };
  const a = new RedisQueue(opts);
  const b = new RedisQueue(opts);
  try {
    await a.start();
    await b.start();
    assert.equal(await a.lead(), true);
    assert.equal(await b.lead(), false);
    assert.equal(await a.lead(), true, 'renewed');
    // a stops renewing (as a killed process would): its lock runs out in Redis's own time
    await until(() => b.lead(), 'b takes the lead after the TTL');
    assert.equal(await a.lead(), false);
  } finally {
    await a.close();
    await b.close();
    await redis.kill();
  }
});

test('Redis down: events are counted as dropped (store-down), never silently lost', { skip: redisSkip }, async () => {
  const rx = await Receiver.start();
  const cl = await startCluster(1, { webhooks: { url: rx.url, secret: SECRET } });
  try {
    const n = cl.nodes[0]!;
    const p = await peer(n.ws());
    await join(p.c, 'before');
    await cl.redis.kill();
    await until(() => !n.server.hub.healthy, 'the node sees the store down');
    p.c.send({ type: 'leave', room: 'before' });
    await p.c.next((f) => f.type === 'left' || f.type === 'error');
    await until(async () => ((await n.server.metrics.webhooksDropped.get()).values.find((v) => v.labels.reason === 'store-down')?.value ?? 0) >= 1, 'store-down counted');
    await p.c.close();
  } finally {
    await cl.close();
    await rx.close();
  }
});

test('kill -9 of a node: its members\' peer.left and their room\'s room.finished come once, from the presence cleanup', { skip: redisSkip }, async () => {
  const rx = await Receiver.start();
  const ttl = 10_000;
  const cl = await startCluster(2, { webhooks: { url: rx.url, secret: SECRET }, redis: { presenceTtlMs: ttl } });
  // Not resumable, and a long TTL of its own: it must not judge the others by its wall clock (see failures.test.ts).
  const doomed = await spawnNode(cl.redis, { SWITCHBOARD_REDIS_PRESENCE_TTL_MS: '600000', SWITCHBOARD_RESUME_WINDOW_MS: '0', SWITCHBOARD_ROOMS_EMPTY_TTL_MS: '0', SWITCHBOARD_WEBHOOKS_URL: rx.url, SWITCHBOARD_WEBHOOKS_SECRET: SECRET });
  try {
    const x = await peer(doomed.ws());
    assert.equal((await join(x.c, 'orphan')).type, 'joined');
    const got = () => rx.got.filter((r) => r.event.data.room === 'orphan');
    await deliveredUntil(cl, () => got().length >= 2);
    if (Date.now() > cl.clock.now()) await advance(cl.clock, Date.now() - cl.clock.now(), cl.nodes);
    doomed.proc.kill('SIGKILL');
    await once(doomed.proc, 'exit');
    await advance(cl.clock, 2 * ttl, cl.nodes);
    await deliveredUntil(cl, () => got().length >= 4);
    await advance(cl.clock, 5_000, cl.nodes);
    assert.deepEqual(got().map(summary), ['room.started', `peer.joined ${x.id}`, `peer.left ${x.id}`, 'room.finished']);
    assert.equal(got()[2]!.event.data.reason, 'disconnect');
  } finally {
    if (doomed.proc.exitCode === null && doomed.proc.signalCode === null) doomed.proc.kill('SIGKILL');
    await cl.close();
    await rx.close();
  }
});
