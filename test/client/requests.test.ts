import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SwitchboardError, type Room } from 'switchboard/client';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect as raw } from '../helpers/ws.js';
import { manualTimers, next, open, record, recordingWebSocket } from './harness.js';

/**
 * The SDK's requests against a real server: each resolves with its reply or rejects with a
 * SwitchboardError carrying the server's code; rosters and events follow the server's frames.
 */

describe('requests and typed errors', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer({ iceServers: [{ urls: 'stun:stun.test:3478' }] });
  });
  after(() => srv.close());

  test('connect resolves on welcome: peerId, iceServers, state', async () => {
    const sb = await open(srv.ws());
    assert.match(sb.peerId, /^[A-Za-z0-9_-]{22}$/);
    assert.deepEqual(sb.iceServers, [{ urls: 'stun:stun.test:3478' }]);
    assert.equal(sb.state, 'open');
    sb.close();
    assert.equal(sb.state, 'closed');
  });

  test('join, roster, peer-joined/peer-left, signal, broadcast, leave, ping, createRoom', async () => {
    const a = await open(srv.ws());
    const b = await open(srv.ws());
    try {
      const ra = await a.join('standup', { name: 'Ann', meta: { camera: true } });
      assert.equal(ra.name, 'standup');
      assert.equal(ra.peers.size, 0);
      const joinedA = next<{ peer: { peerId: string } }>(ra, 'peer-joined');
      const rb = await b.join('standup', { name: 'Bob' });
      assert.deepEqual([...rb.peers.values()], [{ peerId: a.peerId, name: 'Ann', meta: { camera: true } }]);
      assert.equal((await joinedA).peer.peerId, b.peerId);
      assert.deepEqual(ra.peers.get(b.peerId), { peerId: b.peerId, name: 'Bob' });

      const gotSignal = next<{ from: string; room: string; data: unknown }>(rb, 'signal');
      const sbSignal = next<{ from: string }>(b, 'signal');
      assert.equal(await ra.signal(b.peerId, { hello: 1 }), undefined, 'resolves once acked');
      assert.deepEqual(await gotSignal, { from: a.peerId, room: 'standup', data: { hello: 1 } });
      assert.equal((await sbSignal).from, a.peerId, 'the connection emits it too');

      const gotBroadcast = next<{ from: string; data: unknown }>(ra, 'broadcast');
      await b.broadcast('standup', 'all');
      assert.deepEqual(await gotBroadcast, { from: b.peerId, room: 'standup', data: 'all' });
      await b.signal(a.peerId, 'no room given');

      const rtt = await a.ping();
      assert.equal(typeof rtt, 'number');

      const id = await a.createRoom({ capacity: 1 });
      assert.match(id, /^[A-Za-z0-9_-]{22}$/);
      await a.join(id);
      await assert.rejects(b.join(id), (e: unknown) => e instanceof SwitchboardError && e.code === 'room-full' && typeof e.message === 'string');

      const left = next<{ peerId: string; reason: string }>(ra, 'peer-left');
      const closedB = next<{ reason: string }>(rb, 'closed');
      await rb.leave();
      assert.deepEqual(await left, { room: 'standup', peerId: b.peerId, reason: 'left' });
      assert.deepEqual(await closedB, { reason: 'left' });
      assert.equal(ra.peers.size, 0);
      assert.equal(rb.joined, false);
      assert.equal(b.joinedRooms.has('standup'), false);
    } finally {
      a.close();
      b.close();
    }
  });

  test('errors carry the server code: already-in-room, not-in-room, peer-not-found, invalid-message', async () => {
    const a = await open(srv.ws());
    try {
      await a.join('errs');
      const is = (code: string) => (e: unknown) => e instanceof SwitchboardError && e.code === code && (e.frame as { code?: string }).code === code;
      await assert.rejects(a.join('errs'), is('already-in-room'));
      await assert.rejects(a.leave('nowhere'), is('not-in-room'));
      await assert.rejects(a.broadcast('nowhere', 1), is('not-in-room'));
      await assert.rejects(a.signal('AAAAAAAAAAAAAAAAAAAAAA', 1), is('peer-not-found'));
      await assert.rejects(a.join(''), is('invalid-message'));
      assert.equal(a.state, 'open', 'errors leave the connection open');
    } finally {
      a.close();
    }
  });

  test('the Room signal event never carries the call helper\'s {sbcall: 1} signals', async () => {
    const a = await open(srv.ws());
    const b = await open(srv.ws());
    try {
      await a.join('ns');
      const rb: Room = await b.join('ns');
      const seen = record(rb, ['signal']);
      const seenSb = record(b, ['signal']);
      await a.signal(b.peerId, { sbcall: 1, candidate: { candidate: '' } }, 'ns');
      await a.signal(b.peerId, { app: true }, 'ns');
      await b.ping(); // both relays arrived before the pong
      assert.deepEqual(seen.map((e) => e.payload), [{ from: a.peerId, room: 'ns', data: { app: true } }]);
      assert.deepEqual(seenSb.map((e) => e.payload), [{ from: a.peerId, room: 'ns', data: { app: true } }]);
    } finally {
      a.close();
      b.close();
    }
  });

  test('close() is clean: the others hear peer-left at once, pending requests reject with closed, no reconnect', async () => {
    const { WS, sockets } = recordingWebSocket();
    const { clock, timers } = manualTimers();
    const a = await open(srv.ws(), { WebSocket: WS, timers });
    const watcher = await raw(srv.ws());
    watcher.send({ type: 'join', id: 1, room: 'bye' });
    await watcher.next('joined');
    await a.join('bye');
    await watcher.next('peer-joined');
    const states = record(a, ['state', 'closed']);
    const pending = a.ping();
    a.close();
    await assert.rejects(pending, (e: unknown) => e instanceof SwitchboardError && e.code === 'closed');
    const left = await watcher.next('peer-left');
    assert.equal(left.peerId, a.peerId);
    assert.deepEqual(states.map((e) => e.type), ['state', 'closed']);
    assert.deepEqual(states[1]!.payload, { code: 1000, reason: 'client closed' });
    clock.advance(60_000);
    assert.equal(sockets.length, 1, 'no reconnect after the app closed');
    await assert.rejects(a.ping(), (e: unknown) => e instanceof SwitchboardError && e.code === 'closed');
    await watcher.close();
  });

  test('connect rejects with connect-failed when the first connection fails', async () => {
    const gone = await startServer();
    const url = gone.ws();
    await gone.close();
    await assert.rejects(open(url), (e: unknown) => e instanceof SwitchboardError && e.code === 'connect-failed');
  });
});
