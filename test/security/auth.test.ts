import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey } from 'jose';
import fc from 'fast-check';
import { ConfigError, loadConfig } from '../../src/config.js';
import { globMatch } from '../../src/core/access.js';
import { SwitchboardServer } from '../../src/server/server.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect, type Frame, type TestClient } from '../helpers/ws.js';
import { SECRET, getJson, open, refusal, sign } from './auth-tokens.js';

async function welcome(c: TestClient): Promise<Frame> {
  return c.next('welcome');
}

async function joined(c: TestClient, room: string, extra: object = {}): Promise<Frame> {
  c.send({ type: 'join', room, ...extra });
  return c.next((f) => f.type === 'joined' || f.type === 'error');
}

/** A tiny HTTP server on 127.0.0.1 for JWKS and webhook tests. */
async function httpServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let s = '';
    req.on('data', (d: Buffer) => (s += d.toString()));
    req.on('end', () => resolve(s));
  });
}

describe('authentication off (the default)', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer();
  });
  after(() => srv.close());

  test('connections need no token, and welcome carries no identity', async () => {
    const c = await connect(srv.ws('/v1'));
    const w = await welcome(c);
    assert.equal(w.identity, undefined);
    assert.equal((await joined(c, 'open-room')).type, 'joined');
    await c.close();
  });

  test('/v1/validate says ok with auth off', async () => {
    const r = await getJson(srv.http('/v1/validate?room=x'));
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { ok: true, auth: false, identity: null, room: 'x' });
  });
});

describe('HS256 tokens (auth.secret)', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer({ auth: { secret: SECRET, issuer: 'https://issuer.test', audience: 'switchboard' } });
  });
  after(() => srv.close());
  const claims = { iss: 'https://issuer.test', aud: 'switchboard' };
  const tok = (extra: object = {}, ttl?: number) => sign({ ...claims, sub: 'user-1', ...extra }, { now: srv.clock.now(), ttl });

  test('no token: HTTP 401 token-missing, as JSON', async () => {
    const r = await refusal(srv.ws('/v1'));
    assert.equal(r.status, 401);
    assert.match(r.type, /^application\/json/);
    assert.equal(r.body.error, 'token-missing');
    assert.equal(typeof r.body.message, 'string');
  });

  test('a token in ?token= is accepted; welcome shows the identity with default permissions', async () => {
    const c = await open(srv.ws(`/v1?token=${await tok({ name: 'Ann' })}`));
    const w = await welcome(c);
    assert.deepEqual(w.identity, { subject: 'user-1', name: 'Ann', permissions: ['join', 'create', 'broadcast'] });
    await c.close();
  });

  test('a token in Authorization: Bearer is accepted', async () => {
    const c = await open(srv.ws('/v1'), undefined, { headers: { authorization: `Bearer ${await tok()}` } });
    assert.equal((await welcome(c)).type, 'welcome');
    await c.close();
  });

  test('a token as subprotocol: the server selects the plain subprotocol, never the token', async () => {
    const t = await tok();
    const c = await open(srv.ws('/v1'), ['switchboard', `switchboard.token.${t}`]);
    assert.equal(c.ws.protocol, 'switchboard');
    assert.equal((await welcome(c)).type, 'welcome');
    await c.close();
    // Token first in the list: still the plain one.
    const d = await open(srv.ws('/v1'), [`switchboard.token.${t}`, 'switchboard.v1']);
    assert.equal(d.ws.protocol, 'switchboard.v1');
    await d.close();
    // Only the token offered: it is echoed, or a browser would fail the handshake.
    const e = await open(srv.ws('/v1'), [`switchboard.token.${t}`]);
    assert.equal(e.ws.protocol, `switchboard.token.${t}`);
    await e.close();
  });

  test('a subprotocol without a token is refused 401 (and a plain client still gets its protocol without auth)', async () => {
    const r = await refusal(srv.ws('/v1'), ['switchboard']);
    assert.equal(r.status, 401);
    assert.equal(r.body.error, 'token-missing');
  });

  test('bad signature, wrong issuer, wrong audience, missing sub, garbage: 401 token-invalid', async () => {
    const now = srv.clock.now();
    const cases = [
      await sign({ ...claims, sub: 'u' }, { now, secret: 'another-secret-0123456789-abcdefghij-klm' }),
      await sign({ sub: 'u', aud: 'switchboard', iss: 'https://evil.test' }, { now }),
      await sign({ sub: 'u', iss: 'https://issuer.test', aud: 'other' }, { now }),
      await sign({ ...claims }, { now }),
      await sign({ ...claims, sub: 'u', permissions: 42 }, { now }),
      'not.a.jwt',
      'x',
    ];
    for (const t of cases) {
      const r = await refusal(srv.ws(`/v1?token=${encodeURIComponent(t)}`));
      assert.equal(r.status, 401, t);
      assert.equal(r.body.error, 'token-invalid', t);
    }
  });

  test('an unsigned token (alg none) is refused', async () => {
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const t = `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ ...claims, sub: 'admin', permissions: ['admin'], exp: 9_999_999_999 })}.`;
    const r = await refusal(srv.ws(`/v1?token=${t}`));
    assert.deepEqual([r.status, r.body.error], [401, 'token-invalid']);
  });

  test('expiry follows the server clock: valid now, 401 token-expired after it (beyond the 5 s leeway)', async () => {
    const t = await tok({}, 60);
    const c = await open(srv.ws(`/v1?token=${t}`));
    await welcome(c);
    await c.close();
    srv.clock.advance(66_000);
    const r = await refusal(srv.ws(`/v1?token=${t}`));
    assert.deepEqual([r.status, r.body.error], [401, 'token-expired']);
    const v = await getJson(srv.http(`/v1/validate?token=${t}`));
    assert.deepEqual([v.status, v.body.reason, v.body.ok], [401, 'token-expired', false]);
  });

  test('seed dialects take the token in their own query string', async () => {
    assert.equal((await refusal(srv.ws('/ws'))).status, 401);
    const vc = await open(srv.ws(`/ws?token=${await tok()}`));
    assert.equal((await vc.next('welcome')).type, 'welcome');
    await vc.close();
    assert.equal((await refusal(srv.ws('/anything'))).status, 401);
    const slam = await open(srv.ws(`/anything?token=${await tok()}`));
    slam.send({ type: 'register', client_id: 'user-1', room_id: 'r' });
    assert.equal((await slam.next()).type, 'registered');
    await slam.close();
  });

  test('/v1/validate: 401 reasons, 200 with the identity, readable from any origin', async () => {
    const missing = await getJson(srv.http('/v1/validate'));
    assert.deepEqual([missing.status, missing.body.reason], [401, 'token-missing']);
    assert.equal(missing.headers.get('access-control-allow-origin'), '*');
    const invalid = await getJson(srv.http('/v1/validate?token=abc'));
    assert.deepEqual([invalid.status, invalid.body.reason], [401, 'token-invalid']);
    const ok = await getJson(srv.http('/v1/validate'), { authorization: `Bearer ${await tok({ rooms: ['team-*'] })}` });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.ok, true);
    assert.deepEqual((ok.body.identity as { subject: string }).subject, 'user-1');
  });
});

describe('claims bind rooms and permissions, enforced by the hub', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer({ auth: { secret: SECRET } });
  });
  after(() => srv.close());
  const as = async (claims: object) => {
    const c = await open(srv.ws(`/v1?token=${await sign({ sub: `s-${Math.random()}`, ...claims }, { now: srv.clock.now() })}`));
    await welcome(c);
    return c;
  };

  test('room patterns: team-* allows team-a, refuses other with forbidden', async () => {
    const c = await as({ rooms: ['team-*'] });
    assert.equal((await joined(c, 'team-a')).type, 'joined');
    const e = await joined(c, 'other', { id: 9 });
    assert.deepEqual([e.type, e.code, e.re], ['error', 'forbidden', 9]);
    await c.close();
  });

  test('without create a token joins existing rooms but makes none (join and create-room)', async () => {
    const maker = await as({});
    await joined(maker, 'exists');
    const c = await as({ permissions: ['join', 'broadcast'] });
    assert.equal((await joined(c, 'exists')).type, 'joined');
    assert.equal((await joined(c, 'not-yet')).code, 'forbidden');
    c.send({ type: 'create-room', id: 'c' });
    assert.equal((await c.next('error')).code, 'forbidden');
    await maker.close();
    await c.close();
  });

  test('without broadcast: broadcast is forbidden, signal still works', async () => {
    const a = await as({ permissions: ['join', 'create'] });
    const b = await as({});
    await joined(a, 'bc');
    await joined(b, 'bc');
    const bId = (await a.next('peer-joined')).peer as { peerId: string };
    a.send({ type: 'broadcast', room: 'bc', data: 1, id: 1 });
    assert.equal((await a.next('error')).code, 'forbidden');
    a.send({ type: 'signal', to: bId.peerId, data: 2, id: 2 });
    assert.equal((await a.next('ack')).re, 2);
    assert.equal((await b.next('signal')).data, 2);
    await a.close();
    await b.close();
  });

  test('without join nothing can be joined; admin may do anything anywhere', async () => {
    const none = await as({ permissions: [] });
    assert.equal((await joined(none, 'x1')).code, 'forbidden');
    const admin = await as({ rooms: ['nothing'], permissions: ['admin'] });
    assert.equal((await joined(admin, 'x1')).type, 'joined');
    admin.send({ type: 'create-room', id: 'c' });
    assert.equal((await admin.next('room-created')).re, 'c');
    await none.close();
    await admin.close();
  });

  test('/v1/validate reports room-forbidden (403) and room-not-found (404) before the join', async () => {
    const t = await sign({ sub: 'v', rooms: ['team-*'], permissions: ['join'] }, { now: srv.clock.now() });
    const forbidden = await getJson(srv.http(`/v1/validate?token=${t}&room=other`));
    assert.deepEqual([forbidden.status, forbidden.body.reason], [403, 'room-forbidden']);
    const missing = await getJson(srv.http(`/v1/validate?token=${t}&room=team-new`));
    assert.deepEqual([missing.status, missing.body.reason], [404, 'room-not-found']);
    const bad = await getJson(srv.http(`/v1/validate?token=${t}&room=${'x'.repeat(200)}`));
    assert.deepEqual([bad.status, bad.body.reason], [400, 'invalid-room']);
  });

  test('a room in the handshake path (flyx) outside the patterns is refused 403 at the handshake', async () => {
    const maker = await sign({ sub: 'maker' }, { now: srv.clock.now() });
    const res = await fetch(srv.http('/room'), { method: 'POST', headers: { authorization: `Bearer ${maker}` } });
    const { id } = (await res.json()) as { id: string };
    const t = await sign({ sub: 'f', rooms: ['team-*'] }, { now: srv.clock.now() });
    const r = await refusal(srv.ws(`/ws/${id}?token=${t}`));
    assert.deepEqual([r.status, r.body.error], [403, 'room-forbidden']);
    const ok = await open(srv.ws(`/ws/${id}?token=${await sign({ sub: 'f', rooms: [id] }, { now: srv.clock.now() })}`));
    assert.equal((await ok.next('join')).type, 'join');
    await ok.close();
  });

  test('creating flyx rooms over HTTP takes a token with create (both shapes)', async () => {
    const viewer = await sign({ sub: 'viewer', permissions: ['join'] }, { now: srv.clock.now() });
    const maker = await sign({ sub: 'maker' }, { now: srv.clock.now() });
    for (const path of ['/room', '/api/room']) {
      const none = await fetch(srv.http(path), { method: 'POST' });
      assert.equal(none.status, 401, path);
      assert.equal(((await none.json()) as { reason: string }).reason, 'token-missing');
      const weak = await fetch(srv.http(`${path}?token=${viewer}`), { method: 'POST' });
      assert.equal(weak.status, 403, path);
      assert.equal(((await weak.json()) as { reason: string }).reason, 'access-denied');
      const ok = await fetch(srv.http(path), { method: 'POST', headers: { authorization: `Bearer ${maker}` } });
      assert.ok(ok.status === 200 || ok.status === 201, path);
      assert.match(((await ok.json()) as { id: string }).id, /^[A-Za-z0-9]{6}$/);
    }
  });

  test('mesh and slam-pair rooms obey the token too', async () => {
    const t = await sign({ sub: 'm', permissions: ['join'] }, { now: srv.clock.now() });
    const mesh = await open(srv.ws(`/x?token=${t}`));
    mesh.send({ type: 'create' });
    assert.deepEqual(await mesh.next(), { type: 'error', message: 'Your credentials do not allow creating rooms.' });
    await mesh.close();
    // slam-pair relays are broadcasts on the path's room: a token without broadcast cannot relay.
    const p = await sign({ sub: 'p', permissions: ['join', 'create'] }, { now: srv.clock.now() });
    const pair = await open(srv.ws(`/pair-path?token=${p}`));
    pair.send({ type: 'offer', sdp: 'v=0' });
    assert.deepEqual(await pair.next(), { type: 'error', message: 'Your credentials do not allow broadcasting.' });
    await pair.close();
  });
});

describe('RS256 public key file (auth.publicKeyFile)', () => {
  let srv: TestServer;
  let dir: string;
  let priv: CryptoKey;
  let pem: string;
  before(async () => {
    const kp = await generateKeyPair('RS256', { extractable: true });
    priv = kp.privateKey;
    pem = await exportSPKI(kp.publicKey);
    dir = mkdtempSync(join(tmpdir(), 'sb-auth-'));
    writeFileSync(join(dir, 'pub.pem'), pem);
    srv = await startServer({ auth: { publicKeyFile: join(dir, 'pub.pem') } });
  });
  after(async () => {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('an RS256 token signed with the private key is accepted', async () => {
    const iat = Math.floor(srv.clock.now() / 1000);
    const t = await new SignJWT({ sub: 'rs-user' }).setProtectedHeader({ alg: 'RS256' }).setIssuedAt(iat).setExpirationTime(iat + 60).sign(priv);
    const c = await open(srv.ws(`/v1?token=${t}`));
    assert.equal(((await welcome(c)).identity as { subject: string }).subject, 'rs-user');
    await c.close();
  });

  test('algorithm confusion: an HS256 token keyed with the public key PEM is refused', async () => {
    const iat = Math.floor(srv.clock.now() / 1000);
    const t = await new SignJWT({ sub: 'attacker', permissions: ['admin'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt(iat)
      .setExpirationTime(iat + 60)
      .sign(new TextEncoder().encode(pem));
    const r = await refusal(srv.ws(`/v1?token=${t}`));
    assert.deepEqual([r.status, r.body.error], [401, 'token-invalid']);
  });

  test('an unreadable key file is a configuration error naming the key', () => {
    // Constructing the server is where the key file is read.
    const config = loadConfig({ overrides: { host: '127.0.0.1', port: 0, auth: { publicKeyFile: join(dir, 'missing.pem') } } });
    assert.throws(() => new SwitchboardServer(config), (e: Error) => e instanceof ConfigError && /auth\.publicKeyFile/.test(e.message));
  });
});

describe('ES256 keys from a JWKS URL (auth.jwksUrl)', () => {
  let srv: TestServer;
  let jwks: Awaited<ReturnType<typeof httpServer>>;
  let priv: CryptoKey;
  let fetches = 0;
  let down = false;
  before(async () => {
    const kp = await generateKeyPair('ES256', { extractable: true });
    priv = kp.privateKey;
    const jwk = { ...(await exportJWK(kp.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    jwks = await httpServer((_req, res) => {
      fetches++;
      if (down) {
        res.writeHead(500).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    });
    srv = await startServer({ auth: { jwksUrl: `${jwks.url}/.well-known/jwks.json` } });
  });
  after(async () => {
    await srv.close();
    await jwks.close();
  });
  const es = async (kid: string, sub = 'es-user') => {
    const iat = Math.floor(srv.clock.now() / 1000);
    return new SignJWT({ sub }).setProtectedHeader({ alg: 'ES256', kid }).setIssuedAt(iat).setExpirationTime(iat + 60).sign(priv);
  };

  test('a token whose kid is in the key set is accepted (the set is fetched, then cached)', async () => {
    const c = await open(srv.ws(`/v1?token=${await es('k1')}`));
    assert.equal(((await welcome(c)).identity as { subject: string }).subject, 'es-user');
    await c.close();
    const before = fetches;
    const d = await open(srv.ws(`/v1?token=${await es('k1', 'again')}`));
    await welcome(d);
    await d.close();
    assert.equal(fetches, before, 'the cached key set served the second token');
    assert.ok(fetches >= 1);
  });

  test('an unknown kid is token-invalid; an HS256 token is refused (no secret configured)', async () => {
    const r = await refusal(srv.ws(`/v1?token=${await es('nope')}`));
    assert.deepEqual([r.status, r.body.error], [401, 'token-invalid']);
    const hs = await sign({ sub: 'x' }, { now: srv.clock.now() });
    assert.equal((await refusal(srv.ws(`/v1?token=${hs}`))).body.error, 'token-invalid');
  });

  test('a key server that fails is 503 auth-unavailable, not a verdict on the token', async () => {
    const srv2 = await startServer({ auth: { jwksUrl: `${jwks.url}/keys` } });
    down = true;
    try {
      const r = await refusal(srv2.ws(`/v1?token=${await es('k1')}`));
      assert.deepEqual([r.status, r.body.error], [503, 'auth-unavailable']);
    } finally {
      down = false;
      await srv2.close();
    }
  });
});

describe('auth webhook (auth.webhookUrl)', () => {
  let hook: Awaited<ReturnType<typeof httpServer>>;
  const seen: Record<string, unknown>[] = [];
  /** The reply for the next calls; 'hang' never answers; 'error' answers 500. */
  let next: object | 'hang' | 'error' = { allow: true };
  let arrived: (() => void) | undefined;
  before(async () => {
    hook = await httpServer((req, res) => {
      void body(req).then((b) => {
        seen.push(JSON.parse(b) as Record<string, unknown>);
        arrived?.();
        if (next === 'hang') return;
        if (next === 'error') return void res.writeHead(500).end('boom');
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(next));
      });
    });
  });
  after(() => hook.close());

  test('with a token: the webhook sees the details (no token), allows, adds metadata and ICE servers', async () => {
    const srv = await startServer({ auth: { secret: SECRET, webhookUrl: `${hook.url}/auth` }, iceServers: [{ urls: 'stun:stun.test:3478' }] });
    try {
      next = { allow: true, metadata: { plan: 'pro' }, iceServers: [{ urls: 'turn:granted.test', username: 'u', credential: 'p' }] };
      seen.length = 0;
      const t = await sign({ sub: 'hooked', name: 'Hook' }, { now: srv.clock.now() });
      const c = await open(srv.ws(`/v1?token=${t}&app=7`), undefined, { headers: { origin: 'https://app.test', 'user-agent': 'ua-test', 'x-secret': 'nope' } });
      const w = await welcome(c);
      assert.deepEqual(w.metadata, { plan: 'pro' });
      assert.deepEqual(w.iceServers, [{ urls: 'stun:stun.test:3478' }, { urls: 'turn:granted.test', username: 'u', credential: 'p' }]);
      assert.equal(seen.length, 1);
      const got = seen[0]!;
      assert.equal(got.path, '/v1');
      assert.equal(got.dialect, 'native');
      assert.equal(got.remoteAddress, '127.0.0.1');
      assert.deepEqual(got.query, { app: '7' });
      assert.equal(got.token, undefined);
      const headers = got.headers as Record<string, string>;
      assert.equal(headers.origin, 'https://app.test');
      assert.equal(headers['user-agent'], 'ua-test');
      assert.equal(headers['x-secret'], undefined);
      assert.equal((got.identity as { subject: string }).subject, 'hooked');
      await c.close();
    } finally {
      await srv.close();
    }
  });

  test('deny → 403 access-denied with the webhook reason; a bad token never reaches the webhook', async () => {
    const srv = await startServer({ auth: { secret: SECRET, webhookUrl: `${hook.url}/auth` } });
    try {
      next = { allow: false, reason: 'account suspended' };
      const t = await sign({ sub: 'denied' }, { now: srv.clock.now() });
      const r = await refusal(srv.ws(`/v1?token=${t}`));
      assert.deepEqual([r.status, r.body.error, r.body.message], [403, 'access-denied', 'account suspended']);
      const v = await getJson(srv.http(`/v1/validate?token=${t}`));
      assert.deepEqual([v.status, v.body.reason], [403, 'access-denied']);
      seen.length = 0;
      assert.equal((await refusal(srv.ws('/v1?token=bad'))).status, 401);
      assert.equal(seen.length, 0);
    } finally {
      await srv.close();
    }
  });

  // The timeout is only a guard against a hang if the webhook timer were broken; nothing here waits for it.
  test('failure modes: a timeout (on the server clock), a 500 or garbage deny with 503 by default', { timeout: 20_000 }, async () => {
    const srv = await startServer({ auth: { secret: SECRET, webhookUrl: `${hook.url}/auth`, webhookTimeoutMs: 1500 } });
    try {
      const t = await sign({ sub: 'slow' }, { now: srv.clock.now() });
      next = 'hang';
      const reached = new Promise<void>((resolve) => (arrived = resolve));
      const pending = refusal(srv.ws(`/v1?token=${t}`));
      await reached;
      arrived = undefined;
      srv.clock.advance(1500);
      const r = await pending;
      assert.deepEqual([r.status, r.body.error], [503, 'auth-unavailable']);
      for (const reply of ['error', { allowed: true }] as const) {
        next = reply;
        const x = await refusal(srv.ws(`/v1?token=${t}`));
        assert.deepEqual([x.status, x.body.error], [503, 'auth-unavailable'], JSON.stringify(reply));
      }
    } finally {
      next = { allow: true };
      await srv.close();
    }
  });

  test('auth.webhookFailure=allow lets the token alone decide when the webhook fails', async () => {
    const srv = await startServer({ auth: { secret: SECRET, webhookUrl: `${hook.url}/auth`, webhookFailure: 'allow' } });
    try {
      next = 'error';
      const c = await open(srv.ws(`/v1?token=${await sign({ sub: 'lenient' }, { now: srv.clock.now() })}`));
      assert.equal(((await welcome(c)).identity as { subject: string }).subject, 'lenient');
      await c.close();
      // An explicit deny is still a deny.
      next = { allow: false };
      assert.equal((await refusal(srv.ws(`/v1?token=${await sign({ sub: 'x' }, { now: srv.clock.now() })}`))).status, 403);
    } finally {
      next = { allow: true };
      await srv.close();
    }
  });

  test('webhook only: no token needed; an opaque token is forwarded; the reply may bind an identity', async () => {
    const srv = await startServer({ auth: { webhookUrl: `${hook.url}/auth` } });
    try {
      next = { allow: true, identity: { sub: 'from-hook', rooms: ['hooked-*'] } };
      seen.length = 0;
      const c = await open(srv.ws('/v1?token=opaque-session-123'));
      const w = await welcome(c);
      assert.equal((w.identity as { subject: string }).subject, 'from-hook');
      assert.equal(seen[0]!.token, 'opaque-session-123');
      assert.equal((await joined(c, 'elsewhere')).code, 'forbidden');
      assert.equal((await joined(c, 'hooked-1')).type, 'joined');
      await c.close();
    } finally {
      next = { allow: true };
      await srv.close();
    }
  });
});

describe('auth configuration', () => {
  test('a short secret, a non-URL JWKS or webhook are refused at start', () => {
    assert.throws(() => loadConfig({ overrides: { auth: { secret: 'short' } } }), /auth\.secret: must be at least 32 bytes/);
    assert.throws(() => loadConfig({ overrides: { auth: { jwksUrl: 'file:///etc/keys' } } }), /auth\.jwksUrl/);
    assert.throws(() => loadConfig({ overrides: { auth: { webhookUrl: 'nope' } } }), /auth\.webhookUrl/);
    assert.equal(loadConfig({ env: { SWITCHBOARD_AUTH_SECRET: SECRET } }).auth.secret, SECRET);
  });
});

describe('room patterns (glob)', () => {
  test('* is any run, ? one character, the rest literal (regex metacharacters too)', () => {
    const cases: [string, string, boolean][] = [
      ['team-*', 'team-a', true],
      ['team-*', 'team-', true],
      ['team-*', 'xteam-a', false],
      ['a?c', 'abc', true],
      ['a?c', 'ac', false],
      ['*', '', true],
      ['a.b', 'axb', false],
      ['(x)[y]{1}+$^|\\', '(x)[y]{1}+$^|\\', true],
      ['*-prod-*', 'eu-prod-7', true],
      ['é?', 'é😀', true],
    ];
    for (const [p, t, want] of cases) assert.equal(globMatch(p, t), want, `${p} ~ ${t}`);
  });

  test('property: a pattern without wildcards matches exactly itself; * prefix/suffix matches any extension', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (lit, pre, post) => {
        const plain = lit.replace(/[*?]/g, '');
        assert.equal(globMatch(plain, plain), true);
        assert.equal(globMatch(`*${plain}*`, `${pre}${plain}${post}`), true);
        if (pre !== '') assert.equal(globMatch(plain, `${pre}${plain}`), false);
      }),
    );
  });

  test('a pathological pattern against a long name stays cheap (no regex backtracking)', () => {
    const pattern = `${'*a'.repeat(40)}*b`;
    assert.equal(globMatch(pattern, 'a'.repeat(8000)), false);
  });
});
