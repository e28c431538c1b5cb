import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PEERS_DEFAULT_LIMIT, PEERS_MAX_LIMIT } from '../../src/admin/views.js';
import { redisSkip } from '../helpers/redis.js';
import type { TestServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';
import { connect, type Frame, type TestClient } from '../helpers/ws.js';
import { join, peer, startCluster, type Cluster } from '../cluster/cluster-helpers.js';
import { SECRET, sign } from '../security/auth-tokens.js';
import { call, withServer } from './helpers.js';

/** GET /admin/v1/peers: every live session, one node and a 2-node cluster on a real redis-server. */

const ADMIN = 'admin-token-for-tests-0123456789';

type Peer = Frame & { peerId: string; dialect: string; node: string };

async function peers(srv: TestServer, query = ''): Promise<{ status: number; body: Frame & { peers: Peer[] } }> {
  const r = await call(srv.http(`/admin/v1/peers${query}`));
  return { status: r.status, body: r.body as Frame & { peers: Peer[] } };
}

/** A slam client on a catch-all path, registered under `clientId` (its alias) in `room`. */
async function slam(srv: TestServer, clientId: string, room: string): Promise<TestClient> {
  const c = await connect(srv.ws('/'));
  c.send({ type: 'register', client_id: clientId, room_id: room, client_type: 'pc' });
  await c.next('registered');
  return c;
}

/** Dialect, then peer id: the listing's order. */
const order = (a: { dialect: string; id: string }, b: { dialect: string; id: string }) => (a.dialect !== b.dialect ? (a.dialect < b.dialect ? -1 : 1) : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

describe('GET /admin/v1/peers, one node', () => {
  test('every session with its dialect, node, rooms, aliases, times and state; sorted by dialect then id', async () => {
    await withServer({}, async (srv) => {
      const node = srv.server.hub.nodeId;
      const t0 = srv.clock.now();
      const a = await peer(srv.ws('/v1'));
      srv.clock.advance(1000);
      const b = await peer(srv.ws('/v1'));
      await join(a.c, 'lobby');
      await join(a.c, 'annex');
      const cam = await slam(srv, 'cam-1', 'lab');
      const vc = await connect(srv.ws('/ws'));
      const vcId = (await vc.next('welcome')).peer_id as string;

      const r = await peers(srv);
      assert.equal(r.status, 200);
      assert.deepEqual([r.body.total, r.body.truncated, 'unanswered' in r.body], [4, false, false]);
      const camId = [...srv.server.hub.sessions.values()].find((s) => s.dialect === 'slam')!.id;
      const expected = [
        { dialect: 'native', id: a.id },
        { dialect: 'native', id: b.id },
        { dialect: 'slam', id: camId },
        { dialect: 'vc', id: vcId },
      ].sort(order);
      assert.deepEqual(r.body.peers.map((p) => [p.dialect, p.peerId]), expected.map((e) => [e.dialect, e.id]));
      const byId = new Map(r.body.peers.map((p) => [p.peerId, p]));
      assert.deepEqual(byId.get(a.id), { peerId: a.id, dialect: 'native', node, rooms: ['annex', 'lobby'], aliases: [], connectedAt: t0, lastSeen: srv.clock.now(), resumable: true, attached: true });
      assert.equal(byId.get(b.id)!.connectedAt, t0 + 1000);
      assert.deepEqual(byId.get(camId), { peerId: camId, dialect: 'slam', node, rooms: ['lab'], aliases: ['cam-1'], connectedAt: t0 + 1000, lastSeen: srv.clock.now(), resumable: false, attached: true });
      assert.deepEqual([byId.get(vcId)!.rooms, byId.get(vcId)!.resumable], [[], false]);

      const onlySlam = await peers(srv, '?dialect=slam');
      assert.deepEqual([onlySlam.body.peers.map((p) => p.peerId), onlySlam.body.total], [[camId], 1]);
      assert.deepEqual((await peers(srv, `?node=${node}`)).body.peers.length, 4);
      const firstTwo = await peers(srv, '?limit=2');
      assert.deepEqual([firstTwo.body.peers.map((p) => p.peerId), firstTwo.body.total, firstTwo.body.truncated], [expected.slice(0, 2).map((e) => e.id), 4, true]);
      for (const c of [a.c, b.c, cam, vc]) await c.close();
      await until(async () => (await peers(srv)).body.total === 0, 'the sessions gone from the listing');
    });
  });

  test('a PeerJS client is listed with its PeerJS id as its alias (PeerJS has no rooms)', async () => {
    await withServer({}, async (srv) => {
      const c = await connect(srv.ws('/peerjs?key=peerjs&id=alice-123&token=t0k3n&version=1.5.5'));
      await c.next('OPEN');
      const r = await peers(srv, '?dialect=peerjs');
      assert.deepEqual(r.body.peers.map((p) => [p.dialect, p.rooms, p.aliases]), [['peerjs', [], ['alice-123']]]);
      await c.close();
    });
  });

  test('a resumable session that lost its socket is listed detached; a token subject shows as identity', async () => {
    await withServer({ auth: { secret: SECRET }, admin: { token: ADMIN } }, async (srv) => {
      const now = srv.clock.now();
      const ada = await peer(srv.ws(`/v1?token=${await sign({ sub: 'ada@example.com', name: 'Ada' }, { now })}`));
      const bob = await peer(srv.ws(`/v1?token=${await sign({ sub: 'bob' }, { now })}`));
      const before = srv.server.connections.size;
      bob.c.ws.terminate();
      await until(() => srv.server.connections.size < before, 'the drop noticed');
      const r = await call(srv.http('/admin/v1/peers'), { headers: { authorization: `Bearer ${ADMIN}` } });
      const list = (r.body as { peers: Peer[] }).peers;
      assert.deepEqual(
        list.map((p) => [p.peerId, p.identity, p.resumable, p.attached]).sort(),
        [
          [ada.id, 'ada@example.com', true, true],
          [bob.id, 'bob', true, false],
        ].sort(),
      );
      await ada.c.close();
    });
  });

  test('bad queries are refused in words; an unknown node is a 404', async () => {
    await withServer({}, async (srv) => {
      const bad = async (q: string) => {
        const r = await peers(srv, q);
        return [r.status, r.body.error];
      };
      assert.deepEqual(await bad('?dialect=klingon'), [400, 'unknown dialect "klingon" (known: native, vc, flyx, flyx-cli, slam, slam-pair, call, mesh, peerjs)']);
      const limitError = `"limit" is an integer from 1 to ${PEERS_MAX_LIMIT} (default ${PEERS_DEFAULT_LIMIT})`;
      for (const l of ['0', String(PEERS_MAX_LIMIT + 1), 'ten', '-1', '1.5', '', '99999999999']) assert.deepEqual(await bad(`?limit=${l}`), [400, limitError], `limit=${l}`);
      assert.deepEqual(await bad('?node='), [400, 'a node id is 1-256 characters']);
      assert.deepEqual(await bad('?node=nobody'), [404, 'no live node "nobody"']);
      assert.deepEqual((await peers(srv, `?limit=${PEERS_MAX_LIMIT}`)).body, { peers: [], total: 0, truncated: false });
    });
  });
});

describe('GET /admin/v1/peers across 2 nodes (real redis-server)', { skip: redisSkip }, () => {
  let cl: Cluster;
  before(async () => {
    cl = await startCluster(2);
  });
  after(() => cl.close());
  const id = (i: number) => cl.nodes[i]!.server.hub.nodeId;

  test('asked on either node: every session of both, each with the node that holds it; node, dialect and limit filter cluster-wide', async () => {
    const onA = [await peer(cl.nodes[0]!.ws()), await peer(cl.nodes[0]!.ws())];
    const onB = [await peer(cl.nodes[1]!.ws()), await peer(cl.nodes[1]!.ws())];
    await join(onA[0]!.c, 'across');
    await join(onB[0]!.c, 'across');
    const camOnB = await slam(cl.nodes[1]!, 'cam-b', 'lab-b');
    const natives = [...onA.map((p) => ({ dialect: 'native', id: p.id, node: id(0) })), ...onB.map((p) => ({ dialect: 'native', id: p.id, node: id(1) }))].sort(order);

    for (const asked of [0, 1]) {
      const r = await peers(cl.nodes[asked]!);
      assert.equal(r.status, 200);
      assert.equal(r.body.total, 5);
      const listed = r.body.peers.filter((p) => p.dialect === 'native');
      assert.deepEqual(listed.map((p) => [p.peerId, p.node]), natives.map((n) => [n.id, n.node]), `asked on node ${asked}`);
      assert.deepEqual(listed.find((p) => p.peerId === onB[0]!.id)!.rooms, ['across']);
      const cam = r.body.peers.find((p) => p.dialect === 'slam')!;
      assert.deepEqual([cam.node, cam.aliases, cam.rooms], [id(1), ['cam-b'], ['lab-b']]);
    }
    const onlyB = await peers(cl.nodes[0]!, `?node=${id(1)}`);
    assert.deepEqual(new Set(onlyB.body.peers.map((p) => p.node)), new Set([id(1)]));
    assert.equal(onlyB.body.total, 3);
    const slamOnly = await peers(cl.nodes[0]!, '?dialect=slam');
    assert.deepEqual(slamOnly.body.peers.map((p) => p.node), [id(1)]);
    // The limit is cluster-wide: the first three in order, wherever they are.
    const three = await peers(cl.nodes[0]!, '?dialect=native&limit=3');
    assert.deepEqual([three.body.peers.map((p) => p.peerId), three.body.total, three.body.truncated], [natives.slice(0, 3).map((n) => n.id), 4, true]);

    for (const p of [...onA, ...onB]) await p.c.close();
    await camOnB.close();
    await until(async () => (await peers(cl.nodes[0]!)).body.total === 0, 'every session gone, on both nodes');
  });
});
