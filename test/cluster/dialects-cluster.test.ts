import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { redisSkip } from '../helpers/redis.js';
import { connect, type Frame } from '../helpers/ws.js';
import { startCluster, type Cluster } from './cluster-helpers.js';
import { memberCount, until } from '../helpers/wait.js';

/** Every dialect's rooms span nodes: the peers of one room sit on different nodes of one cluster. */
describe('every dialect across nodes (3 nodes, real redis-server)', { skip: redisSkip }, () => {
  let cl: Cluster;
  before(async () => {
    cl = await startCluster(3);
  });
  after(() => cl.close());
  const ws = (i: number, path: string) => cl.nodes[i]!.ws(path);

  test('vc: roster and to/from relay across nodes', async () => {
    const a = await connect(ws(0, '/ws'));
    const b = await connect(ws(1, '/ws'));
    const ida = (await a.next('welcome')).peer_id as string;
    const idb = (await b.next('welcome')).peer_id as string;
    a.send({ type: 'join', room: 'vc-x', name: 'A' });
    await a.next('joined');
    b.send({ type: 'join', room: 'vc-x', name: 'B' });
    assert.deepEqual((await b.next('joined')).peers, [{ peer_id: ida, name: 'A' }]);
    assert.deepEqual((await a.next('peer-joined')).peer, { peer_id: idb, name: 'B' });
    a.send({ type: 'offer', to: idb, sdp: 'v=0' });
    assert.deepEqual(await b.next('offer'), { type: 'offer', to: idb, sdp: 'v=0', from: ida });
    await b.close();
    assert.equal((await a.next('peer-left')).peer_id, idb);
    await a.close();
  });

  test('slam: register, peers and target_id relay across nodes', async () => {
    const pc = await connect(ws(0, '/'));
    const phone = await connect(ws(2, '/'));
    pc.send({ type: 'register', client_id: 'pc-1', room_id: 'lab', client_type: 'pc' });
    assert.deepEqual((await pc.next('registered')).peers, []);
    phone.send({ type: 'register', client_id: 'phone-1', room_id: 'lab', client_type: 'android' });
    assert.deepEqual((await phone.next('registered')).peers, ['pc-1']);
    assert.deepEqual(await pc.next('peer_joined'), { type: 'peer_joined', client_id: 'phone-1', client_type: 'android' });
    pc.send({ type: 'offer', target_id: 'phone-1', sdp: { type: 'offer', sdp: 'v=0' } });
    assert.deepEqual(await phone.next('offer'), { type: 'offer', sender_id: 'pc-1', sdp: { type: 'offer', sdp: 'v=0' } });
    await phone.close();
    assert.deepEqual(await pc.next('peer_left'), { type: 'peer_left', client_id: 'phone-1', client_type: 'android' });
    await pc.close();
  });

  test('slam pairing: two silent-then-talking sockets on one path, on different nodes', async () => {
    const answerer = await connect(ws(1, '/signaling'));
    const offerer = await connect(ws(2, '/signaling'));
    const offer = { type: 'offer', sdp: 'v=0 pairing' };
    // the answerer has not spoken yet; wait until its node has it in the pairing room everywhere
    await until(async () => (await memberCount(cl.nodes[2]!.server.hub, 'slam-pair', '/signaling')) >= 2, 'both sockets in the pairing room');
    offerer.send(offer);
    assert.deepEqual(await answerer.next('offer'), offer);
    await answerer.close();
    await offerer.close();
  });

  test('call: the online directory is cluster-wide and a call rings across nodes', async () => {
    const alice = await connect(ws(0, '/'));
    const bob = await connect(ws(1, '/'));
    alice.send({ type: 'register', username: 'alice', user_id: 'a1' });
    await alice.next('registered');
    bob.send({ type: 'register', username: 'bob', user_id: 'b1' });
    await bob.next('registered');
    const online = await alice.next((f) => f.type === 'online_users' && (f.users as Frame[]).length === 2);
    assert.deepEqual((online.users as Frame[]).map((u) => u.username).sort(), ['alice', 'bob']);
    // a third user on node 3 cannot take a name held on node 1
    const mallory = await connect(ws(2, '/'));
    mallory.send({ type: 'register', username: 'alice', user_id: 'm1' });
    assert.equal((await mallory.next('error')).message, 'Username already taken');
    alice.send({ type: 'call_request', target_username: 'bob' });
    assert.deepEqual(await bob.next('incoming_call'), { type: 'incoming_call', caller_username: 'alice', caller_id: 'a1' });
    bob.send({ type: 'call_accepted', caller_username: 'alice' });
    assert.equal((await alice.next('call_accepted')).accepter_username, 'bob');
    alice.send({ type: 'offer', target_username: 'bob', data: { type: 'offer', sdp: 'v=0' } });
    assert.deepEqual(await bob.next('offer'), { type: 'offer', from_username: 'alice', data: { type: 'offer', sdp: 'v=0' } });
    await bob.close();
    assert.equal((await alice.next('call_ended')).from_username, 'bob');
    for (const c of [alice, mallory]) await c.close();
  });

  test('mesh: a 4-digit room created on one node is joined on another; initiate_call and signals cross', async () => {
    const a = await connect(ws(0, '/'));
    const b = await connect(ws(2, '/'));
    a.send({ type: 'create' });
    const created = await a.next('room_created');
    assert.match(created.roomId as string, /^\d{4}$/);
    b.send({ type: 'join', roomId: created.roomId });
    const joined = await b.next('room_joined');
    assert.deepEqual(await a.next('initiate_call'), { type: 'initiate_call', peerId: joined.myId });
    a.send({ type: 'signal', targetId: joined.myId, payload: '{"type":"offer"}' });
    assert.deepEqual(await b.next('signal'), { type: 'signal', senderId: created.myId, payload: '{"type":"offer"}' });
    await a.close();
    await b.close();
  });

  test('flyx: a room created over HTTP on one node has its sender and receiver on two others', async () => {
    const res = await fetch(cl.nodes[0]!.http('/room'), { method: 'POST' });
    const { id } = (await res.json()) as { id: string };
    const sender = await connect(ws(1, `/ws/${id}`));
    const me = await sender.next('join');
    assert.equal((me.data as Frame).role, 'sender');
    const receiver = await connect(ws(2, `/ws/${id}`));
    const r = await receiver.next('join');
    assert.equal((r.data as Frame).role, 'receiver');
    const seen = await sender.next('join');
    assert.equal((seen.data as Frame).client_id, (r.data as Frame).client_id);
    receiver.send({ type: 'offer', data: { sdp: 'v=0' } });
    const got = await sender.next('offer');
    assert.equal((got.data as Frame).client_id, (r.data as Frame).client_id);
    await sender.close();
    await receiver.close();
  });

  test('flyx-cli: master and slave on different nodes', async () => {
    const res = await fetch(cl.nodes[2]!.http('/api/room'), { method: 'POST' });
    const { id } = (await res.json()) as { id: string };
    const master = await connect(ws(0, `/api/room/${id}`));
    // the master sends nothing and gets nothing until a slave arrives
    await until(async () => (await memberCount(cl.nodes[1]!.server.hub, 'flyx-cli', id)) >= 1, 'the master in the room');
    const slave = await connect(ws(1, `/api/room/${id}`));
    assert.deepEqual(await master.next(), { type: 'slavejoined' });
    master.send({ type: 'offer', sdp: 'v=0' });
    assert.deepEqual(await slave.next(), { type: 'offer', sdp: 'v=0' });
    slave.send({ type: 'answer', sdp: 'v=0 answer' });
    assert.deepEqual(await master.next(), { type: 'answer', sdp: 'v=0 answer' });
    await master.close();
    await slave.close();
  });
});
