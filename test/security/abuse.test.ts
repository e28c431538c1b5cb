import assert from 'node:assert/strict';
import { connect as tcpConnect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { CLOSE_GRACE_MS } from '../../src/server/connection.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect, type Frame, type TestClient } from '../helpers/ws.js';
import { drivers, until, wsSync, type Driver } from './drivers.js';
import { openPeer } from '../dialects/peerjs-helpers.js';

/**
 * Abuse of one connection: floods (frame and join rate limits, then a close), oversized frames,
 * a client that stops reading, a client that stops answering. Each test logs what it measured.
 */

const rejections: unknown[] = [];
const onRejection = (e: unknown) => rejections.push(e);
before(() => process.on('unhandledRejection', onRejection));
after(() => {
  process.off('unhandledRejection', onRejection);
  assert.deepEqual(rejections, []);
});

async function nativePeer(srv: TestServer, room?: string): Promise<{ c: TestClient; id: string }> {
  const c = await connect(srv.ws('/v1'));
  const id = (await c.next('welcome')).peerId as string;
  if (room) {
    c.send({ type: 'join', room });
    await c.next('joined');
  }
  return { c, id };
}

describe('frame rate limit', () => {
  test('native flood at defaults: the burst passes, then rate-limited errors, then close 4008', async () => {
    const srv = await startServer();
    const { c } = await nativePeer(srv);
    for (let i = 0; i < 400; i++) c.send({ type: 'ping', id: i });
    const closed = await c.closed;
    const pongs = c.frames.filter((f) => f.type === 'pong').length;
    const limited = c.frames.filter((f) => f.type === 'error' && f.code === 'rate-limited');
    console.log(`# flood (native, defaults): ${pongs} frames answered, ${limited.length} rate-limited errors, then close ${closed.code} "${closed.reason}" after frame ${pongs + limited.length + 1}`);
    assert.equal(pongs, 200); // rateLimits.messageBurst
    assert.equal(limited.length, 50); // rateLimits.closeAfter
    assert.deepEqual(limited[0], { type: 'error', code: 'rate-limited', message: 'Too many messages: slow down (the message was dropped).' });
    assert.deepEqual(closed, { code: 4008, reason: 'policy violation' });
    await until(() => srv.server.hub.sessions.size === 0, 'the session to close');
    await srv.close();
  });

  test('the bucket refills on the injected clock: a client at the rate is never limited', async () => {
    const srv = await startServer({ rateLimits: { messagesPerSecond: 10, messageBurst: 10 } });
    const { c } = await nativePeer(srv);
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 10; i++) c.send({ type: 'ping', id: `${round}-${i}` });
      await c.next((f) => f.re === `${round}-9`);
      srv.clock.advance(1000);
    }
    // Full again: ten pass, the eleventh is refused.
    for (let i = 0; i < 11; i++) c.send({ type: 'ping', id: `over-${i}` });
    assert.equal((await c.next((f) => f.re === 'over-9' || f.code === 'rate-limited')).type, 'pong');
    assert.equal((await c.next('error')).code, 'rate-limited');
    assert.equal(c.frames.filter((f) => f.code === 'rate-limited').length, 0);
    await c.close();
    await srv.close();
  });

  describe('every dialect renders rate-limited in its own shape, then closes with its policy code', () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer({ rateLimits: { messagesPerSecond: 1, messageBurst: 4, closeAfter: 2, closeWindowMs: 10_000 } });
    });
    after(() => srv.close());
    const expected: Record<string, { error: Frame | undefined; close: [number, string] }> = {
      native: { error: { type: 'error', code: 'rate-limited', message: 'Too many messages: slow down (the message was dropped).' }, close: [4008, 'policy violation'] },
      vc: { error: { type: 'error', error: 'rate-limited' }, close: [1008, 'policy violation'] },
      slam: { error: { type: 'error', message: 'Rate limit exceeded: slow down' }, close: [1008, 'policy violation'] },
      call: { error: { type: 'error', message: 'Too many requests, slow down' }, close: [1008, 'policy violation'] },
      mesh: { error: { type: 'error', message: 'Too many requests, slow down' }, close: [1008, 'policy violation'] },
      'slam-pair': { error: { type: 'error', message: 'Rate limit exceeded: slow down' }, close: [1008, 'policy violation'] },
      flyx: { error: { type: 'error', data: { message: 'Too many messages, slow down' } }, close: [1008, 'policy violation'] },
      'flyx-cli': { error: undefined, close: [1008, 'policy violation'] },
      // A CANDIDATE burst must not abort a Peer: dropped silently, until the flood is a policy close.
      peerjs: { error: undefined, close: [1008, 'policy violation'] },
    };
    for (const [name, want] of Object.entries(expected)) {
      test(name, async () => {
        const d = drivers(srv).find((x) => x.name === name) as Driver;
        const m = await d.open('rl');
        // open() spent up to one frame; the clock does not move, so the bucket does not refill.
        srv.clock.advance(10_000);
        m.c.take();
        const junk = { type: 'no-such-type' };
        for (let i = 0; i < 4; i++) m.c.send(junk);
        await wsSync(m.c);
        m.c.take();
        m.c.send(junk);
        await wsSync(m.c);
        const got = m.c.take();
        if (want.error) assert.deepEqual(got, [want.error]);
        else assert.deepEqual(got, []);
        m.c.send(junk);
        m.c.send(junk);
        const closed = await m.c.closed;
        assert.deepEqual([closed.code, closed.reason], want.close);
      });
    }
  });
});

describe('join rate limit (hub.join / createRoom)', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer({ rateLimits: { joinsPerSecond: 1, joinBurst: 2 } });
  });
  after(() => srv.close());

  const joins: Record<string, { open: (c: TestClient) => Promise<void>; join: (i: number) => Frame; ok: (f: Frame) => boolean; limited: Frame; path: string }> = {
    native: {
      path: '/v1',
      open: async (c) => void (await c.next('welcome')),
      join: (i) => ({ type: 'join', room: `j${i}` }),
      ok: (f) => f.type === 'joined',
      limited: { type: 'error', code: 'rate-limited', message: 'Too many joins: slow down.' },
    },
    vc: {
      path: '/ws',
      open: async (c) => void (await c.next('welcome')),
      join: (i) => ({ type: 'join', room: `j${i}` }),
      ok: (f) => f.type === 'joined',
      limited: { type: 'error', error: 'rate-limited' },
    },
    slam: {
      path: '/',
      open: async () => {},
      join: (i) => ({ type: 'register', client_id: 'jc', room_id: `j${i}` }),
      ok: (f) => f.type === 'registered',
      limited: { type: 'error', message: 'Rate limit exceeded: slow down' },
    },
    call: {
      path: '/',
      open: async () => {},
      join: (i) => ({ type: 'register', username: `ju${i}`, user_id: `ji${i}` }),
      ok: (f) => f.type === 'registered',
      limited: { type: 'error', message: 'Too many requests, slow down' },
    },
    mesh: {
      path: '/',
      open: async () => {},
      // create spends two tokens (create, then join): the burst of 2 allows one.
      join: () => ({ type: 'create' }),
      ok: (f) => f.type === 'room_created',
      limited: { type: 'error', message: 'Too many requests, slow down' },
    },
  };

  for (const [name, j] of Object.entries(joins)) {
    test(`${name}: joins past the burst are rate-limited in the dialect's words; the clock refills`, async () => {
      const c = await connect(srv.ws(j.path));
      await j.open(c);
      const allowed = name === 'mesh' ? 1 : 2;
      for (let i = 0; i < allowed; i++) {
        c.send(j.join(i));
        assert.ok(j.ok(await c.next((f) => f.type !== 'online_users' && f.type !== 'peer-left')), `${name}: join ${i}`);
      }
      c.send(j.join(allowed));
      assert.deepEqual(await c.next('error'), j.limited);
      srv.clock.advance(name === 'mesh' ? 2000 : 1000);
      c.send(j.join(allowed + 1));
      assert.ok(j.ok(await c.next((f) => f.type !== 'online_users' && f.type !== 'peer-left')));
      await c.close();
    });
  }
});

describe('PeerJS mailboxes (messages to ids that are not connected)', () => {
  test('bounded per destination and per sender; every sender of a dropped or expired message hears one EXPIRE per destination', async () => {
    const srv = await startServer({ peerjs: { maxQueuedPerPeer: 3 }, rateLimits: { messagesPerSecond: 0 }, heartbeat: { intervalMs: 3_600_000, timeoutMs: 7_200_000 } });
    const mallory = await openPeer(srv, 'mallory');
    // 10 messages each to 10 ids nobody holds: 3 kept for each of the first 3 ids, nothing for the rest.
    for (let d = 0; d < 10; d++) for (let i = 0; i < 10; i++) mallory.send({ type: 'CANDIDATE', dst: `ghost-${d}`, payload: 'x'.repeat(1000) });
    await wsSync(mallory);
    const kept = await Promise.all([0, 1, 2, 3].map(async (d) => {
      const g = await openPeer(srv, `ghost-${d}`);
      await wsSync(g);
      const n = g.take().length;
      await g.close();
      return n;
    }));
    console.log(`# peerjs mailbox flood: 100 messages to 10 absent ids; kept per id: ${kept.join(', ')}`);
    assert.deepEqual(kept, [3, 3, 3, 0]);
    srv.clock.advance(5_000);
    await until(() => mallory.frames.length >= 10, 'the EXPIREs');
    await wsSync(mallory);
    const expired = mallory.take().map((f) => (f.type === 'EXPIRE' ? f.src : f.type)).sort();
    assert.deepEqual(expired, Array.from({ length: 10 }, (_, d) => `ghost-${d}`).sort());
    await mallory.close();
    await srv.close();
  });
});

describe('size limits', () => {
  test('a frame over limits.maxFrameBytes closes with 1009; one over maxMessageBytes is an error and the socket stays', async () => {
    const srv = await startServer({ limits: { maxFrameBytes: 4096, maxMessageBytes: 1024 } });
    const { c } = await nativePeer(srv);
    c.send({ type: 'ping', pad: 'x'.repeat(2000) });
    assert.equal((await c.next('error')).code, 'message-too-large');
    c.send({ type: 'ping', pad: 'x'.repeat(5000) });
    assert.equal((await c.closed).code, 1009);
    await until(() => srv.server.hub.sessions.size === 0, 'the session to close');
    await srv.close();
  });

  test('rooms per connection and peers per room', async () => {
    const srv = await startServer({ rooms: { maxRoomsPerPeer: 2, maxPeers: 2 } });
    const a = await nativePeer(srv);
    for (const room of ['r1', 'r2']) {
      a.c.send({ type: 'join', room });
      await a.c.next('joined');
    }
    a.c.send({ type: 'join', room: 'r3' });
    assert.equal((await a.c.next('error')).code, 'too-many-rooms');
    const b = await nativePeer(srv, 'r1');
    const x = await nativePeer(srv);
    x.c.send({ type: 'join', room: 'r1' });
    assert.equal((await x.c.next('error')).code, 'room-full');
    // The same caps in a seed dialect: vc's third member is refused in vc's words.
    const v = await Promise.all([0, 1, 2].map(() => connect(srv.ws('/ws'))));
    for (const [i, c] of v.entries()) {
      c.send({ type: 'join', room: 'vr', name: `v${i}` });
      const f = await c.next((f) => f.type === 'joined' || f.type === 'error');
      assert.equal(f.type === 'error' ? f.error : f.type, i < 2 ? 'joined' : 'room-full');
    }
    for (const c of [a.c, b.c, x.c, ...v]) await c.close();
    await srv.close();
  });

  test('names: every dialect that takes a name or id bounds its length', async () => {
    const srv = await startServer({ limits: { maxNameLength: 8 } });
    const long = 'n'.repeat(9);
    const n = await nativePeer(srv);
    n.c.send({ type: 'join', room: 'r', name: long });
    assert.equal((await n.c.next('error')).code, 'invalid-message');
    n.c.send({ type: 'join', room: 'r'.repeat(129) });
    assert.equal((await n.c.next('error')).code, 'invalid-message');
    const v = await connect(srv.ws('/ws'));
    v.send({ type: 'join', room: 'r'.repeat(129) });
    assert.equal((await v.next('error')).error, 'invalid "room"');
    v.send({ type: 'join', room: 'r', name: long });
    const vj = await v.next('joined');
    assert.equal(vj.room, 'r');
    const s = await connect(srv.ws('/'));
    s.send({ type: 'register', client_id: long });
    assert.equal((await s.next('error')).message, 'Invalid client_id: longer than 8 characters');
    const c = await connect(srv.ws('/'));
    c.send({ type: 'register', username: long, user_id: 'u' });
    assert.equal((await c.next('error')).message, 'username too long (max 8 characters)');
    for (const x of [n.c, v, s, c]) await x.close();
    await srv.close();
  });
});

/** A raw WebSocket handshake over TCP: a client that can stop reading and never answer anything. */
async function rawWebSocket(port: number, path: string): Promise<Socket> {
  const sock = tcpConnect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  await new Promise<void>((resolve) => {
    let head = '';
    const onData = (d: Buffer) => {
      head += d.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        sock.off('data', onData);
        resolve();
      }
    };
    sock.on('data', onData);
  });
  return sock;
}

describe('slow and dead clients', () => {
  test('a client that stops reading: closed as a slow consumer, server buffer bounded, socket freed after the grace', async () => {
    const bound = 256 * 1024;
    const srv = await startServer({ limits: { maxBufferedBytes: bound }, rateLimits: { messagesPerSecond: 0 } });
    const sender = await nativePeer(srv, 'slow');
    const senderConn = [...srv.server.connections][0]!;
    const stuck = await rawWebSocket(srv.port, '/v1');
    stuck.pause(); // never reads again
    await until(() => srv.server.connections.size === 2, 'the stuck connection');
    const conn = [...srv.server.connections].find((c) => c !== senderConn)!;
    const stuckId = conn.session!.id;
    // Join the stuck socket to the room from the server side: it cannot speak for itself.
    await srv.server.hub.join(conn.session!, 'slow');
    await sender.c.next('peer-joined');
    const payload = 'z'.repeat(60_000);
    let sent = 0;
    let maxBuffered = 0;
    while (srv.server.hub.sessions.has(stuckId) && conn.ws.readyState === WebSocket.OPEN && sent < 2000) {
      sender.c.send({ type: 'broadcast', room: 'slow', data: payload });
      sent++;
      sender.c.send({ type: 'ping', id: sent });
      await sender.c.next((f) => f.re === sent);
      maxBuffered = Math.max(maxBuffered, conn.ws.bufferedAmount);
    }
    const atClose = conn.ws.bufferedAmount;
    console.log(`# never-reading client: closed after ${sent} broadcasts of 60 kB (${((sent * 60_000) / 1e6).toFixed(1)} MB sent, the rest sat in kernel buffers); server-side buffered max ${maxBuffered} B, ${atClose} B at close (bound ${bound} B)`);
    assert.ok(sent < 2000, 'the slow consumer was closed');
    assert.ok(maxBuffered <= bound + 61_000, `buffer ${maxBuffered} stays under the bound plus one frame`);
    assert.notEqual(conn.ws.readyState, WebSocket.OPEN);
    // It never reads the close frame either: the grace timer cuts it on the injected clock.
    assert.equal(srv.server.connections.has(conn), true);
    srv.clock.advance(CLOSE_GRACE_MS);
    await until(() => !srv.server.connections.has(conn), 'the stuck socket to be cut');
    assert.equal(srv.server.hub.sessions.has(stuckId), false);
    stuck.destroy();
    await sender.c.close();
    await srv.close();
  });

  test('two clients that stop reading, fed one shared frame per broadcast: both closed as slow consumers, buffers bounded', async () => {
    // Resume off: every broadcast is the same text for both, so they get the same prepared frame
    // (src/server/shared-frames.ts), which bufferedAmount must count like a ws.send.
    const bound = 256 * 1024;
    const srv = await startServer({ limits: { maxBufferedBytes: bound }, rateLimits: { messagesPerSecond: 0 }, resume: { windowMs: 0 } });
    const sender = await nativePeer(srv, 'slow-shared');
    const senderConn = [...srv.server.connections][0]!;
    const stuck = [await rawWebSocket(srv.port, '/v1'), await rawWebSocket(srv.port, '/v1')];
    for (const s of stuck) s.pause();
    await until(() => srv.server.connections.size === 3, 'the stuck connections');
    const conns = [...srv.server.connections].filter((c) => c !== senderConn);
    for (const c of conns) {
      await srv.server.hub.join(c.session!, 'slow-shared');
      await sender.c.next('peer-joined');
    }
    const payload = 'z'.repeat(60_000);
    let sent = 0;
    let maxBuffered = 0;
    while (conns.some((c) => c.ws.readyState === WebSocket.OPEN) && sent < 2000) {
      sender.c.send({ type: 'broadcast', room: 'slow-shared', data: payload });
      sent++;
      sender.c.send({ type: 'ping', id: sent });
      await sender.c.next((f) => f.re === sent);
      for (const c of conns) maxBuffered = Math.max(maxBuffered, c.ws.bufferedAmount);
    }
    assert.ok(sent < 2000, 'both slow consumers were closed');
    assert.ok(maxBuffered <= bound + 61_000, `buffer ${maxBuffered} stays under the bound plus one frame`);
    for (const c of conns) assert.notEqual(c.ws.readyState, WebSocket.OPEN);
    srv.clock.advance(CLOSE_GRACE_MS);
    await until(() => conns.every((c) => !srv.server.connections.has(c)), 'the stuck sockets to be cut');
    for (const s of stuck) s.destroy();
    await sender.c.close();
    await srv.close();
  });

  test('a slow consumer leaves its rooms the moment it is declared one, not when its socket finally goes', async () => {
    const bound = 256 * 1024;
    const srv = await startServer({ limits: { maxBufferedBytes: bound }, rateLimits: { messagesPerSecond: 0 } });
    const sender = await nativePeer(srv, 'slow2');
    const senderConn = [...srv.server.connections][0]!;
    const stuck = await rawWebSocket(srv.port, '/v1');
    stuck.pause();
    await until(() => srv.server.connections.size === 2, 'the stuck connection');
    const conn = [...srv.server.connections].find((c) => c !== senderConn)!;
    const stuckId = conn.session!.id;
    await srv.server.hub.join(conn.session!, 'slow2');
    await sender.c.next('peer-joined');
    const payload = 'z'.repeat(60_000);
    let sent = 0;
    while (conn.ws.readyState === WebSocket.OPEN && sent < 2000) {
      sender.c.send({ type: 'broadcast', room: 'slow2', data: payload });
      sent++;
      sender.c.send({ type: 'ping', id: sent });
      await sender.c.next((f) => f.re === sent);
    }
    assert.ok(sent < 2000, 'the slow consumer was declared');
    // The clock does not move: the close grace has not run, the socket is still held open.
    assert.equal(srv.server.connections.has(conn), true, 'its socket is still in its close grace');
    assert.deepEqual(await sender.c.next('peer-left'), { type: 'peer-left', room: 'slow2', peerId: stuckId, reason: 'disconnect' });
    assert.equal(srv.server.hub.sessions.has(stuckId), false);
    sender.c.send({ type: 'signal', id: 'to-stuck', to: stuckId, data: 'x' });
    const answer = await sender.c.next((f) => f.re === 'to-stuck');
    assert.deepEqual([answer.type, answer.code], ['error', 'peer-not-found'], 'a signal to it is refused, not acked and dropped');
    const late = await nativePeer(srv);
    late.c.send({ type: 'join', room: 'slow2' });
    const roster = (await late.c.next('joined')).peers as { peerId: string }[];
    assert.deepEqual(roster.map((p) => p.peerId), [sender.id], 'a newcomer does not see it in the roster');
    srv.clock.advance(CLOSE_GRACE_MS);
    await until(() => !srv.server.connections.has(conn), 'the stuck socket to be cut');
    stuck.destroy();
    await sender.c.close();
    await late.c.close();
    await srv.close();
  });

  test('a client that stops answering pings is reaped by the heartbeat (4000); its room hears reason timeout', async () => {
    // Resume off: the session ends with its socket (with resume on it waits first: native-resume.test.ts).
    const srv = await startServer({ resume: { windowMs: 0 } });
    const alive = await nativePeer(srv, 'hb');
    // autoPong off: the socket is open but answers nothing, like a peer whose network vanished.
    const mute = await connect(srv.ws('/v1'), { autoPong: false });
    const muteId = (await mute.next('welcome')).peerId as string;
    mute.send({ type: 'join', room: 'hb' });
    await mute.next('joined');
    await alive.c.next('peer-joined');
    let pings = 0;
    mute.ws.on('ping', () => pings++);
    // The live one answers pings by itself (ws autoPong); the mute one goes silent from here.
    for (let t = 0; t < 60_000; t += 20_000) {
      srv.clock.advance(20_000);
      await wsSync(alive.c);
    }
    assert.deepEqual(await alive.c.next('peer-left'), { type: 'peer-left', room: 'hb', peerId: muteId, reason: 'timeout' });
    assert.deepEqual(await mute.closed, { code: 4000, reason: 'heartbeat timeout' });
    console.log(`# half-open client: ${pings} pings unanswered, reaped at 60 s of silence (close 4000)`);
    assert.equal(srv.server.hub.sessions.size, 1);
    await alive.c.close();
    await srv.close();
  });

  test('a truly dead socket (never reads, never answers the close) is cut after the heartbeat close plus the grace', async () => {
    // Resume off: the session ends with its socket (with resume on it waits first: native-resume.test.ts).
    const srv = await startServer({ resume: { windowMs: 0 } });
    const dead = await rawWebSocket(srv.port, '/v1');
    dead.pause();
    await until(() => srv.server.hub.sessions.size === 1, 'the session');
    srv.clock.advance(60_000);
    assert.equal(srv.server.hub.sessions.size, 0);
    assert.equal(srv.server.connections.size, 1); // close frame sent, no answer yet
    srv.clock.advance(CLOSE_GRACE_MS);
    await until(() => srv.server.connections.size === 0, 'the dead socket to be cut');
    dead.destroy();
    await srv.close();
  });
});
