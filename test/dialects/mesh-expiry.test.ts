import assert from 'node:assert/strict';
import { setImmediate as turn } from 'node:timers/promises';
import { describe, test, type TestContext } from 'node:test';
import type { DeepPartial, Config } from '../../src/config.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect, type TestClient } from '../helpers/ws.js';

const PATH = '/';
const MINUTE = 60_000;

/**
 * Heartbeats are pushed out of the way: these tests move the clock by minutes, and a socket's pong
 * cannot arrive in the middle of one synchronous advance. Room expiry is what is under test.
 */
const QUIET_HEARTBEAT = { heartbeat: { intervalMs: 3_600_000, timeoutMs: 7_200_000 } };

/** A server for one test, stopped when the test ends, pass or fail (stopping closes its sockets). */
async function server(t: TestContext, overrides: DeepPartial<Config> = QUIET_HEARTBEAT): Promise<TestServer> {
  const srv = await startServer(overrides);
  t.after(() => srv.close());
  return srv;
}

/**
 * Moves the clock one sweep interval (1 s) at a time, letting each sweep finish before the next:
 * the hub skips a sweep while the previous one is still running, so one big jump would sweep once.
 */
async function elapse(srv: TestServer, ms: number): Promise<void> {
  for (let left = ms; left > 0; left -= 1000) {
    srv.clock.advance(Math.min(1000, left));
    await turn();
  }
}

interface Member {
  c: TestClient;
  myId: string;
  roomId: string;
}

async function create(srv: TestServer): Promise<Member> {
  const c = await connect(srv.ws(PATH));
  c.send({ type: 'create' });
  const f = await c.next('room_created');
  return { c, myId: f.myId as string, roomId: f.roomId as string };
}

async function join(srv: TestServer, roomId: string): Promise<Member> {
  const c = await connect(srv.ws(PATH));
  c.send({ type: 'join', roomId });
  const f = await c.next((x) => x.type === 'room_joined' || x.type === 'error');
  assert.equal(f.type, 'room_joined', JSON.stringify(f));
  return { c, myId: f.myId as string, roomId };
}

async function sync(c: TestClient): Promise<void> {
  c.send({ type: 'sync-probe' });
  await c.next((f) => f.type === 'error' && f.message === 'Unknown message type: sync-probe');
}

async function pair(srv: TestServer): Promise<[Member, Member]> {
  const a = await create(srv);
  const b = await join(srv, a.roomId);
  await a.c.next('initiate_call');
  return [a, b];
}

describe('mesh room expiry', () => {
  test('an idle room expires after 5 minutes: members get room_expired, then a 1000 "room expired" close', async (t) => {
    const srv = await server(t);
    const [a, b] = await pair(srv);
    await elapse(srv, 5 * MINUTE - 1000);
    // Frames that relay nothing do not count as activity, but prove the sockets are still up.
    await sync(a.c);
    await sync(b.c);
    assert.deepEqual([...a.c.take(), ...b.c.take()], []);
    await elapse(srv, 2000);
    for (const m of [a, b]) {
      assert.deepEqual(await m.c.next(), { type: 'room_expired', roomId: a.roomId });
      assert.deepEqual(await m.c.closed, { code: 1000, reason: 'room expired' });
    }
    assert.equal(await srv.server.hub.roomInfo('mesh', a.roomId), undefined);
    const late = await connect(srv.ws(PATH));
    late.send({ type: 'join', roomId: a.roomId });
    assert.deepEqual(await late.next(), { type: 'error', message: 'Room not found' });
    await late.close();
  });

  test('signals count as activity: a call that keeps signalling is never expired', async (t) => {
    const srv = await server(t);
    const [a, b] = await pair(srv);
    // 12 minutes, a signal every 4: well past the 5-minute idle limit in total, never idle for 5.
    for (let step = 0; step < 3; step++) {
      await elapse(srv, 4 * MINUTE);
      if (step % 2 === 0) a.c.send({ type: 'signal', targetId: b.myId, payload: `targeted ${step}` });
      else b.c.send({ type: 'signal', payload: `broadcast ${step}` });
      const to = step % 2 === 0 ? b : a;
      assert.equal((await to.c.next('signal')).payload, step % 2 === 0 ? `targeted ${step}` : `broadcast ${step}`);
    }
    await sync(a.c);
    await sync(b.c);
    assert.deepEqual([...a.c.take(), ...b.c.take()], [], 'no room_expired while the call signals');
    assert.equal(a.c.closeCode, undefined);
    assert.equal(b.c.closeCode, undefined);
    // Once the call goes quiet, the room expires as usual.
    await elapse(srv, 5 * MINUTE + 1000);
    assert.deepEqual(await a.c.next(), { type: 'room_expired', roomId: a.roomId });
    assert.equal((await b.c.closed).code, 1000);
  });

  test('rooms.idleTtlMs, when the operator sets it, replaces the 5-minute default', async (t) => {
    const srv = await server(t, { ...QUIET_HEARTBEAT, rooms: { idleTtlMs: MINUTE } });
    const a = await create(srv);
    await elapse(srv, MINUTE + 1000);
    assert.deepEqual(await a.c.next(), { type: 'room_expired', roomId: a.roomId });
    assert.deepEqual(await a.c.closed, { code: 1000, reason: 'room expired' });
  });

  test('an empty room is kept for the empty-room grace (rooms.emptyTtlMs), then its id is free', async (t) => {
    const srv = await server(t);
    const a = await create(srv);
    await a.c.close();
    await elapse(srv, 29_000);
    const b = await join(srv, a.roomId);
    await b.c.close();
    await elapse(srv, 31_000);
    assert.equal(await srv.server.hub.roomInfo('mesh', a.roomId), undefined);
    const c = await connect(srv.ws(PATH));
    c.send({ type: 'join', roomId: a.roomId });
    assert.deepEqual(await c.next(), { type: 'error', message: 'Room not found' });
    await c.close();
  });

  test('a silent connection is closed by the heartbeat with 1001, and its room hears peer_left (timeout)', async (t) => {
    const srv = await server(t, {});
    const [a, b] = await pair(srv);
    // b answers pings on its own (ws auto-pong); a is made silent by never being given a turn to pong.
    a.c.ws.pause();
    srv.clock.advance(20_000);
    await sync(b.c);
    srv.clock.advance(20_000);
    await sync(b.c);
    srv.clock.advance(20_000);
    assert.deepEqual(await b.c.next('peer_left'), { type: 'peer_left', peerId: a.myId, reason: 'timeout' });
    a.c.ws.resume();
    assert.deepEqual(await a.c.closed, { code: 1001, reason: 'heartbeat timeout' });
    await b.c.close();
  });
});
