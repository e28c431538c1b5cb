import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { startServer } from '../helpers/server.js';
import { connect, type TestClient } from '../helpers/ws.js';

/**
 * A drain must not close every socket at the same instant (every client would reconnect in one
 * burst): the closes are spread over drainTimeoutMs, one per equal slot of it, and each native
 * client hears its own moment in `goaway`.
 */
test('drain spreads the closes over drainTimeoutMs, native and legacy alike, and tells each native client its own moment', async () => {
  const drainMs = 800;
  const n = 8;
  const slot = drainMs / n;
  const srv = await startServer({ drainTimeoutMs: drainMs });
  const natives = await Promise.all(
    Array.from({ length: n / 2 }, async () => {
      const c = await connect(srv.ws('/v1'));
      return { c, id: (await c.next('welcome')).peerId as string };
    }),
  );
  const legacy: TestClient[] = await Promise.all(Array.from({ length: n / 2 }, async () => {
    const c = await connect(srv.ws('/ws'));
    await c.next('welcome');
    return c;
  }));
  assert.equal(srv.server.connections.size, n);

  const stopping = srv.server.stop();
  const moments = new Map<string, number>();
  for (const p of natives) {
    const g = await p.c.next('goaway');
    assert.equal(g.reason, 'shutdown');
    const ms = g.reconnectMs as number;
    assert.ok(Number.isInteger(ms) && ms >= 0 && ms < drainMs, `reconnectMs ${ms} lies within the drain window`);
    moments.set(p.id, ms);
  }
  assert.equal(new Set(moments.values()).size, natives.length, `every native client has its own moment: ${[...moments.values()].join(', ')}`);

  // Step through the window slot by slot (on the injected clock): exactly one more connection is
  // closed in each, and a native client is closed at the moment it was told, not before.
  const open = () => [...srv.server.connections].filter((c) => c.ws.readyState === WebSocket.OPEN);
  assert.equal(open().length, n, 'nothing is closed when goaway is sent');
  let elapsed = 0;
  for (let k = 1; k <= n; k++) {
    const end = k * slot - 1;
    srv.clock.advance(end - elapsed);
    elapsed = end;
    const stillOpen = open();
    assert.equal(stillOpen.length, n - k, `${elapsed} ms into the drain: ${k} of ${n} connections closed`);
    for (const p of natives) {
      const isOpen = stillOpen.some((c) => c.session?.id === p.id);
      assert.equal(isOpen, moments.get(p.id)! > elapsed, `${elapsed} ms into the drain, the client told reconnectMs ${moments.get(p.id)} is ${isOpen ? 'open' : 'closed'}`);
    }
  }
  for (const c of [...natives.map((p) => p.c), ...legacy]) assert.deepEqual(await c.closed, { code: 1001, reason: 'server shutting down' });
  await stopping;
  assert.equal(srv.server.state, 'stopped');
});
