import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { identityPolicyFor } from '../../src/dialects/identity.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect, type Frame, type TestClient } from '../helpers/ws.js';
import { SECRET, getJson, open, refusal, sign } from './auth-tokens.js';

/**
 * Identities bound by tokens, and the duplicate-identity policies, in every dialect that has
 * identities (native, vc, slam, call): a client can never present itself as someone else, and a
 * second connection of one identity is refused, replaces the first (closed with a clear code), or
 * is allowed alongside — never a silent hijack. (The describe-level timeouts only turn a hang — a
 * close that never comes — into a failure; nothing waits for them.)
 */

const tokenFor = (srv: TestServer, claims: Record<string, unknown>) => sign(claims, { now: srv.clock.now() });

async function joined(c: TestClient, room: string, extra: object = {}): Promise<Frame> {
  c.send({ type: 'join', room, ...extra });
  return c.next((f) => f.type === 'joined' || f.type === 'error');
}

describe('native: identity from the token', { timeout: 30_000 }, () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer({ auth: { secret: SECRET } });
  });
  after(() => srv.close());

  test('the name is the token\'s and peers see the verified identity (a sent name cannot impersonate)', async () => {
    const ann = await open(srv.ws(`/v1?token=${await tokenFor(srv, { sub: 'ann-id', name: 'Ann' })}`));
    await ann.next('welcome');
    const bob = await open(srv.ws(`/v1?token=${await tokenFor(srv, { sub: 'bob-id' })}`));
    await bob.next('welcome');
    await joined(bob, 'n1');
    const j = await joined(ann, 'n1', { name: 'Bob', meta: { k: 1 } });
    assert.deepEqual(j.peers, [{ peerId: (j.peers as { peerId: string }[])[0]!.peerId, identity: 'bob-id', name: 'bob-id' }]);
    const pj = await bob.next('peer-joined');
    assert.deepEqual((pj.peer as Record<string, unknown>).identity, 'ann-id');
    assert.deepEqual((pj.peer as Record<string, unknown>).name, 'Ann');
    assert.deepEqual((pj.peer as Record<string, unknown>).meta, { k: 1 });
    await ann.close();
    await bob.close();
  });

  test('default policy replace: the newer connection wins, the older is closed 4001 and its rooms hear "replaced"', async () => {
    const t = await tokenFor(srv, { sub: 'dup' });
    const watcher = await open(srv.ws(`/v1?token=${await tokenFor(srv, { sub: 'watcher' })}`));
    await watcher.next('welcome');
    await joined(watcher, 'r1');
    const first = await open(srv.ws(`/v1?token=${t}`));
    const firstId = (await first.next('welcome')).peerId;
    await joined(first, 'r1');
    await watcher.next('peer-joined');
    const second = await open(srv.ws(`/v1?token=${t}`));
    assert.equal((await second.next('welcome')).type, 'welcome');
    assert.deepEqual(await first.closed, { code: 4001, reason: 'session replaced' });
    assert.deepEqual(await watcher.next('peer-left'), { type: 'peer-left', room: 'r1', peerId: firstId, reason: 'replaced' });
    assert.equal((await joined(second, 'r1')).type, 'joined');
    await second.close();
    await watcher.close();
  });
});

describe('native: identity policy reject', { timeout: 30_000 }, () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer({ auth: { secret: SECRET }, identity: { dialects: { native: 'reject' } } });
  });
  after(() => srv.close());

  test('a second connection of a connected identity is refused 409 identity-taken; /v1/validate says so; free again after', async () => {
    const t = await tokenFor(srv, { sub: 'only-once' });
    const first = await open(srv.ws(`/v1?token=${t}`));
    await first.next('welcome');
    const r = await refusal(srv.ws(`/v1?token=${t}`));
    assert.deepEqual([r.status, r.body.error], [409, 'identity-taken']);
    const v = await getJson(srv.http(`/v1/validate?token=${t}`));
    assert.deepEqual([v.status, v.body.reason], [409, 'identity-taken']);
    await first.close();
    // The alias is released with the session: the identity may connect again.
    const again = await open(srv.ws(`/v1?token=${t}`));
    assert.equal((await again.next('welcome')).type, 'welcome');
    await again.close();
  });

  test('two handshakes racing: exactly one gets a welcome; the other is refused (409, or identity-taken then 4008)', async () => {
    const t = await tokenFor(srv, { sub: 'racer' });
    const attempts = await Promise.allSettled([open(srv.ws(`/v1?token=${t}`)), open(srv.ws(`/v1?token=${t}`))]);
    const outcomes = await Promise.all(
      attempts.map(async (a) => {
        if (a.status === 'rejected') return `http ${(a.reason as { status?: number }).status}`;
        const first = await a.value.next();
        if (first.type === 'welcome') return 'welcome';
        assert.equal(first.code, 'identity-taken');
        assert.deepEqual(await a.value.closed, { code: 4008, reason: 'identity taken' });
        return 'closed';
      }),
    );
    assert.equal(outcomes.filter((o) => o === 'welcome').length, 1, outcomes.join());
    assert.ok(outcomes.some((o) => o === 'http 409' || o === 'closed'), outcomes.join());
    for (const a of attempts) if (a.status === 'fulfilled') a.value.ws.terminate();
  });
});

describe('native: identity policy allow', { timeout: 30_000 }, () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer({ auth: { secret: SECRET }, identity: { policy: 'allow' } });
  });
  after(() => srv.close());

  test('several devices of one identity stay connected, each with its own peer id', async () => {
    const t = await tokenFor(srv, { sub: 'multi', name: 'M' });
    const a = await open(srv.ws(`/v1?token=${t}`));
    const b = await open(srv.ws(`/v1?token=${t}`));
    const ida = (await a.next('welcome')).peerId;
    const idb = (await b.next('welcome')).peerId;
    assert.notEqual(ida, idb);
    await joined(a, 'm');
    const j = await joined(b, 'm');
    assert.deepEqual(j.peers, [{ peerId: ida, identity: 'multi', name: 'M' }]);
    await a.close();
    await b.close();
  });
});

describe('vc: identity', { timeout: 30_000 }, () => {
  test('the token name overrides the join name; duplicates allowed by default', async () => {
    const srv = await startServer({ auth: { secret: SECRET } });
    try {
      const t = await tokenFor(srv, { sub: 'vera-id', name: 'Vera' });
      const other = await open(srv.ws(`/ws?token=${await tokenFor(srv, { sub: 'o' })}`));
      await other.next('welcome');
      other.send({ type: 'join', room: 'v', name: 'whatever' });
      await other.next('joined');
      const v1 = await open(srv.ws(`/ws?token=${t}`));
      const id1 = (await v1.next('welcome')).peer_id;
      v1.send({ type: 'join', room: 'v', name: 'mallory' });
      await v1.next('joined');
      assert.deepEqual(await other.next('peer-joined'), { type: 'peer-joined', peer: { peer_id: id1, name: 'Vera' } });
      const v2 = await open(srv.ws(`/ws?token=${t}`));
      await v2.next('welcome');
      v2.send({ type: 'join', room: 'v', name: 'x' });
      assert.equal((await v2.next('joined')).type, 'joined');
      assert.equal(v1.closeCode, undefined);
      for (const c of [other, v1, v2]) await c.close();
    } finally {
      await srv.close();
    }
  });

  test('policy reject: the second holder of a token identity gets identity-taken at join', async () => {
    const srv = await startServer({ auth: { secret: SECRET }, identity: { dialects: { vc: 'reject' } } });
    try {
      const t = await tokenFor(srv, { sub: 'vr' });
      const a = await open(srv.ws(`/ws?token=${t}`));
      await a.next('welcome');
      a.send({ type: 'join', room: 'v' });
      await a.next('joined');
      const b = await open(srv.ws(`/ws?token=${t}`));
      await b.next('welcome');
      b.send({ type: 'join', room: 'v' });
      assert.deepEqual(await b.next('error'), { type: 'error', error: 'identity-taken' });
      await a.close();
      await b.close();
    } finally {
      await srv.close();
    }
  });

  test('policy replace without tokens: the name is the identity; the older holder is closed 1008 "replaced"; a rename frees it', async () => {
    const srv = await startServer({ identity: { dialects: { vc: 'replace' } } });
    try {
      const a = await connect(srv.ws('/ws'));
      await a.next('welcome');
      a.send({ type: 'join', room: 'v', name: 'bob' });
      await a.next('joined');
      a.send({ type: 'join', room: 'v2', name: 'robert' });
      await a.next('joined');
      const b = await connect(srv.ws('/ws'));
      await b.next('welcome');
      b.send({ type: 'join', room: 'v', name: 'bob' });
      await b.next('joined');
      assert.equal(a.closeCode, undefined, 'bob was free: a renamed itself to robert');
      const c = await connect(srv.ws('/ws'));
      await c.next('welcome');
      c.send({ type: 'join', room: 'v', name: 'bob' });
      await c.next('joined');
      assert.deepEqual(await b.closed, { code: 1008, reason: 'replaced' });
      await a.close();
      await c.close();
    } finally {
      await srv.close();
    }
  });
});

describe('slam: client_id bound by the token', { timeout: 30_000 }, () => {
  test('a client_id other than the token subject is refused; the subject registers', async () => {
    const srv = await startServer({ auth: { secret: SECRET } });
    try {
      const c = await open(srv.ws(`/slam?token=${await tokenFor(srv, { sub: 'dev-1' })}`));
      c.send({ type: 'register', client_id: 'dev-2', room_id: 'r' });
      assert.deepEqual(await c.next(), { type: 'error', message: 'client_id must be the one your token names: dev-1' });
      c.send({ type: 'register', client_id: 'dev-1', room_id: 'r' });
      assert.deepEqual(await c.next(), { type: 'registered', client_id: 'dev-1', room_id: 'r', peers: [] });
      await c.close();
    } finally {
      await srv.close();
    }
  });

  test('default replace: the reconnecting device wins, the old socket is closed 4001 and the room hears peer_left', async () => {
    const srv = await startServer({ auth: { secret: SECRET } });
    try {
      const t = await tokenFor(srv, { sub: 'dev-1' });
      const pc = await open(srv.ws(`/slam?token=${await tokenFor(srv, { sub: 'pc' })}`));
      pc.send({ type: 'register', client_id: 'pc', room_id: 'r' });
      await pc.next('registered');
      const old = await open(srv.ws(`/slam?token=${t}`));
      old.send({ type: 'register', client_id: 'dev-1', room_id: 'r' });
      await old.next('registered');
      await pc.next('peer_joined');
      const fresh = await open(srv.ws(`/slam?token=${t}`));
      fresh.send({ type: 'register', client_id: 'dev-1', room_id: 'r' });
      assert.equal((await fresh.next('registered')).client_id, 'dev-1');
      assert.deepEqual(await old.closed, { code: 4001, reason: 'client_id registered by another connection' });
      await pc.close();
      await fresh.close();
    } finally {
      await srv.close();
    }
  });

  test('policy reject: the newcomer is told, the registered socket keeps working', async () => {
    const srv = await startServer({ auth: { secret: SECRET }, identity: { dialects: { slam: 'reject' } } });
    try {
      const t = await tokenFor(srv, { sub: 'dev-1' });
      const first = await open(srv.ws(`/slam?token=${t}`));
      first.send({ type: 'register', client_id: 'dev-1', room_id: 'r' });
      await first.next('registered');
      const second = await open(srv.ws(`/slam?token=${t}`));
      second.send({ type: 'register', client_id: 'dev-1', room_id: 'r' });
      assert.deepEqual(await second.next(), { type: 'error', message: 'client_id already registered by another connection: dev-1' });
      first.send({ type: 'register', client_id: 'dev-1', room_id: 'r' });
      assert.equal((await first.next()).type, 'registered');
      await first.close();
      await second.close();
    } finally {
      await srv.close();
    }
  });
});

describe('call: username and user_id bound by the token', { timeout: 30_000 }, () => {
  test('username must be the token name and user_id its subject; room patterns do not hide the directory', async () => {
    const srv = await startServer({ auth: { secret: SECRET } });
    try {
      const t = await tokenFor(srv, { sub: 'uid-1', name: 'alice', rooms: ['nothing-*'] });
      const c = await open(srv.ws(`/call?token=${t}`));
      c.send({ type: 'register', username: 'bob', user_id: 'uid-1' });
      assert.deepEqual(await c.next(), { type: 'error', message: 'username and user_id must be the ones your token names' });
      c.send({ type: 'register', username: 'alice', user_id: 'uid-2' });
      assert.deepEqual(await c.next(), { type: 'error', message: 'username and user_id must be the ones your token names' });
      c.send({ type: 'register', username: 'alice', user_id: 'uid-1' });
      assert.deepEqual(await c.next(), { type: 'registered', username: 'alice', user_id: 'uid-1' });
      await c.close();
      // A token without the join permission cannot enter the directory.
      const none = await open(srv.ws(`/call?token=${await tokenFor(srv, { sub: 'n', permissions: ['broadcast'] })}`));
      none.send({ type: 'register', username: 'n', user_id: 'n' });
      assert.deepEqual(await none.next(), { type: 'error', message: 'Your token does not allow registering' });
      await none.close();
    } finally {
      await srv.close();
    }
  });

  test('default reject: a second connection of one user hears "Username already taken"', async () => {
    const srv = await startServer({ auth: { secret: SECRET } });
    try {
      const t = await tokenFor(srv, { sub: 'alice' });
      const a = await open(srv.ws(`/call?token=${t}`));
      a.send({ type: 'register', username: 'alice', user_id: 'alice' });
      await a.next('registered');
      const b = await open(srv.ws(`/call?token=${t}`));
      b.send({ type: 'register', username: 'alice', user_id: 'alice' });
      assert.deepEqual(await b.next(), { type: 'error', message: 'Username already taken' });
      assert.equal(a.closeCode, undefined);
      await a.close();
      await b.close();
    } finally {
      await srv.close();
    }
  });

  test('policy replace: the newer registration wins and the older socket is closed 4001', async () => {
    const srv = await startServer({ auth: { secret: SECRET }, identity: { dialects: { call: 'replace' } } });
    try {
      const t = await tokenFor(srv, { sub: 'alice' });
      const a = await open(srv.ws(`/call?token=${t}`));
      a.send({ type: 'register', username: 'alice', user_id: 'alice' });
      await a.next('registered');
      const b = await open(srv.ws(`/call?token=${t}`));
      b.send({ type: 'register', username: 'alice', user_id: 'alice' });
      assert.equal((await b.next('registered')).username, 'alice');
      assert.deepEqual(await a.closed, { code: 4001, reason: 'session replaced' });
      const list = await b.next((f) => f.type === 'online_users' && (f.users as unknown[]).length === 1);
      assert.deepEqual(list.users, [{ username: 'alice', user_id: 'alice' }]);
      await b.close();
    } finally {
      await srv.close();
    }
  });
});

describe('identity policy settings', { timeout: 30_000 }, () => {
  test('per-dialect defaults, a global policy where supported, overrides; slam and call cannot allow', () => {
    const cfg = (o: object) => loadConfig({ overrides: o }).identity;
    const d = cfg({});
    assert.deepEqual(['native', 'vc', 'slam', 'call'].map((x) => identityPolicyFor(d, x)), ['replace', 'allow', 'replace', 'reject']);
    const all = cfg({ identity: { policy: 'allow' } });
    assert.deepEqual(['native', 'vc', 'slam', 'call'].map((x) => identityPolicyFor(all, x)), ['allow', 'allow', 'replace', 'reject']);
    const rej = cfg({ identity: { policy: 'reject', dialects: { native: 'allow' } } });
    assert.deepEqual(['native', 'vc', 'slam', 'call'].map((x) => identityPolicyFor(rej, x)), ['allow', 'reject', 'reject', 'reject']);
    assert.throws(() => cfg({ identity: { dialects: { slam: 'allow' } } }), /identity\.dialects\.slam/);
    assert.throws(() => cfg({ identity: { dialects: { call: 'allow' } } }), /identity\.dialects\.call/);
    assert.throws(() => loadConfig({ env: { SWITCHBOARD_IDENTITY_POLICY: 'sometimes' } }), /identity\.policy/);
    assert.equal(identityPolicyFor(loadConfig({ env: { SWITCHBOARD_IDENTITY_DIALECTS: '{"native":"reject"}' } }).identity, 'native'), 'reject');
  });
});
