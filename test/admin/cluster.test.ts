import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { after, before, describe, test } from 'node:test';
import { SNAPSHOT_INTERVAL_MS } from '../../src/admin/events.js';
import { ASK_TIMEOUT_MS } from '../../src/core/backplane.js';
import { redisSkip } from '../helpers/redis.js';
import { tick, until } from '../helpers/wait.js';
import type { Frame } from '../helpers/ws.js';
import { advance, backplane, join, peer, startCluster, type Cluster } from '../cluster/cluster-helpers.js';
import { call, SseClient, tappedLogger } from './helpers.js';

/**
 * The admin API across a 3-node cluster on a real redis-server: every node answers for all of them.
 * Requests go to node A (index 0); the peers they act on sit on B and C.
 */
describe('admin API across 3 nodes (real redis-server)', { skip: redisSkip }, () => {
  let cl: Cluster;
  before(async () => {
    cl = await startCluster(3, {}, undefined, tappedLogger);
  });
  after(() => cl.close());
  const id = (i: number) => cl.nodes[i]!.server.hub.nodeId;
  const api = (path: string, init?: RequestInit) => call(cl.nodes[0]!.http(`/admin/v1${path}`), init);
  /** One presence interval on every node: statuses written, log watches checked. */
  const presence = () => advance(cl.clock, cl.nodes[0]!.server.config.redis.presenceTtlMs / 4, cl.nodes);

  test('nodes: every node lists all three, itself marked, with the statuses the others wrote', async () => {
    const b = await peer(cl.nodes[1]!.ws());
    const b2 = await peer(cl.nodes[1]!.ws());
    await presence();
    await until(async () => ((await api('/nodes')).body.nodes as Frame[]).find((n) => n.id === id(1))?.connections === 2, "B's status with its 2 connections");
    for (let i = 0; i < 3; i++) {
      const nodes = (await call(cl.nodes[i]!.http('/admin/v1/nodes'))).body.nodes as Frame[];
      assert.deepEqual(nodes.map((n) => n.id).sort(), [id(0), id(1), id(2)].sort());
      assert.deepEqual(nodes.filter((n) => n.self).map((n) => n.id), [id(i)]);
      for (const n of nodes) assert.equal(n.state, 'ready');
    }
    await b.c.close();
    await b2.c.close();
  });

  test('a room spanning the nodes: listed once with all its members and their nodes', async () => {
    const ps = [await peer(cl.nodes[0]!.ws()), await peer(cl.nodes[1]!.ws()), await peer(cl.nodes[2]!.ws())];
    for (const p of ps) assert.equal((await join(p.c, 'span')).type, 'joined');
    const list = (await api('/rooms')).body.rooms as Frame[];
    const span = list.find((r) => r.room === 'span')!;
    assert.equal(span.members, 3);
    assert.deepEqual(span.nodes, [id(0), id(1), id(2)].sort());
    const detail = await api('/rooms/native/span');
    assert.deepEqual(
      (detail.body.members as Frame[]).map((m) => [m.peerId, m.node]).sort(),
      ps.map((p, i) => [p.id, id(i)]).sort(),
    );
    for (const p of ps) await p.c.close();
  });

  test('disconnect across nodes: asked on A, the peer on B is closed (4003) and the room on C hears it', async () => {
    const onB = await peer(cl.nodes[1]!.ws());
    const onC = await peer(cl.nodes[2]!.ws());
    await join(onB.c, 'dc-x');
    await join(onC.c, 'dc-x');
    await onB.c.next('peer-joined');
    const r = await api(`/peers/${onB.id}`, { method: 'DELETE' });
    assert.deepEqual([r.status, r.body], [200, { peerId: onB.id, node: id(1) }]);
    assert.equal((await onB.c.closedWithin()).code, 4003);
    const left = await onC.c.next('peer-left');
    assert.deepEqual([left.peerId, left.reason], [onB.id, 'kicked']);
    const gone = await api(`/peers/${onB.id}`, { method: 'DELETE' });
    assert.deepEqual([gone.status, gone.body], [404, { error: 'peer not found' }], 'every node answered: nobody holds it');
    await onC.c.close();
  });

  test('close a room across nodes: members on B and C each hear peer-left (their own id, kicked)', async () => {
    const onB = await peer(cl.nodes[1]!.ws());
    const onC = await peer(cl.nodes[2]!.ws());
    await join(onB.c, 'close-x');
    await join(onC.c, 'close-x');
    const r = await api('/rooms/native/close-x', { method: 'DELETE' });
    assert.deepEqual([r.status, r.body], [200, { dialect: 'native', room: 'close-x', removed: 2 }]);
    for (const p of [onB, onC]) {
      const left = await p.c.next((f) => f.type === 'peer-left' && f.peerId === p.id);
      assert.equal(left.reason, 'kicked');
    }
    assert.deepEqual((await api('/rooms/native/close-x')).body.members, []);
    for (const p of [onB, onC]) await p.c.close();
  });

  test("the event stream on A shows the members of a room on B, and B's log lines", async () => {
    const sse = await SseClient.open(cl.nodes[0]!.http('/admin/v1/events'));
    assert.equal(sse.status, 200);
    await sse.next('snapshot');
    // B's own lines from before the stream opened (its start-up) come first…
    const backlog = await sse.next((e) => e.event === 'log' && e.data.node === id(1) && /listening on/.test(String(e.data.msg)));
    assert.equal(backlog.data.level, 30);
    // …and once B has answered, its new lines follow live.
    cl.nodes[1]!.server.log.info({ marker: 'from-b' }, 'a line logged on B');
    const live = await sse.next((e) => e.event === 'log' && e.data.marker === 'from-b');
    assert.equal(live.data.node, id(1));
    cl.nodes[1]!.server.log.debug({ marker: 'debug-b' }, 'below info: never published');

    const onB = await peer(cl.nodes[1]!.ws());
    await join(onB.c, 'seen-from-a', { name: 'Bea' });
    cl.clock.advance(SNAPSHOT_INTERVAL_MS);
    const snap = await sse.next((e) => e.event === 'snapshot' && (e.data.rooms as Frame[]).some((r) => r.room === 'seen-from-a'));
    const room = (snap.data.rooms as { room: string; members: Frame[] }[]).find((r) => r.room === 'seen-from-a')!;
    assert.deepEqual(room.members.map((m) => [m.peerId, m.name, m.node]), [[onB.id, 'Bea', id(1)]]);
    assert.deepEqual((snap.data.nodes as Frame[]).map((n) => n.id).sort(), [id(0), id(1), id(2)].sort());
    assert.ok(!sse.events.some((e) => e.data.marker === 'debug-b'));
    await onB.c.close();
    sse.close();
  });

  test('log publishing is rate-bound per node, and stops once nobody watches', async () => {
    const b = backplane(cl.nodes[1]!);
    const tap = new Redis(cl.redis.url);
    const got: string[] = [];
    await tap.subscribe('sb:logs');
    tap.on('message', (_ch, msg: string) => got.push(msg));
    try {
      const sse = await SseClient.open(cl.nodes[0]!.http('/admin/v1/events'));
      await sse.next('snapshot');
      await until(() => b.logs.publishing, 'B publishing');
      cl.clock.advance(1000); // a full bucket
      await tick();
      const dropped = b.logs.dropped;
      for (let i = 0; i < 250; i++) cl.nodes[1]!.server.log.info({ burst: i }, 'burst');
      cl.clock.advance(1000);
      cl.nodes[1]!.server.log.info({ sentinel: 1 }, 'after the burst');
      // B's publications leave on one connection in order: once the sentinel is here, the rest are too.
      await until(() => got.some((m) => m.includes('"sentinel":1')), 'the sentinel');
      const published = got.filter((m) => m.includes('"burst"')).length;
      assert.ok(published <= 200, `at most 200 a second (got ${published})`);
      assert.equal(published + (b.logs.dropped - dropped), 250, 'every line published or counted as dropped');

      sse.close();
      await until(() => !(cl.nodes[0]!.server.admin.streams.size > 0), 'the stream closed on A');
      const cmd = tap.duplicate();
      await cmd.del('sb:logwatch'); // its TTL, run out
      cmd.disconnect();
      await presence();
      await until(() => !b.logs.publishing, 'B stopped publishing');
      got.length = 0;
      cl.nodes[1]!.server.log.info({ quiet: 1 }, 'nobody watches');
      b.logs.publishNow();
      cl.nodes[1]!.server.log.info({ sentinel: 2 }, 'published again');
      await until(() => got.some((m) => m.includes('"sentinel":2')), 'the second sentinel');
      assert.ok(!got.some((m) => m.includes('"quiet"')), 'not published while nobody watched');
      b.logs.stopPublishing();
    } finally {
      tap.disconnect();
    }
  });

  test('ask: no receiver is an immediate no-answer; a node that never replies times out on the injected clock', async () => {
    const a = backplane(cl.nodes[0]!);
    assert.deepEqual(await a.ask('no-such-node', { op: 'disconnect', args: { peerId: 'x' } }), { ok: false, error: 'no-answer', message: 'no node received it' });
    const mute = new Redis(cl.redis.url);
    const cmd = new Redis(cl.redis.url);
    await mute.subscribe('sb:n:mute');
    try {
      const pending = a.ask('mute', { op: 'disconnect', args: { peerId: 'x' } });
      let settled = false;
      void pending.then(() => (settled = true));
      await until(async () => ((await cmd.pubsub('NUMSUB', 'sb:n:mute')) as unknown[])[1] === 1, 'subscribed');
      for (let i = 0; i < 5; i++) await tick();
      assert.equal(settled, false, 'still waiting');
      cl.clock.advance(ASK_TIMEOUT_MS);
      assert.equal((await pending).ok, false);
      assert.equal(((await pending) as { error: string }).error, 'no-answer');
      // Between nodes: an operation the other node does not know.
      assert.deepEqual(await a.ask(id(2), { op: 'no-such-op', args: {} }), { ok: false, error: 'unknown-op', message: 'unknown operation "no-such-op"' });
    } finally {
      mute.disconnect();
      cmd.disconnect();
    }
  });
});
