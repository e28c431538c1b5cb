import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';
import type { TestClient } from '../helpers/ws.js';
import { wsSync } from '../security/drivers.js';
import { SECRET, refusal, sign } from '../security/auth-tokens.js';
import { CALM, mark, openPeer, peerUrl, refusedPeer } from './peerjs-helpers.js';

/**
 * The PeerJS dialect's answers to bad input (docs/dialects/peerjs.md, "Bad input"), and with
 * authentication on: the id bound to the token's subject, take-over by subject, token expiry,
 * TURN credentials for PeerJS apps. `peer` 1.0.2 wedges a socket that sent garbage; here a client
 * gets an ERROR it can read (the client aborts on it) and the close, and loses nothing else.
 */

async function withServer(fn: (srv: TestServer) => Promise<void>, overrides: Parameters<typeof startServer>[0] = {}): Promise<void> {
  const srv = await startServer({ ...CALM, ...overrides });
  try {
    await fn(srv);
  } finally {
    await srv.close();
  }
}

/** Sends `frame` and expects exactly ERROR {msg} and the close (1008); the id is free afterwards. */
async function garbage(srv: TestServer, frame: string | Buffer, msg: string | RegExp): Promise<void> {
  const c = await openPeer(srv, 'alice');
  if (typeof frame === 'string') c.send(frame);
  else c.ws.send(frame);
  const f = await c.next();
  assert.equal(f.type, 'ERROR');
  assert.deepEqual(Object.keys(f.payload as object), ['msg']);
  if (typeof msg === 'string') assert.equal((f.payload as { msg: string }).msg, msg);
  else assert.match((f.payload as { msg: string }).msg, msg);
  assert.equal((await c.closedWithin()).code, 1008);
  await until(async () => (await srv.server.hub.resolveAlias('peerjs', 'alice')) === undefined, 'the id to be free');
}

test('garbage gets an ERROR in words and the close: non-JSON, binary, too large, too deep, not an object, no string type', () =>
  withServer(
    async (srv) => {
      await garbage(srv, '{"type":"OFFER"', 'Invalid message: the frame is not valid JSON.');
      await garbage(srv, Buffer.from('{"type":"HEARTBEAT"}'), /^Invalid message: binary frames are not supported/);
      await garbage(srv, JSON.stringify({ type: 'OFFER', dst: 'bob', payload: 'x'.repeat(2048) }), /^Invalid message: message of \d+ bytes exceeds the limit of 1024/);
      await garbage(srv, `{"type":"OFFER","dst":"bob","payload":${'['.repeat(40)}${']'.repeat(40)}}`, /^Invalid message: message nests arrays and objects deeper than the limit/);
      for (const f of ['[]', '"OFFER"', '7', 'null', '{"type":5}', '{"dst":"bob"}']) await garbage(srv, f, 'Invalid message: a PeerJS message is a JSON object with a string "type"');
    },
    { limits: { maxMessageBytes: 1024, maxJsonDepth: 16 } },
  ));

test('a relay without a usable dst is refused in words: missing, not a string, empty, too long', () =>
  withServer(
    async (srv) => {
      await garbage(srv, '{"type":"OFFER","payload":{}}', 'Invalid message: OFFER needs "dst", the id of the peer it is for');
      await garbage(srv, '{"type":"CANDIDATE","dst":7}', 'Invalid message: CANDIDATE needs "dst", the id of the peer it is for');
      await garbage(srv, '{"type":"ANSWER","dst":""}', 'Invalid message: ANSWER needs "dst", the id of the peer it is for');
      await garbage(srv, '{"type":"EXPIRE","dst":null}', 'Invalid message: EXPIRE needs "dst", the id of the peer it is for');
      await garbage(srv, JSON.stringify({ type: 'OFFER', dst: 'b'.repeat(33) }), 'Invalid message: the "dst" of OFFER is longer than 32 characters');
    },
    { peerjs: { maxIdLength: 32 } },
  ));

test('garbage from one client costs the others nothing', () =>
  withServer(async (srv) => {
    const bob = await openPeer(srv, 'bob');
    const carol = await openPeer(srv, 'carol');
    await garbage(srv, 'not json', /^Invalid message/);
    carol.send({ type: 'OFFER', dst: 'bob', payload: 1 });
    assert.deepEqual(await bob.next(), { type: 'OFFER', src: 'carol', dst: 'bob', payload: 1 });
    await Promise.all([bob.close(), carol.close()]);
  }));

test('a burst over the rate limit is dropped silently (a CANDIDATE burst must not abort the Peer); the connection goes on', () =>
  withServer(
    async (srv) => {
      const alice = await openPeer(srv, 'alice');
      const bob = await openPeer(srv, 'bob');
      for (let i = 0; i < 8; i++) alice.send({ type: 'CANDIDATE', dst: 'bob', payload: i });
      await wsSync(alice);
      await until(() => bob.frames.length >= 5, 'the frames within the burst');
      srv.clock.advance(1000);
      const got = await mark(alice, bob, 'bob');
      assert.deepEqual(got.map((f) => f.payload), [0, 1, 2, 3, 4]);
      assert.deepEqual(alice.take(), []);
      assert.equal(alice.closeCode, undefined);
      await Promise.all([alice.close(), bob.close()]);
    },
    { rateLimits: { messagesPerSecond: 5, messageBurst: 5 } },
  ));

// ---- authentication ---------------------------------------------------------------------------

const AUTH = { auth: { secret: SECRET } };

async function jwtPeer(srv: TestServer, id: string, sub: string, ttl?: number): Promise<TestClient> {
  return openPeer(srv, id, { token: await sign({ sub }, { now: srv.clock.now(), ttl }) });
}

test('auth on: the JWT is the PeerJS token, and the id must be its subject', () =>
  withServer(async (srv) => {
    const alice = await jwtPeer(srv, 'alice', 'alice');
    const { frame, code } = await refusedPeer(peerUrl(srv, 'bob', { token: await sign({ sub: 'mallory' }, { now: srv.clock.now() }) }));
    assert.deepEqual(frame, { type: 'ERROR', payload: { msg: 'The id must be the subject ("sub") of your token' } });
    assert.equal(code, 1008);
    // No token, or not a valid one: refused at the handshake, as every dialect is.
    assert.equal((await refusal(peerUrl(srv, 'carol', { token: 'not-a-jwt' }))).status, 401);
    await alice.close();
  }, AUTH));

test('auth on: the same subject with another token takes the id over; the old socket is closed', () =>
  withServer(async (srv) => {
    const first = await jwtPeer(srv, 'alice', 'alice');
    srv.clock.advance(1000);
    const second = await jwtPeer(srv, 'alice', 'alice');
    assert.equal((await first.closedWithin()).code, 4001);
    await second.close();
  }, AUTH));

test('auth on: the connection ends with its token (close 4005)', () =>
  withServer(async (srv) => {
    const alice = await jwtPeer(srv, 'alice', 'alice', 60);
    srv.clock.advance(60_000 + 5_000);
    assert.equal((await alice.closedWithin()).code, 4005);
  }, { ...AUTH, peerjs: { aliveTimeoutMs: 600_000 } }));

test('auth on: discovery needs a valid token', () =>
  withServer(
    async (srv) => {
      const alice = await jwtPeer(srv, 'alice', 'alice');
      const anon = await fetch(srv.http('/peerjs/peers'));
      assert.equal(anon.status, 401);
      await anon.text();
      const jwt = await sign({ sub: 'bob' }, { now: srv.clock.now() });
      const res = await fetch(srv.http('/peerjs/peers'), { headers: { authorization: `Bearer ${jwt}` } });
      assert.deepEqual(await res.json(), ['alice']);
      await alice.close();
    },
    { ...AUTH, peerjs: { allowDiscovery: true } },
  ));

test('TURN for PeerJS apps: GET /v1/ice-servers with the same JWT gives credentials named after the id, with CORS', () =>
  withServer(
    async (srv) => {
      const jwt = await sign({ sub: 'alice' }, { now: srv.clock.now() });
      const anon = await fetch(srv.http('/v1/ice-servers'));
      assert.equal(anon.status, 401);
      await anon.text();
      const res = await fetch(srv.http(`/v1/ice-servers?token=${jwt}`), { headers: { origin: 'https://app.example' } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      const body = (await res.json()) as { iceServers: { urls: string[]; username: string; credential: string }[]; ttlSeconds: number };
      assert.equal(body.ttlSeconds, 600);
      const turn = body.iceServers[0]!;
      assert.deepEqual(turn.urls, ['turn:turn.test:3478']);
      assert.equal(turn.username, `${Math.floor(srv.clock.now() / 1000) + 600}:alice`);
      assert.equal(typeof turn.credential, 'string');
      // What the app then passes as `config.iceServers` to `new Peer('alice', {token: jwt, …})`.
      (await openPeer(srv, 'alice', { token: jwt })).ws.terminate();
    },
    { ...AUTH, turn: { secret: 'coturn-static-auth-secret', urls: ['turn:turn.test:3478'], ttlSeconds: 600 } },
  ));
