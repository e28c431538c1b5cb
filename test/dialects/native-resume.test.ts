import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import WebSocket from 'ws';
import { CLOSE_GRACE_MS } from '../../src/server/connection.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect, TestClient, type Frame } from '../helpers/ws.js';
import { until } from '../security/drivers.js';
import { SECRET, sign } from '../security/auth-tokens.js';

/**
 * Session resume on one node (docs/protocol.md, Resume): seq on every frame, a dropped socket keeps
 * its session, a resume replays what was missed once and in order, the window, the buffer bound,
 * clean closes, takeovers and the failure codes. Time moves only on the injected clock.
 */

interface Peer {
  c: TestClient;
  id: string;
  token: string;
  welcome: Frame;
}

async function open(srv: TestServer, query = '', opts: WebSocket.ClientOptions = {}): Promise<Peer> {
  const c = await connect(srv.ws(`/v1${query}`), opts);
  const welcome = await c.next('welcome');
  const resume = welcome.resume as { token: string } | undefined;
  return { c, id: welcome.peerId as string, token: resume?.token ?? '', welcome };
}

async function joinRoom(p: Peer, room: string): Promise<Frame> {
  p.c.send({ type: 'join', id: `j-${room}`, room });
  return p.c.next('joined');
}

/** The highest seq this client has seen among the frames it consumed or holds. */
function lastSeq(frames: Frame[]): number {
  return Math.max(0, ...frames.map((f) => (typeof f.seq === 'number' ? f.seq : 0)));
}

/** Drops the socket without a close frame, as a vanished network does; resolves once the server noticed. */
async function drop(srv: TestServer, p: Peer): Promise<void> {
  const before = srv.server.connections.size;
  p.c.ws.terminate();
  await until(() => srv.server.connections.size < before, 'the server to notice the drop');
}

describe('seq and the welcome', () => {
  test('welcome carries resume {token, windowMs}; every later frame carries seq 1, 2, 3… whatever its kind', async () => {
    const srv = await startServer();
    try {
      const a = await open(srv);
      assert.match(a.token, /^[A-Za-z0-9_-]{22,}$/, 'at least 128 bits, url-safe');
      assert.deepEqual(a.welcome.resume, { token: a.token, windowMs: 30_000 });
      assert.equal(a.welcome.seq, undefined, 'the welcome itself is not numbered');
      assert.equal(a.welcome.resumed, undefined, 'no resume was asked for');
      const b = await open(srv);
      const got: Frame[] = [await joinRoom(a, 'seq')];
      await joinRoom(b, 'seq');
      got.push(await a.c.next('peer-joined'));
      a.c.send({ type: 'ping', id: 1 });
      got.push(await a.c.next('pong'));
      a.c.send({ type: 'nope' });
      got.push(await a.c.next('error'));
      b.c.send({ type: 'signal', to: a.id, data: 'x' });
      got.push(await a.c.next('signal'));
      b.c.send({ type: 'broadcast', room: 'seq', data: 'y' });
      got.push(await a.c.next('broadcast'));
      assert.deepEqual(got.map((f) => f.seq), [1, 2, 3, 4, 5, 6]);
      await a.c.close();
      await b.c.close();
    } finally {
      await srv.close();
    }
  });

  test('resume.windowMs 0 turns it off: no resume in welcome, no seq, and a dropped socket leaves at once', async () => {
    const srv = await startServer({ resume: { windowMs: 0 } });
    try {
      const a = await open(srv);
      assert.equal(a.welcome.resume, undefined);
      const b = await open(srv);
      await joinRoom(a, 'off');
      await joinRoom(b, 'off');
      assert.equal(b.c.raw.some((r) => r.includes('"seq"')), false);
      await drop(srv, a);
      assert.deepEqual(await b.c.next('peer-left'), { type: 'peer-left', room: 'off', peerId: a.id, reason: 'disconnect' });
      const again = await open(srv, `?resume=${a.token || 'x'}&seq=0`);
      assert.deepEqual([again.welcome.resumed, again.welcome.resumeError], [false, 'resume-disabled']);
      await b.c.close();
      await again.c.close();
    } finally {
      await srv.close();
    }
  });
});

describe('resuming after a drop', () => {
  test('a dropped socket keeps its session: no peer-left, relays acked and kept, then replayed once and in order on resume', async () => {
    const srv = await startServer();
    try {
      const a = await open(srv);
      const b = await open(srv);
      await joinRoom(a, 'r1');
      await joinRoom(b, 'r1');
      await a.c.next('peer-joined');
      b.c.send({ type: 'signal', to: a.id, data: { n: 0 } });
      const first = await a.c.next('signal');
      await drop(srv, a);
      // While it is away: relays to it are accepted, nobody hears it left.
      for (let n = 1; n <= 3; n++) b.c.send({ type: 'signal', id: n, to: a.id, data: { n } });
      for (let n = 1; n <= 3; n++) assert.deepEqual(await b.c.next((f) => f.re === n), { type: 'ack', re: n });
      b.c.send({ type: 'ping', id: 'sync' });
      await b.c.next('pong');
      assert.equal(b.c.take().some((f) => f.type === 'peer-left'), false, 'no peer-left while it may come back');
      const back = await open(srv, `?resume=${a.token}&seq=${first.seq as number}`);
      assert.equal(back.welcome.resumed, true);
      assert.equal(back.id, a.id, 'the same peerId');
      assert.notEqual(back.token, a.token, 'a fresh token');
      assert.equal(back.welcome.resumeError, undefined);
      const missed = [await back.c.next(), await back.c.next(), await back.c.next()];
      assert.deepEqual(missed.map((f) => [f.type, (f.data as { n: number }).n, f.seq]), [
        ['signal', 1, (first.seq as number) + 1],
        ['signal', 2, (first.seq as number) + 2],
        ['signal', 3, (first.seq as number) + 3],
      ]);
      // Then live traffic, numbered on.
      b.c.send({ type: 'signal', to: a.id, data: { n: 4 } });
      const live = await back.c.next('signal');
      assert.deepEqual([live.data, live.seq], [{ n: 4 }, (first.seq as number) + 4]);
      // Still in its room, under its id: a broadcast reaches it, its own relay reaches b from the same id.
      back.c.send({ type: 'signal', to: b.id, data: 'hello again' });
      assert.deepEqual(await b.c.next('signal'), { type: 'signal', from: a.id, room: 'r1', data: 'hello again' });
      await back.c.close();
      assert.equal((await b.c.next('peer-left')).reason, 'disconnect', 'a clean close leaves at once');
      await b.c.close();
    } finally {
      await srv.close();
    }
  });

  test('a burst of several hundred signals cut mid-way by a drop arrives complete, once each, in order after the resume', async () => {
    const srv = await startServer({ rateLimits: { messagesPerSecond: 0 } });
    try {
      const a = await open(srv);
      const b = await open(srv);
      await joinRoom(a, 'burst');
      await joinRoom(b, 'burst');
      await a.c.next('peer-joined');
      const total = 600;
      let cutAt = -1;
      const seen: number[] = [];
      let highest = 0;
      a.c.ws.on('message', (d) => {
        const f = JSON.parse(d.toString()) as Frame;
        if (f.type !== 'signal') return;
        highest = f.seq as number;
        seen.push((f.data as { n: number }).n);
        // Cut the socket from under it mid-way, as a network does: no close frame.
        if (seen.length === 200) {
          cutAt = highest;
          a.c.ws.terminate();
        }
      });
      for (let n = 0; n < total; n++) b.c.send({ type: 'signal', to: a.id, data: { n } });
      b.c.send({ type: 'ping', id: 'end' });
      await b.c.next((f) => f.re === 'end');
      await until(() => srv.server.hub.sessions.get(a.id)?.attached === false, 'the session to be waiting');
      assert.ok(cutAt > 0);
      const back = await open(srv, `?resume=${a.token}&seq=${highest}`);
      assert.equal(back.welcome.resumed, true);
      const rest: Frame[] = [];
      while (seen.length + rest.length < total) rest.push(await back.c.next('signal'));
      const all = [...seen, ...rest.map((f) => (f.data as { n: number }).n)];
      assert.deepEqual(all, Array.from({ length: total }, (_, n) => n), 'every signal once, in order');
      const seqs = rest.map((f) => f.seq as number);
      assert.deepEqual(seqs, Array.from({ length: rest.length }, (_, i) => highest + 1 + i), 'seq continuous across the resume');
      back.c.send({ type: 'ping', id: 'after' });
      await back.c.next('pong');
      assert.deepEqual(back.c.take().filter((f) => f.type === 'signal'), [], 'nothing doubled');
      await back.c.close();
      await b.c.close();
    } finally {
      await srv.close();
    }
  });

  test('no resume within resume.windowMs: the others hear peer-left (disconnect) then, and a late resume fails with session-expired', async () => {
    const srv = await startServer({ resume: { windowMs: 5_000 } });
    try {
      const a = await open(srv);
      const b = await open(srv);
      await joinRoom(a, 'win');
      await joinRoom(b, 'win');
      await drop(srv, a);
      srv.clock.advance(4_999);
      b.c.send({ type: 'ping', id: 'p' });
      await b.c.next('pong');
      assert.equal(b.c.take().some((f) => f.type === 'peer-left'), false);
      srv.clock.advance(1);
      assert.deepEqual(await b.c.next('peer-left'), { type: 'peer-left', room: 'win', peerId: a.id, reason: 'disconnect' });
      const late = await open(srv, `?resume=${a.token}&seq=1`);
      assert.deepEqual([late.welcome.resumed, late.welcome.resumeError], [false, 'session-expired']);
      assert.notEqual(late.id, a.id, 'a fresh session');
      assert.ok(late.token, 'which is resumable itself');
      late.c.send({ type: 'signal', id: 1, to: b.id, data: 'x' });
      assert.equal((await late.c.next((f) => f.re === 1)).code, 'peer-not-found', 'it has no rooms: the client must rejoin');
      await late.c.close();
      await b.c.close();
    } finally {
      await srv.close();
    }
  });

  test('a clean close (a close frame) leaves at once; its token then reads session-ended', async () => {
    const srv = await startServer();
    try {
      const a = await open(srv);
      const b = await open(srv);
      await joinRoom(a, 'bye');
      await joinRoom(b, 'bye');
      await a.c.close(1000);
      assert.deepEqual(await b.c.next('peer-left'), { type: 'peer-left', room: 'bye', peerId: a.id, reason: 'disconnect' });
      const again = await open(srv, `?resume=${a.token}&seq=0`);
      assert.deepEqual([again.welcome.resumed, again.welcome.resumeError], [false, 'session-ended']);
      await again.c.close();
      await b.c.close();
    } finally {
      await srv.close();
    }
  });

  test('a heartbeat-dead socket (4000) leaves its session waiting too; the client resumes it', async () => {
    const srv = await startServer({ heartbeat: { intervalMs: 1000, timeoutMs: 3000 } });
    try {
      const b = await open(srv);
      const mute = await open(srv, '', { autoPong: false });
      await joinRoom(b, 'hb');
      await joinRoom(mute, 'hb');
      await b.c.next('peer-joined');
      for (let i = 0; i < 3; i++) {
        srv.clock.advance(1000);
        b.c.send({ type: 'ping', id: `k${i}` });
        await b.c.next('pong');
      }
      assert.equal((await mute.c.closedWithin()).code, 4000);
      assert.equal(srv.server.hub.sessions.get(mute.id)?.attached, false);
      b.c.send({ type: 'signal', id: 's', to: mute.id, data: 'while away' });
      assert.equal((await b.c.next((f) => f.re === 's')).type, 'ack');
      assert.equal(b.c.take().some((f) => f.type === 'peer-left'), false);
      const back = await open(srv, `?resume=${mute.token}&seq=${lastSeq([...mute.c.take()])}`);
      assert.equal(back.welcome.resumed, true);
      assert.equal((await back.c.next('signal')).data, 'while away');
      await back.c.close();
      await b.c.close();
    } finally {
      await srv.close();
    }
  });

  test('a resume while the old socket still looks open takes the session over: old closed 4004, nothing lost or doubled', async () => {
    const srv = await startServer({ rateLimits: { messagesPerSecond: 0 } });
    try {
      const a = await open(srv);
      const b = await open(srv);
      await joinRoom(a, 'take');
      await joinRoom(b, 'take');
      await a.c.next('peer-joined');
      for (let n = 0; n < 50; n++) b.c.send({ type: 'signal', to: a.id, data: n });
      b.c.send({ type: 'ping', id: 'x' });
      await b.c.next('pong');
      const got: number[] = [];
      let highest = 0;
      // The old socket reads the first 20 and then, as far as the client knows, goes quiet.
      for (let i = 0; i < 20; i++) {
        const f = await a.c.next('signal');
        got.push(f.data as number);
        highest = f.seq as number;
      }
      const back = await open(srv, `?resume=${a.token}&seq=${highest}`);
      assert.equal(back.welcome.resumed, true);
      assert.deepEqual(await a.c.closedWithin(), { code: 4004, reason: 'session resumed on another connection' });
      for (let n = 50; n < 60; n++) b.c.send({ type: 'signal', to: a.id, data: n });
      while (got.length < 60) got.push((await back.c.next('signal')).data as number);
      assert.deepEqual(got, Array.from({ length: 60 }, (_, n) => n));
      back.c.send({ type: 'ping', id: 'y' });
      await back.c.next('pong');
      assert.deepEqual(back.c.take().filter((f) => f.type === 'signal'), []);
      assert.equal(b.c.take().some((f) => f.type === 'peer-left'), false, 'the takeover is invisible to the room');
      await back.c.close();
      await b.c.close();
    } finally {
      await srv.close();
    }
  });

  test('the token a resume used stays good until a resume with a newer one; older tokens are then unknown', async () => {
    const srv = await startServer();
    try {
      const a = await open(srv);
      await drop(srv, a);
      const r1 = await open(srv, `?resume=${a.token}&seq=0`);
      assert.equal(r1.welcome.resumed, true);
      await drop(srv, r1);
      // The welcome of r1 (with its fresh token) might have been lost: the token used still works.
      const r2 = await open(srv, `?resume=${a.token}&seq=0`);
      assert.equal(r2.welcome.resumed, true);
      await drop(srv, r2);
      // A resume with the newest token retires every older one.
      const r3 = await open(srv, `?resume=${r2.token}&seq=0`);
      assert.deepEqual([r3.welcome.resumed, r3.id], [true, a.id]);
      const stale = await open(srv, `?resume=${a.token}&seq=0`);
      assert.deepEqual([stale.welcome.resumed, stale.welcome.resumeError], [false, 'unknown-session']);
      assert.equal(r3.c.closeCode, undefined, 'a failed resume leaves the live session alone');
      await stale.c.close();
      await r3.c.close();
    } finally {
      await srv.close();
    }
  });
});

describe('the buffer bound and acknowledgements', () => {
  test('received trims what is kept; a resume from before an acknowledged frame is seq-out-of-range', async () => {
    const srv = await startServer();
    try {
      const a = await open(srv);
      const b = await open(srv);
      await joinRoom(a, 'ack');
      await joinRoom(b, 'ack');
      for (let n = 0; n < 10; n++) b.c.send({ type: 'signal', to: a.id, data: n });
      let last = 0;
      for (let n = 0; n < 10; n++) last = (await a.c.next('signal')).seq as number;
      const held = () => srv.server.hub.sessions.get(a.id)!.resume!.log;
      assert.ok(held().size >= 10);
      a.c.send({ type: 'received', seq: last });
      a.c.send({ type: 'ping', id: 'p' });
      const pong = await a.c.next('pong');
      assert.equal(held().size, 1, 'only the pong after the acknowledgement is kept');
      assert.equal(held().firstSeq, pong.seq);
      a.c.send({ type: 'received', seq: 'x' });
      assert.equal((await a.c.next('error')).code, 'invalid-message');
      await drop(srv, a);
      const r = await open(srv, `?resume=${a.token}&seq=${last - 3}`);
      assert.deepEqual([r.welcome.resumed, r.welcome.resumeError], [false, 'seq-out-of-range']);
      assert.equal((await b.c.next('peer-left')).peerId, a.id, 'the old session ends: its client starts afresh');
      await r.c.close();
      await b.c.close();
    } finally {
      await srv.close();
    }
  });

  test('a session without a socket whose buffer overflows is ended at once (peer-left), and its resume fails with buffer-overflow', async () => {
    const srv = await startServer({ resume: { windowMs: 60_000, maxBufferBytes: 4096 } });
    try {
      const a = await open(srv);
      const b = await open(srv);
      await joinRoom(a, 'ovf');
      await joinRoom(b, 'ovf');
      a.c.send({ type: 'received', seq: 2 });
      await drop(srv, a);
      let acked = 0;
      let refused: Frame | undefined;
      for (let n = 0; n < 20 && !refused; n++) {
        b.c.send({ type: 'signal', id: n, to: a.id, data: 'z'.repeat(500) });
        const reply = await b.c.next((f) => f.re === n);
        if (reply.type === 'ack') acked++;
        else refused = reply;
      }
      assert.ok(acked >= 6 && acked < 9, `the buffer took ${acked} of 500 B before it was full`);
      assert.deepEqual(await b.c.next('peer-left'), { type: 'peer-left', room: 'ovf', peerId: a.id, reason: 'disconnect' });
      assert.equal(refused?.code, 'peer-not-found', 'after the session ended, relays to it are refused');
      const r = await open(srv, `?resume=${a.token}&seq=2`);
      assert.deepEqual([r.welcome.resumed, r.welcome.resumeError], [false, 'buffer-overflow']);
      await r.c.close();
      await b.c.close();
    } finally {
      await srv.close();
    }
  });

  test('malformed resume requests are a fresh session with invalid-resume', async () => {
    const srv = await startServer();
    try {
      for (const q of ['?resume=&seq=1', '?resume=abc', '?resume=abc&seq=-1', '?resume=abc&seq=1e3', '?resume=a%20b&seq=1']) {
        const r = await open(srv, q);
        assert.deepEqual([r.welcome.resumed, r.welcome.resumeError], [false, 'invalid-resume'], q);
        await r.c.close();
      }
    } finally {
      await srv.close();
    }
  });
});

describe('resume and identities', () => {
  test('with auth on, a resume needs a token for the same identity; another identity gets identity-mismatch and the session is left alone', async () => {
    const srv = await startServer({ auth: { secret: SECRET } });
    try {
      const alice = await sign({ sub: 'alice' }, { now: srv.clock.now() });
      const bob = await sign({ sub: 'bob' }, { now: srv.clock.now() });
      const a = await open(srv, `?token=${alice}`);
      const watcher = await open(srv, `?token=${bob}`);
      await joinRoom(a, 'who');
      await joinRoom(watcher, 'who');
      await drop(srv, a);
      const thief = await open(srv, `?token=${bob}&resume=${a.token}&seq=0`);
      assert.deepEqual([thief.welcome.resumed, thief.welcome.resumeError], [false, 'identity-mismatch']);
      assert.notEqual(thief.id, a.id);
      const owner = await open(srv, `?token=${alice}&resume=${a.token}&seq=0`);
      assert.deepEqual([owner.welcome.resumed, owner.id], [true, a.id]);
      assert.equal(watcher.c.take().some((f) => f.type === 'peer-left' && f.peerId === a.id), false);
      await thief.c.close();
      await owner.c.close();
      await watcher.c.close();
    } finally {
      await srv.close();
    }
  });
});

describe('closes that end a session', () => {
  test('a session closed by the server for a reason that ends it (slow consumer, policy) is not resumable', async () => {
    const srv = await startServer({ rateLimits: { messagesPerSecond: 1, messageBurst: 1, closeAfter: 3, closeWindowMs: 10_000 } });
    try {
      const a = await open(srv);
      const b = await open(srv);
      await joinRoom(a, 'pol');
      await joinRoom(b, 'pol');
      for (let i = 0; i < 10; i++) a.c.send({ type: 'ping' });
      assert.equal((await a.c.closedWithin()).code, 4008);
      assert.equal((await b.c.next('peer-left')).peerId, a.id);
      const r = await open(srv, `?resume=${a.token}&seq=0`);
      assert.deepEqual([r.welcome.resumed, r.welcome.resumeError], [false, 'session-ended']);
      srv.clock.advance(CLOSE_GRACE_MS);
      await r.c.close();
      await b.c.close();
    } finally {
      await srv.close();
    }
  });
});
