import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { describe, test } from 'node:test';
import { adminAccess, isLoopback, type AdminRequest } from '../../src/admin/access.js';
import { startServer } from '../helpers/server.js';
import { SECRET, sign } from '../security/auth-tokens.js';
import { call, withServer } from './helpers.js';

/** The admin access rule (src/admin/access.ts): the decision itself, and what a client sees over HTTP. */

const TOKEN = 'admin-token-for-tests-0123456789';

function fake(remoteAddress: string, headers: Record<string, string> = {}): AdminRequest {
  return { headers, socket: { remoteAddress } };
}

/** A non-loopback IPv4 address of this machine, if it has one (to be a "remote" client to ourselves). */
function externalAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}
const external = externalAddress();
if (!external) process.stderr.write('\n*** SKIPPING the non-loopback admin access test: this machine has no non-loopback IPv4 address. ***\n\n');

describe('the decision (fake requests)', () => {
  const none = { token: '' };
  test('no token, no auth: loopback only (127.0.0.0/8, ::1, ::ffff:127.x), and never with a proxy header', async () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) assert.deepEqual(await adminAccess(fake(a), none), { ok: true }, a);
    for (const a of ['10.0.0.1', '192.168.1.2', '::ffff:10.0.0.1', 'fe80::1', '128.0.0.1', '::2']) {
      const d = await adminAccess(fake(a), none);
      assert.equal(d.ok, false, a);
      assert.equal(!d.ok && d.status, 403);
      assert.match(!d.ok ? d.error : '', /set admin\.token/);
    }
    for (const h of ['forwarded', 'x-forwarded-for', 'x-real-ip']) {
      const d = await adminAccess(fake('127.0.0.1', { [h]: '127.0.0.1' }), none);
      assert.deepEqual(d.ok ? 'allowed' : [d.status, d.error.includes(h)], [403, true], h);
    }
    assert.equal(isLoopback(undefined), false);
  });

  test('the dashboard page: loopback-only without credentials, public with a token (the page asks for it)', async () => {
    assert.equal((await adminAccess(fake('10.1.2.3'), none, 'page')).ok, false);
    assert.equal((await adminAccess(fake('127.0.0.1', { 'x-real-ip': '1.2.3.4' }), none, 'page')).ok, false);
    assert.equal((await adminAccess(fake('10.1.2.3'), { token: TOKEN }, 'page')).ok, true);
    assert.equal((await adminAccess(fake('10.1.2.3'), { token: TOKEN }, 'api')).ok, false, 'the API still needs it');
  });

  test('a token: loopback no longer counts, only the token does', async () => {
    assert.deepEqual(await adminAccess(fake('127.0.0.1'), { token: TOKEN }), { ok: false, status: 401, error: 'admin credentials required: Authorization: Bearer <admin.token>' });
    assert.deepEqual(await adminAccess(fake('10.0.0.1', { authorization: `Bearer ${TOKEN}` }), { token: TOKEN }), { ok: true });
    assert.deepEqual(await adminAccess(fake('10.0.0.1', { authorization: `bearer ${TOKEN}` }), { token: TOKEN }), { ok: true }, 'the scheme is case-insensitive');
    for (const wrong of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, 'Bearer ', `Basic ${TOKEN}`, TOKEN]) {
      const d = await adminAccess(fake('10.0.0.1', { authorization: wrong }), { token: TOKEN });
      assert.equal(!d.ok && d.status, 401, wrong);
    }
  });
});

describe('over HTTP', () => {
  test('admin.token: 401 (with the challenge) without it or wrong, 200 with it; every answer no-store', async () => {
    await withServer({ admin: { token: TOKEN } }, async (srv) => {
      const url = srv.http('/admin/v1/nodes');
      const missing = await call(url);
      assert.equal(missing.status, 401);
      assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="switchboard-admin"');
      assert.equal(missing.headers.get('cache-control'), 'no-store');
      assert.equal(typeof missing.body.error, 'string');
      const wrong = await call(url, { headers: { authorization: 'Bearer nope' } });
      assert.deepEqual([wrong.status, wrong.body], [401, { error: 'wrong admin token' }]);
      const ok = await call(url, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get('cache-control'), 'no-store');
      assert.equal((ok.body.nodes as unknown[]).length, 1);
      // Unknown admin paths are behind the rule too (nothing is learnt without the token).
      assert.equal((await call(srv.http('/admin/v1/nowhere'))).status, 401);
      assert.equal((await call(srv.http('/admin/v1/nowhere'), { headers: { authorization: `Bearer ${TOKEN}` } })).status, 404);
      // The dashboard's page is public then: it holds no data and asks for the token.
      const page = await fetch(srv.http('/dashboard'));
      assert.equal(page.status, 200);
      assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal(page.headers.get('cache-control'), 'no-store');
      assert.ok(page.headers.get('etag'));
      await page.text();
    });
  });

  test('auth on: a JWT with the admin permission passes, one without gets 403, a bad one 401; the admin token still works', async () => {
    await withServer({ admin: { token: TOKEN }, auth: { secret: SECRET } }, async (srv) => {
      const now = srv.clock.now();
      const url = srv.http('/admin/v1/rooms');
      const admin = await sign({ sub: 'ops', permissions: ['admin'] }, { now });
      const user = await sign({ sub: 'u1', permissions: ['join', 'create'] }, { now });
      const expired = await sign({ sub: 'ops', permissions: ['admin'] }, { now, ttl: -60 });
      const forged = await sign({ sub: 'ops', permissions: ['admin'] }, { now, secret: 'another-secret-0123456789-abcdefghij' });
      assert.equal((await call(url, { headers: { authorization: `Bearer ${admin}` } })).status, 200);
      const denied = await call(url, { headers: { authorization: `Bearer ${user}` } });
      assert.deepEqual([denied.status, denied.body], [403, { error: 'your token does not have the "admin" permission' }]);
      for (const t of [expired, forged, 'not.a.jwt']) {
        const r = await call(url, { headers: { authorization: `Bearer ${t}` } });
        assert.equal(r.status, 401, t.slice(0, 20));
        assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="switchboard-admin"');
      }
      assert.equal((await call(url, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
    });
  });

  test('auth on, no admin token: the JWT rule alone (loopback is not enough)', async () => {
    await withServer({ auth: { secret: SECRET } }, async (srv) => {
      const url = srv.http('/admin/v1/nodes');
      assert.equal((await call(url)).status, 401);
      const admin = await sign({ sub: 'ops', permissions: 'admin' }, { now: srv.clock.now() });
      assert.equal((await call(url, { headers: { authorization: `Bearer ${admin}` } })).status, 200);
      assert.equal((await fetch(srv.http('/dashboard'))).status, 200, 'the page shell is public');
    });
  });

  test('no token, no auth: loopback gets in, unless a proxy header says a proxy is in front', async () => {
    await withServer({}, async (srv) => {
      assert.equal((await call(srv.http('/admin/v1/nodes'))).status, 200);
      assert.equal((await fetch(srv.http('/dashboard/'))).status, 200);
      for (const h of ['Forwarded', 'X-Forwarded-For', 'X-Real-IP']) {
        const r = await call(srv.http('/admin/v1/nodes'), { headers: { [h]: h === 'Forwarded' ? 'for=127.0.0.1' : '127.0.0.1' } });
        assert.equal(r.status, 403, h);
        assert.match(r.body.error as string, /admin\.token/);
        assert.equal((await fetch(srv.http('/dashboard'), { headers: { [h]: '127.0.0.1' } })).status, 403, `dashboard, ${h}`);
      }
    });
  });

  test('trustProxy does not change it: a proxied request is never local', async () => {
    await withServer({ trustProxy: true }, async (srv) => {
      const r = await call(srv.http('/admin/v1/nodes'), { headers: { 'x-forwarded-for': '127.0.0.1' } });
      assert.equal(r.status, 403);
    });
  });

  test('no token, no auth: a client on a non-loopback address gets 403', { skip: external ? false : 'no non-loopback IPv4 address on this machine' }, async () => {
    const srv = await startServer({ host: external! });
    try {
      const base = `http://${external}:${srv.port}`;
      const r = await call(`${base}/admin/v1/nodes`);
      assert.equal(r.status, 403);
      assert.match(r.body.error as string, /loopback/);
      assert.equal((await fetch(`${base}/dashboard`)).status, 403);
      // The rest of the server answers as usual.
      assert.equal((await fetch(`${base}/health`)).status, 200);
    } finally {
      await srv.close();
    }
  });
});
