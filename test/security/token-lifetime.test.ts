import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CLOSE_GRACE_MS } from '../../src/server/connection.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect, type Frame, type TestClient } from '../helpers/ws.js';
import { until } from '../helpers/wait.js';
import { SECRET, open, sign } from './auth-tokens.js';

/**
 * Session lifetime: a connection lives as long as its credentials. Expiry closes it (native 4005,
 * each dialect in its own code), a native client is warned before and may refresh its token. All
 * times on the server's ManualClock; heartbeats are pushed out of the way so that hours can pass in
 * one advance without the (unanswered, in that instant) pings closing the sockets first.
 */

const FAR = { heartbeat: { intervalMs: 1_000_000_000, timeoutMs: 2_000_000_000 } };
const TOLERANCE_MS = 5_000; // auth.clockToleranceSeconds' default
const WARNING_MS = 60_000; // auth.expiryWarningMs' default
const DAY_MS = 86_400_000; // auth.maxSessionMs' default

let seq = 0;
/** A native round trip: every frame the server wrote before the pong has arrived. */
async function sync(c: TestClient): Promise<void> {
  const id = `sync-${++seq}`;
  c.send({ type: 'ping', id });
  await c.next((f) => f.type === 'pong' && f.re === id);
}

async function request(c: TestClient, frame: Record<string, unknown>): Promise<Frame> {
  const id = `r-${++seq}`;
  c.send({ ...frame, id });
  return c.next((f) => f.re === id);
}

function expSeconds(now: number, ttl: number): number {
  return Math.floor(now / 1000) + ttl;
}

describe('token lifetime (native)', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer({ auth: { secret: SECRET }, ...FAR });
  });
  after(() => srv.close());

  const connectAs = async (claims: Record<string, unknown>, ttl = 600): Promise<{ c: TestClient; deadline: number; peerId: string }> => {
    const now = srv.clock.now();
    const c = await open(srv.ws(`/v1?token=${await sign(claims, { now, ttl })}`));
    const w = await c.next();
    assert.equal(w.type, 'welcome');
    return { c, deadline: expSeconds(now, ttl) * 1000 + TOLERANCE_MS, peerId: w.peerId as string };
  };

  test('warned auth.expiryWarningMs before, then closed 4005 at exp (plus the leeway); its rooms hear it leave at once', async () => {
    const { c, deadline, peerId } = await connectAs({ sub: 'expiring' });
    const other = await connectAs({ sub: 'watcher' }, 7200);
    assert.equal((await request(c, { type: 'join', room: 'lifetime' })).type, 'joined');
    assert.equal((await request(other.c, { type: 'join', room: 'lifetime' })).type, 'joined');
    assert.equal((await c.next('peer-joined')).type, 'peer-joined');

    srv.clock.advance(deadline - WARNING_MS - 1 - srv.clock.now());
    await sync(c);
    assert.deepEqual(c.take(), [], 'no warning before auth.expiryWarningMs');
    srv.clock.advance(1);
    assert.deepEqual(await c.next(), { type: 'token-expiring', expiresAt: deadline });

    // Until the deadline the connection keeps its rights.
    srv.clock.advance(WARNING_MS - 1);
    assert.equal((await request(c, { type: 'join', room: 'still-mine' })).type, 'joined');
    srv.clock.advance(1);
    assert.deepEqual(await c.closedWithin(), { code: 4005, reason: 'token expired' });
    assert.deepEqual(await other.c.next('peer-left'), { type: 'peer-left', room: 'lifetime', peerId, reason: 'disconnect' });
    await other.c.close();
  });

  test('a connection closed for expiry leaves its rooms at once, not when its socket finally goes after the close grace', async () => {
    const { c, deadline, peerId } = await connectAs({ sub: 'deaf' }, 600);
    const other = await connectAs({ sub: 'listener' }, 7200);
    assert.equal((await request(c, { type: 'join', room: 'grace' })).type, 'joined');
    assert.equal((await request(other.c, { type: 'join', room: 'grace' })).type, 'joined');
    // The expiring client stops reading: it will not answer the close handshake.
    (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    srv.clock.advance(deadline - srv.clock.now());
    assert.deepEqual(await other.c.next('peer-left'), { type: 'peer-left', room: 'grace', peerId, reason: 'disconnect' });
    assert.equal(srv.server.hub.sessions.has(peerId), false, 'the session is over (no resume after expiry)');
    assert.ok([...srv.server.connections].some((k) => k.session?.id === peerId), 'its socket is still in its close grace');
    srv.clock.advance(CLOSE_GRACE_MS);
    await until(() => ![...srv.server.connections].some((k) => k.session?.id === peerId), 'the socket to be cut');
    c.ws.terminate();
    await other.c.close();
  });

  test('an expired connection cannot join any more: it is closed, not left with full rights', async () => {
    const { c, deadline } = await connectAs({ sub: 'late-joiner' }, 120);
    srv.clock.advance(deadline - srv.clock.now());
    c.send({ type: 'join', room: 'after-expiry', id: 'late' });
    const closed = await c.closedWithin();
    assert.equal(closed.code, 4005);
    assert.equal(c.frames.find((f) => f.type === 'joined'), undefined);
  });

  test('less than auth.expiryWarningMs left at connect: the warning comes at once, right after welcome', async () => {
    const now = srv.clock.now();
    const c = await open(srv.ws(`/v1?token=${await sign({ sub: 'short' }, { now, ttl: 30 })}`));
    assert.equal((await c.next()).type, 'welcome');
    assert.deepEqual(await c.next(), { type: 'token-expiring', expiresAt: expSeconds(now, 30) * 1000 + TOLERANCE_MS });
    await c.close();
  });

  test('refresh-token with the same identity: token-refreshed with its re; the old deadline passes, the new one closes', async () => {
    const { c, deadline } = await connectAs({ sub: 'refresher', name: 'Ann' }, 600);
    srv.clock.advance(deadline - WARNING_MS - srv.clock.now());
    assert.equal((await c.next()).type, 'token-expiring');

    const now = srv.clock.now();
    const fresh = await sign({ sub: 'refresher', name: 'Ann' }, { now, ttl: 3600 });
    const newDeadline = expSeconds(now, 3600) * 1000 + TOLERANCE_MS;
    c.send({ type: 'refresh-token', id: 7, token: fresh });
    assert.deepEqual(await c.next(), { type: 'token-refreshed', re: 7, expiresAt: newDeadline });

    srv.clock.advance(deadline + 1 - srv.clock.now());
    assert.equal((await request(c, { type: 'join', room: 'after-refresh' })).type, 'joined');
    assert.deepEqual(c.take(), []);

    srv.clock.advance(newDeadline - WARNING_MS - srv.clock.now());
    assert.deepEqual(await c.next(), { type: 'token-expiring', expiresAt: newDeadline });
    srv.clock.advance(WARNING_MS);
    assert.equal((await c.closedWithin()).code, 4005);
  });

  test('a refreshed token brings its own name, rooms and permissions', async () => {
    const { c } = await connectAs({ sub: 'changer', name: 'Old', rooms: ['team-*'] }, 600);
    assert.equal((await request(c, { type: 'join', room: 'team-a' })).type, 'joined');
    assert.equal((await request(c, { type: 'broadcast', room: 'team-a', data: 1 })).type, 'ack');

    const t = await sign({ sub: 'changer', name: 'New', rooms: ['team-*', 'extra'], permissions: ['join', 'create'] }, { now: srv.clock.now() });
    assert.equal((await request(c, { type: 'refresh-token', token: t })).type, 'token-refreshed');
    const b = await request(c, { type: 'broadcast', room: 'team-a', data: 2 });
    assert.deepEqual([b.type, b.code], ['error', 'forbidden'], 'broadcast is no longer among its permissions');
    assert.equal((await request(c, { type: 'join', room: 'extra' })).type, 'joined', 'a room only the new token allows');

    const watcher = await connectAs({ sub: 'watcher-2' });
    const j = await request(watcher.c, { type: 'join', room: 'extra' });
    assert.deepEqual((j.peers as { name?: string }[]).map((p) => p.name), ['New']);
    await watcher.c.close();
    await c.close();
  });

  test('a refreshed token must allow every room the session is in (forbidden, nothing changes)', async () => {
    const { c, deadline } = await connectAs({ sub: 'narrow', rooms: ['a', 'b'] }, 600);
    assert.equal((await request(c, { type: 'join', room: 'b' })).type, 'joined');
    const t = await sign({ sub: 'narrow', rooms: ['a'] }, { now: srv.clock.now(), ttl: 3600 });
    const r = await request(c, { type: 'refresh-token', token: t });
    assert.equal(r.code, 'forbidden');
    assert.match(r.message as string, /"b"/);
    srv.clock.advance(deadline - srv.clock.now());
    assert.equal((await c.closedWithin()).code, 4005, 'the refused refresh did not extend the lifetime');
  });

  test('a token for another identity is refused with forbidden; the connection keeps its identity and deadline', async () => {
    const { c, deadline } = await connectAs({ sub: 'me' }, 600);
    const t = await sign({ sub: 'someone-else' }, { now: srv.clock.now(), ttl: 3600 });
    const r = await request(c, { type: 'refresh-token', token: t });
    assert.equal(r.type, 'error');
    assert.equal(r.code, 'forbidden');
    assert.match(r.message as string, /same identity/);
    const j = await request(c, { type: 'join', room: 'who-am-i' });
    assert.equal(j.type, 'joined');
    srv.clock.advance(deadline - srv.clock.now());
    assert.equal((await c.closedWithin()).code, 4005);
  });

  test('an invalid or expired token is refused with unauthorized, and the connection goes on', async () => {
    const { c } = await connectAs({ sub: 'bad-refresh' }, 600);
    const forged = await sign({ sub: 'bad-refresh' }, { now: srv.clock.now(), secret: 'another-secret-of-at-least-32-bytes!!!!' });
    const expired = await sign({ sub: 'bad-refresh' }, { now: srv.clock.now(), ttl: -60 });
    for (const token of [forged, expired, 'not-a-jwt']) {
      const r = await request(c, { type: 'refresh-token', token });
      assert.deepEqual([r.type, r.code], ['error', 'unauthorized'], token);
    }
    const e = await request(c, { type: 'refresh-token', token: expired });
    assert.match(e.message as string, /expired/);
    const missing = await request(c, { type: 'refresh-token' });
    assert.equal(missing.code, 'invalid-message');
    await sync(c);
    await c.close();
  });

  test('a token without exp lives auth.maxSessionMs (24 h by default), warned like any other', async () => {
    const now = srv.clock.now();
    const c = await open(srv.ws(`/v1?token=${await noExp({ sub: 'forever' }, now)}`));
    assert.equal((await c.next()).type, 'welcome');
    srv.clock.advance(DAY_MS - WARNING_MS);
    assert.deepEqual(await c.next(), { type: 'token-expiring', expiresAt: now + DAY_MS });
    srv.clock.advance(WARNING_MS - 1);
    await sync(c);
    srv.clock.advance(1);
    assert.deepEqual(await c.closedWithin(), { code: 4005, reason: 'token expired' });
  });

});

describe('token lifetime: settings', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer({ auth: { secret: SECRET, maxSessionMs: 0, expiryWarningMs: 10_000 }, ...FAR });
  });
  after(() => srv.close());

  test('auth.maxSessionMs 0: a token without exp does not expire; auth.expiryWarningMs moves the warning', async () => {
    const c = await open(srv.ws(`/v1?token=${await noExp({ sub: 'unbounded' }, srv.clock.now())}`));
    assert.equal((await c.next()).type, 'welcome');
    srv.clock.advance(10 * DAY_MS);
    await sync(c);
    assert.deepEqual(c.take(), []);

    const now = srv.clock.now();
    const t = await sign({ sub: 'unbounded' }, { now, ttl: 60 });
    const deadline = expSeconds(now, 60) * 1000 + TOLERANCE_MS;
    assert.deepEqual(await request(c, { type: 'refresh-token', token: t }), { type: 'token-refreshed', re: `r-${seq}`, expiresAt: deadline });
    srv.clock.advance(deadline - 10_000 - 1 - srv.clock.now());
    await sync(c);
    assert.deepEqual(c.take(), []);
    srv.clock.advance(1);
    assert.deepEqual(await c.next(), { type: 'token-expiring', expiresAt: deadline });
    srv.clock.advance(10_000);
    assert.equal((await c.closedWithin()).code, 4005);
  });
});

describe('token lifetime: timers', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer({ auth: { secret: SECRET }, ...FAR });
  });
  after(() => srv.close());

  test('one timer per connection, and it goes with the socket: a client that leaves first leaves nothing armed', async () => {
    const before = srv.clock.pending;
    const c = await open(srv.ws(`/v1?token=${await sign({ sub: 'leaver' }, { now: srv.clock.now() })}`));
    assert.equal((await c.next()).type, 'welcome');
    assert.equal(srv.clock.pending, before + 1, 'warning, then expiry: one at a time');
    await c.close();
    await until(() => srv.clock.pending === before, 'the lifetime timer to be cancelled');
  });
});

describe('token lifetime: the seed dialects are closed at expiry, in their own codes', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer({ auth: { secret: SECRET }, ...FAR });
  });
  after(() => srv.close());

  test('vc, slam and mesh', async () => {
    const now = srv.clock.now();
    const deadline = expSeconds(now, 300) * 1000 + TOLERANCE_MS;
    const vc = await open(srv.ws(`/ws?token=${await sign({ sub: 'v' }, { now, ttl: 300 })}`));
    assert.equal((await vc.next('welcome')).type, 'welcome');
    vc.send({ type: 'join', room: 'vc-room', name: 'x' });
    assert.equal((await vc.next('joined')).type, 'joined');

    const slam = await open(srv.ws(`/anything?token=${await sign({ sub: 's' }, { now, ttl: 300 })}`));
    slam.send({ type: 'register', client_id: 's', room_id: 'r' });
    assert.equal((await slam.next()).type, 'registered');

    const mesh = await open(srv.ws(`/x?token=${await sign({ sub: 'm' }, { now, ttl: 300 })}`));
    mesh.send({ type: 'create' });
    assert.equal((await mesh.next()).type, 'room_created');

    srv.clock.advance(deadline - 1 - now);
    for (const c of [vc, slam, mesh]) assert.equal(c.closeCode, undefined);
    srv.clock.advance(1);
    assert.deepEqual(await vc.closedWithin(), { code: 4005, reason: 'token expired' });
    assert.deepEqual(await slam.closedWithin(), { code: 4005, reason: 'token expired' });
    // Unity's socket libraries name no private 4xxx codes (docs/dialects/mesh.md).
    assert.deepEqual(await mesh.closedWithin(), { code: 1008, reason: 'token expired' });
  });
});

describe('token lifetime: authentication off', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer(FAR);
  });
  after(() => srv.close());

  test('connections do not expire, and refresh-token says there is nothing to refresh', async () => {
    const c = await connect(srv.ws('/v1'));
    assert.equal((await c.next()).type, 'welcome');
    srv.clock.advance(2 * DAY_MS);
    const r = await request(c, { type: 'refresh-token', token: await sign({ sub: 'x' }, { now: srv.clock.now() }) });
    assert.deepEqual([r.type, r.code], ['error', 'unauthorized']);
    assert.match(r.message as string, /authentication is off/i);
    await c.close();
  });
});

/** An HS256 token without `exp`. */
async function noExp(claims: Record<string, unknown>, now: number): Promise<string> {
  const { SignJWT } = await import('jose');
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt(Math.floor(now / 1000)).sign(new TextEncoder().encode(SECRET));
}

