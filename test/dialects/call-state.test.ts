import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect, type Frame, type TestClient } from '../helpers/ws.js';
import { callQuiet as quiet } from '../helpers/rounds.js';

/**
 * The call dialect's call state, which the original server did not have: busy, a ring that times
 * out, the survivor told when the other side drops, and call operations that fail out loud.
 */

const RING_MS = 30_000;

async function withServer(fn: (srv: TestServer) => Promise<void>): Promise<void> {
  const srv = await startServer();
  try {
    await fn(srv);
  } finally {
    await srv.close();
  }
}

/** Registers a user; everyone already online hears (and the helper consumes) the new online list. */
async function register(srv: TestServer, username: string, online: TestClient[] = []): Promise<TestClient> {
  const c = await connect(srv.ws('/'));
  c.send({ type: 'register', username, user_id: `${username}-uuid` });
  await c.next('registered');
  await c.next('online_users');
  for (const o of online) await o.next('online_users');
  return c;
}

/** Alice, Bob and Carol, online, every online_users consumed. */
async function trio(srv: TestServer): Promise<[TestClient, TestClient, TestClient]> {
  const a = await register(srv, 'alice');
  const b = await register(srv, 'bob', [a]);
  const c = await register(srv, 'carol', [a, b]);
  return [a, b, c];
}

async function errorText(c: TestClient, frame: unknown): Promise<string> {
  c.send(frame);
  return (await c.next('error')).message as string;
}

/** `from` calls `to` and `to` hears it ring. */
async function ring(from: TestClient, fromName: string, to: TestClient, toName: string): Promise<void> {
  from.send({ type: 'call_request', target_username: toName });
  assert.deepEqual(await to.next('incoming_call'), { type: 'incoming_call', caller_username: fromName, caller_id: `${fromName}-uuid` });
}

async function connected(from: TestClient, fromName: string, to: TestClient, toName: string): Promise<void> {
  await ring(from, fromName, to, toName);
  to.send({ type: 'call_accepted', caller_username: fromName });
  assert.deepEqual(await from.next('call_accepted'), { type: 'call_accepted', accepter_username: toName });
}

async function closeAll(...cs: TestClient[]): Promise<void> {
  await Promise.all(cs.map((c) => c.close()));
}

test('call_rejected reaches the caller, and both are free again', () =>
  withServer(async (srv) => {
    const [a, b, c] = await trio(srv);
    await ring(a, 'alice', b, 'bob');
    b.send({ type: 'call_rejected', caller_username: 'alice' });
    assert.deepEqual(await a.next('call_rejected'), { type: 'call_rejected', rejecter_username: 'bob', reason: 'rejected' });
    await ring(c, 'carol', b, 'bob');
    b.send({ type: 'call_rejected', caller_username: 'carol' });
    await c.next('call_rejected');
    await ring(b, 'bob', a, 'alice');
    // A rejected ring can be neither accepted nor rejected again.
    assert.equal(await errorText(b, { type: 'call_rejected', caller_username: 'alice' }), 'No incoming call from alice');
    await closeAll(a, b, c);
  }));

test('a user who is ringing or in a call is busy', () =>
  withServer(async (srv) => {
    const [a, b, c] = await trio(srv);
    await ring(a, 'alice', b, 'bob');
    // Callee ringing, and caller ringing: both busy for a third user.
    c.send({ type: 'call_request', target_username: 'bob' });
    assert.deepEqual(await c.next('call_rejected'), { type: 'call_rejected', rejecter_username: 'bob', reason: 'busy' });
    c.send({ type: 'call_request', target_username: 'alice' });
    assert.deepEqual(await c.next('call_rejected'), { type: 'call_rejected', rejecter_username: 'alice', reason: 'busy' });
    assert.deepEqual(await quiet(a), []);
    assert.deepEqual(await quiet(b), []);

    b.send({ type: 'call_accepted', caller_username: 'alice' });
    await a.next('call_accepted');
    c.send({ type: 'call_request', target_username: 'alice' });
    assert.equal((await c.next('call_rejected')).reason, 'busy');
    // Neither party can place a second call meanwhile.
    assert.equal(await errorText(a, { type: 'call_request', target_username: 'carol' }), 'You are already in a call');
    assert.equal(await errorText(b, { type: 'call_request', target_username: 'carol' }), 'You are already in a call');
    assert.deepEqual(await quiet(c), []);

    b.send({ type: 'call_ended', target_username: 'alice' });
    assert.deepEqual(await a.next('call_ended'), { type: 'call_ended', from_username: 'bob', reason: 'hangup' });
    // Hanging up on a call that just ended (both at once) is harmless: no error, nothing relayed.
    a.send({ type: 'call_ended', target_username: 'bob' });
    assert.deepEqual(await quiet(a), []);
    assert.deepEqual(await quiet(b), []);
    await ring(c, 'carol', a, 'alice');
    await closeAll(a, b, c);
  }));

test('an unanswered ring times out: caller gets call_rejected, callee call_ended', () =>
  withServer(async (srv) => {
    const [a, b, c] = await trio(srv);
    await ring(a, 'alice', b, 'bob');
    srv.clock.advance(RING_MS - 1);
    assert.deepEqual(await quiet(a), []);
    assert.deepEqual(await quiet(b), []);
    srv.clock.advance(1);
    assert.deepEqual(await a.next('call_rejected'), { type: 'call_rejected', rejecter_username: 'bob', reason: 'timeout' });
    assert.deepEqual(await b.next('call_ended'), { type: 'call_ended', from_username: 'alice', reason: 'timeout' });
    // Accepting after the ring timed out fails out loud, and the caller hears nothing.
    assert.equal(await errorText(b, { type: 'call_accepted', caller_username: 'alice' }), 'No incoming call from alice');
    assert.deepEqual(await quiet(a), []);
    // Both are free again.
    await ring(c, 'carol', b, 'bob');
    c.send({ type: 'call_ended', target_username: 'bob' });
    await b.next('call_ended');
    await ring(a, 'alice', c, 'carol');
    await closeAll(a, b, c);
  }));

test('an accepted call never times out', () =>
  withServer(async (srv) => {
    const [a, b, c] = await trio(srv);
    await connected(a, 'alice', b, 'bob');
    for (let i = 0; i < 4; i++) {
      srv.clock.advance(RING_MS);
      // The round trips are also the traffic that keeps both alive past the heartbeat timeout.
      assert.deepEqual(await quiet(a), []);
      assert.deepEqual(await quiet(b), []);
    }
    c.send({ type: 'call_request', target_username: 'bob' });
    assert.equal((await c.next('call_rejected')).reason, 'busy');
    await closeAll(a, b, c);
  }));

test('a caller may hang up while it rings; the ring timer dies with it', () =>
  withServer(async (srv) => {
    const [a, b, c] = await trio(srv);
    const timers = srv.clock.pending;
    await ring(a, 'alice', b, 'bob');
    assert.equal(srv.clock.pending, timers + 1);
    a.send({ type: 'call_ended', target_username: 'bob' });
    assert.deepEqual(await b.next('call_ended'), { type: 'call_ended', from_username: 'alice', reason: 'hangup' });
    srv.clock.advance(RING_MS);
    assert.equal(srv.clock.pending, timers);
    assert.deepEqual(await quiet(a), []);
    assert.deepEqual(await quiet(b), []);
    assert.equal(await errorText(b, { type: 'call_accepted', caller_username: 'alice' }), 'No incoming call from alice');
    await ring(c, 'carol', b, 'bob');
    await closeAll(a, b, c);
  }));

test('a callee may decline with call_ended while it rings', () =>
  withServer(async (srv) => {
    const [a, b, c] = await trio(srv);
    await ring(a, 'alice', b, 'bob');
    b.send({ type: 'call_ended', target_username: 'alice' });
    assert.deepEqual(await a.next('call_ended'), { type: 'call_ended', from_username: 'bob', reason: 'hangup' });
    srv.clock.advance(RING_MS);
    assert.deepEqual(await quiet(a), []);
    await ring(c, 'carol', a, 'alice');
    await closeAll(a, b, c);
  }));

test('the survivor gets call_ended when the other side drops mid-call', () =>
  withServer(async (srv) => {
    const [a, b, c] = await trio(srv);
    await connected(a, 'alice', b, 'bob');
    await b.close();
    assert.deepEqual(await a.next(), { type: 'call_ended', from_username: 'bob', reason: 'disconnected' });
    assert.deepEqual((await a.next('online_users')).users, [
      { username: 'alice', user_id: 'alice-uuid' },
      { username: 'carol', user_id: 'carol-uuid' },
    ]);
    await c.next('online_users');
    await ring(c, 'carol', a, 'alice');

    // The callee survives the caller too, and a dropped caller frees the callee.
    a.send({ type: 'call_rejected', caller_username: 'carol' });
    await c.next('call_rejected');
    const d = await register(srv, 'dave', [a, c]);
    await connected(c, 'carol', a, 'alice');
    await c.close();
    assert.deepEqual(await a.next(), { type: 'call_ended', from_username: 'carol', reason: 'disconnected' });
    await a.next('online_users');
    await d.next('online_users');
    await ring(d, 'dave', a, 'alice');
    await closeAll(a, d);
  }));

test('a drop while ringing: the caller hears call_rejected (offline), the callee call_ended', () =>
  withServer(async (srv) => {
    const [a, b, c] = await trio(srv);
    const timers = srv.clock.pending;
    await ring(a, 'alice', b, 'bob');
    await b.close();
    assert.deepEqual(await a.next(), { type: 'call_rejected', rejecter_username: 'bob', reason: 'offline' });
    await a.next('online_users');
    await c.next('online_users');
    assert.equal(srv.clock.pending, timers);

    await ring(c, 'carol', a, 'alice');
    await c.close();
    assert.deepEqual(await a.next(), { type: 'call_ended', from_username: 'carol', reason: 'disconnected' });
    await a.next('online_users');
    assert.equal(srv.clock.pending, timers);
    srv.clock.advance(RING_MS);
    assert.deepEqual(await quiet(a), []);
    await a.close();
  }));

test('call operations that make no sense fail out loud (the original was silent)', () =>
  withServer(async (srv) => {
    const [a, b, c] = await trio(srv);
    assert.equal(await errorText(a, { type: 'call_request', target_username: 'nobody' }), 'User not found or offline');
    assert.equal(await errorText(a, { type: 'call_request', target_username: 'alice' }), 'You cannot call yourself');
    assert.equal(await errorText(a, { type: 'call_request' }), 'target_username required');
    assert.equal(await errorText(a, { type: 'call_ended', target_username: '' }), 'target_username required');
    assert.equal(await errorText(a, { type: 'call_accepted' }), 'caller_username required');
    assert.equal(await errorText(a, { type: 'call_rejected', caller_username: ['bob'] }), 'caller_username required');
    assert.equal(await errorText(a, { type: 'call_accepted', caller_username: 'bob' }), 'No incoming call from bob');
    assert.equal(await errorText(a, { type: 'call_rejected', caller_username: 'bob' }), 'No incoming call from bob');
    assert.equal(await errorText(a, { type: 'call_ended', target_username: 'bob' }), 'No call with bob');

    await connected(a, 'alice', b, 'bob');
    // Carol is not in that call: she can end nothing, accept nothing; the call goes on untouched.
    assert.equal(await errorText(c, { type: 'call_ended', target_username: 'bob' }), 'No call with bob');
    assert.equal(await errorText(c, { type: 'call_accepted', caller_username: 'alice' }), 'No incoming call from alice');
    // The caller cannot accept its own call, nor the callee accept it twice.
    assert.equal(await errorText(a, { type: 'call_accepted', caller_username: 'bob' }), 'No incoming call from bob');
    assert.equal(await errorText(b, { type: 'call_accepted', caller_username: 'alice' }), 'No incoming call from alice');
    assert.equal(await errorText(a, { type: 'call_ended', target_username: 'carol' }), 'No call with carol');
    assert.deepEqual(await quiet(a), []);
    assert.deepEqual(await quiet(b), []);
    a.send({ type: 'offer', target_username: 'bob', data: 'still up' });
    assert.equal((await b.next('offer')).data, 'still up');
    await closeAll(a, b, c);
  }));

test('a callee must name the right caller to accept', () =>
  withServer(async (srv) => {
    const [a, b, c] = await trio(srv);
    await ring(a, 'alice', b, 'bob');
    assert.equal(await errorText(b, { type: 'call_accepted', caller_username: 'carol' }), 'No incoming call from carol');
    assert.deepEqual(await quiet(a), []);
    assert.deepEqual(await quiet(c), []);
    b.send({ type: 'call_accepted', caller_username: 'alice' });
    await a.next('call_accepted');
    await closeAll(a, b, c);
  }));

test('two users calling each other at once never end up half in a call', () =>
  withServer(async (srv) => {
    const [a, b, c] = await trio(srv);
    a.send({ type: 'call_request', target_username: 'bob' });
    b.send({ type: 'call_request', target_username: 'alice' });
    // Collect everything both heard (a second round trip catches a ring placed after the first).
    const heard = async (me: TestClient) => [...(await quiet(me)), ...(await quiet(me))].filter((f) => f.type !== 'online_users');
    const [fa, fb] = [await heard(a), await heard(b), await heard(a)].reduce<[Frame[], Frame[]]>(
      ([xa, xb], fs, i) => (i === 1 ? [xa, [...xb, ...fs]] : [[...xa, ...fs], xb]),
      [[], []],
    );
    const rings = [...fa, ...fb].filter((f) => f.type === 'incoming_call');
    // Never two rings (each would believe the other is calling it), and nobody is left unanswered.
    assert.ok(rings.length <= 1, JSON.stringify({ fa, fb }));
    for (const f of [...fa, ...fb]) {
      const ok =
        f.type === 'incoming_call' ||
        (f.type === 'call_rejected' && f.reason === 'busy') ||
        (f.type === 'error' && f.message === 'You are already in a call');
      assert.ok(ok, JSON.stringify(f));
    }
    const ring0 = rings[0];
    if (ring0) {
      // Whoever rang can be answered: both sides agree on the call.
      const callee = fa.includes(ring0) ? a : b;
      const caller = callee === a ? b : a;
      const callerName = ring0.caller_username as string;
      assert.equal(callerName, callee === a ? 'bob' : 'alice');
      callee.send({ type: 'call_accepted', caller_username: callerName });
      await caller.next('call_accepted');
      callee.send({ type: 'call_ended', target_username: callerName });
      await caller.next('call_ended');
    } else {
      assert.equal(fa.length + fb.length, 2, 'each side was told why its call failed');
    }
    // Afterwards both are free.
    srv.clock.advance(RING_MS);
    await ring(c, 'carol', a, 'alice');
    c.send({ type: 'call_ended', target_username: 'alice' });
    await a.next('call_ended');
    await ring(c, 'carol', b, 'bob');
    await closeAll(a, b, c);
  }));

test('two callers racing for one callee: one rings, the other hears busy', () =>
  withServer(async (srv) => {
    const [a, b, c] = await trio(srv);
    a.send({ type: 'call_request', target_username: 'carol' });
    b.send({ type: 'call_request', target_username: 'carol' });
    const incoming = await c.next('incoming_call');
    const winner = incoming.caller_username === 'alice' ? a : b;
    const loser = winner === a ? b : a;
    assert.deepEqual(await loser.next('call_rejected'), { type: 'call_rejected', rejecter_username: 'carol', reason: 'busy' });
    assert.deepEqual(await quiet(c), []);
    c.send({ type: 'call_accepted', caller_username: incoming.caller_username });
    await winner.next('call_accepted');
    assert.deepEqual(await quiet(loser), []);
    await closeAll(a, b, c);
  }));

test('renaming is refused during a call, so the partner never loses track', () =>
  withServer(async (srv) => {
    const [a, b, c] = await trio(srv);
    await ring(a, 'alice', b, 'bob');
    const text = 'Cannot change username or user_id during a call';
    assert.equal(await errorText(b, { type: 'register', username: 'robert', user_id: 'bob-uuid' }), text);
    assert.equal(await errorText(a, { type: 'register', username: 'alice', user_id: 'new-id' }), text);
    b.send({ type: 'call_accepted', caller_username: 'alice' });
    await a.next('call_accepted');
    // Re-sending the same registration is harmless mid-call.
    b.send({ type: 'register', username: 'bob', user_id: 'bob-uuid' });
    await b.next('registered');
    await b.next('online_users');
    b.send({ type: 'call_ended', target_username: 'alice' });
    await a.next('call_ended');
    b.send({ type: 'register', username: 'robert', user_id: 'bob-uuid' });
    await b.next('registered');
    await closeAll(a, b, c);
  }));
