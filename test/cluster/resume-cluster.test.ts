import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import WebSocket from 'ws';
import { APPEND_MANY_SIZES, appendManyCommand } from '../../src/backplane/redis-scripts.js';
import { redisSkip } from '../helpers/redis.js';
import type { TestServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';
import { connect, type Frame, type TestClient } from '../helpers/ws.js';
import { SECRET, sign } from '../security/auth-tokens.js';
import { advance, backplane, spawnNode, startCluster } from './cluster-helpers.js';

/**
 * Session resume across nodes (docs/operations.md, "Session resume across nodes"): a resumable
 * session's log lives in Redis, so it resumes on any node — after a drop, a drain, or a kill -9 of
 * its node — with every frame once and in order, and its room-mates see no peer-left meanwhile.
 */

interface Peer {
  c: TestClient;
  id: string;
  token: string;
  welcome: Frame;
}

async function open(url: string, opts: WebSocket.ClientOptions = {}): Promise<Peer> {
  const c = await connect(url, opts);
  const welcome = await c.next('welcome');
  return { c, id: welcome.peerId as string, token: (welcome.resume as { token: string } | undefined)?.token ?? '', welcome };
}

async function join(p: Peer, room: string): Promise<Frame> {
  p.c.send({ type: 'join', id: `j-${room}`, room });
  return p.c.next((f) => f.type === 'joined' || f.type === 'error');
}

async function sync(c: TestClient): Promise<void> {
  c.send({ type: 'ping', id: 'sync' });
  await c.next((f) => f.type === 'pong' && f.re === 'sync');
}

function lastSeq(frames: Frame[]): number {
  return Math.max(0, ...frames.map((f) => (typeof f.seq === 'number' ? f.seq : 0)));
}

async function drop(node: TestServer, p: Peer): Promise<void> {
  const before = node.server.connections.size;
  p.c.ws.terminate();
  await until(() => node.server.connections.size < before, 'the server to notice the drop');
}

/** Sends `data` signals from..to (ids = data) and waits for every answer; returns them. */
async function signals(from: Peer, to: string, first: number, count: number): Promise<Frame[]> {
  for (let i = first; i < first + count; i++) from.c.send({ type: 'signal', id: i, to, data: i });
  const out: Frame[] = [];
  for (let i = 0; i < count; i++) out.push(await from.c.next((f) => typeof f.re === 'number'));
  return out;
}

/** a on n1 and b on n2, both in room 'r' (a has heard b join). */
async function roomAcross(n1: TestServer, n2: TestServer): Promise<[Peer, Peer]> {
  const a = await open(n1.ws());
  const b = await open(n2.ws());
  await join(a, 'r');
  await join(b, 'r');
  await a.c.next('peer-joined');
  return [a, b];
}

const signalData = (frames: Frame[]) => frames.filter((f) => f.type === 'signal').map((f) => f.data);

test('a session dropped on one node resumes on another: same peerId, the frames it missed once and in order, then live', { skip: redisSkip }, async () => {
  const cl = await startCluster(2);
  const [n1, n2] = cl.nodes as [TestServer, TestServer];
  try {
    const [a, b] = await roomAcross(n1, n2);
    assert.deepEqual((await signals(b, a.id, 0, 3)).map((f) => f.type), ['ack', 'ack', 'ack']);
    await until(() => signalData(a.c.frames).length === 3, 'a to get the first three');
    const seen = lastSeq(a.c.frames);
    await drop(n1, a);
    assert.deepEqual((await signals(b, a.id, 3, 3)).map((f) => f.type), ['ack', 'ack', 'ack'], 'kept while it has no socket: acked');
    const r = await open(n2.ws(`/v1?resume=${a.token}&seq=${seen}`));
    assert.deepEqual([r.welcome.resumed, r.id], [true, a.id]);
    assert.notEqual((r.welcome.resume as { token: string }).token, a.token, 'a fresh token');
    const replay = [await r.c.next('signal'), await r.c.next('signal'), await r.c.next('signal')];
    assert.deepEqual(replay.map((f) => f.data), [3, 4, 5]);
    assert.deepEqual(replay.map((f) => f.seq), [seen + 1, seen + 2, seen + 3], 'numbering continues');
    // live again, and it can still talk to its room from its new node
    await signals(b, a.id, 6, 1);
    const live = await r.c.next('signal');
    assert.deepEqual([live, live.seq], [{ type: 'signal', from: b.id, room: 'r', data: 6 }, seen + 4]);
    r.c.send({ type: 'signal', to: b.id, data: 'back' });
    assert.equal((await b.c.next('signal')).data, 'back');
    await sync(r.c);
    assert.deepEqual(signalData(r.c.take()), [], 'nothing twice');
    assert.equal(b.c.take().some((f) => f.type === 'peer-left'), false, 'b saw no peer-left');
    const info = await n1.server.hub.roomInfo('native', 'r');
    assert.deepEqual(info?.members.map((m) => m.peerId).sort(), [a.id, b.id].sort());
    await r.c.close();
    await b.c.close();
  } finally {
    await cl.close();
  }
});

test('signals read in one turn reach a stored session on another node in one sbAppendMany: each once, in order, numbered one after another', { skip: redisSkip }, async () => {
  const cl = await startCluster(2);
  const [n1, n2] = cl.nodes as [TestServer, TestServer];
  try {
    const [a, b] = await roomAcross(n1, n2);
    // Count the frames n1 hands to Redis in batches (a white-box spy on its command client).
    const cmd = (backplane(n1) as unknown as { cmd: Record<string, (...args: unknown[]) => Promise<unknown>> }).cmd;
    // (ioredis copies the command onto its pipelines, which a cluster client uses inside: only the
    // calls on the client itself are the node's.)
    const batches: number[] = [];
    for (const n of APPEND_MANY_SIZES) {
      const name = appendManyCommand(n).name;
      const many = cmd[name]!;
      cmd[name] = function (this: unknown, ...args: unknown[]) {
        // 2n keys, prefix, the session count and peerIds, then four per frame.
        if (this === cmd) batches.push((args.length - 2 * n - 2 - Number(args[2 * n + 1])) / 4);
        return many.apply(this, args);
      };
    }
    // 40 frames in one TCP write: n1 reads them in one turn. Multi-byte text, so lengths in UTF-16
    // units (the node's) and bytes (Lua's) differ.
    const socket = (a.c.ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
    socket.cork();
    for (let i = 0; i < 40; i++) a.c.send({ type: 'signal', to: b.id, data: `é😀 ${i}\n` });
    socket.uncork();
    await until(() => signalData(b.c.frames).length === 40, 'b to get all 40');
    const got = b.c.frames.filter((f) => f.type === 'signal');
    assert.deepEqual(got.map((f) => f.data), Array.from({ length: 40 }, (_, i) => `é😀 ${i}\n`));
    const first = got[0]!.seq as number;
    assert.deepEqual(got.map((f) => f.seq), Array.from({ length: 40 }, (_, i) => first + i), 'numbered one after another');
    assert.ok(batches.length > 0 && batches.reduce((x, y) => x + y, 0) >= 2, `the frames went in batches (${JSON.stringify(batches)})`);
    assert.ok(batches.every((n) => n >= 2 && n <= 128));
    await sync(b.c);
    assert.equal(signalData(b.c.take()).length, 40, 'nothing twice');
    await a.c.close();
    await b.c.close();
  } finally {
    await cl.close();
  }
});

test('drain: node A stops (goaway, 1001); its client resumes on B; C saw no peer-left; signals sent in the gap arrive once, in order', { skip: redisSkip }, async () => {
  const cl = await startCluster(3);
  const [na, nb, nc] = cl.nodes as [TestServer, TestServer, TestServer];
  try {
    const a = await open(na.ws());
    const c = await open(nc.ws());
    await join(a, 'd');
    await join(c, 'd');
    await a.c.next('peer-joined');
    await signals(c, a.id, 0, 2);
    await until(() => signalData(a.c.frames).length === 2, 'a to get the first two');
    const stopped = na.server.stop({ drainTimeoutMs: 4000 });
    await a.c.next('goaway');
    const closed = once(a.c.ws, 'close');
    await advance(cl.clock, 4500, [nb, nc]);
    const [code] = (await closed) as [number];
    assert.equal(code, 1001);
    await stopped;
    const seen = lastSeq(a.c.frames);
    assert.deepEqual((await signals(c, a.id, 2, 3)).map((f) => f.type), ['ack', 'ack', 'ack'], 'kept for the resume: acked');
    const r = await open(nb.ws(`/v1?resume=${a.token}&seq=${seen}`));
    assert.deepEqual([r.welcome.resumed, r.id], [true, a.id]);
    const got = [await r.c.next('signal'), await r.c.next('signal'), await r.c.next('signal')];
    assert.deepEqual(got.map((f) => f.data), [2, 3, 4]);
    await sync(r.c);
    assert.deepEqual(signalData(r.c.take()), []);
    // past the window and a dead-node sweep: still a member, never left
    await advance(cl.clock, 35_000, [nb, nc], 1000);
    await sync(c.c);
    assert.equal(c.c.take().some((f) => f.type === 'peer-left'), false, 'C saw no peer-left');
    await signals(c, a.id, 5, 1);
    assert.equal((await r.c.next('signal')).data, 5);
    await r.c.close();
    await c.c.close();
  } finally {
    await cl.close();
  }
});

test('kill -9 of the node holding a receiving session mid-stream: it resumes on a survivor, all 300 signals exactly once and in order, every one acked, no peer-left', { skip: redisSkip }, async () => {
  // The stream outruns the per-connection message bucket on a clock that does not move: unlimited here.
  const cl = await startCluster(2, { rateLimits: { messagesPerSecond: 0 } });
  const [n1, n2] = cl.nodes as [TestServer, TestServer];
  // The doomed node runs on the wall clock: a long presence TTL keeps it from judging the others.
  const doomed = await spawnNode(cl.redis, { SWITCHBOARD_REDIS_PRESENCE_TTL_MS: '600000', SWITCHBOARD_RATE_LIMITS_MESSAGES_PER_SECOND: '0' });
  try {
    const s = await open(n1.ws());
    const x = await open(doomed.ws());
    await join(s, 'k');
    await join(x, 'k');
    await s.c.next('peer-joined');
    const total = 300;
    const answers: Frame[] = [];
    let sent = 0;
    /** A steady stream: 10 at a time, each batch answered before the next. */
    const stream = async (upTo: number) => {
      while (sent < upTo) {
        const n = Math.min(10, upTo - sent);
        answers.push(...(await signals(s, x.id, sent, n)));
        sent += n;
      }
    };
    await stream(100);
    await until(() => signalData(x.c.frames).length >= 60, 'x to receive part of the stream');
    doomed.proc.kill('SIGKILL');
    const before = x.c.frames.slice();
    await once(doomed.proc, 'exit');
    await stream(total);
    await until(() => x.c.ws.readyState === WebSocket.CLOSED, 'x to notice its node is gone');
    const had = x.c.take();
    assert.ok(had.length >= before.length);
    const seen = lastSeq(had);
    const r = await open(n2.ws(`/v1?resume=${x.token}&seq=${seen}`));
    assert.deepEqual([r.welcome.resumed, r.id], [true, x.id]);
    await until(() => signalData(had).length + signalData(r.c.frames).length >= total, 'the rest to arrive', 10_000);
    await sync(r.c);
    const all = [...had, ...r.c.take()];
    assert.deepEqual(signalData(all), [...Array(total).keys()], 'every signal exactly once, in order');
    const seqs = all.filter((f) => typeof f.seq === 'number').map((f) => f.seq as number);
    assert.deepEqual(seqs, seqs.map((_, i) => seqs[0]! + i), 'seq has no gap and no repeat');
    assert.equal(answers.length, total);
    assert.deepEqual(answers.map((f) => f.type), Array(total).fill('ack'), 'every signal acked: kept in the log, whatever the node');
    // the dead node's presence expires: the resumed session stays, the sender hears nothing
    if (Date.now() > cl.clock.now()) await advance(cl.clock, Date.now() - cl.clock.now(), cl.nodes);
    await advance(cl.clock, 15_000, cl.nodes, 1000);
    await sync(s.c);
    assert.equal(s.c.take().some((f) => f.type === 'peer-left'), false, 'the sender saw no peer-left');
    const info = await n1.server.hub.roomInfo('native', 'k');
    assert.deepEqual(info?.members.map((m) => m.peerId).sort(), [s.id, x.id].sort());
    await r.c.close();
    await s.c.close();
  } finally {
    if (doomed.proc.exitCode === null && doomed.proc.signalCode === null) doomed.proc.kill('SIGKILL');
    await cl.close();
  }
});

test('no resume within the window after its node died: the room hears peer-left (disconnect) exactly once', { skip: redisSkip }, async () => {
  const cl = await startCluster(2);
  const doomed = await spawnNode(cl.redis, { SWITCHBOARD_REDIS_PRESENCE_TTL_MS: '600000' });
  try {
    const a = await open(cl.nodes[0]!.ws());
    const b = await open(cl.nodes[1]!.ws());
    const x = await open(doomed.ws());
    for (const p of [a, b, x]) await join(p, 'w');
    await a.c.next((f) => f.type === 'peer-joined' && (f.peer as Frame).peerId === x.id);
    await b.c.next((f) => f.type === 'peer-joined' && (f.peer as Frame).peerId === x.id);
    if (Date.now() > cl.clock.now()) await advance(cl.clock, Date.now() - cl.clock.now(), cl.nodes);
    doomed.proc.kill('SIGKILL');
    await once(doomed.proc, 'exit');
    // presence TTL (10 s): x waits; the window (30 s) from then: it ends
    await advance(cl.clock, 20_000, cl.nodes, 1000);
    assert.equal(a.c.frames.some((f) => f.type === 'peer-left'), false, 'still waiting for a resume after the presence expired');
    await advance(cl.clock, 25_000, cl.nodes, 1000);
    await sync(a.c);
    await sync(b.c);
    const left = (p: Peer) => p.c.take().filter((f) => f.type === 'peer-left');
    assert.deepEqual(left(a).map((f) => [f.peerId, f.reason]), [[x.id, 'disconnect']]);
    assert.deepEqual(left(b).map((f) => [f.peerId, f.reason]), [[x.id, 'disconnect']]);
    await advance(cl.clock, 5000, cl.nodes, 1000);
    await sync(a.c);
    assert.deepEqual(left(a), [], 'exactly once');
    const r = await open(cl.nodes[1]!.ws(`/v1?resume=${x.token}&seq=0`));
    assert.deepEqual([r.welcome.resumed, r.welcome.resumeError], [false, 'session-expired']);
    for (const p of [a, b, r]) await p.c.close();
  } finally {
    if (doomed.proc.exitCode === null && doomed.proc.signalCode === null) doomed.proc.kill('SIGKILL');
    await cl.close();
  }
});

test('resumeError codes hold cluster-wide: session-expired, session-ended, identity-mismatch, unknown-session', { skip: redisSkip }, async () => {
  const cl = await startCluster(2, { auth: { secret: SECRET } });
  const [n1, n2] = cl.nodes as [TestServer, TestServer];
  try {
    const tok = (sub: string) => sign({ sub }, { now: cl.clock.now() });
    const alice = await tok('alice');
    const bob = await tok('bob');
    const carol = await tok('carol');
    const watcher = await tok('watcher');
    const a = await open(n1.ws(`/v1?token=${alice}`));
    const w = await open(n1.ws(`/v1?token=${watcher}`));
    await join(a, 'e');
    await join(w, 'e');
    await drop(n1, a);
    const thief = await open(n2.ws(`/v1?token=${carol}&resume=${a.token}&seq=0`));
    assert.deepEqual([thief.welcome.resumed, thief.welcome.resumeError], [false, 'identity-mismatch']);
    await thief.c.close();
    await sync(w.c);
    assert.equal(w.c.take().some((f) => f.type === 'peer-left' && f.peerId === a.id), false, 'left alone');
    const a2 = await open(n2.ws(`/v1?token=${alice}&resume=${a.token}&seq=0`));
    assert.deepEqual([a2.welcome.resumed, a2.id], [true, a.id]);
    // a clean close ends it: its tokens say so on every node
    const t2 = (a2.welcome.resume as { token: string }).token;
    await a2.c.close();
    await w.c.next((f) => f.type === 'peer-left' && f.peerId === a.id);
    const ended = await open(n1.ws(`/v1?token=${alice}&resume=${t2}&seq=0`));
    assert.deepEqual([ended.welcome.resumed, ended.welcome.resumeError], [false, 'session-ended']);
    // no resume within the window: expired, on every node
    const b = await open(n2.ws(`/v1?token=${bob}`));
    await join(b, 'e');
    await drop(n2, b);
    await advance(cl.clock, 31_000, cl.nodes, 1000);
    await w.c.next((f) => f.type === 'peer-left' && f.peerId === b.id);
    const expired = await open(n1.ws(`/v1?token=${bob}&resume=${b.token}&seq=0`));
    assert.deepEqual([expired.welcome.resumed, expired.welcome.resumeError], [false, 'session-expired']);
    const unknown = await open(n1.ws(`/v1?token=${carol}&resume=AAAAAAAAAAAAAAAAAAAAAAAA&seq=0`));
    assert.deepEqual([unknown.welcome.resumed, unknown.welcome.resumeError], [false, 'unknown-session']);
    await unknown.c.close();
    for (const p of [ended, expired, w]) await p.c.close();
  } finally {
    await cl.close();
  }
});

test('a resume on another node while the old socket still looks open takes the session over: the old socket is closed 4004, frames go to the new one once', { skip: redisSkip }, async () => {
  const cl = await startCluster(2);
  const [n1, n2] = cl.nodes as [TestServer, TestServer];
  try {
    const a = await open(n1.ws());
    const b = await open(n2.ws());
    await join(a, 't');
    await join(b, 't');
    await a.c.next('peer-joined');
    await signals(b, a.id, 0, 2);
    await until(() => signalData(a.c.frames).length === 2, 'a to get two');
    const seen = lastSeq(a.c.frames);
    const closed = once(a.c.ws, 'close');
    const r = await open(n2.ws(`/v1?resume=${a.token}&seq=${seen}`));
    assert.deepEqual([r.welcome.resumed, r.id], [true, a.id]);
    const [code] = (await closed) as [number];
    assert.equal(code, 4004);
    await signals(b, a.id, 2, 2);
    assert.deepEqual([(await r.c.next('signal')).data, (await r.c.next('signal')).data], [2, 3]);
    await sync(r.c);
    assert.deepEqual(signalData(r.c.take()), []);
    assert.equal(b.c.take().some((f) => f.type === 'peer-left'), false);
    await r.c.close();
    await b.c.close();
  } finally {
    await cl.close();
  }
});

test('a stored session overflowing its buffer while it has no socket ends cluster-wide: the sender hears unavailable, the room peer-left, the resume buffer-overflow', { skip: redisSkip }, async () => {
  const cl = await startCluster(2, { resume: { maxBufferBytes: 1024 } });
  const [n1, n2] = cl.nodes as [TestServer, TestServer];
  try {
    const a = await open(n1.ws());
    const b = await open(n2.ws());
    await join(a, 'o');
    await join(b, 'o');
    await a.c.next('peer-joined');
    await drop(n1, a);
    const big = 'x'.repeat(300);
    const answers: Frame[] = [];
    for (let i = 0; i < 5; i++) {
      b.c.send({ type: 'signal', id: i, to: a.id, data: big });
      answers.push(await b.c.next((f) => f.re === i));
    }
    // what fits (with the frames it had not acknowledged yet) is acked; from the first that does not, unavailable
    const k = answers.findIndex((f) => f.type === 'error');
    assert.ok(k >= 1, `some fit, then one did not (${answers.map((f) => f.type).join(',')})`);
    assert.deepEqual(answers.map((f) => f.type), [...Array(k).fill('ack'), ...Array(5 - k).fill('error')]);
    assert.equal(answers[k]!.code, 'unavailable', 'the one that did not fit');
    // later ones: unavailable, or peer-not-found once the session's end has reached b's node
    for (const f of answers.slice(k + 1)) assert.ok(f.code === 'unavailable' || f.code === 'peer-not-found', String(f.code));
    await b.c.next((f) => f.type === 'peer-left' && f.peerId === a.id && f.reason === 'disconnect');
    const r = await open(n2.ws(`/v1?resume=${a.token}&seq=0`));
    assert.deepEqual([r.welcome.resumed, r.welcome.resumeError], [false, 'buffer-overflow']);
    await r.c.close();
    await b.c.close();
  } finally {
    await cl.close();
  }
});
