import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { SwitchboardError, type Switchboard } from 'switchboard/client';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect as raw, type Frame, type TestClient } from '../helpers/ws.js';
import { manualTimers, next, open as openSdk, record, recordingWebSocket, startProxy, tick, until, within, type Proxy, type RecordedSocket } from './harness.js';

/**
 * Reconnect and resume over real sockets: the SDK's connection runs through a TCP proxy the test
 * cuts (no close frame: a vanished network). The SDK's timers run on their own ManualClock, so a
 * backoff fires when the test advances it; nothing sleeps.
 */

const FAR = { heartbeat: { intervalMs: 1_000_000_000, timeoutMs: 2_000_000_000 } };

async function watcher(srv: TestServer, room: string): Promise<{ c: TestClient; id: string }> {
  const c = await raw(srv.ws());
  const w = await c.next('welcome');
  c.send({ type: 'join', id: 'w', room });
  await c.next('joined');
  return { c, id: w.peerId as string };
}

/** A native round trip on a raw client: every frame the server wrote before the pong has arrived. */
async function sync(c: TestClient): Promise<void> {
  c.send({ type: 'ping', id: 'sync' });
  await c.next((f) => f.type === 'pong' && f.re === 'sync');
}

/** Cuts the SDK's connection and waits until both the SDK and the server noticed. */
async function cut(srv: TestServer, proxy: Proxy, sb: Switchboard): Promise<void> {
  const before = srv.server.connections.size;
  assert.equal(proxy.cut(), 1);
  await until(() => sb.state === 'reconnecting' && srv.server.connections.size < before, 'the drop to be noticed');
}

describe('reconnect and resume', () => {
  let srv: TestServer;
  let proxy: Proxy;
  const open = async (...args: Parameters<typeof openSdk>): Promise<Switchboard> => {
    const sb = await openSdk(...args);
    opened.push(sb);
    return sb;
  };
  let opened: Switchboard[] = [];
  before(async () => {
    srv = await startServer(FAR);
  });
  beforeEach(async () => {
    proxy = await startProxy(srv.port);
    opened = [];
  });
  afterEach(async () => {
    for (const sb of opened) sb.close();
    await proxy.close();
  });
  after(() => srv.close());

  test('backoff: initialDelayMs × factor^n capped at maxDelayMs, each within ±jitter; then resumed, same peerId', async () => {
    const { WS, sockets } = recordingWebSocket();
    const { clock, timers } = manualTimers();
    const draws = [0.5, 0.5, 0.5, 0.5, 0, 1];
    const sb = await open(proxy.url(), {
      WebSocket: WS,
      timers,
      random: () => draws.shift() ?? 0.5,
      reconnect: { initialDelayMs: 100, factor: 3, maxDelayMs: 1000, jitter: 0.5 },
    });
    const peerId = sb.peerId;
    const events = record(sb, ['state', 'resumed']);
    proxy.refuse = true;
    await cut(srv, proxy, sb);
    // With jitter 0.5 and a draw of 0.5 the delay is exact: 100, 300, 900, then capped at 1000;
    // draws 0 and 1 give the ends of ±50%: 1000 × 0.5 and 1000 × 1.5.
    for (const delay of [100, 300, 900, 1000, 500]) {
      const n = sockets.length;
      clock.advance(delay - 1);
      await tick();
      assert.equal(sockets.length, n, `no attempt before ${delay} ms`);
      clock.advance(1);
      assert.equal(sockets.length, n + 1, `an attempt after ${delay} ms`);
      await until(() => sockets[n]!.readyState === 3, 'the refused attempt to close');
    }
    proxy.refuse = false;
    clock.advance(1499);
    await tick();
    assert.equal(sb.state, 'reconnecting');
    clock.advance(1);
    await until(() => events.length === 3, 'reopened and resumed');
    assert.equal(sb.peerId, peerId, 'the same session');
    assert.deepEqual(
      events.map((e) => e.type),
      ['state', 'state', 'resumed'],
    );
    assert.deepEqual(events.map((e) => e.payload).slice(0, 2), ['reconnecting', 'open']);
    // The backoff starts again from initialDelayMs after a success.
    await cut(srv, proxy, sb);
    const n = sockets.length;
    clock.advance(99);
    await tick();
    assert.equal(sockets.length, n);
    clock.advance(1);
    await until(() => sb.state === 'open', 'reopened after 100 ms');
    assert.match((sockets.at(-1) as RecordedSocket).url, new RegExp(`resume=[A-Za-z0-9_-]+&seq=\\d+`));
    sb.close();
  });

  test('a dropped socket is invisible: no peer-left, every relay sent meanwhile arrives once and in order, requests made meanwhile go out after', async () => {
    const { clock, timers } = manualTimers();
    const sb = await open(proxy.url(), { timers });
    const room = await sb.join('resume', { name: 'Ann' });
    const w = await watcher(srv, 'resume');
    await next(room, 'peer-joined');
    const got: unknown[] = [];
    room.on('signal', (e) => got.push(['signal', e.data]));
    room.on('broadcast', (e) => got.push(['broadcast', e.data]));
    const lifecycle = record(sb, ['resumed', 'session-lost', 'peer-left']);
    w.c.send({ type: 'signal', id: 's0', to: sb.peerId, data: 0 });
    await w.c.next('ack');
    await until(() => got.length === 1, 'the first relay');

    await cut(srv, proxy, sb);
    for (let i = 1; i <= 5; i++) {
      w.c.send({ type: i % 2 ? 'signal' : 'broadcast', id: `s${i}`, to: sb.peerId, room: 'resume', data: i });
      assert.equal((await w.c.next((f) => f.re === `s${i}`)).type, 'ack', 'kept for the waiting session');
    }
    const meanwhile = room.broadcast('made while away');
    clock.advance(250 * 1.5);
    await within(meanwhile, 'the broadcast made while away');
    assert.deepEqual(await w.c.next('broadcast'), { type: 'broadcast', room: 'resume', from: sb.peerId, data: 'made while away' });
    await until(() => lifecycle.length > 0, 'resumed');
    assert.deepEqual(lifecycle, [{ type: 'resumed', payload: { replayed: 5 } }]);
    assert.deepEqual(got, [['signal', 0], ['signal', 1], ['broadcast', 2], ['signal', 3], ['broadcast', 4], ['signal', 5]]);
    await sync(w.c);
    assert.deepEqual(w.c.take(), [], 'the other side saw nothing: no peer-left, no peer-joined');
    assert.equal(room.peers.size, 1);
    sb.close();
    await w.c.close();
  });

  test('a request the server never got (swallowed before the drop) is sent again after the replay', async () => {
    const { WS, sockets } = recordingWebSocket();
    const { clock, timers } = manualTimers();
    const sb = await open(proxy.url(), { WebSocket: WS, timers });
    const w = await watcher(srv, 'lost-request');
    const room = await sb.join('lost-request');
    await w.c.next('peer-joined');
    proxy.hold = true; // what the client sends from now on never reaches the server
    const signal = room.signal(w.id, 'sent into the void');
    const join = sb.join('second');
    await until(() => (sockets[0] as RecordedSocket).sent.some((f) => f.type === 'join' && f.room === 'second'), 'the SDK to send both');
    proxy.hold = false;
    await cut(srv, proxy, sb);
    clock.advance(375);
    await within(signal, 'the re-sent signal');
    assert.equal((await within(join, 'the re-sent join')).name, 'second');
    const relayed = await w.c.next('signal');
    assert.equal(relayed.data, 'sent into the void');
    await sync(w.c);
    assert.deepEqual(w.c.take(), [], 'delivered once');
    const resent = (sockets[1] as RecordedSocket).sent.map((f) => f.type);
    assert.deepEqual(resent.slice(0, 3), ['ping', 'signal', 'join'], 'the replay probe first, then the two unanswered requests');
    sb.close();
    await w.c.close();
  });

  test('a request answered before the drop is not sent again (its reply comes in the replay)', async () => {
    const { WS, sockets } = recordingWebSocket();
    const { clock, timers } = manualTimers();
    const sb = await open(proxy.url(), { WebSocket: WS, timers });
    const w = await watcher(srv, 'answered');
    const room = await sb.join('answered');
    await w.c.next('peer-joined');
    // The server gets the signal but the client loses the ack: the ack comes in the replay.
    proxy.holdDown = true;
    const signal = room.signal(w.id, 'once');
    await w.c.next('signal');
    await sync(w.c);
    await cut(srv, proxy, sb);
    proxy.holdDown = false;
    clock.advance(375);
    await within(signal, 'the replayed ack');
    await until(() => sb.state === 'open', 'resumed');
    await sb.ping();
    await sync(w.c);
    assert.deepEqual(w.c.take(), [], 'not delivered twice');
    assert.equal((sockets[1] as RecordedSocket).sent.filter((f) => f.type === 'signal').length, 0);
    sb.close();
    await w.c.close();
  });

  test('acks: received after ackEvery frames, or ackIntervalMs after the first unacknowledged one', async () => {
    const { WS, sockets } = recordingWebSocket();
    const { clock, timers } = manualTimers();
    const sb = await open(proxy.url(), { WebSocket: WS, timers, ackEvery: 4, ackIntervalMs: 1000 });
    const sent = (sockets[0] as RecordedSocket).sent;
    const acks = () => sent.filter((f) => f.type === 'received');
    await sb.join('acks'); // seq 1
    await sb.ping(); // seq 2
    assert.deepEqual(acks(), []);
    clock.advance(999);
    assert.deepEqual(acks(), []);
    clock.advance(1);
    assert.deepEqual(acks(), [{ type: 'received', seq: 2 }]);
    for (let i = 0; i < 4; i++) await sb.ping(); // seq 3..6
    assert.deepEqual(acks(), [{ type: 'received', seq: 2 }, { type: 'received', seq: 6 }], 'the fourth frame is acknowledged at once');
    clock.advance(5000);
    assert.equal(acks().length, 2, 'nothing new to acknowledge');
    sb.close();
  });

  test('session lost (the resume window passed): session-lost with the resumeError, the rooms rejoined with the same name and meta, then what waited is sent', async () => {
    const { clock, timers } = manualTimers();
    const sb = await open(proxy.url(), { timers });
    const room = await sb.join('lost', { name: 'Ann', meta: { camera: true } });
    const w = await watcher(srv, 'lost');
    await next(room, 'peer-joined');
    const previousPeerId = sb.peerId;
    const events = record(sb, ['session-lost', 'rejoined', 'resumed']);
    const roomEvents = record(room, ['peer-left', 'peer-joined']);
    await cut(srv, proxy, sb);
    srv.clock.advance(30_000); // resume.windowMs
    const left = await w.c.next('peer-left');
    assert.deepEqual(left, { type: 'peer-left', room: 'lost', peerId: previousPeerId, reason: 'disconnect' });
    const during = room.broadcast('made while the session was lost');
    clock.advance(375);
    const joined = await w.c.next('peer-joined');
    await within(during, 'the broadcast made meanwhile, sent after the rejoin');
    assert.deepEqual(await w.c.next('broadcast'), { type: 'broadcast', room: 'lost', from: sb.peerId, data: 'made while the session was lost' });
    assert.notEqual(sb.peerId, previousPeerId);
    assert.deepEqual(joined.peer, { peerId: sb.peerId, name: 'Ann', meta: { camera: true } });
    await until(() => events.length === 2, 'session-lost and rejoined');
    assert.deepEqual(events, [
      { type: 'session-lost', payload: { code: 'session-expired', previousPeerId } },
      { type: 'rejoined', payload: { rooms: ['lost'], failed: [] } },
    ]);
    // The room's roster was rebuilt: the watcher left (for this client's old session) and is back.
    assert.deepEqual(roomEvents.map((e) => [e.type, (e.payload as { reason?: string }).reason]), [
      ['peer-left', 'session-lost'],
      ['peer-joined', undefined],
    ]);
    assert.deepEqual([...room.peers.keys()], [w.id]);
    assert.equal(room.joined, true);
    // And the room works.
    await room.signal(w.id, 'after');
    assert.equal((await w.c.next('signal')).data, 'after');
    sb.close();
    await w.c.close();
  });

  test('4004 (resumed elsewhere) ends it: closed, no reconnect', async () => {
    const { WS, sockets } = recordingWebSocket();
    const { clock, timers } = manualTimers();
    const sb = await open(proxy.url(), { WebSocket: WS, timers });
    const closed = next<{ code: number }>(sb, 'closed');
    const token = (sb.welcome!.resume as { token: string }).token;
    const thief = await raw(srv.ws(`/v1?resume=${token}&seq=0`));
    assert.equal((await thief.next('welcome')).resumed, true);
    assert.equal((await closed).code, 4004);
    assert.equal(sb.state, 'closed');
    clock.advance(60_000);
    await tick();
    assert.equal(sockets.length, 1);
    await thief.close();
  });

  test('a request with no reply in requestTimeoutMs rejects with timeout', async () => {
    const { clock, timers } = manualTimers();
    const sb = await open(proxy.url(), { timers, requestTimeoutMs: 2000, reconnect: { initialDelayMs: 60_000 } });
    await cut(srv, proxy, sb);
    const p = sb.ping();
    clock.advance(1999);
    let settled = false;
    void p.catch(() => (settled = true));
    await tick();
    assert.equal(settled, false);
    clock.advance(1);
    await assert.rejects(p, (e: unknown) => e instanceof SwitchboardError && e.code === 'timeout');
    sb.close();
  });
});

describe('goaway', () => {
  test('after goaway the 1001 close is followed by an attempt at once, without the backoff', async () => {
    const srv = await startServer({ drainTimeoutMs: 10_000, ...FAR });
    const { WS, sockets } = recordingWebSocket();
    const { timers } = manualTimers();
    const sb = await openSdk(srv.ws(), { WebSocket: WS, timers });
    const goaway = next<{ reconnectMs: number }>(sb, 'goaway');
    const stopping = srv.server.stop();
    const g = await goaway;
    assert.equal(typeof g.reconnectMs, 'number');
    srv.clock.advance(10_000);
    await until(() => sockets.length === 2, 'the attempt after 1001, with no SDK timer advanced');
    sb.close();
    await stopping;
  });
});

export type { Frame };
