import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect, type Frame, type TestClient } from '../helpers/ws.js';
import { SECRET, getJson, open, sign } from './auth-tokens.js';
import { until } from '../helpers/wait.js';

/**
 * ICE servers: the configured STUN/TURN list in `welcome` and at GET /v1/ice-servers, with
 * per-peer ephemeral TURN credentials (coturn `use-auth-secret`) refreshed over the open socket.
 * Credentials are checked against an HMAC computed here, independently of the server's code.
 */

const TURN_SECRET = 'coturn-static-auth-secret';
const TTL = 600;
const STUN = { urls: 'stun:stun.test:3478' };
const TURN_URLS = ['turn:turn.test:3478?transport=udp', 'turns:turn.test:5349'];
/** Advancing the clock by minutes at once would otherwise look like silence to the heartbeat. */
const CALM = { heartbeat: { intervalMs: 3_600_000, timeoutMs: 7_200_000 } };

type Ice = { urls: string | string[]; username?: string; credential?: string };

/** What coturn computes for a username: base64(HMAC-SHA1(static-auth-secret, username)). */
function expected(username: string): string {
  return createHmac('sha1', TURN_SECRET).update(username).digest('base64');
}

function turnEntry(list: unknown): Ice {
  const l = list as Ice[];
  assert.equal(l.length, 2);
  assert.deepEqual(l[0], STUN);
  const t = l[1]!;
  assert.deepEqual(t.urls, TURN_URLS);
  return t;
}

/** A round trip: everything the server sent before it is queued. */
async function sync(c: TestClient): Promise<void> {
  c.send({ type: 'ping', id: 'sync' });
  await c.next((f) => f.type === 'pong' && f.re === 'sync');
}

describe('ephemeral TURN credentials (turn.secret)', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer({ ...CALM, iceServers: [STUN], turn: { secret: TURN_SECRET, urls: TURN_URLS, ttlSeconds: TTL } });
  });
  after(() => srv.close());

  test('welcome carries the STUN list plus TURN credentials of this peer: "<expiry>:<peerId>", HMAC-SHA1 base64', async () => {
    const c = await connect(srv.ws('/v1'));
    const w = await c.next('welcome');
    const t = turnEntry(w.iceServers);
    assert.equal(t.username, `${Math.floor(srv.clock.now() / 1000) + TTL}:${w.peerId as string}`);
    assert.equal(t.credential, expected(t.username!));
    await c.close();
  });

  test('two peers get different credentials', async () => {
    const a = await connect(srv.ws('/v1'));
    const b = await connect(srv.ws('/v1'));
    const ta = turnEntry((await a.next('welcome')).iceServers);
    const tb = turnEntry((await b.next('welcome')).iceServers);
    assert.notEqual(ta.username, tb.username);
    assert.notEqual(ta.credential, tb.credential);
    await a.close();
    await b.close();
  });

  test('fresh credentials arrive as ice-servers at 80% of the TTL, and every such period after', async () => {
    const c = await connect(srv.ws('/v1'));
    const w = await c.next('welcome');
    const refreshMs = TTL * 800;
    srv.clock.advance(refreshMs - 1);
    await sync(c);
    assert.deepEqual(c.take(), [], 'nothing before 80% of the lifetime');
    srv.clock.advance(1);
    const f1: Frame = await c.next('ice-servers');
    const t1 = turnEntry(f1.iceServers);
    assert.equal(t1.username, `${Math.floor(srv.clock.now() / 1000) + TTL}:${w.peerId as string}`);
    assert.equal(t1.credential, expected(t1.username!));
    // The new credentials outlive the old ones, which still had 20% of their life left.
    const oldExpiry = Number(turnEntry(w.iceServers).username!.split(':')[0]);
    assert.ok(Number(t1.username!.split(':')[0]) > oldExpiry);
    srv.clock.advance(refreshMs);
    const t2 = turnEntry((await c.next('ice-servers')).iceServers);
    assert.equal(t2.credential, expected(t2.username!));
    assert.notEqual(t2.username, t1.username);
    await c.close();
  });

  test('a closed connection leaves no refresh timer behind', async () => {
    const own = await startServer({ ...CALM, turn: { secret: TURN_SECRET, urls: TURN_URLS, ttlSeconds: TTL } });
    try {
      const base = own.clock.pending;
      const c = await connect(own.ws('/v1'));
      await c.next('welcome');
      assert.equal(own.clock.pending, base + 1, 'one refresh timer per connection');
      await c.close();
      await until(() => own.server.connections.size === 0, 'the server to process the close');
      assert.equal(own.clock.pending, base);
    } finally {
      await own.close();
    }
  });

  test('GET /v1/ice-servers: the same list with credentials of its own and the TTL (no auth configured)', async () => {
    const r = await getJson(srv.http('/v1/ice-servers'));
    assert.equal(r.status, 200);
    assert.equal(r.body.ttlSeconds, TTL);
    const t = turnEntry(r.body.iceServers);
    const [expiry, id] = t.username!.split(':');
    assert.equal(Number(expiry), Math.floor(srv.clock.now() / 1000) + TTL);
    assert.match(id!, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(t.credential, expected(t.username!));
  });
});


describe('ICE servers with authentication on', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer({ ...CALM, auth: { secret: SECRET }, iceServers: [STUN], turn: { secret: TURN_SECRET, urls: TURN_URLS, ttlSeconds: TTL } });
  });
  after(() => srv.close());

  test('GET /v1/ice-servers needs a token; its TURN username names the token subject', async () => {
    const denied = await getJson(srv.http('/v1/ice-servers'));
    assert.deepEqual([denied.status, denied.body.reason], [401, 'token-missing']);
    const t = await sign({ sub: 'user-7' }, { now: srv.clock.now() });
    const r = await getJson(srv.http('/v1/ice-servers'), { authorization: `Bearer ${t}` });
    assert.equal(r.status, 200);
    const turn = turnEntry(r.body.iceServers);
    assert.equal(turn.username, `${Math.floor(srv.clock.now() / 1000) + TTL}:user-7`);
    assert.equal(turn.credential, expected(turn.username!));
    assert.equal((await getJson(srv.http('/v1/ice-servers?token=garbage'))).status, 401);
  });

  test('the native welcome over an authenticated socket has per-peer credentials too', async () => {
    const c = await open(srv.ws(`/v1?token=${await sign({ sub: 'user-8' }, { now: srv.clock.now() })}`));
    const w = await c.next('welcome');
    const turn = turnEntry(w.iceServers);
    assert.equal(turn.username, `${Math.floor(srv.clock.now() / 1000) + TTL}:${w.peerId as string}`);
    assert.equal(turn.credential, expected(turn.username!));
    await c.close();
  });
});

describe('ICE servers without TURN', () => {
  test('the configured list as is; no ice-servers pushes; no ttlSeconds over HTTP', async () => {
    const srv = await startServer({ ...CALM, iceServers: [STUN, { urls: 'turn:static.test', username: 'u', credential: 'p' }] });
    try {
      const c = await connect(srv.ws('/v1'));
      const w = await c.next('welcome');
      assert.deepEqual(w.iceServers, [STUN, { urls: 'turn:static.test', username: 'u', credential: 'p' }]);
      srv.clock.advance(3_600_000);
      await sync(c);
      assert.deepEqual(c.take().filter((f) => f.type === 'ice-servers'), []);
      await c.close();
      const r = await getJson(srv.http('/v1/ice-servers'));
      assert.deepEqual(r.body, { iceServers: [STUN, { urls: 'turn:static.test', username: 'u', credential: 'p' }] });
    } finally {
      await srv.close();
    }
  });

  test('turn.secret and turn.urls go together; the TTL has a floor', () => {
    assert.throws(() => loadConfig({ overrides: { turn: { secret: 's' } } }), /turn\.urls/);
    assert.throws(() => loadConfig({ overrides: { turn: { urls: ['turn:x'] } } }), /turn\.secret/);
    assert.throws(() => loadConfig({ overrides: { turn: { secret: 's', urls: ['turn:x'], ttlSeconds: 5 } } }), /turn\.ttlSeconds/);
    assert.equal(loadConfig({}).turn.ttlSeconds, 86_400);
  });
});
