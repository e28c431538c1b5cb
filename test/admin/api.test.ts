import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_ROUTES } from '../../src/admin/api.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';
import { advance } from '../cluster/cluster-helpers.js';
import { connect, type Frame, type TestClient } from '../helpers/ws.js';
import { call } from './helpers.js';

/**
 * The admin API on one node, over real sockets (no admin.token and no auth: the test client is on
 * loopback, which is what lets it in; test/admin/access.test.ts covers the rule itself).
 */

async function native(srv: TestServer, query = ''): Promise<{ c: TestClient; id: string; token: string }> {
  const c = await connect(srv.ws(`/v1${query}`));
  const w = await c.next('welcome');
  return { c, id: w.peerId as string, token: (w.resume as { token?: string } | undefined)?.token ?? '' };
}

async function joinNative(p: { c: TestClient }, room: string, name?: string): Promise<void> {
  p.c.send({ type: 'join', id: 'j', room, ...(name ? { name } : {}) });
  await p.c.next('joined');
}

describe('admin API, one node', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer({ rooms: { emptyTtlMs: 30_000 } });
  });
  after(() => srv.close());
  const api = (path: string, init?: RequestInit) => call(srv.http(`/admin/v1${path}`), init);

  test('nodes: this node alone in memory mode, with its counters', async () => {
    const a = await native(srv);
    await joinNative(a, 'counted');
    const r = await api('/nodes');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.equal(r.headers.get('access-control-allow-origin'), null, 'no CORS');
    const nodes = r.body.nodes as Frame[];
    assert.equal(nodes.length, 1);
    const n = nodes[0]!;
    assert.equal(n.id, srv.server.hub.nodeId);
    assert.equal(n.self, true);
    assert.equal(n.state, 'ready');
    assert.equal(n.pid, process.pid);
    assert.equal(typeof n.hostname, 'string');
    assert.ok((n.rssBytes as number) > 0);
    assert.equal(n.connections, srv.server.connections.size);
    assert.equal((n.connectionsByDialect as Record<string, number>).native, srv.server.connections.size);
    assert.ok((n.joins as number) >= 1);
    assert.ok((n.framesIn as number) >= 1);
    assert.ok((n.rooms as number) >= 1);
    assert.equal(n.sessions, srv.server.hub.sessions.size);
    assert.equal(typeof n.startedAt, 'number');
    assert.equal(n.uptimeMs, srv.clock.now() - (n.startedAt as number));
    const metrics = await (await fetch(srv.http('/metrics'))).text();
    assert.match(metrics, /^switchboard_joins_total\{dialect="native"\} [1-9]/m);
    await a.c.close();
  });

  test('rooms: list (all, or one dialect) and detail with members, names and their node', async () => {
    const a = await native(srv);
    const b = await native(srv);
    await joinNative(a, 'lobby', 'Ann');
    await joinNative(b, 'lobby');
    const v = await connect(srv.ws('/ws'));
    const vid = (await v.next('welcome')).peer_id as string;
    v.send({ type: 'join', room: 'vc-lobby', name: 'Vic' });
    await v.next('joined');

    const all = await api('/rooms');
    assert.equal(all.status, 200);
    const rooms = all.body.rooms as Frame[];
    const lobby = rooms.find((r) => r.dialect === 'native' && r.room === 'lobby')!;
    assert.equal(lobby.members, 2);
    assert.deepEqual(lobby.nodes, [srv.server.hub.nodeId]);
    assert.equal(typeof lobby.createdAt, 'number');
    assert.equal(typeof lobby.lastActivity, 'number');
    assert.ok(rooms.some((r) => r.dialect === 'vc' && r.room === 'vc-lobby' && r.members === 1));

    const vcOnly = (await api('/rooms?dialect=vc')).body.rooms as Frame[];
    assert.ok(vcOnly.length >= 1 && vcOnly.every((r) => r.dialect === 'vc'));
    const bad = await api('/rooms?dialect=nope');
    assert.equal(bad.status, 400);
    assert.match(bad.body.error as string, /unknown dialect "nope" \(known: native, vc/);

    const detail = await api('/rooms/native/lobby');
    assert.equal(detail.status, 200);
    assert.equal(detail.body.dialect, 'native');
    assert.equal(detail.body.room, 'lobby');
    assert.equal((detail.body.options as Frame).emptyTtlMs, 30_000);
    const members = (detail.body.members as Frame[]).sort((x, y) => (x.peerId === a.id ? -1 : y.peerId === a.id ? 1 : 0));
    assert.deepEqual(
      members.map((m) => ({ ...m, joinedAt: typeof m.joinedAt })),
      [
        { peerId: a.id, name: 'Ann', node: srv.server.hub.nodeId, joinedAt: 'number' },
        { peerId: b.id, node: srv.server.hub.nodeId, joinedAt: 'number' },
      ],
    );
    const vcDetail = await api('/rooms/vc/vc-lobby');
    assert.deepEqual((vcDetail.body.members as Frame[]).map((m) => [m.peerId, m.name]), [[vid, 'Vic']]);
    for (const c of [a.c, b.c, v]) await c.close();
  });

  test('a room name with a slash (slam-pair rooms are paths) is one percent-encoded segment', async () => {
    const s1 = await connect(srv.ws('/pair/me'));
    const s2 = await connect(srv.ws('/pair/me'));
    await until(async () => ((await api('/rooms/slam-pair/%2Fpair%2Fme')).body.members as Frame[] | undefined)?.length === 2, 'both pairing sockets listed');
    await s1.close();
    await s2.close();
  });

  test('404s: an unknown room (detail and close), an unknown peer, an unknown admin path', async () => {
    for (const [path, method] of [
      ['/rooms/native/nowhere', 'GET'],
      ['/rooms/native/nowhere', 'DELETE'],
    ] as const) {
      const r = await api(path, { method });
      assert.deepEqual([r.status, r.body], [404, { error: 'room not found' }], `${method} ${path}`);
    }
    const p = await api('/peers/nobody', { method: 'DELETE' });
    assert.deepEqual([p.status, p.body], [404, { error: 'peer not found' }]);
    const other = await api('/whatever');
    assert.equal(other.status, 404);
    assert.match(other.body.error as string, /no admin endpoint at \/admin\/v1\/whatever/);
    assert.equal(other.headers.get('content-type'), 'application/json; charset=utf-8');
    const tooLong = await api(`/peers/${'x'.repeat(300)}`, { method: 'DELETE' });
    assert.equal(tooLong.status, 400);
  });

  test('405 with Allow for a method a route does not take', async () => {
    const r = await api('/nodes', { method: 'DELETE' });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'GET');
    const p = await api('/peers/x', { method: 'GET' });
    assert.equal(p.status, 405);
    assert.equal(p.headers.get('allow'), 'DELETE');
    const room = await api('/rooms/native/x', { method: 'POST' });
    assert.equal(room.headers.get('allow'), 'GET, DELETE');
    const events = await api('/events?logs=2');
    assert.equal(events.status, 400);
  });

  test('closing a room: native members hear peer-left (their own id, kicked); the empty room waits its grace', async () => {
    const a = await native(srv);
    const b = await native(srv);
    await joinNative(a, 'closing');
    await joinNative(b, 'closing');
    await a.c.next('peer-joined');
    const r = await api('/rooms/native/closing', { method: 'DELETE' });
    assert.deepEqual([r.status, r.body], [200, { dialect: 'native', room: 'closing', removed: 2 }]);
    for (const p of [a, b]) {
      const left = await p.c.next((f) => f.type === 'peer-left' && f.peerId === p.id);
      assert.deepEqual([left.room, left.reason], ['closing', 'kicked']);
    }
    // The sockets stay open: only the room membership went.
    a.c.send({ type: 'ping', id: 'still' });
    await a.c.next('pong');
    const empty = await api('/rooms/native/closing');
    assert.deepEqual([empty.status, empty.body.members], [200, []], 'kept for its empty-room grace');
    await advance(srv.clock, 30_000 + srv.server.config.rooms.sweepIntervalMs, [srv]);
    assert.equal((await api('/rooms/native/closing')).status, 404, 'removed after its grace');
    await a.c.close();
    await b.c.close();
  });

  test('closing a vc room and a slam room: each member hears it in its own dialect', async () => {
    const v = await connect(srv.ws('/ws'));
    await v.next('welcome');
    v.send({ type: 'join', room: 'vc-close', name: 'V' });
    await v.next('joined');
    const vr = await api('/rooms/vc/vc-close', { method: 'DELETE' });
    assert.equal(vr.body.removed, 1);
    assert.deepEqual(await v.next('left'), { type: 'left', room: 'vc-close', reason: 'kicked' });
    await v.close();

    const s1 = await connect(srv.ws('/'));
    const s2 = await connect(srv.ws('/'));
    s1.send({ type: 'register', client_id: 'slam-1', room_id: 'slam-close', client_type: 'pc' });
    await s1.next('registered');
    s2.send({ type: 'register', client_id: 'slam-2', room_id: 'slam-close', client_type: 'pc' });
    await s2.next('registered');
    const sr = await api('/rooms/slam/slam-close', { method: 'DELETE' });
    assert.equal(sr.body.removed, 2);
    assert.deepEqual(await s1.closedWithin(), { code: 4003, reason: 'removed from room' });
    assert.deepEqual(await s2.closedWithin(), { code: 4003, reason: 'removed from room' });
  });

  test('disconnecting a peer of a seed dialect (vc) closes it with 4003 too', async () => {
    const v = await connect(srv.ws('/ws'));
    await v.next('welcome');
    v.send({ type: 'join', room: 'vc-dc', name: 'V' });
    await v.next('joined');
    const room = await api('/rooms/vc/vc-dc');
    const peerId = (room.body.members as { peerId: string }[])[0]!.peerId;
    assert.equal((await api(`/peers/${peerId}`, { method: 'DELETE' })).status, 200);
    assert.deepEqual(await v.closedWithin(), { code: 4003, reason: 'kicked' });
  });

  test('disconnecting a peer: closed with 4003, its room hears it leave, and its session cannot resume', async () => {
    const a = await native(srv);
    const b = await native(srv);
    await joinNative(a, 'dc');
    await joinNative(b, 'dc');
    await a.c.next('peer-joined');
    const r = await api(`/peers/${b.id}`, { method: 'DELETE' });
    assert.deepEqual([r.status, r.body], [200, { peerId: b.id, node: srv.server.hub.nodeId }]);
    assert.equal((await b.c.closedWithin()).code, 4003);
    const left = await a.c.next('peer-left');
    assert.deepEqual([left.peerId, left.reason], [b.id, 'kicked']);
    const again = await connect(srv.ws(`/v1?resume=${b.token}&seq=0`));
    const w = await again.next('welcome');
    assert.deepEqual([w.resumed, w.resumeError], [false, 'session-ended']);
    assert.equal((await api(`/peers/${b.id}`, { method: 'DELETE' })).status, 404, 'gone');
    await again.close();
    await a.c.close();
  });

  test('a detached session waiting for its resume is ended too', async () => {
    const a = await native(srv);
    const b = await native(srv);
    await joinNative(a, 'detached');
    await joinNative(b, 'detached');
    await a.c.next('peer-joined');
    const before = srv.server.connections.size;
    b.c.ws.terminate();
    await until(() => srv.server.connections.size < before, 'the drop noticed');
    assert.ok(srv.server.hub.sessions.has(b.id), 'detached, waiting for a resume');
    const r = await api(`/peers/${b.id}`, { method: 'DELETE' });
    assert.equal(r.status, 200);
    const left = await a.c.next('peer-left');
    assert.deepEqual([left.peerId, left.reason], [b.id, 'kicked']);
    const back = await connect(srv.ws(`/v1?resume=${b.token}&seq=0`));
    const w = await back.next('welcome');
    assert.deepEqual([w.resumed, w.resumeError], [false, 'session-ended']);
    await back.close();
    await a.c.close();
  });

  test('the OpenAPI document is served, and its routes are exactly the ones served', async () => {
    const r = await api('/openapi.json');
    assert.equal(r.status, 200);
    assert.equal(r.body.openapi, '3.1.0');
    const paths = r.body.paths as Record<string, Record<string, unknown>>;
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(paths)) {
      for (const m of Object.keys(item)) if (['get', 'delete', 'post', 'put', 'patch'].includes(m)) documented.add(`${m.toUpperCase()} ${path}`);
    }
    const served = new Set(ADMIN_ROUTES.flatMap((rt) => rt.methods.map((m) => `${m} ${rt.path.replace(/:(\w+)/g, '{$1}')}`)));
    assert.deepEqual([...documented].sort(), [...served].sort());
    // Every documented route answers (not the catch-all 404, not 405); every other method is a 405.
    for (const [path, item] of Object.entries(paths)) {
      const concrete = path.replace('{dialect}', 'native').replace('{room}', 'doc-room').replace('{peerId}', 'doc-peer');
      for (const m of ['GET', 'DELETE', 'POST']) {
        const documentedHere = m.toLowerCase() in item;
        const res = await fetch(srv.http(concrete + (concrete.endsWith('/events') ? '?logs=0' : '')), { method: m });
        const body = res.headers.get('content-type')?.startsWith('text/event-stream') ? (await res.body?.cancel(), '') : await res.text();
        if (documentedHere) {
          assert.ok(res.status !== 405 && !/no admin endpoint/.test(body), `${m} ${path} is served (got ${res.status})`);
          assert.ok(String(res.status) in ((item[m.toLowerCase()] as { responses: object }).responses), `${m} ${path}: status ${res.status} is documented`);
        } else assert.equal(res.status, 405, `${m} ${path} is not`);
      }
    }
  });
});
