import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect, type Frame, type TestClient } from '../helpers/ws.js';
import { connectDataChannel, type SignalingPort } from '../helpers/webrtc.js';
import { callQuiet as quiet } from '../helpers/rounds.js';

/**
 * The call dialect (seed 002): directory, registration, relays and error texts, over the catch-all
 * path. Call state (busy, ring timeout, drops) is in call-state.test.ts. Each test has its own
 * server, so the one shared online list holds only that test's users.
 */

async function withServer(fn: (srv: TestServer) => Promise<void>, overrides: Parameters<typeof startServer>[0] = {}): Promise<void> {
  const srv = await startServer(overrides);
  try {
    await fn(srv);
  } finally {
    await srv.close();
  }
}

/** Connects and registers; everyone already online hears the new online list. */
async function register(srv: TestServer, username: string, online: TestClient[] = [], userId = `${username}-uuid`, path = '/'): Promise<TestClient> {
  const c = await connect(srv.ws(path));
  c.send({ type: 'register', username, user_id: userId });
  assert.deepEqual(await c.next('registered'), { type: 'registered', username, user_id: userId });
  await c.next('online_users');
  for (const o of online) await o.next('online_users');
  return c;
}

const names = (f: Frame) => (f.users as { username: string }[]).map((u) => u.username);

async function errorText(c: TestClient, frame: unknown): Promise<string> {
  c.send(frame);
  const f = await c.next('error');
  assert.deepEqual(Object.keys(f).sort(), ['message', 'type']);
  return f.message as string;
}

async function closeAll(...cs: TestClient[]): Promise<void> {
  await Promise.all(cs.map((c) => c.close()));
}

test('GET / and GET /health answer 200 for hosting health checks', () =>
  withServer(async (srv) => {
    for (const path of ['/', '/health']) {
      const res = await fetch(srv.http(path));
      assert.equal(res.status, 200, path);
      await res.arrayBuffer();
    }
  }));

test("the seed README's flow: register two users, call, accept, offer/answer/ice, hang up", () =>
  withServer(async (srv) => {
    const john = await connect(srv.ws('/'));
    john.send({ type: 'register', username: 'john_doe', user_id: 'uuid1' });
    assert.deepEqual(await john.next(), { type: 'registered', username: 'john_doe', user_id: 'uuid1' });
    const first = await john.next();
    assert.equal(first.type, 'online_users');
    assert.deepEqual(first.users, [{ username: 'john_doe', user_id: 'uuid1' }]);
    assert.equal(first.timestamp, new Date(srv.clock.now()).toISOString());

    const jane = await connect(srv.ws('/'));
    jane.send({ type: 'register', username: 'jane_doe', user_id: 'uuid2' });
    assert.deepEqual(await jane.next(), { type: 'registered', username: 'jane_doe', user_id: 'uuid2' });
    const both = [
      { username: 'john_doe', user_id: 'uuid1' },
      { username: 'jane_doe', user_id: 'uuid2' },
    ];
    assert.deepEqual((await jane.next('online_users')).users, both);
    assert.deepEqual((await john.next('online_users')).users, both);

    john.send({ type: 'call_request', target_username: 'jane_doe' });
    assert.deepEqual(await jane.next(), { type: 'incoming_call', caller_username: 'john_doe', caller_id: 'uuid1' });
    jane.send({ type: 'call_accepted', caller_username: 'john_doe' });
    assert.deepEqual(await john.next(), { type: 'call_accepted', accepter_username: 'jane_doe' });

    const offer = { sdp: 'v=0 offer', type: 'offer' };
    john.send({ type: 'offer', target_username: 'jane_doe', data: offer });
    assert.deepEqual(await jane.next(), { type: 'offer', from_username: 'john_doe', data: offer });
    const answer = { sdp: 'v=0 answer', type: 'answer' };
    jane.send({ type: 'answer', target_username: 'john_doe', data: answer });
    assert.deepEqual(await john.next(), { type: 'answer', from_username: 'jane_doe', data: answer });
    const ice = { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMLineIndex: 0 };
    john.send({ type: 'ice_candidate', target_username: 'jane_doe', data: ice });
    assert.deepEqual(await jane.next(), { type: 'ice_candidate', from_username: 'john_doe', data: ice });
    jane.send({ type: 'ice_candidate', target_username: 'john_doe', data: ice });
    assert.deepEqual(await john.next(), { type: 'ice_candidate', from_username: 'jane_doe', data: ice });

    john.send({ type: 'call_ended', target_username: 'jane_doe' });
    assert.deepEqual(await jane.next(), { type: 'call_ended', from_username: 'john_doe', reason: 'hangup' });
    assert.deepEqual(await quiet(john), []);
    assert.deepEqual(await quiet(jane), []);
    await closeAll(john, jane);
  }));

test('the call dialect is picked by its first frame on any catch-all path', () =>
  withServer(async (srv) => {
    const a = await register(srv, 'alice', [], 'a-1', '/');
    const b = await register(srv, 'bob', [a], 'b-1', '/some/other/path');
    a.send({ type: 'offer', target_username: 'bob', data: { sdp: 'x' } });
    assert.deepEqual(await b.next('offer'), { type: 'offer', from_username: 'alice', data: { sdp: 'x' } });
    // A first frame that is a call frame but not a register still picks call (and is refused).
    const c = await connect(srv.ws('/'));
    assert.equal(await errorText(c, { type: 'call_request', target_username: 'alice' }), 'Not registered');
    c.send({ type: 'register', username: 'carol', user_id: 'c-1' });
    await c.next('registered');
    await closeAll(a, b, c);
  }));

test('online_users goes to everyone when someone registers and when someone leaves', () =>
  withServer(async (srv) => {
    const a = await register(srv, 'alice');
    const b = await connect(srv.ws('/'));
    b.send({ type: 'register', username: 'bob', user_id: 'b-1' });
    await b.next('registered');
    assert.deepEqual(names(await b.next('online_users')), ['alice', 'bob']);
    assert.deepEqual(names(await a.next('online_users')), ['alice', 'bob']);
    const c = await register(srv, 'carol', [a, b]);
    await b.close();
    const la = await a.next('online_users');
    assert.deepEqual(la.users, [
      { username: 'alice', user_id: 'alice-uuid' },
      { username: 'carol', user_id: 'carol-uuid' },
    ]);
    assert.deepEqual(names(await c.next('online_users')), ['alice', 'carol']);
    // An unregistered socket never hears the online list.
    const lurker = await connect(srv.ws('/'));
    lurker.send({ type: 'call_ended', target_username: 'alice' });
    await lurker.next('error');
    await c.close();
    assert.deepEqual(names(await a.next('online_users')), ['alice']);
    assert.deepEqual(await quiet(lurker), []);
    await closeAll(a, lurker);
  }));

test('register errors: missing, empty, wrong types, too long', () =>
  withServer(async (srv) => {
    const c = await connect(srv.ws('/'));
    const required = 'Username and user_id required';
    assert.equal(await errorText(c, { type: 'register', username: 'u' }), required);
    assert.equal(await errorText(c, { type: 'register', username: '', user_id: 'i' }), required);
    assert.equal(await errorText(c, { type: 'register', username: 'u', user_id: '' }), required);
    assert.equal(await errorText(c, { type: 'register', username: null, user_id: 'i' }), required);
    assert.equal(await errorText(c, { type: 'register', username: 42, user_id: 'i' }), 'username and user_id must be strings');
    assert.equal(await errorText(c, { type: 'register', username: 'u', user_id: { id: 1 } }), 'username and user_id must be strings');
    assert.equal(await errorText(c, { type: 'register', username: 'x'.repeat(65), user_id: 'i' }), 'username too long (max 64 characters)');
    assert.equal(await errorText(c, { type: 'register', username: 'u', user_id: 'i'.repeat(129) }), 'user_id too long (max 128 characters)');
    // A failed register leaves nothing behind: the socket is still unregistered, and can register.
    assert.equal(await errorText(c, { type: 'offer', target_username: 'u', data: {} }), 'Not registered');
    c.send({ type: 'register', username: 'u', user_id: 'i' });
    await c.next('registered');
    await c.close();
  }));

test('a taken username is refused, and the holder keeps it', () =>
  withServer(async (srv) => {
    const a = await register(srv, 'alice');
    const b = await connect(srv.ws('/'));
    assert.equal(await errorText(b, { type: 'register', username: 'alice', user_id: 'other-id' }), 'Username already taken');
    // The refused socket claimed nothing: its user_id is still free for someone else.
    const c = await register(srv, 'carol', [a], 'other-id');
    c.send({ type: 'offer', target_username: 'alice', data: 1 });
    assert.deepEqual(await a.next('offer'), { type: 'offer', from_username: 'carol', data: 1 });
    assert.equal(await errorText(b, { type: 'offer', target_username: 'alice', data: 1 }), 'Not registered');
    await closeAll(a, b, c);
  }));

test('a duplicate user_id is refused (the original accepted it)', () =>
  withServer(async (srv) => {
    const a = await register(srv, 'alice', [], 'same-id');
    const b = await connect(srv.ws('/'));
    assert.equal(await errorText(b, { type: 'register', username: 'bob', user_id: 'same-id' }), 'User ID already in use');
    // The username the refused register tried is not left claimed.
    const b2 = await register(srv, 'bob', [a], 'bob-id');
    assert.deepEqual(await quiet(b), []);
    assert.deepEqual(await quiet(a), []);
    await closeAll(a, b, b2);
  }));

test('renaming on the same socket releases the old name (original bug: it routed there forever)', () =>
  withServer(async (srv) => {
    const a = await register(srv, 'alice', [], 'a-1');
    const b = await register(srv, 'bob', [a]);
    a.send({ type: 'register', username: 'alicia', user_id: 'a-1' });
    assert.deepEqual(await a.next('registered'), { type: 'registered', username: 'alicia', user_id: 'a-1' });
    assert.deepEqual(names(await a.next('online_users')), ['bob', 'alicia']);
    // Bob sees the old name go and the new one come.
    assert.deepEqual(names(await b.next('online_users')), ['bob']);
    assert.deepEqual(names(await b.next('online_users')), ['bob', 'alicia']);

    assert.equal(await errorText(b, { type: 'offer', target_username: 'alice', data: 1 }), 'User not found or offline');
    assert.equal(await errorText(b, { type: 'call_request', target_username: 'alice' }), 'User not found or offline');
    b.send({ type: 'offer', target_username: 'alicia', data: 2 });
    assert.deepEqual(await a.next('offer'), { type: 'offer', from_username: 'bob', data: 2 });
    a.send({ type: 'answer', target_username: 'bob', data: 3 });
    assert.deepEqual(await b.next('answer'), { type: 'answer', from_username: 'alicia', data: 3 });

    // The old name is free for someone else, and routes to them, not to the renamed socket.
    const c = await register(srv, 'alice', [b, a], 'c-1');
    b.send({ type: 'offer', target_username: 'alice', data: 4 });
    assert.deepEqual(await c.next('offer'), { type: 'offer', from_username: 'bob', data: 4 });
    assert.deepEqual(await quiet(a), []);
    await closeAll(a, b, c);
  }));

test('changing only the user_id frees the old one; re-registering identically changes nothing', () =>
  withServer(async (srv) => {
    const a = await register(srv, 'alice', [], 'a-1');
    const b = await register(srv, 'bob', [a]);
    a.send({ type: 'register', username: 'alice', user_id: 'a-1' });
    assert.deepEqual(await a.next('registered'), { type: 'registered', username: 'alice', user_id: 'a-1' });
    assert.deepEqual(names(await a.next('online_users')), ['alice', 'bob']);
    assert.deepEqual(await quiet(b), []);

    a.send({ type: 'register', username: 'alice', user_id: 'a-2' });
    await a.next('registered');
    await a.next('online_users');
    await b.next('online_users');
    const list = await b.next('online_users');
    assert.deepEqual(list.users, [
      { username: 'bob', user_id: 'bob-uuid' },
      { username: 'alice', user_id: 'a-2' },
    ]);
    const c = await register(srv, 'carol', [a, b], 'a-1');
    await closeAll(a, b, c);
  }));

test('relays go only to registered users', () =>
  withServer(async (srv) => {
    const a = await register(srv, 'alice');
    const lurker = await connect(srv.ws('/'));
    // Unregistered sender.
    for (const type of ['offer', 'answer', 'ice_candidate']) {
      assert.equal(await errorText(lurker, { type, target_username: 'alice', data: {} }), 'Not registered');
    }
    // Unknown or unregistered target (the lurker is connected, but has no name).
    assert.equal(await errorText(a, { type: 'offer', target_username: 'nobody', data: {} }), 'User not found or offline');
    assert.equal(await errorText(a, { type: 'offer', target_username: 'alice', data: {} }), 'User not found or offline');
    assert.equal(await errorText(a, { type: 'ice_candidate', target_username: 7, data: {} }), 'target_username required');
    assert.equal(await errorText(a, { type: 'answer', target_username: 'bob' }), 'answer requires data');
    assert.deepEqual(await quiet(lurker), []);
    // data is passed through untouched, whatever it is.
    const b = await register(srv, 'bob', [a]);
    for (const data of ['a string', null, [1, 2], { nested: { deep: true } }]) {
      a.send({ type: 'ice_candidate', target_username: 'bob', data, from_username: 'forged' });
      assert.deepEqual(await b.next('ice_candidate'), { type: 'ice_candidate', from_username: 'alice', data });
    }
    await closeAll(a, b, lurker);
  }));

test('every call operation needs a registered sender', () =>
  withServer(async (srv) => {
    const a = await register(srv, 'alice');
    const c = await connect(srv.ws('/'));
    c.send({ type: 'register', username: 'carol', user_id: 'c' });
    await c.next('registered');
    const lurker = await connect(srv.ws('/'));
    for (const frame of [
      { type: 'call_request', target_username: 'alice' },
      { type: 'call_accepted', caller_username: 'alice' },
      { type: 'call_rejected', caller_username: 'alice' },
      { type: 'call_ended', target_username: 'alice' },
    ]) {
      assert.equal(await errorText(lurker, frame), 'Not registered');
    }
    assert.deepEqual((await quiet(a)).map((f) => f.type), ['online_users']);
    await closeAll(a, c, lurker);
  }));

test('bad frames get an error in the call shape and the socket stays usable', () =>
  withServer(async (srv) => {
    const a = await register(srv, 'alice');
    a.send('{not json');
    assert.deepEqual(await a.next('error'), { type: 'error', message: 'Invalid JSON' });
    for (const bad of ['[1,2]', '"text"', '42', 'null', '{"no":"type"}', '{"type":5}']) {
      a.send(bad);
      assert.deepEqual(await a.next('error'), { type: 'error', message: 'Message must be a JSON object with a string "type"' }, bad);
    }
    assert.equal(await errorText(a, { type: 'dance' }), 'Unknown message type: dance');
    a.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    assert.match((await a.next('error')).message as string, /Binary frames are not supported/);
    a.send({ type: 'offer', target_username: 'x', data: 'y'.repeat(70_000) });
    assert.match((await a.next('error')).message as string, /exceeds the limit/);
    // Still registered and routable.
    const b = await register(srv, 'bob', [a]);
    b.send({ type: 'offer', target_username: 'alice', data: 'ok' });
    assert.equal((await a.next('offer')).data, 'ok');
    await closeAll(a, b);
  }));

test('an invalid first frame on a catch-all path gets "Invalid JSON" and the socket can still register', () =>
  withServer(async (srv) => {
    const c = await connect(srv.ws('/'));
    c.send('{oops');
    assert.deepEqual(await c.next('error'), { type: 'error', message: 'Invalid JSON' });
    c.send({ type: 'register', username: 'late', user_id: 'l' });
    await c.next('registered');
    await c.close();
  }));

test('a full lobby refuses a register with a clear text and keeps no claim', () =>
  withServer(
    async (srv) => {
      const a = await register(srv, 'alice');
      const b = await register(srv, 'bob', [a]);
      const c = await connect(srv.ws('/'));
      assert.equal(await errorText(c, { type: 'register', username: 'carol', user_id: 'c-1' }), 'Server is full, try again later');
      assert.equal(await errorText(c, { type: 'call_request', target_username: 'alice' }), 'Not registered');
      assert.equal(await errorText(a, { type: 'offer', target_username: 'carol', data: 1 }), 'User not found or offline');
      // Name and id were released when the register failed: another socket can take them.
      const d = await connect(srv.ws('/'));
      assert.equal(await errorText(d, { type: 'register', username: 'carol', user_id: 'c-1' }), 'Server is full, try again later');
      await b.close();
      await a.next('online_users');
      c.send({ type: 'register', username: 'carol', user_id: 'c-1' });
      await c.next('registered');
      assert.deepEqual(names(await c.next('online_users')), ['alice', 'carol']);
      await closeAll(a, c, d);
    },
    { rooms: { maxPeers: 2 } },
  ));

test('the online list never expires, even when the server expires idle rooms', () =>
  withServer(
    async (srv) => {
      const a = await register(srv, 'alice');
      const b = await register(srv, 'bob', [a]);
      for (let i = 0; i < 4; i++) {
        srv.clock.advance(10_000);
        assert.deepEqual(await quiet(a), []);
        assert.deepEqual(await quiet(b), []);
      }
      a.send({ type: 'offer', target_username: 'bob', data: 'still here' });
      assert.equal((await b.next('offer')).data, 'still here');
      await closeAll(a, b);
    },
    { rooms: { idleTtlMs: 5_000 } },
  ));

test('a user removed from the online list is told, loses its name, and its call ends', () =>
  withServer(async (srv) => {
    const a = await register(srv, 'alice');
    const b = await register(srv, 'bob', [a]);
    a.send({ type: 'call_request', target_username: 'bob' });
    await b.next('incoming_call');
    b.send({ type: 'call_accepted', caller_username: 'alice' });
    await a.next('call_accepted');
    // An operator's kick (the hub's own API): the lobby is the online list.
    const bob = [...srv.server.hub.sessions.values()].find((s) => s.namespace === 'call' && s.aliases.has('user:bob'));
    assert.ok(bob);
    assert.equal(await srv.server.hub.kick('call', 'lobby', bob.id), true);
    assert.deepEqual(await b.next('call_ended'), { type: 'call_ended', from_username: 'alice', reason: 'disconnected' });
    assert.deepEqual(await b.next('error'), { type: 'error', message: 'You were removed from the online list; register again' });
    assert.deepEqual(await a.next('call_ended'), { type: 'call_ended', from_username: 'bob', reason: 'disconnected' });
    assert.deepEqual(names(await a.next('online_users')), ['alice']);
    assert.equal(await errorText(b, { type: 'offer', target_username: 'alice', data: 1 }), 'Not registered');
    const c = await register(srv, 'bob', [a], 'other');
    b.send({ type: 'register', username: 'bobby', user_id: 'bob-uuid' });
    await b.next('registered');
    await closeAll(a, b, c);
  }));

test('errors sent are counted in metrics by dialect and code', () =>
  withServer(async (srv) => {
    const a = await connect(srv.ws('/'));
    a.send({ type: 'register', username: 'alice', user_id: 'a' });
    await a.next('registered');
    assert.equal(await errorText(a, { type: 'offer', target_username: 'ghost', data: 1 }), 'User not found or offline');
    const text = await (await fetch(srv.http('/metrics'))).text();
    assert.match(text, /switchboard_errors_total\{dialect="call",code="peer-not-found"\} 1/);
    await a.close();
  }));

function callPort(me: TestClient, peer: string): SignalingPort {
  const types = { offer: 'offer', answer: 'answer', ice: 'ice_candidate' } as const;
  return {
    send: (kind, payload) => me.send({ type: types[kind], target_username: peer, data: payload }),
    onSignal: (handler) => {
      me.ws.on('message', (raw) => {
        const f = JSON.parse(raw.toString()) as Frame;
        if (f.from_username !== peer) return;
        if (f.type === 'offer' || f.type === 'answer') handler(f.type, f.data as Record<string, unknown>);
        if (f.type === 'ice_candidate') handler('ice', f.data as Record<string, unknown>);
      });
    },
  };
}

test('two real WebRTC peers open a data channel through the call dialect', () =>
  withServer(async (srv) => {
    const john = await register(srv, 'john_doe');
    const jane = await register(srv, 'jane_doe', [john]);
    john.send({ type: 'call_request', target_username: 'jane_doe' });
    await jane.next('incoming_call');
    jane.send({ type: 'call_accepted', caller_username: 'john_doe' });
    await john.next('call_accepted');
    const pair = await connectDataChannel(callPort(john, 'jane_doe'), callPort(jane, 'john_doe'));
    assert.equal(pair.received, 'hello through switchboard');
    pair.close();
    john.send({ type: 'call_ended', target_username: 'jane_doe' });
    await jane.next('call_ended');
    await closeAll(john, jane);
  }));
