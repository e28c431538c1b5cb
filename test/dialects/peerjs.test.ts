import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect } from '../helpers/ws.js';
import { tick, until } from '../helpers/wait.js';
import { wsSync } from '../security/drivers.js';
import { CALM, mark, offerPayload, openPeer, peerUrl, refusedPeer } from './peerjs-helpers.js';

/**
 * The PeerJS dialect over raw WebSockets, frame by frame as docs/dialects/peerjs.md (and the
 * capture of `peer` 1.0.2 with `peerjs` 1.5.5 it follows) says: registration, relays, ID-TAKEN and
 * take-over, the mailbox and EXPIRE, liveness, and the HTTP routes. Bad input: peerjs-input.test.ts.
 */

async function withServer(fn: (srv: TestServer) => Promise<void>, overrides: Parameters<typeof startServer>[0] = {}): Promise<void> {
  const srv = await startServer({ ...CALM, ...overrides });
  try {
    await fn(srv);
  } finally {
    await srv.close();
  }
}

test('a client registers its id (OPEN) and relays OFFER, ANSWER and CANDIDATE with src set by the server', () =>
  withServer(async (srv) => {
    const alice = await openPeer(srv, 'alice');
    const bob = await openPeer(srv, 'bob');
    const offer = offerPayload();
    alice.send({ type: 'OFFER', payload: offer, dst: 'bob' });
    assert.deepEqual(await bob.next(), { type: 'OFFER', src: 'alice', dst: 'bob', payload: offer });
    const answer = { sdp: { type: 'answer', sdp: 'v=0\r\n' }, type: 'data', connectionId: 'dc_1' };
    bob.send({ type: 'ANSWER', payload: answer, dst: 'alice' });
    assert.deepEqual(await alice.next(), { type: 'ANSWER', src: 'bob', dst: 'alice', payload: answer });
    const cand = { candidate: { candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'MbqD' }, type: 'data', connectionId: 'dc_1' };
    alice.send({ type: 'CANDIDATE', payload: cand, dst: 'bob' });
    assert.deepEqual(await bob.next(), { type: 'CANDIDATE', src: 'alice', dst: 'bob', payload: cand });
    await Promise.all([alice.close(), bob.close()]);
  }));

test('the relayed frame keeps only type, src, dst and the payload as the client wrote it: a forged src never survives', () =>
  withServer(async (srv) => {
    const alice = await openPeer(srv, 'alice');
    const bob = await openPeer(srv, 'bob');
    // The payload's own bytes (spacing, key order, escapes) travel as they are.
    alice.send('{"type":"OFFER","src":"mallory","dst":"bob","extra":1,"payload":{ "b" : 1, "a":"\\u00e9" },"src":"eve"}');
    await until(() => bob.raw.length > 1, 'the relay');
    assert.equal(bob.raw[1], '{"type":"OFFER","src":"alice","dst":"bob","payload":{ "b" : 1, "a":"\\u00e9" }}');
    // Without a payload, none is made up.
    alice.send({ type: 'CANDIDATE', dst: 'bob', src: 'bob' });
    await until(() => bob.raw.length > 2, 'the second relay');
    assert.equal(bob.raw[2], '{"type":"CANDIDATE","src":"alice","dst":"bob"}');
    await Promise.all([alice.close(), bob.close()]);
  }));

test('LEAVE and EXPIRE with dst are relayed like the others', () =>
  withServer(async (srv) => {
    const alice = await openPeer(srv, 'alice');
    const bob = await openPeer(srv, 'bob');
    alice.send({ type: 'LEAVE', dst: 'bob' });
    assert.deepEqual(await bob.next(), { type: 'LEAVE', src: 'alice', dst: 'bob' });
    alice.send({ type: 'EXPIRE', dst: 'bob', payload: 1 });
    assert.deepEqual(await bob.next(), { type: 'EXPIRE', src: 'alice', dst: 'bob', payload: 1 });
    await Promise.all([alice.close(), bob.close()]);
  }));

test('one sender’s relays arrive in the order sent', () =>
  withServer(async (srv) => {
    const alice = await openPeer(srv, 'alice');
    const bob = await openPeer(srv, 'bob');
    for (let i = 0; i < 50; i++) alice.send({ type: 'CANDIDATE', dst: 'bob', payload: { i } });
    for (let i = 0; i < 50; i++) assert.deepEqual((await bob.next()).payload, { i });
    await Promise.all([alice.close(), bob.close()]);
  }));

test('an id connected with another token gets ID-TAKEN and the close; the holder is untouched', () =>
  withServer(async (srv) => {
    const alice = await openPeer(srv, 'alice', { token: 'first' });
    const { frame } = await refusedPeer(peerUrl(srv, 'alice', { token: 'second' }));
    assert.deepEqual(frame, { type: 'ID-TAKEN', payload: { msg: 'ID is taken' } });
    const bob = await openPeer(srv, 'bob');
    bob.send({ type: 'OFFER', dst: 'alice', payload: 1 });
    assert.deepEqual(await alice.next(), { type: 'OFFER', src: 'bob', dst: 'alice', payload: 1 });
    await Promise.all([alice.close(), bob.close()]);
  }));

test('the same id and token while the old socket is registered: the newcomer takes over and hears OPEN; the old one is closed', () =>
  withServer(async (srv) => {
    const old = await openPeer(srv, 'alice', { token: 'mine' });
    const fresh = await openPeer(srv, 'alice', { token: 'mine' });
    assert.equal((await old.closedWithin()).code, 4001);
    const bob = await openPeer(srv, 'bob');
    bob.send({ type: 'OFFER', dst: 'alice', payload: 2 });
    assert.deepEqual(await fresh.next(), { type: 'OFFER', src: 'bob', dst: 'alice', payload: 2 });
    await Promise.all([fresh.close(), bob.close()]);
  }));

test('a closed socket frees its id at once: anyone may take it', () =>
  withServer(async (srv) => {
    const a = await openPeer(srv, 'alice', { token: 'one' });
    await a.close();
    await until(() => srv.server.hub.sessions.size === 0, 'the session to end');
    const b = await openPeer(srv, 'alice', { token: 'two' });
    await b.close();
  }));

test('missing id, token or key, or a wrong key: ERROR in peer’s words, then the close', () =>
  withServer(async (srv) => {
    const missing = { type: 'ERROR', payload: { msg: 'No id, token, or key supplied to websocket server' } };
    for (const q of ['key=peerjs&token=t', 'key=peerjs&id=a', 'id=a&token=t', 'key=peerjs&id=&token=t']) {
      const { frame } = await refusedPeer(srv.ws(`/peerjs?${q}&version=1.5.5`));
      assert.deepEqual(frame, missing, q);
    }
    const { frame } = await refusedPeer(peerUrl(srv, 'a', { key: 'other' }));
    assert.deepEqual(frame, { type: 'ERROR', payload: { msg: 'Invalid key provided' } });
    assert.equal(srv.server.hub.sessions.size, 0);
  }));

test('an id the server cannot take (too long, control characters) is refused with ERROR', () =>
  withServer(
    async (srv) => {
      for (const id of ['x'.repeat(17), 'a\u0001b']) {
        const { frame } = await refusedPeer(peerUrl(srv, id));
        assert.deepEqual(frame, { type: 'ERROR', payload: { msg: 'Invalid id: 1 to 16 characters, no control characters' } });
      }
    },
    { peerjs: { maxIdLength: 16 } },
  ));

test('messages to an id that is not connected are queued and delivered right after its OPEN, in order', () =>
  withServer(async (srv) => {
    const alice = await openPeer(srv, 'alice');
    alice.send({ type: 'OFFER', dst: 'carol', payload: offerPayload(1) });
    alice.send({ type: 'CANDIDATE', dst: 'carol', payload: 'c1' });
    alice.send({ type: 'CANDIDATE', dst: 'carol', payload: 'c2' });
    await wsSync(alice);
    const carol = await openPeer(srv, 'carol');
    assert.deepEqual(await carol.next(), { type: 'OFFER', src: 'alice', dst: 'carol', payload: offerPayload(1) });
    assert.deepEqual((await carol.next()).payload, 'c1');
    assert.deepEqual((await carol.next()).payload, 'c2');
    // Taken: nothing expires for alice.
    srv.clock.advance(10_000);
    await tick();
    assert.deepEqual(await mark(carol, alice, 'alice'), []);
    await Promise.all([alice.close(), carol.close()]);
  }));

test('unclaimed within peerjs.expireTimeoutMs: one EXPIRE per destination goes back, and the queue is gone', () =>
  withServer(async (srv) => {
    const alice = await openPeer(srv, 'alice');
    for (const dst of ['carol', 'carol', 'dave']) alice.send({ type: 'OFFER', dst, payload: 1 });
    await wsSync(alice);
    srv.clock.advance(4_999);
    await tick();
    assert.deepEqual(alice.take(), []);
    srv.clock.advance(1);
    const got = [await alice.next('EXPIRE'), await alice.next('EXPIRE')].sort((a, b) => String(a.src).localeCompare(String(b.src)));
    assert.deepEqual(got, [
      { type: 'EXPIRE', src: 'carol', dst: 'alice' },
      { type: 'EXPIRE', src: 'dave', dst: 'alice' },
    ]);
    const carol = await openPeer(srv, 'carol');
    assert.deepEqual(await mark(alice, carol, 'carol'), []);
    assert.deepEqual(await mark(carol, alice, 'alice'), []);
    await Promise.all([alice.close(), carol.close()]);
  }, { peerjs: { expireTimeoutMs: 5_000 } }));

test('LEAVE and EXPIRE to an id that is not connected are dropped, never queued', () =>
  withServer(async (srv) => {
    const alice = await openPeer(srv, 'alice');
    alice.send({ type: 'LEAVE', dst: 'carol' });
    alice.send({ type: 'EXPIRE', dst: 'carol' });
    await wsSync(alice);
    const carol = await openPeer(srv, 'carol');
    assert.deepEqual(await mark(alice, carol, 'carol'), []);
    srv.clock.advance(10_000);
    await tick();
    assert.deepEqual(await mark(carol, alice, 'alice'), []);
    await Promise.all([alice.close(), carol.close()]);
  }));

test('the mailbox holds peerjs.maxQueuedPerPeer messages; past it they are dropped and the sender still hears EXPIRE', () =>
  withServer(
    async (srv) => {
      const alice = await openPeer(srv, 'alice');
      for (let i = 0; i < 4; i++) alice.send({ type: 'CANDIDATE', dst: 'carol', payload: i });
      await wsSync(alice);
      const carol = await openPeer(srv, 'carol');
      assert.deepEqual((await mark(alice, carol, 'carol')).map((f) => f.payload), [0, 1]);
      srv.clock.advance(5_000);
      assert.deepEqual(await alice.next('EXPIRE'), { type: 'EXPIRE', src: 'carol', dst: 'alice' });
      await Promise.all([alice.close(), carol.close()]);
    },
    { peerjs: { maxQueuedPerPeer: 2 } },
  ));

test('HEARTBEAT gets no reply and keeps the client alive; one silent for peerjs.aliveTimeoutMs is closed', () =>
  withServer(
    async (srv) => {
      const alice = await openPeer(srv, 'alice');
      const bob = await openPeer(srv, 'bob');
      for (let i = 0; i < 4; i++) {
        srv.clock.advance(5_000);
        alice.send({ type: 'HEARTBEAT' });
        await wsSync(alice);
      }
      // bob said nothing for 20 s; alice sent a heartbeat 0 ms ago.
      srv.clock.advance(0);
      await tick();
      assert.equal((await bob.closedWithin()).code, 1001);
      srv.clock.advance(19_999);
      await tick();
      await wsSync(alice);
      assert.equal(alice.closeCode, undefined);
      assert.deepEqual(alice.take(), []);
      srv.clock.advance(1);
      assert.equal((await alice.closedWithin()).code, 1001);
      // The id is free again.
      await until(() => srv.server.hub.sessions.size === 0, 'the sessions to end');
      (await openPeer(srv, 'bob', { token: 'other' })).ws.terminate();
    },
    { peerjs: { aliveTimeoutMs: 20_000 } },
  ));

test('LEAVE without dst removes the sender: its socket is closed and its id freed', () =>
  withServer(async (srv) => {
    const alice = await openPeer(srv, 'alice', { token: 'one' });
    alice.send({ type: 'LEAVE' });
    assert.equal((await alice.closedWithin()).code, 1000);
    await until(() => srv.server.hub.sessions.size === 0, 'the session to end');
    (await openPeer(srv, 'alice', { token: 'two' })).ws.terminate();
  }));

test('unknown types are ignored, as peer does: nothing comes back and the connection goes on', () =>
  withServer(async (srv) => {
    const alice = await openPeer(srv, 'alice');
    const bob = await openPeer(srv, 'bob');
    alice.send({ type: 'WHATEVER', dst: 'bob', payload: 1 });
    alice.send({ type: 'open', dst: 'bob' });
    assert.deepEqual(await mark(alice, bob, 'bob'), []);
    assert.deepEqual(await mark(bob, alice, 'alice'), []);
    await Promise.all([alice.close(), bob.close()]);
  }));

test('a client may message itself', () =>
  withServer(async (srv) => {
    const alice = await openPeer(srv, 'alice');
    alice.send({ type: 'CANDIDATE', dst: 'alice', payload: 'me' });
    assert.deepEqual(await alice.next(), { type: 'CANDIDATE', src: 'alice', dst: 'alice', payload: 'me' });
    await alice.close();
  }));

test('the PeerJS id is an alias of its hub session (what the admin API lists)', () =>
  withServer(async (srv) => {
    const alice = await openPeer(srv, 'alice');
    const s = [...srv.server.hub.sessions.values()].find((x) => x.dialect === 'peerjs');
    assert.ok(s);
    assert.equal(s.namespace, 'peerjs');
    assert.deepEqual([...s.aliases], ['alice']);
    await alice.close();
  }));

test('peerjs.path mounts the dialect elsewhere: ws at {path}peerjs, routes under it, info JSON at {path}', () =>
  withServer(
    async (srv) => {
      const alice = await openPeer(srv, 'alice', { path: '/myapp/' });
      await alice.close();
      const res = await fetch(srv.http('/myapp/peerjs/id'));
      assert.equal(res.status, 200);
      assert.match(await res.text(), /^[0-9a-f-]{36}$/);
      const info = await fetch(srv.http('/myapp'));
      assert.deepEqual(await info.json(), { name: 'PeerJS Server', description: 'A server side element to broker connections between PeerJS clients.', website: 'https://peerjs.com/' });
      // Not at the default place any more: /peerjs is just another catch-all path, which says nothing first.
      const stray = await connect(peerUrl(srv, 'bob'));
      await wsSync(stray);
      assert.deepEqual(stray.take(), []);
      await stray.close();
    },
    { peerjs: { path: 'myapp' } },
  ));

test('GET {path}{key}/id: a fresh UUID as text/html, for any key; CORS reflects the Origin', () =>
  withServer(async (srv) => {
    const ids = new Set<string>();
    for (const key of ['peerjs', 'anything']) {
      const res = await fetch(srv.http(`/${key}/id?ts=17000000000000.123&version=1.5.5`), { headers: { origin: 'https://app.example' } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example');
      assert.match(res.headers.get('vary') ?? '', /Origin/);
      const id = await res.text();
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      ids.add(id);
    }
    assert.equal(ids.size, 2);
    // A preflight, should a browser send one.
    const pre = await fetch(srv.http('/peerjs/id'), { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-methods'), 'GET,HEAD,PUT,PATCH,POST,DELETE');
    assert.equal(pre.headers.get('access-control-allow-origin'), 'https://app.example');
  }));

test('CORS honours allowedOrigins: another origin gets no Access-Control-Allow-Origin', () =>
  withServer(
    async (srv) => {
      const ok = await fetch(srv.http('/peerjs/id'), { headers: { origin: 'https://app.example' } });
      assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example');
      const no = await fetch(srv.http('/peerjs/id'), { headers: { origin: 'https://evil.example' } });
      assert.equal(no.headers.get('access-control-allow-origin'), null);
      await Promise.all([ok.text(), no.text()]);
    },
    { allowedOrigins: ['https://app.example'] },
  ));

test('GET {path}{key}/peers: 401 Unauthorized unless peerjs.allowDiscovery; then the connected ids', async () => {
  await withServer(async (srv) => {
    const res = await fetch(srv.http('/peerjs/peers'));
    assert.equal(res.status, 401);
    assert.equal(await res.text(), 'Unauthorized');
  });
  await withServer(
    async (srv) => {
      const a = await openPeer(srv, 'alice');
      const b = await openPeer(srv, 'bob');
      const res = await fetch(srv.http('/peerjs/peers'));
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(((await res.json()) as string[]).sort(), ['alice', 'bob']);
      await Promise.all([a.close(), b.close()]);
    },
    { peerjs: { allowDiscovery: true } },
  );
});

test('at the default path /, GET / is the server’s own root JSON', () =>
  withServer(async (srv) => {
    const res = await fetch(srv.http('/'));
    assert.equal(((await res.json()) as { service: string }).service, 'switchboard');
  }));
