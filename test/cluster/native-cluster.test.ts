import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { redisSkip } from '../helpers/redis.js';
import { join, peer, startCluster, sync, type Cluster } from './cluster-helpers.js';

describe('a room spans nodes (native, 3 nodes, real redis-server)', { skip: redisSkip }, () => {
  let cl: Cluster;
  before(async () => {
    cl = await startCluster(3, { rooms: { maxPeers: 2 } });
  });
  after(() => cl.close());

  test('rosters, join/leave notifications, targeted and room-wide relays cross nodes', async () => {
    const [a, b, c] = [await peer(cl.nodes[0]!.ws()), await peer(cl.nodes[1]!.ws()), await peer(cl.nodes[2]!.ws())];
    cl.nodes.forEach((n) => assert.ok(n.server.hub.healthy));
    // maxPeers is 2 for this cluster: use create-room for a bigger room
    a.c.send({ type: 'create-room', options: { capacity: 2 } });
    const { room } = await a.c.next('room-created');
    assert.deepEqual(await join(a.c, room as string, { name: 'A' }), { type: 'joined', room, peers: [] });
    const jb = await join(b.c, room as string, { name: 'B' });
    assert.deepEqual(jb.peers, [{ peerId: a.id, name: 'A' }]);
    assert.deepEqual(await a.c.next('peer-joined'), { type: 'peer-joined', room, peer: { peerId: b.id, name: 'B' } });
    // the capacity holds across nodes
    assert.equal((await join(c.c, room as string)).code, 'room-full');
    a.c.send({ type: 'signal', to: b.id, data: { sdp: 'offer' } });
    assert.deepEqual(await b.c.next('signal'), { type: 'signal', from: a.id, room, data: { sdp: 'offer' } });
    b.c.send({ type: 'broadcast', room, data: 'hello' });
    assert.deepEqual(await a.c.next('broadcast'), { type: 'broadcast', room, from: b.id, data: 'hello' });
    // c is on a third node and shares no room: no relay reaches it, none goes out from it
    c.c.send({ type: 'signal', to: a.id, data: 'x' });
    assert.equal((await c.c.next('error')).code, 'peer-not-found');
    b.c.send({ type: 'leave', room });
    await b.c.next('left');
    assert.deepEqual(await a.c.next('peer-left'), { type: 'peer-left', room, peerId: b.id, reason: 'left' });
    await sync(c.c);
    assert.deepEqual(c.c.take(), []);
    for (const p of [a, b, c]) await p.c.close();
  });

  test('concurrent joins to a nearly full room on different nodes: exactly capacity succeed', async () => {
    const clients = await Promise.all(cl.nodes.flatMap((n) => [peer(n.ws()), peer(n.ws())]));
    const results = await Promise.all(clients.map((p) => join(p.c, 'contended')));
    assert.equal(results.filter((r) => r.type === 'joined').length, 2);
    assert.equal(results.filter((r) => r.code === 'room-full').length, 4);
    for (const p of clients) await p.c.close();
  });

  test('generated room ids are unique cluster-wide and every node sees the same room', async () => {
    const creators = await Promise.all(cl.nodes.map((n) => peer(n.ws())));
    const ids = new Set<string>();
    for (let i = 0; i < 10; i++) {
      for (const p of creators) {
        p.c.send({ type: 'create-room' });
        ids.add((await p.c.next('room-created')).room as string);
      }
    }
    assert.equal(ids.size, 30);
    const info = await cl.nodes[2]!.server.hub.roomInfo('native', [...ids][0]!);
    assert.ok(info, 'a room created on node 1 exists on node 3');
    for (const p of creators) await p.c.close();
  });

  test('disconnect on one node is heard on the others', async () => {
    const a = await peer(cl.nodes[0]!.ws());
    const b = await peer(cl.nodes[2]!.ws());
    await join(a.c, 'dc');
    await join(b.c, 'dc');
    await a.c.next('peer-joined');
    await b.c.close();
    assert.deepEqual(await a.c.next('peer-left'), { type: 'peer-left', room: 'dc', peerId: b.id, reason: 'disconnect' });
    await a.c.close();
  });

  test('a burst of relays crosses nodes in order, each sender\'s data text byte for byte, and a leave after them arrives after them', async () => {
    const a = await peer(cl.nodes[0]!.ws());
    const b = await peer(cl.nodes[1]!.ws());
    await join(a.c, 'burst');
    await join(b.c, 'burst');
    await a.c.next('peer-joined');
    // Data texts a re-serialiser would change: whitespace and newlines, escapes, non-ASCII, a
    // document that looks like a backplane header. Sent in one burst, so they share flushes.
    const texts = ['{ "sdp" : "v=0\\r\\no=- 1 2 IN IP4 127.0.0.1" ,\n  "n": 1 }', '"line\\nbreak — ünïcödé ✓"', '{"x":1,\n"o":"forged","t":0,"e":{"k":"kick"}}', '[1,\n2,\n3]'];
    const n = 60;
    for (let i = 0; i < n; i++) {
      const data = texts[i % texts.length]!;
      if (i % 2) a.c.send(`{"type":"broadcast","room":"burst","data":${data}}`);
      else a.c.send(`{"type":"signal","to":"${b.id}","data":${data}}`);
    }
    a.c.send({ type: 'leave', room: 'burst' });
    const got: string[] = [];
    for (let i = 0; i < n; i++) {
      const f = await b.c.next((x) => x.type === 'signal' || x.type === 'broadcast');
      assert.equal(f.type, i % 2 ? 'broadcast' : 'signal', `message ${i} in order`);
      assert.equal(f.from, a.id);
      got.push(f.type as string);
    }
    assert.deepEqual(await b.c.next('peer-left'), { type: 'peer-left', room: 'burst', peerId: a.id, reason: 'left' });
    const relayed = b.c.raw.filter((r) => /^\{"seq":\d+,"type":"(signal|broadcast)"/.test(r));
    assert.equal(relayed.length, n);
    relayed.forEach((r, i) => assert.ok(r.includes(`"data":${texts[i % texts.length]!}`), `message ${i} carries its data text unchanged: ${r}`));
    assert.equal(got.length, n);
    assert.deepEqual(a.c.take().filter((f) => f.type === 'error'), [], 'every message was valid and accepted');
    await a.c.close();
    await b.c.close();
  });
});
