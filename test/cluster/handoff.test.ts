import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import type { RedisClient } from '../../src/backplane/redis-client.js';
import { redisSkip } from '../helpers/redis.js';
import type { TestServer } from '../helpers/server.js';
import { memberCount, until } from '../helpers/wait.js';
import { connect, type Frame, type TestClient } from '../helpers/ws.js';
import { backplane, join, peer, spawnNode, startCluster, sync, type Cluster } from './cluster-helpers.js';

/*
 * `ack` means handed on (docs/protocol.md): a relay that could not leave its node, or whose target's
 * node did not receive it, is answered with `unavailable` in every dialect's words, never with
 * `ack` or silence.
 */

const TEXT = {
  peerDown: 'Not delivered: the peer is on another server and the shared store is unreachable; try again shortly.',
  peerGone: 'Not delivered: the server hosting that peer is not receiving (it may have just failed).',
  roomDown: 'Only members on this server got it: the shared store is unreachable; try again shortly.',
  call: 'Service temporarily unavailable, try again shortly',
};

/** Kills the cluster's redis-server and waits until every node has noticed. */
async function killRedis(cl: Cluster): Promise<void> {
  const down = cl.nodes.map((n) => once(backplane(n), 'down'));
  await cl.redis.kill();
  await Promise.all(down);
}

/**
 * A node in its own process, on the wall clock with a long presence TTL (the in-process nodes never
 * expire it: their clock is not advanced), and its node id.
 */
async function doomedNode(cl: Cluster, env: Record<string, string> = {}): Promise<{ node: Awaited<ReturnType<typeof spawnNode>>; id: string; kill(): Promise<void> }> {
  const node = await spawnNode(cl.redis, { SWITCHBOARD_REDIS_PRESENCE_TTL_MS: '600000', ...env });
  const live = new Set(cl.nodes.map((n) => n.server.hub.nodeId));
  const id = (await withRedis(cl, (r) => r.zrange('sb:nodes', 0, -1))).find((n) => !live.has(n))!;
  assert.ok(id, 'the spawned node is present in Redis');
  return {
    node,
    id,
    async kill() {
      node.proc.kill('SIGKILL');
      await once(node.proc, 'exit');
      await withRedis(cl, async (r) => {
        // Redis notices the dead node's subscriber connection on its own time; its presence stays.
        await until(async () => (await cl.redis.nodeSubscribers(id)) === 0, 'Redis dropped the dead node\'s subscription');
        assert.ok((await r.zscore('sb:nodes', id)) !== null, 'the dead node\'s presence has not expired');
      });
    },
  };
}

async function withRedis<T>(cl: Cluster, fn: (r: RedisClient) => Promise<T>): Promise<T> {
  const r = cl.redis.client();
  try {
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

async function metric(n: TestServer, pattern: RegExp): Promise<number> {
  const text = await (await fetch(n.http('/metrics'))).text();
  const m = pattern.exec(text);
  return m ? Number(m[1]) : 0;
}

test('Redis down: a cross-node signal gets unavailable (with its re, or none), never ack; relays within the node are acked; a broadcast reaches local members and says it went no further', { skip: redisSkip }, async () => {
  const cl = await startCluster(2);
  try {
    const [n1, n2] = cl.nodes as [TestServer, TestServer];
    const a = await peer(n1.ws());
    const b = await peer(n1.ws());
    const c = await peer(n2.ws());
    for (const p of [a, b, c]) assert.equal((await join(p.c, 'down')).type, 'joined');
    await a.c.next((f) => f.type === 'peer-joined' && (f.peer as Frame).peerId === c.id);
    a.c.take();
    b.c.take();
    await killRedis(cl);

    a.c.send({ type: 'signal', id: 'far', to: c.id, data: 1 });
    assert.deepEqual(await a.c.next((f) => f.re === 'far'), { type: 'error', re: 'far', code: 'unavailable', message: TEXT.peerDown });
    // without an id there is nothing to ack, but a failure is still said
    a.c.send({ type: 'signal', to: c.id, data: 2 });
    assert.deepEqual(await a.c.next((f) => f.type === 'error' || f.type === 'ack'), { type: 'error', code: 'unavailable', message: TEXT.peerDown });
    // within the node nothing needs Redis
    a.c.send({ type: 'signal', id: 'near', to: b.id, data: 3 });
    assert.deepEqual(await a.c.next((f) => f.re === 'near'), { type: 'ack', re: 'near' });
    assert.equal((await b.c.next('signal')).data, 3);
    a.c.send({ type: 'broadcast', id: 'all', room: 'down', data: 4 });
    assert.deepEqual(await a.c.next((f) => f.re === 'all'), { type: 'error', re: 'all', code: 'unavailable', message: TEXT.roomDown });
    assert.equal((await b.c.next('broadcast')).data, 4);
    await sync(a.c);
    await sync(c.c);
    assert.deepEqual(a.c.take().filter((f) => f.type === 'ack' || f.type === 'error'), [], 'one answer per message');
    assert.deepEqual(c.c.take(), [], 'nothing reached the other node');
    // announcements that cannot leave the node are logged, not thrown: leaves and closes still work
    b.c.send({ type: 'leave', id: 'bye', room: 'down' });
    assert.deepEqual(await b.c.next((f) => f.re === 'bye'), { type: 'left', re: 'bye', room: 'down' });
    assert.deepEqual(await a.c.next('peer-left'), { type: 'peer-left', room: 'down', peerId: b.id, reason: 'left' });
    await c.c.close();
    a.c.send({ type: 'signal', id: 'still', to: c.id, data: 5 });
    assert.equal((await a.c.next((f) => f.re === 'still')).code, 'unavailable', 'c is still on the roster here: its leave could not reach this node');
    for (const p of [a, b]) await p.c.close();
  } finally {
    await cl.close();
  }
});

// Resume off: with it on, a session's every frame (the pong of sync() too) is numbered by Redis first
// (docs/operations.md, Session resume across nodes; test/cluster/resume-cluster.test.ts).
test('a publication in flight when Redis dies: no ack before Redis has answered, then unavailable', { skip: redisSkip }, async () => {
  const cl = await startCluster(2, { resume: { windowMs: 0 } });
  try {
    const [n1, n2] = cl.nodes as [TestServer, TestServer];
    const a = await peer(n1.ws());
    const c = await peer(n2.ws());
    for (const p of [a, c]) assert.equal((await join(p.c, 'flight')).type, 'joined');
    await a.c.next('peer-joined');
    // Redis holds every command unanswered: the publication leaves the node, its outcome is unknown
    await cl.redis.pause(60_000);
    a.c.send({ type: 'signal', id: 'pending', to: c.id, data: 'x' });
    await sync(a.c); // handled after the signal, and answered without Redis
    assert.deepEqual(a.c.frames.filter((f) => f.re === 'pending'), [], 'not acked while Redis has not answered');
    await cl.redis.kill();
    assert.deepEqual(await a.c.next((f) => f.re === 'pending'), { type: 'error', re: 'pending', code: 'unavailable', message: TEXT.peerDown });
    await sync(a.c);
    assert.deepEqual(a.c.take().filter((f) => f.re === 'pending'), [], 'one answer');
    for (const p of [a, c]) await p.c.close();
  } finally {
    await cl.redis.kill(); // a paused Redis would hold the nodes' shutdown
    await cl.close();
  }
});

// The target not resumable (resume off on its node): with resume on, a signal to it is kept in its log
// and acked (test/cluster/resume-cluster.test.ts).
test('the target\'s node is dead, its presence not yet expired: unavailable, never ack; a broadcast Redis accepted is acked', { skip: redisSkip }, async () => {
  const cl = await startCluster(1);
  const doomed = await doomedNode(cl, { SWITCHBOARD_RESUME_WINDOW_MS: '0' });
  try {
    const n1 = cl.nodes[0]!;
    const a = await peer(n1.ws());
    const x = await peer(doomed.node.ws());
    for (const p of [a, x]) assert.equal((await join(p.c, 'orphan')).type, 'joined');
    await a.c.next((f) => f.type === 'peer-joined' && (f.peer as Frame).peerId === x.id);
    await doomed.kill();

    a.c.send({ type: 'signal', id: 'gone', to: x.id, data: 1 });
    assert.deepEqual(await a.c.next((f) => f.re === 'gone'), { type: 'error', re: 'gone', code: 'unavailable', message: TEXT.peerGone });
    a.c.send({ type: 'signal', to: x.id, data: 2 });
    assert.deepEqual(await a.c.next((f) => f.type === 'error' || f.type === 'ack'), { type: 'error', code: 'unavailable', message: TEXT.peerGone });
    // a room publication is handed on once Redis has it (docs/protocol.md)
    a.c.send({ type: 'broadcast', id: 'room', room: 'orphan', data: 3 });
    assert.deepEqual(await a.c.next((f) => f.re === 'room'), { type: 'ack', re: 'room' });
    await sync(a.c);
    assert.deepEqual(a.c.take().filter((f) => f.type === 'ack' || f.type === 'error'), []);
    // the roster still lists the dead node's peer until its presence expires
    assert.equal(await memberCount(n1.server.hub, 'native', 'orphan'), 2);
    assert.ok((await metric(n1, /switchboard_backplane_dropped_total\{kind="peer"\} (\d+)/)) >= 2, 'counted as dropped');
    await a.c.close();
  } finally {
    if (doomed.node.proc.exitCode === null && doomed.node.proc.signalCode === null) doomed.node.proc.kill('SIGKILL');
    await cl.close();
  }
});

test('healthy: a burst of cross-node signals and broadcasts with ids is acked in order and delivered in order', { skip: redisSkip }, async () => {
  const cl = await startCluster(2);
  try {
    const a = await peer(cl.nodes[0]!.ws());
    const c = await peer(cl.nodes[1]!.ws());
    for (const p of [a, c]) assert.equal((await join(p.c, 'healthy')).type, 'joined');
    await a.c.next('peer-joined');
    const n = 150; // within the default burst of 200 frames
    for (let i = 0; i < n; i++) {
      if (i % 3 === 2) a.c.send({ type: 'broadcast', id: i, room: 'healthy', data: i });
      else a.c.send({ type: 'signal', id: i, to: c.id, data: i });
    }
    const acks: unknown[] = [];
    for (let i = 0; i < n; i++) acks.push((await a.c.next((f) => f.re !== undefined)).re);
    assert.deepEqual(acks, [...Array(n).keys()], 'every relay acked, in the order sent');
    const got: unknown[] = [];
    for (let i = 0; i < n; i++) got.push((await c.c.next((f) => f.type === 'signal' || f.type === 'broadcast')).data);
    assert.deepEqual(got, [...Array(n).keys()], 'delivered in order');
    await sync(a.c);
    assert.deepEqual(a.c.take().filter((f) => f.type === 'error'), []);
    for (const p of [a, c]) await p.c.close();
  } finally {
    await cl.close();
  }
});

/** One legacy dialect's sender, with a peer on another node, and what it must hear when its relay is not handed on. */
interface Legacy {
  name: string;
  sender: TestClient;
  relay(): void;
  /** The error frame expected, per failure (undefined: the dialect sends none, e.g. flyx-cli). */
  expect: Frame | undefined;
}

/** Every legacy dialect with its sender on `near` and its peer on the node behind `far(path)`. */
async function legacyPairs(near: TestServer, far: (path: string) => string, farDown: boolean): Promise<Legacy[]> {
  const out: Legacy[] = [];
  const peerText = farDown ? TEXT.peerGone : TEXT.peerDown;

  const vcA = await connect(near.ws('/ws'));
  const vcB = await connect(far('/ws'));
  await vcA.next('welcome');
  const vcIdB = (await vcB.next('welcome')).peer_id as string;
  vcA.send({ type: 'join', room: 'vc-h', name: 'A' });
  await vcA.next('joined');
  vcB.send({ type: 'join', room: 'vc-h', name: 'B' });
  await vcB.next('joined');
  await vcA.next('peer-joined');
  out.push({ name: 'vc', sender: vcA, relay: () => vcA.send({ type: 'offer', to: vcIdB, sdp: 'v=0' }), expect: { type: 'error', error: 'unavailable', to: vcIdB } });

  const pc = await connect(near.ws('/'));
  const phone = await connect(far('/'));
  pc.send({ type: 'register', client_id: 'pc-h', room_id: 'lab-h' });
  await pc.next('registered');
  phone.send({ type: 'register', client_id: 'phone-h', room_id: 'lab-h' });
  await phone.next('registered');
  await pc.next('peer_joined');
  out.push({ name: 'slam', sender: pc, relay: () => pc.send({ type: 'offer', target_id: 'phone-h', sdp: 'v=0' }), expect: { type: 'error', message: peerText } });

  const alice = await connect(near.ws('/'));
  const bob = await connect(far('/'));
  alice.send({ type: 'register', username: 'alice-h', user_id: 'a-h' });
  await alice.next('registered');
  bob.send({ type: 'register', username: 'bob-h', user_id: 'b-h' });
  await bob.next('registered');
  await alice.next((f) => f.type === 'online_users' && (f.users as Frame[]).length === 2);
  out.push({ name: 'call', sender: alice, relay: () => alice.send({ type: 'offer', target_username: 'bob-h', data: { sdp: 'v=0' } }), expect: { type: 'error', message: TEXT.call } });

  const meshA = await connect(near.ws('/'));
  const meshB = await connect(far('/'));
  meshA.send({ type: 'create' });
  const created = await meshA.next('room_created');
  meshB.send({ type: 'join', roomId: created.roomId });
  const joined = await meshB.next('room_joined');
  await meshA.next('initiate_call');
  out.push({ name: 'mesh', sender: meshA, relay: () => meshA.send({ type: 'signal', targetId: joined.myId, payload: '{"type":"offer"}' }), expect: { type: 'error', message: peerText } });

  const flyxRoom = ((await (await fetch(near.http('/room'), { method: 'POST' })).json()) as { id: string }).id;
  const flyxSender = await connect(far(`/ws/${flyxRoom}`));
  await flyxSender.next('join');
  const flyxReceiver = await connect(near.ws(`/ws/${flyxRoom}`));
  await flyxReceiver.next('join');
  await flyxSender.next('join');
  out.push({ name: 'flyx', sender: flyxReceiver, relay: () => flyxReceiver.send({ type: 'offer', data: { sdp: 'v=0' } }), expect: { type: 'error', data: { message: peerText } } });

  const cliRoom = ((await (await fetch(near.http('/api/room'), { method: 'POST' })).json()) as { id: string }).id;
  const master = await connect(far(`/api/room/${cliRoom}`));
  await until(async () => (await memberCount(near.server.hub, 'flyx-cli', cliRoom)) >= 1, 'the master in the room');
  const slave = await connect(near.ws(`/api/room/${cliRoom}`));
  await master.next('slavejoined');
  out.push({ name: 'flyx-cli', sender: slave, relay: () => slave.send({ type: 'answer', sdp: 'v=0' }), expect: undefined });

  return out;
}

/** Each legacy sender relays once; each hears its error (flyx-cli: nothing, the drop is counted). */
async function expectLegacyErrors(near: TestServer, pairs: Legacy[]): Promise<void> {
  for (const p of pairs) p.sender.take();
  for (const p of pairs) p.relay();
  for (const p of pairs) {
    if (p.expect) assert.deepEqual(await p.sender.next('error'), p.expect, p.name);
  }
  await until(async () => (await metric(near, /switchboard_errors_total\{dialect="flyx-cli",code="unavailable"\} (\d+)/)) === 1, 'flyx-cli counted its undelivered frame');
  for (const p of pairs) assert.deepEqual(p.sender.take(), [], `${p.name}: one error, nothing else`);
}

test('legacy dialects, Redis down: a relay to a peer on another node is answered in the dialect\'s words', { skip: redisSkip }, async () => {
  const cl = await startCluster(2, { rateLimits: { httpCreatesPerSecond: 0 } });
  try {
    const [n1, n2] = cl.nodes as [TestServer, TestServer];
    const pairs = await legacyPairs(n1, (path) => n2.ws(path), false);
    // slam's pairing flavour only broadcasts: its partner on the other node is out of reach too
    await connect(n2.ws('/signaling'));
    const offerer = await connect(n1.ws('/signaling'));
    await until(async () => (await memberCount(n1.server.hub, 'slam-pair', '/signaling')) >= 2, 'both sockets in the pairing room');
    pairs.push({ name: 'slam-pair', sender: offerer, relay: () => offerer.send({ type: 'offer', sdp: 'v=0' }), expect: { type: 'error', message: TEXT.roomDown } });
    await killRedis(cl);
    await expectLegacyErrors(n1, pairs);
  } finally {
    await cl.close();
  }
});

test('legacy dialects, the peer\'s node dead: a relay to it is answered in the dialect\'s words', { skip: redisSkip }, async () => {
  const cl = await startCluster(1, { rateLimits: { httpCreatesPerSecond: 0 } });
  const doomed = await doomedNode(cl);
  try {
    const n1 = cl.nodes[0]!;
    const pairs = await legacyPairs(n1, (path) => doomed.node.ws(path), true);
    await doomed.kill();
    await expectLegacyErrors(n1, pairs);
  } finally {
    if (doomed.node.proc.exitCode === null && doomed.node.proc.signalCode === null) doomed.node.proc.kill('SIGKILL');
    await cl.close();
  }
});
