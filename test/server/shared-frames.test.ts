import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import * as wsModule from 'ws';
import WebSocket, { WebSocketServer } from 'ws';
import type { Config, DeepPartial } from '../../src/config.js';
import { SharedFrames } from '../../src/server/shared-frames.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect, type Frame, type TestClient } from '../helpers/ws.js';

/**
 * One prepared WebSocket frame for every local recipient of a broadcast (src/server/shared-frames.ts):
 * every recipient still gets exactly its own text — with resume on (numbered per recipient), in a
 * legacy dialect, with a permessage-deflate socket among them, and when ws is not as expected.
 */

const MEMBERS = 10;
/** Broadcast payloads: a 7-bit, a 16-bit and a 64-bit frame length, non-ASCII text, JSON escapes. */
const PAYLOADS: unknown[] = [{ n: 1 }, { sdp: 'v=0\r\n'.repeat(60), note: 'héllo ✓ 👋' }, { blob: 'x'.repeat(100_000) }, ['"quoted"', '\\', '\u2028']];

interface Member {
  c: TestClient;
  id: string;
}

/** Every chunk each server-side socket writes to its TCP socket, keyed by the client's peer id. */
function spyWrites(srv: TestServer): Map<string, unknown[]> {
  const out = new Map<string, unknown[]>();
  for (const conn of srv.server.connections) {
    const sock = (conn.ws as unknown as { _socket: { write: (...args: unknown[]) => boolean } })._socket;
    const chunks: unknown[] = [];
    out.set(conn.session!.id, chunks);
    const write = sock.write;
    sock.write = function (this: unknown, ...args: unknown[]) {
      chunks.push(args[0]);
      return write.apply(this, args);
    };
  }
  return out;
}

/**
 * How the payload `text` went out to each socket: the Buffers that carried it (one object per
 * distinct Buffer) and how many sockets got it as a string (ws.send's own path).
 */
function carriers(writes: Map<string, unknown[]>, text: string): { buffers: Set<Buffer>; strings: number; sockets: number } {
  const bytes = Buffer.from(text);
  const buffers = new Set<Buffer>();
  let strings = 0;
  let sockets = 0;
  for (const chunks of writes.values()) {
    let hit = false;
    for (const c of chunks) {
      if (c === text) {
        strings++;
        hit = true;
      } else if (Buffer.isBuffer(c) && c.equals(bytes)) {
        buffers.add(c);
        hit = true;
      }
    }
    if (hit) sockets++;
  }
  return { buffers, strings, sockets };
}

/** `n` clients at `path` (native /v1, vc /ws) in one room; `idKey` is where the welcome names the peer. */
async function room(srv: TestServer, path: string, idKey: string, name: string, n: number): Promise<Member[]> {
  const out: Member[] = [];
  for (let i = 0; i < n; i++) {
    const c = await connect(srv.ws(path));
    const id = (await c.next('welcome'))[idKey] as string;
    c.send({ type: 'join', room: name });
    await c.next('joined');
    out.push({ c, id });
  }
  for (const m of out) m.c.take();
  return out;
}

const nativeRoom = (srv: TestServer, name: string, n: number) => room(srv, '/v1', 'peerId', name, n);

async function withServer(overrides: DeepPartial<Config>, fn: (srv: TestServer) => Promise<void>): Promise<void> {
  const srv = await startServer({ rateLimits: { messagesPerSecond: 0 }, limits: { maxMessageBytes: 200_000 }, ...overrides });
  try {
    await fn(srv);
  } finally {
    for (const c of srv.server.connections) c.ws.terminate();
    await srv.close();
  }
}

/** The raw text a client received last, and its frame. */
async function nextRaw(c: TestClient, type: string): Promise<{ frame: Frame; raw: string }> {
  const frame = await c.next(type);
  return { frame, raw: c.raw[c.raw.length - 1]! };
}

describe('shared broadcast frames', () => {
  test('native, resume off: every member gets the exact text, and all but one socket get the same prepared buffers', async () => {
    await withServer({ resume: { windowMs: 0 } }, async (srv) => {
      const [sender, ...rest] = await nativeRoom(srv, 'fan', MEMBERS + 1);
      const writes = spyWrites(srv);
      for (const data of PAYLOADS) {
        for (const chunks of writes.values()) chunks.length = 0;
        sender!.c.send({ type: 'broadcast', room: 'fan', data });
        const got = await Promise.all(rest.map((m) => nextRaw(m.c, 'broadcast')));
        for (const g of got) assert.deepEqual(g.frame, { type: 'broadcast', room: 'fan', from: sender!.id, data });
        const text = got[0]!.raw;
        for (const g of got) assert.equal(g.raw, text);
        const how = carriers(writes, text);
        assert.equal(how.sockets, MEMBERS, 'the text went to every recipient and to no one else');
        assert.equal(how.buffers.size, 1, 'one prepared frame payload');
        assert.equal(how.strings, 1, 'the first recipient got it the plain way, before anyone shared it');
      }
      for (const m of [sender!, ...rest]) assert.deepEqual(m.c.take().filter((f) => f.type === 'broadcast'), []);
    });
  });

  test('native, resume on: each member gets its own seq and the same content; numbered texts share no frame', async () => {
    await withServer({}, async (srv) => {
      const [sender, ...rest] = await nativeRoom(srv, 'fan', MEMBERS + 1);
      const seqs = new Map<string, number>();
      // Each member's last numbered frame so far (its join's peer-joined notices).
      for (const m of rest) {
        m.c.send({ type: 'ping', id: 'p' });
        seqs.set(m.id, (await m.c.next('pong')).seq as number);
      }
      const writes = spyWrites(srv);
      for (const data of PAYLOADS) {
        sender!.c.send({ type: 'broadcast', room: 'fan', data });
        const got = await Promise.all(rest.map((m) => nextRaw(m.c, 'broadcast')));
        const bodies = new Set<string>();
        got.forEach((g, i) => {
          const id = rest[i]!.id;
          const seq = g.frame.seq as number;
          assert.deepEqual(g.frame, { type: 'broadcast', room: 'fan', from: sender!.id, data });
          assert.equal(seq, seqs.get(id)! + 1, 'numbered in its own session');
          seqs.set(id, seq);
          const prefix = `{"seq":${seq},`;
          assert.ok(g.raw.startsWith(prefix));
          bodies.add(g.raw.slice(prefix.length));
          assert.equal(carriers(writes, g.raw).sockets, 1, 'its numbered text went to it alone');
        });
        assert.equal(bodies.size, 1, 'the same content for every member');
      }
    });
  });

  test('vc (legacy, sender included): every member gets the exact text, through one prepared frame', async () => {
    await withServer({}, async (srv) => {
      const members = await room(srv, '/ws', 'peer_id', 'vc-fan', MEMBERS);
      const writes = spyWrites(srv);
      const from = members[3]!;
      for (const [i, data] of PAYLOADS.entries()) {
        for (const chunks of writes.values()) chunks.length = 0;
        from.c.send({ type: 'broadcast', text: data, i });
        const got = await Promise.all(members.map((m) => nextRaw(m.c, 'broadcast')));
        for (const g of got) assert.deepEqual(g.frame, { type: 'broadcast', text: data, i, from: from.id });
        const how = carriers(writes, got[0]!.raw);
        assert.equal(how.sockets, MEMBERS);
        assert.equal(how.buffers.size, 1);
      }
    });
  });

  test('a client offering permessage-deflate among plain ones: the server does not negotiate it, and every member gets the text', async () => {
    await withServer({ resume: { windowMs: 0 } }, async (srv) => {
      const plain = await nativeRoom(srv, 'mixed', 3);
      const c = await connect(srv.ws('/v1'), { perMessageDeflate: true });
      const id = (await c.next('welcome')).peerId as string;
      c.send({ type: 'join', room: 'mixed' });
      await c.next('joined');
      assert.equal(c.ws.extensions, '', 'Switchboard does not accept permessage-deflate');
      const data = { big: 'compressible '.repeat(500) };
      plain[0]!.c.send({ type: 'broadcast', room: 'mixed', data });
      for (const m of [...plain.slice(1), { c, id }]) assert.deepEqual(await m.c.next('broadcast'), { type: 'broadcast', room: 'mixed', from: plain[0]!.id, data });
      await c.close();
    });
  });

  test('without shared frames (ws not as expected), the server falls back to ws.send and every member still gets the text', async () => {
    const srv = await startServer({ rateLimits: { messagesPerSecond: 0 }, resume: { windowMs: 0 } }, { frames: SharedFrames.detect({ frame: () => [] }) ?? null });
    try {
      const [sender, ...rest] = await nativeRoom(srv, 'plain', 4);
      const writes = spyWrites(srv);
      sender!.c.send({ type: 'broadcast', room: 'plain', data: { n: 2 } });
      const got = await Promise.all(rest.map((m) => nextRaw(m.c, 'broadcast')));
      for (const g of got) assert.deepEqual(g.frame, { type: 'broadcast', room: 'plain', from: sender!.id, data: { n: 2 } });
      const how = carriers(writes, got[0]!.raw);
      assert.deepEqual([how.sockets, how.strings, how.buffers.size], [3, 3, 0], 'every socket framed it itself');
    } finally {
      for (const c of srv.server.connections) c.ws.terminate();
      await srv.close();
    }
  });
});

describe('SharedFrames against ws', () => {
  test('detect: ws 8 frames as expected; anything else turns the shared path off', () => {
    assert.ok(SharedFrames.detect());
    assert.equal(SharedFrames.detect(null), undefined);
    assert.equal(SharedFrames.detect({}), undefined);
    // Frames with another header (a masked frame, a binary one) or another shape are refused.
    const real = (wsModule as unknown as { Sender: { frame(d: Buffer, o: object): unknown } }).Sender;
    assert.equal(SharedFrames.detect({ frame: (d: Buffer, o: object) => real.frame(d, { ...o, mask: true }) }), undefined);
    assert.equal(SharedFrames.detect({ frame: (d: Buffer, o: object) => real.frame(d, { ...o, opcode: 2 }) }), undefined);
    assert.equal(SharedFrames.detect({ frame: (d: Buffer) => [Buffer.concat([Buffer.from([0x81, d.length]), d])] }), undefined);
    assert.equal(SharedFrames.detect({ frame: () => { throw new Error('no'); } }), undefined);
  });

  test('a socket that negotiated permessage-deflate takes no shared frame: its compressed frames keep their order', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { threshold: 0 } });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    const server: WebSocket[] = [];
    wss.on('connection', (ws) => server.push(ws));
    const clients: TestClient[] = [];
    try {
      for (const deflate of [false, true, false, true]) {
        clients.push(await connect(url, { perMessageDeflate: deflate }));
        while (server.length < clients.length) await new Promise((resolve) => setImmediate(resolve));
      }
      const frames = SharedFrames.detect()!;
      assert.deepEqual(
        server.map((ws) => frames.fits(ws)),
        [true, false, true, false],
      );
      assert.deepEqual(
        clients.map((c) => c.ws.extensions),
        ['', 'permessage-deflate', '', 'permessage-deflate'],
      );
      // As Connection.write sends: the shared path where the socket fits, else ws.send.
      const send = (ws: WebSocket, text: string) => (frames.fits(ws) ? frames.send(ws, text) : ws.send(text));
      const first = JSON.stringify({ type: 'first', body: 'abc'.repeat(2000) });
      const second = JSON.stringify({ type: 'second' });
      // Each socket's own frame first (a deflate socket compresses it asynchronously), then one
      // text for all: on a deflate socket, a frame written past its compression would overtake it.
      for (const ws of server) {
        send(ws, first);
        send(ws, second);
      }
      for (const ws of server) send(ws, second);
      for (const c of clients) {
        assert.equal((await c.next()).type, 'first');
        assert.equal((await c.next()).type, 'second');
        assert.equal((await c.next()).type, 'second');
        assert.deepEqual(c.raw, [first, second, second]);
      }
    } finally {
      for (const c of clients) c.ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  });

  test('fits: a socket without ws 8 internals takes no shared frame', () => {
    const frames = SharedFrames.detect()!;
    assert.equal(frames.fits({} as WebSocket), false);
    assert.equal(frames.fits({ _extensions: {}, _sender: {} } as unknown as WebSocket), false);
    assert.equal(frames.fits({ _extensions: null, _sender: { sendFrame() {} } } as unknown as WebSocket), false);
    assert.equal(frames.fits({ _extensions: {}, _sender: { sendFrame() {} } } as unknown as WebSocket), true);
  });
});
