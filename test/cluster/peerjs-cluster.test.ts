import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { redisSkip } from '../helpers/redis.js';
import { connect } from '../helpers/ws.js';
import { until } from '../helpers/wait.js';
import { CALM, mark, offerPayload, openPeer, peerUrl, refusedPeer } from '../dialects/peerjs-helpers.js';
import type { TestServer } from '../helpers/server.js';
import { advance, spawnNode, startCluster, tick, type Cluster } from './cluster-helpers.js';

/**
 * The PeerJS dialect across nodes sharing one real redis-server: an id on node A reachable from
 * node B, ids unique cluster-wide (ID-TAKEN, take-over by the same token from another node), the
 * mailbox and EXPIRE across nodes, and a dead node's ids freed by the presence sweep.
 */

const opts = { skip: redisSkip };

/** A tuple of `N` nodes. */
type Nodes<N extends number, T extends TestServer[] = []> = T['length'] extends N ? T : Nodes<N, [...T, TestServer]>;

/** `n` nodes over one fresh redis-server, closed whatever happens. */
async function withCluster<N extends 2 | 3>(n: N, overrides: Parameters<typeof startCluster>[1], fn: (nodes: Nodes<N>, cl: Cluster) => Promise<void>): Promise<void> {
  const cl = await startCluster(n, overrides);
  try {
    await fn(cl.nodes as Nodes<N>, cl);
  } finally {
    await cl.close();
  }
}

test('an id on one node is reachable from another: OFFER, ANSWER and a CANDIDATE burst, in order, src set by the server', opts, async () => {
  await withCluster(2, CALM, async ([n0, n1]) => {
  const x = await openPeer(n0, 'x');
  const y = await openPeer(n1, 'y');
  x.send({ type: 'OFFER', src: 'forged', dst: 'y', payload: offerPayload(), extra: true });
  assert.deepEqual(await y.next(), { type: 'OFFER', src: 'x', dst: 'y', payload: offerPayload() });
  y.send({ type: 'ANSWER', dst: 'x', payload: { sdp: { type: 'answer', sdp: 'v=0' } } });
  assert.deepEqual(await x.next(), { type: 'ANSWER', src: 'y', dst: 'x', payload: { sdp: { type: 'answer', sdp: 'v=0' } } });
  for (let i = 0; i < 40; i++) x.send({ type: 'CANDIDATE', dst: 'y', payload: { i } });
  for (let i = 0; i < 40; i++) assert.deepEqual((await y.next()).payload, { i });
  // The raw text: the payload byte for byte, nothing else of the sender's frame.
  x.send('{"type":"CANDIDATE","dst":"y","payload":{ "z" : [1, 2] },"src":"eve"}');
  await until(() => y.raw.some((r) => r.includes('"z"')), 'the raw relay');
  assert.equal(y.raw.find((r) => r.includes('"z"')), '{"type":"CANDIDATE","src":"x","dst":"y","payload":{ "z" : [1, 2] }}');
  await Promise.all([x.close(), y.close()]);
  });
});

test('ids are unique cluster-wide: another token elsewhere gets ID-TAKEN; the same token elsewhere takes the id over', opts, async () => {
  await withCluster(3, CALM, async ([n0, n1, n2]) => {
  const old = await openPeer(n0, 'alice', { token: 'mine' });
  const { frame } = await refusedPeer(peerUrl(n1, 'alice', { token: 'theirs' }));
  assert.deepEqual(frame, { type: 'ID-TAKEN', payload: { msg: 'ID is taken' } });
  const fresh = await openPeer(n1, 'alice', { token: 'mine' });
  assert.equal((await old.closedWithin()).code, 4001);
  const bob = await openPeer(n2, 'bob');
  bob.send({ type: 'OFFER', dst: 'alice', payload: 1 });
  assert.deepEqual(await fresh.next(), { type: 'OFFER', src: 'bob', dst: 'alice', payload: 1 });
  await Promise.all([fresh.close(), bob.close()]);
  });
});

test('the mailbox is cluster-wide: queued on one node, delivered after OPEN on another, in order; never also expired', opts, async () => {
  await withCluster(2, CALM, async ([n0, n1], cl) => {
  const alice = await openPeer(n0, 'alice');
  alice.send({ type: 'OFFER', dst: 'carol', payload: offerPayload(7) });
  for (let i = 0; i < 5; i++) alice.send({ type: 'CANDIDATE', dst: 'carol', payload: i });
  // A round trip through the store: alice's scripts ran before this one.
  await mark(alice, alice, 'alice');
  const carol = await openPeer(n1, 'carol');
  assert.deepEqual(await carol.next(), { type: 'OFFER', src: 'alice', dst: 'carol', payload: offerPayload(7) });
  for (let i = 0; i < 5; i++) assert.equal((await carol.next()).payload, i);
  await advance(cl.clock, 6_000, cl.nodes);
  assert.deepEqual(await mark(carol, alice, 'alice'), [], 'taken: no EXPIRE');
  await Promise.all([alice.close(), carol.close()]);
  });
});

test('unclaimed anywhere within expireTimeoutMs: one EXPIRE per destination, and the other node finds nothing', opts, async () => {
  await withCluster(2, CALM, async ([n0, n1], cl) => {
  const alice = await openPeer(n0, 'alice');
  for (let i = 0; i < 3; i++) alice.send({ type: 'CANDIDATE', dst: 'dave', payload: i });
  await mark(alice, alice, 'alice');
  // The window starts when the store has answered that they were queued (a turn or so later).
  await advance(cl.clock, 6_000, cl.nodes);
  assert.deepEqual(await alice.next('EXPIRE'), { type: 'EXPIRE', src: 'dave', dst: 'alice' });
  const dave = await openPeer(n1, 'dave');
  assert.deepEqual(await mark(alice, dave, 'dave'), []);
  assert.deepEqual(await mark(dave, alice, 'alice'), [], 'exactly one EXPIRE');
  await Promise.all([alice.close(), dave.close()]);
  });
});

test('discovery lists the ids of every node', opts, async () => {
  await withCluster(2, { ...CALM, peerjs: { allowDiscovery: true } }, async ([n0, n1]) => {
  const a = await openPeer(n0, 'a');
  const b = await openPeer(n1, 'b');
  const ids = (await (await fetch(n0.http('/peerjs/peers'))).json()) as string[];
  assert.deepEqual(ids.sort(), ['a', 'b']);
  await Promise.all([a.close(), b.close()]);
  });
});

test('kill -9 of a node: messages to its ids wait in the mailbox, the presence sweep frees the ids, and whoever takes one gets them', opts, async () => {
  const ttl = 10_000;
  const cl = await startCluster(2, { ...CALM, redis: { presenceTtlMs: ttl }, peerjs: { expireTimeoutMs: 60_000 } });
  const doomed = await spawnNode(cl.redis, { SWITCHBOARD_REDIS_PRESENCE_TTL_MS: '600000' });
  try {
    const [n0, n1] = cl.nodes as [(typeof cl.nodes)[0] & object, (typeof cl.nodes)[0] & object];
    const alice = await openPeer(doomed, 'alice', { token: 'first' });
    await openPeer(doomed, 'bea', { token: 'hers' });
    const bob = await openPeer(n0, 'bob');
    bob.send({ type: 'OFFER', dst: 'alice', payload: 'before' });
    assert.equal((await alice.next()).payload, 'before');
    if (Date.now() > cl.clock.now()) await advance(cl.clock, Date.now() - cl.clock.now(), cl.nodes);
    doomed.proc.kill('SIGKILL');
    await once(doomed.proc, 'exit');
    // No node receives for alice now: kept for whoever holds the id next.
    bob.send({ type: 'OFFER', dst: 'alice', payload: 'after' });
    await mark(bob, bob, 'bob');
    // Until the dead node's presence expires, its claim stands: another token hears ID-TAKEN, the same one takes it over.
    assert.deepEqual((await refusedPeer(peerUrl(n1, 'alice', { token: 'second' }))).frame, { type: 'ID-TAKEN', payload: { msg: 'ID is taken' } });
    await (await openPeer(n1, 'bea', { token: 'hers' })).close();
    const start = cl.clock.now();
    let taken;
    while (!taken && cl.clock.now() - start < 3 * ttl) {
      await advance(cl.clock, 500, cl.nodes);
      const c = await connect(peerUrl(n1, 'alice', { token: 'second' }));
      const f = await c.next();
      if (f.type === 'OPEN') taken = c;
      else await c.closedWithin();
    }
    assert.ok(taken, 'the id was freed by the presence sweep');
    assert.deepEqual(await taken.next(), { type: 'OFFER', src: 'bob', dst: 'alice', payload: 'after' });
    await tick();
    await Promise.all([taken.close(), bob.close()]);
  } finally {
    if (doomed.proc.exitCode === null && doomed.proc.signalCode === null) doomed.proc.kill('SIGKILL');
    await cl.close();
  }
});
