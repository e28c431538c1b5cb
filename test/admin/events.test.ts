import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HISTORY_STEP_MS } from '../../src/admin/status.js';
import { PING_INTERVAL_MS, SNAPSHOT_INTERVAL_MS, SNAPSHOT_ROOMS } from '../../src/admin/events.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { tick } from '../helpers/wait.js';
import { connect, type Frame } from '../helpers/ws.js';
import { SseClient, tappedLogger, withServer, type SseEvent } from './helpers.js';

/** GET /admin/v1/events on one node: snapshots driven by the ManualClock, log lines, pings, drain. */

/** A server whose logger has a tap (unless `tapped` is false). */
const withTapped = (fn: (srv: TestServer) => Promise<void>, tapped = true) => withServer({}, fn, tapped ? { logger: tappedLogger() } : {});

const open = (srv: TestServer, query = '') => SseClient.open(srv.http(`/admin/v1/events${query}`));

/** Moves the clock one snapshot on and takes the snapshot that follows. */
async function nextSnapshot(srv: TestServer, sse: SseClient): Promise<SseEvent['data']> {
  srv.clock.advance(SNAPSHOT_INTERVAL_MS);
  return (await sse.next('snapshot')).data;
}

type RoomView = { dialect: string; room: string; members: Frame[] };

describe('the admin event stream', () => {
  test('a snapshot at connect (with history), then one a second that follows joins and leaves', async () => {
    await withTapped(async (srv) => {
      const sse = await open(srv, '?logs=0');
      assert.equal(sse.status, 200);
      assert.equal(sse.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      assert.equal(sse.headers.get('cache-control'), 'no-store');
      const first = (await sse.next('snapshot')).data;
      assert.ok(Array.isArray(first.history));
      assert.equal((first.nodes as Frame[])[0]!.id, srv.server.hub.nodeId);
      assert.deepEqual(first.rooms, []);
      assert.deepEqual(first.totals, { connections: 0, connectionsByDialect: {}, rooms: 0, peers: 0 });
      assert.deepEqual(first.rates, { messagesPerSecond: 0, joinsPerSecond: 0 });

      const c = await connect(srv.ws('/v1'));
      const id = (await c.next('welcome')).peerId as string;
      c.send({ type: 'join', id: 'j', room: 'live', name: 'Lee' });
      await c.next('joined');
      const joined = await nextSnapshot(srv, sse);
      assert.equal(joined.history, undefined, 'only the first snapshot carries the history');
      const live = (joined.rooms as RoomView[]).find((r) => r.room === 'live')!;
      assert.equal(live.dialect, 'native');
      assert.deepEqual(live.members.map((m) => [m.peerId, m.name, m.node]), [[id, 'Lee', srv.server.hub.nodeId]]);
      assert.deepEqual(joined.totals, { connections: 1, connectionsByDialect: { native: 1 }, rooms: 1, peers: 1 });
      const rates = joined.rates as { messagesPerSecond: number; joinsPerSecond: number };
      assert.equal(rates.joinsPerSecond, 1, 'one join in the last second');
      assert.equal(rates.messagesPerSecond, 1, 'one frame (the join) in the last second');

      c.send({ type: 'leave', id: 'l', room: 'live' });
      await c.next((f) => f.type === 'left' || f.type === 'ok' || f.re === 'l');
      const left = await nextSnapshot(srv, sse);
      assert.deepEqual((left.rooms as RoomView[]).find((r) => r.room === 'live')!.members, [], 'empty, in its grace');
      assert.equal((left.rates as { joinsPerSecond: number }).joinsPerSecond, 0);
      await c.close();
      sse.close();
    });
  });

  test('history: one point per 5 s, kept by the node, sent with the first snapshot', async () => {
    await withTapped(async (srv) => {
      for (let i = 0; i < 3; i++) {
        srv.clock.advance(HISTORY_STEP_MS);
        await tick();
      }
      const sse = await open(srv, '?logs=0');
      const history = (await sse.next('snapshot')).data.history as { ts: number; connections: number; messagesPerSecond: number; joinsPerSecond: number }[];
      assert.equal(history.length, 3);
      assert.deepEqual(
        history.map((h) => h.ts - history[0]!.ts),
        [0, HISTORY_STEP_MS, 2 * HISTORY_STEP_MS],
      );
      assert.deepEqual(Object.keys(history[0]!).sort(), ['connections', 'joinsPerSecond', 'messagesPerSecond', 'ts']);
      sse.close();
    });
  });

  test(`at most ${SNAPSHOT_ROOMS} rooms in a snapshot, then "truncated"`, async () => {
    await withTapped(async (srv) => {
      for (let i = 0; i <= SNAPSHOT_ROOMS; i++) await srv.server.hub.createRoom('native', { name: `r${String(i).padStart(3, '0')}` });
      const sse = await open(srv, '?logs=0');
      const s = (await sse.next('snapshot')).data;
      assert.equal((s.rooms as unknown[]).length, SNAPSHOT_ROOMS);
      assert.equal(s.truncated, true);
      assert.equal((s.totals as { rooms: number }).rooms, SNAPSHOT_ROOMS + 1);
      sse.close();
    });
  });

  test('log lines: the last ones first (with the node), then each new one as it is logged', async () => {
    await withTapped(async (srv) => {
      const sse = await open(srv);
      await sse.next('snapshot');
      const startup = await sse.next((e) => e.event === 'log' && /listening on/.test(String(e.data.msg)));
      assert.equal(startup.data.node, srv.server.hub.nodeId);
      assert.equal(startup.data.level, 30);
      assert.equal(typeof startup.data.time, 'string');
      srv.server.log.warn({ marker: 'm-1' }, 'a line for the stream');
      const live = await sse.next((e) => e.event === 'log' && e.data.marker === 'm-1');
      assert.deepEqual([live.data.msg, live.data.level, live.data.node], ['a line for the stream', 40, srv.server.hub.nodeId]);
      // A child logger's lines (a connection's) come through the same tap.
      const c = await connect(srv.ws('/v1'));
      await c.next('welcome');
      srv.server.log.child({ part: 'child' }).info('from a child');
      assert.equal((await sse.next((e) => e.event === 'log' && e.data.msg === 'from a child')).data.part, 'child');
      await c.close();
      sse.close();
    });
  });

  test('?logs=0: snapshots only', async () => {
    await withTapped(async (srv) => {
      const sse = await open(srv, '?logs=0');
      await sse.next('snapshot');
      srv.server.log.warn('not for this stream');
      await nextSnapshot(srv, sse);
      assert.deepEqual(
        sse.events.filter((e) => e.event === 'log'),
        [],
      );
      sse.close();
    });
  });

  test('a logger without a tap: the stream says so in one log event', async () => {
    await withTapped(async (srv) => {
      const sse = await open(srv);
      await sse.next('snapshot');
      const e = await sse.next('log');
      assert.match(String(e.data.msg), /not made by createLogger/);
      sse.close();
    }, false);
  });

  test('a ping comment every 15 s, and the stream ends when the server drains', async () => {
    const srv = await startServer({}, { logger: tappedLogger() });
    const sse = await open(srv, '?logs=0');
    await sse.next('snapshot');
    srv.clock.advance(PING_INTERVAL_MS);
    assert.deepEqual((await sse.next('comment')).data, { text: 'ping' });
    await srv.close();
    await sse.endedWithin();
  });
});
