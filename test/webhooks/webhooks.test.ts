import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/core/clock.js';
import { secretKey, sign } from '../../src/webhooks/signing.js';
import { retryDelay } from '../../src/webhooks/webhooks.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { tick, until } from '../helpers/wait.js';
import { connect } from '../helpers/ws.js';
import { join, peer } from '../cluster/cluster-helpers.js';
import { capturingLogger, metric, Receiver, SECRET, verify } from './receiver.js';
import { Webhook } from 'standardwebhooks';

/** A single node posting to `rx`, on a ManualClock at the wall-clock time (verifiers check the timestamp). */
async function node(rx: Receiver, webhooks: object = {}, logger = capturingLogger().logger): Promise<TestServer> {
  return startServer({ webhooks: { url: rx.url, secret: SECRET, ...webhooks } }, { clock: new ManualClock(Date.now()), logger });
}

/** A receiver and a node posting to it, for the length of `fn`; resolves with the (stopped) node. */
async function withNode(fn: (s: TestServer, rx: Receiver) => Promise<void>, webhooks: object = {}, logger = capturingLogger().logger): Promise<TestServer> {
  const rx = await Receiver.start();
  const s = await node(rx, webhooks, logger);
  try {
    await fn(s, rx);
  } finally {
    await s.close();
    await rx.close();
  }
  return s;
}

/** Waits (by event-loop turns) until this many attempts have failed: the retry's timer is then set. */
async function failed(s: TestServer, n: number): Promise<void> {
  await until(async () => (await s.server.metrics.webhooksAttemptsFailed.get()).values[0]?.value === n, `${n} failed attempts`);
}

/** Moves the clock in steps, letting deliveries and their retries run in between. */
async function advance(s: TestServer, ms: number, step = 250): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    s.clock.advance(Math.min(step, ms - done));
    await tick();
    await s.server.hub.sweepDone();
    await tick();
  }
}

test('signing matches the Standard Webhooks reference; a tampered body or id fails', async () => {
  await withNode(async (s, rx) => {
    const { c } = await peer(s.ws());
    await join(c, 'signed');
    await rx.waitFor(2);
    for (const r of rx.got) {
      assert.equal(r.headers['content-type'], 'application/json');
      assert.match(String(r.headers['user-agent']), /^Switchboard\/\d+\.\d+\.\d+/);
      assert.match(String(r.headers['webhook-id']), /^msg_[A-Za-z0-9_-]{16,}$/);
      assert.match(String(r.headers['webhook-signature']), /^v1,[A-Za-z0-9+/]+=*$/);
      assert.deepEqual(verify(r), JSON.parse(r.body));
      assert.throws(() => verify(r, r.body.replace('signed', 'signee')), /signature/i);
      assert.throws(() => new Webhook(SECRET).verify(r.body, { 'webhook-id': 'msg_other', 'webhook-timestamp': String(r.headers['webhook-timestamp']), 'webhook-signature': String(r.headers['webhook-signature']) }));
    }
    // Our signer and the reference one agree byte for byte.
    const ts = 1_700_000_000;
    assert.equal(sign(secretKey(SECRET), 'msg_x', ts, '{"a":1}'), new Webhook(SECRET).sign('msg_x', new Date(ts * 1000), '{"a":1}'));
    await c.close();
  });
});

test('a native client joins and leaves: room.started, peer.joined, peer.left, then room.finished after the grace', async () => {
  await withNode(async (s, rx) => {
    const { c, id } = await peer(s.ws());
    await join(c, 'lobby', { name: 'Ada' });
    c.send({ type: 'leave', room: 'lobby' });
    await c.next('left');
    await rx.waitFor(3);
    assert.deepEqual(rx.types, ['room.started', 'peer.joined', 'peer.left']);
    await advance(s, 29_000);
    assert.equal(rx.got.length, 3, 'not finished within its 30 s grace');
    await advance(s, 2_000);
    await rx.waitFor(4);
    const t0 = Date.parse(rx.got[0]!.event.timestamp);
    assert.ok(Number.isFinite(t0));
    assert.deepEqual(
      rx.got.map((r) => r.event),
      [
        { type: 'room.started', timestamp: rx.got[0]!.event.timestamp, data: { dialect: 'native', room: 'lobby' } },
        { type: 'peer.joined', timestamp: rx.got[1]!.event.timestamp, data: { dialect: 'native', room: 'lobby', peerId: id, name: 'Ada', node: s.server.hub.nodeId } },
        { type: 'peer.left', timestamp: rx.got[2]!.event.timestamp, data: { dialect: 'native', room: 'lobby', peerId: id, reason: 'left' } },
        { type: 'room.finished', timestamp: rx.got[3]!.event.timestamp, data: { dialect: 'native', room: 'lobby', reason: 'empty' } },
      ],
    );
    assert.ok(Date.parse(rx.got[3]!.event.timestamp) - t0 >= 30_000, 'room.finished is stamped when the room went');
    assert.equal(new Set(rx.got.map((r) => r.headers['webhook-id'])).size, 4);
    // A disconnect is peer.left (disconnect).
    await join(c, 'again');
    await c.close();
    await rx.waitFor(7);
    assert.deepEqual(rx.types.slice(4), ['room.started', 'peer.joined', 'peer.left']);
    assert.equal(rx.got[6]!.event.data.reason, 'disconnect');
    assert.equal(await metric(s.http, 'switchboard_webhooks_delivered_total'), 7);
  });
});

test('a room with no grace (emptyTtlMs 0) finishes with its last leave', async () => {
  await withNode(async (s, rx) => {
    const { c } = await peer(s.ws());
    c.send({ type: 'create-room', options: { emptyTtlMs: 0 } });
    const room = (await c.next('room-created')).room as string;
    await join(c, room);
    c.send({ type: 'leave', room });
    await c.next('left');
    await rx.waitFor(4);
    assert.deepEqual(rx.types, ['room.started', 'peer.joined', 'peer.left', 'room.finished']);
    assert.equal(rx.got[3]!.event.data.reason, 'empty');
    await c.close();
  });
});

test('500 twice then 200: three attempts, one webhook-id, a fresh timestamp and valid signature each', async () => {
  await withNode(async (s, rx) => {
    rx.answer = (_r, n) => (n <= 2 ? 500 : 200);
    await s.server.hub.createRoom('native', { name: 'flaky' });
    await failed(s, 1);
    await advance(s, 900);
    assert.equal(rx.got.length, 1, 'the first retry waits at least 1 s');
    await advance(s, 700);
    await failed(s, 2);
    await advance(s, 3_100);
    await rx.waitFor(3);
    await until(async () => (await metric(s.http, 'switchboard_webhooks_delivered_total')) === 1, 'delivered');
    await advance(s, 20_000);
    assert.equal(rx.got.length, 3, 'no attempt after the 2xx');
    assert.equal(new Set(rx.got.map((r) => r.headers['webhook-id'])).size, 1);
    const stamps = rx.got.map((r) => Number(r.headers['webhook-timestamp']));
    assert.ok(stamps[0]! < stamps[1]! && stamps[1]! < stamps[2]!, `timestamps ${stamps.join(' ')}`);
    for (const r of rx.got) verify(r);
    assert.equal(await metric(s.http, 'switchboard_webhooks_attempts_failed_total'), 2);
    assert.equal(await metric(s.http, 'switchboard_webhooks_delivered_total'), 1);
  });
});

test('after maxAttempts failures the event is dropped, counted in /metrics and logged', async () => {
  const { logger, lines } = capturingLogger();
  await withNode(async (s, rx) => {
    rx.answer = () => 503;
    await s.server.hub.createRoom('native', { name: 'doomed', options: { emptyTtlMs: 3_600_000 } });
    for (let n = 1; n <= 3; n++) {
      await failed(s, n);
      await advance(s, 1_500 * 2 ** (n - 1));
    }
    await advance(s, 60_000);
    assert.equal(rx.got.length, 3, 'maxAttempts in all');
    assert.equal(await metric(s.http, 'switchboard_webhooks_dropped_total{reason="attempts"}'), 1);
    assert.equal(await metric(s.http, 'switchboard_webhooks_attempts_failed_total'), 3);
    assert.equal(await metric(s.http, 'switchboard_webhooks_queue'), 0);
    const line = lines.find((l) => l.msg === 'webhook dropped after its last attempt');
    assert.ok(line, 'logged');
    assert.equal(line.level, 40);
    assert.deepEqual([line.id, line.type, line.room, line.last, line.attempts], [rx.got[0]!.headers['webhook-id'], 'room.started', 'native/doomed', 503, 3]);
  }, { maxAttempts: 3 }, logger);
});

test('410 Gone stops the retries at once', async () => {
  await withNode(async (s, rx) => {
    rx.answer = () => 410;
    await s.server.hub.createRoom('native', { name: 'gone', options: { emptyTtlMs: 3_600_000 } });
    await failed(s, 1);
    await advance(s, 60_000);
    assert.equal(rx.got.length, 1);
    assert.equal(await metric(s.http, 'switchboard_webhooks_dropped_total{reason="gone"}'), 1);
  });
});

test('a receiver slower than timeoutMs: the attempt is abandoned and retried', async () => {
  await withNode(async (s, rx) => {
    rx.answer = (_r, n) => (n === 1 ? 'hang' : 200);
    await s.server.hub.createRoom('native', { name: 'slow' });
    await rx.waitFor(1);
    await advance(s, 1_900);
    assert.equal(rx.got.length, 1, 'still waiting within timeoutMs');
    await advance(s, 100);
    await failed(s, 1);
    await advance(s, 1_600);
    await rx.waitFor(2);
    assert.equal(rx.got[1]!.headers['webhook-id'], rx.got[0]!.headers['webhook-id']);
    await until(async () => (await metric(s.http, 'switchboard_webhooks_delivered_total')) === 1, 'delivered');
    assert.equal(await metric(s.http, 'switchboard_webhooks_attempts_failed_total'), 1);
  }, { timeoutMs: 2_000 });
});

test('past maxQueue, new events are dropped and counted; what is left at stop is counted too', async () => {
  const s = await withNode(async (s, rx) => {
    rx.answer = () => 'hang';
    const clients = [];
    for (let i = 0; i < 5; i++) {
      const p = await peer(s.ws());
      await join(p.c, 'crowd');
      clients.push(p.c);
    }
    // room.started + 5 × peer.joined: 3 fit
    await rx.waitFor(1);
    assert.equal(await metric(s.http, 'switchboard_webhooks_dropped_total{reason="queue-full"}'), 3);
    assert.equal(await metric(s.http, 'switchboard_webhooks_queue'), 3);
    for (const c of clients) c.ws.terminate();
  }, { maxQueue: 3 });
  // 3 waiting, and the 5 peer.left and the room.finished of the stop (at most 3 waiting at a time)
  const dropped = await s.server.metrics.registry.getSingleMetric('switchboard_webhooks_dropped_total')!.get();
  const by = Object.fromEntries(dropped.values.map((v) => [v.labels.reason, v.value]));
  assert.equal(by.shutdown, 3);
  assert.ok((by['queue-full'] ?? 0) >= 3);
});

test('retry delays: 1 s doubling with jitter, capped at 5 minutes', () => {
  assert.equal(retryDelay(1, () => 0), 1000);
  assert.equal(retryDelay(2, () => 0), 2000);
  assert.ok(retryDelay(3, () => 0.999) < 6000 && retryDelay(3, () => 0.999) >= 4000);
  assert.equal(retryDelay(30, () => 0.5), 300_000);
});

test('a connection that never answers the receiver is no problem for the peers: webhooks off by default', async () => {
  const s = await startServer();
  try {
    assert.equal(s.server.webhooks, undefined);
    const c = await connect(s.ws());
    await c.next('welcome');
    await c.close();
  } finally {
    await s.close();
  }
});
