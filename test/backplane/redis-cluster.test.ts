import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { bucketOf, CLUSTER_BUCKETS } from '../../src/backplane/redis.js';
import { ClusterProcess, redisSkip } from '../helpers/redis.js';
import { needProgram } from '../helpers/programs.js';
import type { TestServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';
import type { Frame, TestClient } from '../helpers/ws.js';
import { advance, backplane, join, peer, startCluster, sync, type Cluster } from '../cluster/cluster-helpers.js';

/*
 * What only a Redis Cluster has: keys spread over shards by hash tag, sharded pub/sub, slots that
 * move (resharding) and a shard that restarts empty. Always on a real 3-master cluster started here
 * (the rest of the cluster suite runs on both backplanes: scripts/run-tests.mjs).
 */
const skip = redisSkip || needProgram('redis-cli', ['--version'], 'redis-tools', 'Redis Cluster tests');

/** Every key of every shard, by shard port. */
async function keysByShard(store: ClusterProcess): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  for (const port of store.shards.ports) {
    const r = new Redis(port, '127.0.0.1');
    out.set(port, await r.keys('*'));
    r.disconnect();
  }
  return out;
}

/** The slot of a bucket's tag (every key and channel of the bucket is in it), as Redis computes it. */
const slotOf = async (store: ClusterProcess, bucket: number) => Number((await store.shards.cli(store.shards.ports[0]!, 'cluster', 'keyslot', `{b${bucket}}`)).trim());

/** Sends `count` signals with ids from→to and collects every answer (ack or error), by id. */
async function burst(from: TestClient, to: string, first: number, count: number): Promise<Map<number, Frame>> {
  for (let i = first; i < first + count; i++) from.send({ type: 'signal', id: i, to, data: i });
  const answers = new Map<number, Frame>();
  while (answers.size < count) {
    const f = await from.next((x) => typeof x.re === 'number');
    answers.set(f.re as number, f);
  }
  return answers;
}

/** a on node 1 and b on node 2, both in `room`; a has heard b join. */
async function pairAcross(cl: Cluster, room: string): Promise<[{ c: TestClient; id: string }, { c: TestClient; id: string }]> {
  const [n1, n2] = cl.nodes as [TestServer, TestServer];
  const a = await peer(n1.ws());
  const b = await peer(n2.ws());
  for (const p of [a, b]) assert.equal((await join(p.c, room)).type, 'joined');
  await a.c.next('peer-joined');
  return [a, b];
}

describe('on a real 3-master Redis Cluster', { skip }, () => {
  let store: ClusterProcess;
  let cl: Cluster;
  before(async () => {
    store = await ClusterProcess.start();
    cl = await startCluster(2, {}, store);
  });
  after(async () => {
    await cl.close();
    await store.shards.stop();
  });

  test('keys are hash-tagged into slot buckets spread over every shard; delivery is sharded pub/sub only', async () => {
    const [n1, n2] = cl.nodes as [TestServer, TestServer];
    const peers = [];
    // enough rooms that every shard holds some
    for (let i = 0; i < 24; i++) {
      const a = await peer((i % 2 ? n1 : n2).ws());
      assert.equal((await join(a.c, `spread-${i}`)).type, 'joined');
      peers.push(a);
    }
    const byShard = await keysByShard(store);
    const global = /^sb:(nodes|status:.+|logwatch|wh:.+)$/;
    for (const [port, keys] of byShard) {
      const ours = keys.filter((k) => k.startsWith('sb:'));
      assert.ok(ours.some((k) => k.includes('room:native/spread-')), `shard ${port} holds rooms`);
      for (const k of ours) {
        if (global.test(k)) continue;
        const m = /^sb:\{b(\d+)\}(.+)$/.exec(k);
        assert.ok(m, `key ${k} carries a bucket tag`);
        const bucket = Number(m[1]);
        assert.ok(bucket < CLUSTER_BUCKETS);
        // a room's or a session's keys are in the bucket of their owner
        const room = /^(?:room|members):(.+)$/.exec(m[2]!);
        if (room) assert.equal(bucket, bucketOf(room[1]!), k);
        const sess = /^(?:sess|log):(.+)$/.exec(m[2]!);
        if (sess) assert.equal(bucket, bucketOf(sess[1]!), k);
      }
    }
    // Deliveries: sharded channels only (each node's 16 node channels, and the rooms it hosts); no classic channel but the log channel.
    let sharded = 0;
    for (const port of store.shards.ports) {
      const r = new Redis(port, '127.0.0.1');
      const classic = (await r.pubsub('CHANNELS', 'sb:*')) as string[];
      assert.deepEqual(classic.filter((c) => c !== 'sb:logs'), [], `no classic pub/sub channel on shard ${port}`);
      sharded += ((await r.call('PUBSUB', 'SHARDCHANNELS', 'sb:*')) as string[]).length;
      r.disconnect();
    }
    assert.ok(sharded >= 2 * CLUSTER_BUCKETS + 24, `node and room channels are shard channels (${sharded})`);
    // and the relays between them work
    const [x, y] = [peers[0]!, peers[1]!];
    assert.equal((await join(x.c, 'pair')).type, 'joined');
    assert.equal((await join(y.c, 'pair')).type, 'joined');
    await x.c.next('peer-joined');
    x.c.send({ type: 'signal', id: 's', to: y.id, data: 'over sharded pub/sub' });
    assert.equal((await x.c.next((f) => f.re === 's')).type, 'ack');
    assert.equal((await y.c.next('signal')).data, 'over sharded pub/sub');
    for (const p of peers) await p.c.close();
  });

  test('resharding mid-conversation: the slots of the room, of the receiver\'s session and of its node channel move; every acked frame arrives once, in order', async () => {
    const [a, b] = await pairAcross(cl, 'moving');
    const buckets = new Set([bucketOf('native/moving'), bucketOf(b.id), bucketOf(a.id)]);
    const delivered: number[] = [];
    const acked: number[] = [];
    const collect = (answers: Map<number, Frame>) => {
      for (const [id, f] of answers) if (f.type === 'ack') acked.push(id);
    };
    collect(await burst(a.c, b.id, 0, 20));
    // Move each slot to the next shard while a burst is in flight.
    let next = 20;
    for (const bucket of buckets) {
      const slot = await slotOf(store, bucket);
      const from = await store.shards.ownerOf(slot);
      const to = store.shards.ports[(store.shards.ports.indexOf(from) + 1) % store.shards.ports.length]!;
      const inFlight = burst(a.c, b.id, next, 20);
      next += 20;
      await store.shards.moveSlot(slot, to);
      assert.equal(await store.shards.ownerOf(slot), to, `slot ${slot} moved`);
      collect(await inFlight);
    }
    collect(await burst(a.c, b.id, next, 20));
    next += 20;
    // Every acked frame is in b's log; those whose delivery fell between an old and a new
    // subscription are caught up from it (on the gap timer of the injected clock, or when ioredis
    // has re-subscribed).
    const take = () => {
      for (const f of b.c.take()) if (f.type === 'signal') delivered.push(f.data as number);
    };
    await until(async () => {
      take();
      if (acked.every((id) => delivered.includes(id))) return true;
      await advance(cl.clock, 1000, cl.nodes);
      return false;
    }, 'every acked signal to reach b', 30_000);
    await sync(b.c);
    take();
    console.log(`# resharding: ${acked.length} of ${next} signals acked, ${delivered.length} delivered`);
    assert.deepEqual(delivered, [...delivered].sort((p, q) => p - q), 'in order');
    assert.equal(new Set(delivered).size, delivered.length, 'none twice');
    assert.ok(acked.length >= 40, 'the cluster kept serving while the slots moved');
    // Relays keep working in both directions after the move.
    b.c.send({ type: 'broadcast', id: 'back', room: 'moving', data: 'after' });
    assert.equal((await b.c.next((f) => f.re === 'back')).type, 'ack');
    assert.equal((await a.c.next('broadcast')).data, 'after');
    for (const p of [a, b]) await p.c.close();
  });

  test('a slot moving key by key: frames sent while a session\'s hash has moved and its log has not are kept (every key is declared), none lost or numbered twice', async () => {
    const [a, b] = await pairAcross(cl, 'halfway');
    const acked: number[] = [];
    const collect = (answers: Map<number, Frame>) => {
      for (const [id, f] of answers) if (f.type === 'ack') acked.push(id);
    };
    collect(await burst(a.c, b.id, 0, 5));
    const at = backplane(cl.nodes[0]!).at(b.id);
    const [sess, log] = [`${at}sess:${b.id}`, `${at}log:${b.id}`];
    const slot = await slotOf(store, bucketOf(b.id));
    const from = await store.shards.ownerOf(slot);
    const to = store.shards.ports[(store.shards.ports.indexOf(from) + 1) % store.shards.ports.length]!;
    assert.equal((await store.shards.cli(from, 'exists', sess, log)).trim(), '2', 'b\'s session and its log are on the shard');
    const redirects = async () => {
      const info = await store.shards.cli(from, 'info', 'errorstats');
      return [...info.matchAll(/errorstat_(?:ASK|TRYAGAIN):count=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    };
    const before = await redirects();
    await store.shards.beginMove(slot, to);
    await store.shards.migrate(from, to, [sess]);
    // Ten signals in one write: n1 reads them in one turn and sends one sbAppendMany for them.
    const socket = (a.c.ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
    socket.cork();
    for (let i = 5; i < 15; i++) a.c.send({ type: 'signal', id: i, to: b.id, data: i });
    socket.uncork();
    // The source shard answered it: with the log still here and the hash gone, TRYAGAIN (ioredis
    // asks again, every 100 ms); had the script declared the hash alone, ASK (it would have run on
    // the importing shard, on a log of its own, which the rest of the move then overwrites).
    await until(async () => (await redirects()) > before, 'the source shard to redirect the append');
    await store.shards.migrate(from, to, (await store.shards.cli(from, 'cluster', 'getkeysinslot', String(slot), '1000')).split('\n').filter(Boolean));
    await store.shards.endMove(slot, to);
    const answers = new Map<number, Frame>();
    while (answers.size < 10) {
      const f = await a.c.next((x) => typeof x.re === 'number');
      answers.set(f.re as number, f);
    }
    collect(answers);
    collect(await burst(a.c, b.id, 15, 5));
    const delivered: number[] = [];
    await until(async () => {
      for (const f of b.c.take()) if (f.type === 'signal') delivered.push(f.data as number);
      if (acked.every((id) => delivered.includes(id))) return true;
      await advance(cl.clock, 1000, cl.nodes);
      return false;
    }, 'every acked signal to reach b', 30_000);
    await sync(b.c);
    for (const f of b.c.take()) if (f.type === 'signal') delivered.push(f.data as number);
    assert.deepEqual(delivered, [...delivered].sort((p, q) => p - q), 'in order');
    assert.equal(new Set(delivered).size, delivered.length, 'none twice');
    assert.ok(acked.length >= 10, `the cluster kept serving (${acked.length} of 20 acked)`);
    // The log holds what b has not acknowledged, each seq once.
    const r = new Redis(to, '127.0.0.1');
    const seqs = (await r.lrange(log, 0, -1)).map((e) => Number(e.slice(0, e.indexOf(' '))));
    r.disconnect();
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i), 'the log is whole');
    for (const p of [a, b]) await p.c.close();
  });

  test('a shard restarts empty: while it is down what lives on it answers unavailable; then every node puts its state back', async () => {
    const [n1, n2] = cl.nodes as [TestServer, TestServer];
    const room = 'phoenix';
    const a = await peer(n1.ws());
    const b = await peer(n2.ws());
    for (const p of [a, b]) assert.equal((await join(p.c, room)).type, 'joined');
    await a.c.next('peer-joined');
    const shard = await store.shards.ownerOf(await slotOf(store, bucketOf(`native/${room}`)));
    // A client whose own session is kept on that shard too: every frame to it is numbered there.
    let c = await peer(n1.ws());
    while ((await store.shards.ownerOf(await slotOf(store, bucketOf(c.id)))) !== shard) {
      await c.c.close();
      c = await peer(n1.ws());
    }
    await store.shards.killShard(shard);
    // Requests whose keys live on the dead shard fail (once the cluster marks it failed, every
    // request does: full slot coverage is required by default). The answer reaches c all the same:
    // its session is numbered on its node from then on.
    const refused = await join(c.c, room);
    assert.equal(refused.code, 'unavailable', 'a join to a room on the dead shard');
    await store.shards.startShard(shard);
    await store.shards.waitOk();
    // The nodes notice the shard back and resync (on their presence timer: the injected clock).
    const restored = async () => (await n2.server.hub.roomInfo('native', room))?.members.map((m) => m.peerId).sort();
    await until(async () => {
      if (JSON.stringify(await restored().catch(() => undefined)) === JSON.stringify([a.id, b.id].sort())) return true;
      await advance(cl.clock, 2500, cl.nodes);
      return false;
    }, 'the room to be back in the store with both members', 30_000);
    assert.equal((await join(c.c, room)).type, 'joined');
    a.c.send({ type: 'signal', id: 'again', to: b.id, data: 'after the restart' });
    assert.equal((await a.c.next((f) => f.re === 'again')).type, 'ack');
    assert.equal((await b.c.next('signal')).data, 'after the restart');
    for (const p of [a, b, c]) await p.c.close();
  });
});
