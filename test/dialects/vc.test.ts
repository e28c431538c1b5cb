import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Config, DeepPartial } from '../../src/config.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect, type Frame, type TestClient } from '../helpers/ws.js';

/** ManualClock's start, in the unix seconds vc puts in `ts`. */
const T0 = 1_700_000_000;

interface Peer {
  c: TestClient;
  id: string;
}

async function vc(srv: TestServer, opts: { autoPong?: boolean } = {}): Promise<Peer> {
  const c = await connect(srv.ws('/ws'), opts);
  const w = await c.next('welcome');
  assert.equal(typeof w.peer_id, 'string');
  return { c, id: w.peer_id as string };
}

async function join(p: Peer, room: unknown, name?: unknown): Promise<Frame> {
  p.c.send(name === undefined ? { type: 'join', room } : { type: 'join', room, name });
  return p.c.next((f) => f.type === 'joined' || f.type === 'error');
}

/**
 * Proves nothing else is pending for a client: the server answers an invalid frame after every
 * frame it already sent, so once that error arrives, anything else would be queued too.
 */
async function nothingElse(p: Peer): Promise<void> {
  p.c.send('[]');
  const e = await p.c.next((f) => f.type === 'error' && f.error === 'message must be a JSON object');
  assert.ok(e);
  assert.deepEqual(p.c.take(), []);
}

async function closeAll(...peers: Peer[]): Promise<void> {
  await Promise.all(peers.map((p) => p.c.close()));
}

async function withServer(overrides: DeepPartial<Config>, fn: (srv: TestServer) => Promise<void>): Promise<void> {
  const srv = await startServer(overrides);
  try {
    await fn(srv);
  } finally {
    await srv.close();
  }
}

describe('vc dialect at /ws', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer();
  });
  after(() => srv.close());

  test('welcome carries a fresh url-safe peer_id per connection; a query string is allowed', async () => {
    const a = await vc(srv);
    const c = await connect(srv.ws('/ws?client=vc-client&v=1'));
    const w = await c.next('welcome');
    assert.deepEqual(Object.keys(w).sort(), ['peer_id', 'type']);
    assert.match(a.id, /^[A-Za-z0-9_-]{22}$/);
    assert.match(w.peer_id as string, /^[A-Za-z0-9_-]{22}$/);
    assert.notEqual(a.id, w.peer_id);
    await a.c.close();
    await c.close();
  });

  test('GET /health answers {"ok":true,"ts":<unix seconds>}', async () => {
    const res = await fetch(srv.http('/health'));
    assert.equal(res.status, 200);
    const body = (await res.json()) as { ok: unknown; ts: unknown };
    assert.equal(body.ok, true);
    assert.equal(body.ts, Math.floor(srv.clock.now() / 1000));
  });

  test('the README flow: welcome, join, joined/peer-joined, offer/answer/ice relayed with to/from', async () => {
    const a = await vc(srv);
    const b = await vc(srv);
    assert.deepEqual(await join(a, 'flow', 'alice'), { type: 'joined', room: 'flow', peers: [] });
    assert.deepEqual(await join(b, 'flow', 'bob'), { type: 'joined', room: 'flow', peers: [{ peer_id: a.id, name: 'alice' }] });
    assert.deepEqual(await a.c.next('peer-joined'), { type: 'peer-joined', peer: { peer_id: b.id, name: 'bob' } });

    a.c.send({ type: 'offer', to: b.id, sdp: 'v=0 offer' });
    assert.deepEqual(await b.c.next('offer'), { type: 'offer', to: b.id, sdp: 'v=0 offer', from: a.id });
    b.c.send({ type: 'answer', to: a.id, sdp: 'v=0 answer' });
    assert.deepEqual(await a.c.next('answer'), { type: 'answer', to: a.id, sdp: 'v=0 answer', from: b.id });
    const candidate = { candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host', sdpMid: '0', sdpMLineIndex: 0 };
    a.c.send({ type: 'ice', to: b.id, candidate });
    assert.deepEqual(await b.c.next('ice'), { type: 'ice', to: b.id, candidate, from: a.id });
    await nothingElse(a);
    await nothingElse(b);
    await closeAll(a, b);
  });

  test('a client-sent "from" is overwritten with the sender id', async () => {
    const a = await vc(srv);
    const b = await vc(srv);
    const c = await vc(srv);
    await join(a, 'forge');
    await join(b, 'forge');
    await join(c, 'forge');
    a.c.send({ type: 'offer', to: b.id, from: c.id, sdp: 'x' });
    assert.equal((await b.c.next('offer')).from, a.id);
    a.c.send({ type: 'broadcast', from: c.id, text: 'hi' });
    for (const p of [a, b, c]) assert.equal((await p.c.next('broadcast')).from, a.id);
    await closeAll(a, b, c);
  });

  test('relays never cross rooms (the original relayed to any peer on the server)', async () => {
    const a = await vc(srv);
    const c = await vc(srv);
    await join(a, 'room-a');
    await join(c, 'room-c');
    a.c.send({ type: 'offer', to: c.id, sdp: 'injected' });
    assert.deepEqual(await a.c.next('error'), { type: 'error', error: 'peer-not-found', to: c.id });
    a.c.send({ type: 'broadcast', text: 'room-a only' });
    await a.c.next('broadcast');
    await nothingElse(c);
    await closeAll(a, c);
  });

  test('peer-not-found for unknown ids, for oneself, and when the sender is in no room', async () => {
    const a = await vc(srv);
    const b = await vc(srv);
    a.c.send({ type: 'offer', to: b.id, sdp: 'x' });
    assert.deepEqual(await a.c.next('error'), { type: 'error', error: 'peer-not-found', to: b.id });
    await join(a, 'nf');
    a.c.send({ type: 'ice', to: '  nobody  ', candidate: {} });
    assert.deepEqual(await a.c.next('error'), { type: 'error', error: 'peer-not-found', to: 'nobody' });
    a.c.send({ type: 'ice', to: a.id, candidate: {} });
    assert.deepEqual(await a.c.next('error'), { type: 'error', error: 'peer-not-found', to: a.id });
    await nothingElse(a);
    await nothingElse(b);
    await closeAll(a, b);
  });

  test('any frame with "to" is relayed whole, except join, leave and pong', async () => {
    const a = await vc(srv);
    const b = await vc(srv);
    await join(a, 'any');
    await join(b, 'any');
    await a.c.next('peer-joined');
    a.c.send({ type: 'mute', to: b.id, muted: true, nested: { deep: [1, 2] } });
    assert.deepEqual(await b.c.next('mute'), { type: 'mute', to: b.id, muted: true, nested: { deep: [1, 2] }, from: a.id });
    // A broadcast with "to" is a relay to that one peer only.
    a.c.send({ type: 'broadcast', to: b.id, text: 'just you' });
    assert.deepEqual(await b.c.next('broadcast'), { type: 'broadcast', to: b.id, text: 'just you', from: a.id });
    // pong and join with "to" are handled as themselves: nothing reaches b.
    a.c.send({ type: 'pong', to: b.id, ts: 1 });
    a.c.send({ type: 'join', to: b.id, room: 'any' });
    assert.equal((await a.c.next('joined')).room, 'any');
    await nothingElse(a);
    await nothingElse(b);
    // leave with "to" leaves.
    a.c.send({ type: 'leave', to: b.id });
    assert.deepEqual(await a.c.next('left'), { type: 'left', room: 'any' });
    assert.deepEqual(await b.c.next('peer-left'), { type: 'peer-left', peer_id: a.id, reason: 'left' });
    await closeAll(a, b);
  });

  test('the server’s own frame types are never relayed: a member cannot forge peer-left, welcome, joined… (the original relayed them)', async () => {
    const a = await vc(srv);
    const victim = await vc(srv);
    const third = await vc(srv);
    await join(a, 'forgery');
    await join(victim, 'forgery');
    await join(third, 'forgery');
    await a.c.next('peer-joined');
    await a.c.next('peer-joined');
    await victim.c.next('peer-joined');
    const forged: Record<string, Record<string, unknown>> = {
      'peer-left': { peer_id: third.id, reason: 'left' },
      welcome: { peer_id: 'someone-else' },
      joined: { room: 'elsewhere', peers: [] },
      left: { room: 'forgery' },
      'peer-joined': { peer: { peer_id: 'ghost', name: 'ghost' } },
      ping: { ts: 1 },
      error: { error: 'forged' },
    };
    for (const [type, fields] of Object.entries(forged)) {
      a.c.send({ type, to: victim.id, ...fields });
      // A relay of the client's own type after it: whatever the forged frame did reached the victim first.
      a.c.send({ type: 'offer', to: victim.id, sdp: type });
      assert.deepEqual(await victim.c.next('offer'), { type: 'offer', to: victim.id, sdp: type, from: a.id });
      assert.deepEqual(victim.c.take(), [], `a forged ${type} reached the victim`);
      assert.deepEqual(await a.c.next('error'), { type: 'error', error: `server-only type: ${type}` }, type);
    }
    await nothingElse(victim);
    await nothingElse(a);
    await nothingElse(third);
    const metrics = await (await fetch(srv.http('/metrics'))).text();
    assert.match(metrics, /switchboard_errors_total\{dialect="vc",code="server-only-type"\} 7/);
    await closeAll(a, victim, third);
  });

  test('broadcast goes to every member including the sender, with from; needs a room', async () => {
    const a = await vc(srv);
    const b = await vc(srv);
    const other = await vc(srv);
    a.c.send({ type: 'broadcast', text: 'early' });
    assert.deepEqual(await a.c.next('error'), { type: 'error', error: 'not-in-room' });
    await join(a, 'bc');
    await join(b, 'bc');
    await join(other, 'bc-other');
    b.c.send({ type: 'broadcast', text: 'hello all' });
    const expected = { type: 'broadcast', text: 'hello all', from: b.id };
    assert.deepEqual(await a.c.next('broadcast'), expected);
    assert.deepEqual(await b.c.next('broadcast'), expected);
    await nothingElse(other);
    await closeAll(a, b, other);
  });

  test('leave → left; the room hears peer-left reason left; an empty room vanishes', async () => {
    const a = await vc(srv);
    const b = await vc(srv);
    a.c.send({ type: 'leave' });
    assert.deepEqual(await a.c.next('error'), { type: 'error', error: 'not-in-room' });
    await join(a, 'lv');
    await join(b, 'lv');
    a.c.send({ type: 'leave' });
    assert.deepEqual(await a.c.next('left'), { type: 'left', room: 'lv' });
    assert.deepEqual(await b.c.next('peer-left'), { type: 'peer-left', peer_id: a.id, reason: 'left' });
    // After leaving, relays and broadcasts from a no longer reach b.
    a.c.send({ type: 'offer', to: b.id, sdp: 'x' });
    assert.deepEqual(await a.c.next('error'), { type: 'error', error: 'peer-not-found', to: b.id });
    assert.ok(await srv.server.hub.roomInfo('vc', 'lv'));
    b.c.send({ type: 'leave' });
    await b.c.next('left');
    assert.equal(await srv.server.hub.roomInfo('vc', 'lv'), undefined);
    await nothingElse(b);
    await closeAll(a, b);
  });

  test('disconnect → peer-left reason disconnect, and the peer is gone from the room at once', async () => {
    const a = await vc(srv);
    const b = await vc(srv);
    await join(a, 'dc', 'alice');
    await join(b, 'dc', 'bob');
    await a.c.close();
    assert.deepEqual(await b.c.next('peer-left'), { type: 'peer-left', peer_id: a.id, reason: 'disconnect' });
    b.c.send({ type: 'offer', to: a.id, sdp: 'x' });
    assert.deepEqual(await b.c.next('error'), { type: 'error', error: 'peer-not-found', to: a.id });
    assert.deepEqual(await join(b, 'dc', 'bob'), { type: 'joined', room: 'dc', peers: [] });
    await b.c.close();
  });

  test('joining another room leaves the old one (reason switched-room)', async () => {
    const a = await vc(srv);
    const b = await vc(srv);
    const c = await vc(srv);
    await join(a, 'sw-1', 'alice');
    await join(b, 'sw-1', 'bob');
    await join(c, 'sw-2', 'carol');
    await a.c.next('peer-joined');
    assert.deepEqual(await join(a, 'sw-2', 'alice'), { type: 'joined', room: 'sw-2', peers: [{ peer_id: c.id, name: 'carol' }] });
    assert.deepEqual(await b.c.next('peer-left'), { type: 'peer-left', peer_id: a.id, reason: 'switched-room' });
    assert.deepEqual(await c.c.next('peer-joined'), { type: 'peer-joined', peer: { peer_id: a.id, name: 'alice' } });
    // One room per connection: b is no longer reachable from a.
    a.c.send({ type: 'offer', to: b.id, sdp: 'x' });
    assert.deepEqual(await a.c.next('error'), { type: 'error', error: 'peer-not-found', to: b.id });
    await nothingElse(b);
    await closeAll(a, b, c);
  });

  test('joining the room one is in answers the roster again and tells nobody', async () => {
    const a = await vc(srv);
    const b = await vc(srv);
    await join(a, 'again', 'alice');
    await join(b, 'again', 'bob');
    await a.c.next('peer-joined');
    assert.deepEqual(await join(b, '  again ', 'bob'), { type: 'joined', room: 'again', peers: [{ peer_id: a.id, name: 'alice' }] });
    await nothingElse(a);
    await closeAll(a, b);
  });

  test('room and name are read like the original: trimmed strings, numbers as text; names capped', async () => {
    const a = await vc(srv);
    const b = await vc(srv);
    assert.deepEqual(await join(a, 42, 7), { type: 'joined', room: '42', peers: [] });
    const long = 'n'.repeat(500);
    await join(b, ' 42 ', long);
    const pj = await a.c.next('peer-joined');
    assert.deepEqual(pj, { type: 'peer-joined', peer: { peer_id: b.id, name: long.slice(0, 64) } });
    const c = await vc(srv);
    const joined = await join(c, '42');
    const byId = (x: { peer_id: string }, y: { peer_id: string }) => (x.peer_id < y.peer_id ? -1 : 1);
    assert.deepEqual((joined.peers as { peer_id: string }[]).sort(byId), [
      { peer_id: a.id, name: '7' },
      { peer_id: b.id, name: long.slice(0, 64) },
    ].sort(byId));
    assert.deepEqual(await a.c.next('peer-joined'), { type: 'peer-joined', peer: { peer_id: c.id, name: '' } });
    await closeAll(a, b, c);
  });

  test('every error code, in the error field', async () => {
    const a = await vc(srv);
    const expect = async (frame: unknown, error: string, extra: Record<string, unknown> = {}) => {
      a.c.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
      assert.deepEqual(await a.c.next('error'), { type: 'error', error, ...extra }, `for ${String(typeof frame === 'string' ? frame : JSON.stringify(frame))}`);
    };
    await expect('{not json', 'invalid-json', { detail: 'The frame is not valid JSON.' });
    for (const f of ['[]', '42', 'null', '"join"', 'true']) await expect(f, 'message must be a JSON object');
    for (const f of [{}, { type: 5 }, { type: '' }, { type: null }, { type: ['join'] }]) await expect(f, 'missing/invalid "type"');
    for (const f of [{ type: 'join' }, { type: 'join', room: '' }, { type: 'join', room: '   ' }, { type: 'join', room: null }, { type: 'join', room: {} }]) {
      await expect(f, 'join requires room');
    }
    for (const to of ['', '  ', null, 5, {}]) await expect({ type: 'offer', to, sdp: 'x' }, 'invalid "to"');
    await expect({ type: 'offer', to: 'ghost', sdp: 'x' }, 'peer-not-found', { to: 'ghost' });
    await expect({ type: 'broadcast' }, 'not-in-room');
    await expect({ type: 'leave' }, 'not-in-room');
    await expect({ type: 'offer', sdp: 'x' }, 'unknown type: offer');
    await expect({ type: 'ping', ts: 1 }, 'unknown type: ping');
    await expect({ type: 'x'.repeat(1000) }, `unknown type: ${'x'.repeat(64)}…`);
    // None of that cost the connection anything.
    assert.deepEqual(await join(a, 'after-errors'), { type: 'joined', room: 'after-errors', peers: [] });
    const metrics = await (await fetch(srv.http('/metrics'))).text();
    for (const code of ['invalid-json', 'not-an-object', 'invalid-type', 'join-requires-room', 'invalid-to', 'peer-not-found', 'not-in-room', 'unknown-type']) {
      assert.match(metrics, new RegExp(`switchboard_errors_total\\{dialect="vc",code="${code}"\\} [1-9]`), code);
    }
    await a.c.close();
  });

  test('a binary frame gets an error and does not drop the connection (an original bug)', async () => {
    const a = await vc(srv);
    const b = await vc(srv);
    await join(a, 'bin');
    await join(b, 'bin');
    a.c.ws.send(Buffer.from([1, 2, 3, 4]), { binary: true });
    const e = await a.c.next('error');
    assert.equal(e.error, 'invalid-json');
    assert.match(e.detail as string, /binary/i);
    a.c.send({ type: 'offer', to: b.id, sdp: 'still here' });
    assert.equal((await b.c.next('offer')).sdp, 'still here');
    await nothingElse(b);
    assert.equal(a.c.closeCode, undefined);
    await closeAll(a, b);
  });
});

test('an oversized frame gets invalid-json with a detail and the connection stays', async () => {
  await withServer({ limits: { maxMessageBytes: 1024 } }, async (srv) => {
    const a = await vc(srv);
    a.c.send({ type: 'broadcast', blob: 'x'.repeat(2000) });
    const e = await a.c.next('error');
    assert.equal(e.error, 'invalid-json');
    assert.match(e.detail as string, /exceeds the limit of 1024/);
    assert.deepEqual(await join(a, 'big'), { type: 'joined', room: 'big', peers: [] });
    await a.c.close();
  });
});

test('rooms are created by the first join even when the server requires explicit creation', async () => {
  await withServer({ rooms: { requireCreate: true } }, async (srv) => {
    const a = await vc(srv);
    assert.deepEqual(await join(a, 'implicit'), { type: 'joined', room: 'implicit', peers: [] });
    await a.c.close();
  });
});

test('a full room answers error room-full (the original had no capacity)', async () => {
  await withServer({ rooms: { maxPeers: 2 } }, async (srv) => {
    const [a, b, c] = [await vc(srv), await vc(srv), await vc(srv)];
    await join(a, 'small');
    await join(b, 'small');
    assert.deepEqual(await join(c, 'small'), { type: 'error', error: 'room-full' });
    // c is in no room: a broadcast from c is refused.
    c.c.send({ type: 'broadcast' });
    assert.deepEqual(await c.c.next('error'), { type: 'error', error: 'not-in-room' });
    await closeAll(a, b, c);
  });
});

test('an idle room expired by the operator’s rooms.idleTtlMs tells its members "left" with reason expired', async () => {
  await withServer({ rooms: { idleTtlMs: 30_000, sweepIntervalMs: 1_000 }, heartbeat: { intervalMs: 100_000, timeoutMs: 200_000 } }, async (srv) => {
    const a = await vc(srv);
    await join(a, 'idle');
    // The sweeper skips ticks while a sweep is in flight: let the first one finish, then tick again.
    srv.clock.advance(30_000);
    await nothingElse(a);
    srv.clock.advance(1_000);
    assert.deepEqual(await a.c.next('left'), { type: 'left', room: 'idle', reason: 'expired' });
    a.c.send({ type: 'broadcast' });
    assert.deepEqual(await a.c.next('error'), { type: 'error', error: 'not-in-room' });
    await a.c.close();
  });
});

describe('vc heartbeat', () => {
  test('the server sends {"type":"ping","ts":<unix seconds>} every interval (configurable)', async () => {
    await withServer({ heartbeat: { intervalMs: 5_000, timeoutMs: 15_000 } }, async (srv) => {
      const a = await vc(srv);
      srv.clock.advance(5_000);
      assert.deepEqual(await a.c.next('ping'), { type: 'ping', ts: T0 + 5 });
      srv.clock.advance(5_000);
      assert.deepEqual(await a.c.next('ping'), { type: 'ping', ts: T0 + 10 });
      await a.c.close();
    });
  });

  test('pong keeps a peer alive; a silent one is closed with 1001 and its room hears reason timeout', async () => {
    await withServer({}, async (srv) => {
      // Neither answers WebSocket-level pings: only vc's JSON pong can keep them alive.
      const silent = await vc(srv, { autoPong: false });
      const talker = await vc(srv, { autoPong: false });
      await join(silent, 'hb');
      await join(talker, 'hb');
      for (let i = 1; i <= 6; i++) {
        srv.clock.advance(20_000);
        const ping = await talker.c.next('ping');
        assert.equal(ping.ts, T0 + 20 * i);
        talker.c.send({ type: 'pong', ts: ping.ts });
        if (i === 3) {
          assert.deepEqual(await silent.c.closed, { code: 1001, reason: 'heartbeat timeout' });
          assert.deepEqual(await talker.c.next('peer-left'), { type: 'peer-left', peer_id: silent.id, reason: 'timeout' });
        }
        // The pong is processed before the clock moves again.
        await nothingElse(talker);
      }
      assert.equal(talker.c.closeCode, undefined);
      await talker.c.close();
    });
  });
});
