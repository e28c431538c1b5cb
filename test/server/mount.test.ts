import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { test } from 'node:test';
import express from 'express';
import pino from 'pino';
import { WebSocketServer } from 'ws';
import type { Config, DeepPartial } from '../../src/config.js';
import { ManualClock } from '../../src/core/clock.js';
import { attach, createServer, type SwitchboardServer } from '../../src/index.js';
import { join, peer } from '../cluster/cluster-helpers.js';
import { connect, refused } from '../helpers/ws.js';

/**
 * Switchboard mounted on a host application's server instead of listening itself: a real Express 4
 * app on a real http.Server (port 0) with routes and a WebSocket of its own, and bare http.Servers
 * through attach(). See docs/embedding.md.
 */

const silent = () => pino({ level: process.env.SWITCHBOARD_TEST_LOG ?? 'silent' });

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

interface Host {
  sb: SwitchboardServer;
  server: Server;
  clock: ManualClock;
  url(path: string, scheme?: 'http' | 'ws'): string;
  close(): Promise<void>;
}

/**
 * The host: an Express app with its own routes (before Switchboard), Switchboard's middleware, the
 * app's own 404 (after it); its own WebSocketServer (noServer) on /app/ws, whose upgrade listener
 * answers every /app/* path and leaves the rest alone; Switchboard's upgradeHandler beside it.
 */
async function expressHost(config: DeepPartial<Config> = {}, opts: { bodyParserFirst?: boolean } = {}): Promise<Host> {
  const clock = new ManualClock();
  const sb = createServer(config, { clock, logger: silent() });
  const app = express();
  if (opts.bodyParserFirst) app.use(express.json());
  app.get('/app/hello', (_req, res) => {
    res.json({ from: 'app' });
  });
  app.use(sb.requestHandler);
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('the app has no such page');
  });
  const server = createHttpServer(app);
  const appWss = new WebSocketServer({ noServer: true });
  appWss.on('connection', (ws) => ws.on('message', (m) => ws.send(`app echo: ${m.toString()}`)));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/app/ws') appWss.handleUpgrade(req, socket, head, (ws) => appWss.emit('connection', ws, req));
    else if (path.startsWith('/app/')) socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 19\r\n\r\napp: no such socket');
  });
  server.on('upgrade', sb.upgradeHandler);
  const port = await listen(server);
  assert.equal(await sb.start({ listen: false }), undefined);
  return {
    sb,
    server,
    clock,
    url: (path, scheme = 'http') => `${scheme}://127.0.0.1:${port}${path}`,
    async close() {
      await sb.stop({ drainTimeoutMs: 0 });
      for (const c of appWss.clients) c.terminate();
      await closeServer(server);
    },
  };
}

/** An Express host for one test: handed to `fn`, closed whatever happens. */
async function withExpress(config: DeepPartial<Config>, opts: { bodyParserFirst?: boolean }, fn: (h: Host) => Promise<void>): Promise<void> {
  const h = await expressHost(config, opts);
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

async function text(url: string, init?: RequestInit): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(url, init);
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

test('Express: native clients relay and a vc client works through the mounted Switchboard', async () => {
  await withExpress({}, {}, async (h) => {
    const a = await peer(h.url('/v1', 'ws'));
    const b = await peer(h.url('/v1', 'ws'));
    assert.equal((await join(a.c, 'mounted')).type, 'joined');
    assert.equal((await join(b.c, 'mounted')).type, 'joined');
    a.c.send({ type: 'signal', to: b.id, data: { sdp: 'v=0' } });
    assert.deepEqual(await b.c.next('signal'), { type: 'signal', from: a.id, room: 'mounted', data: { sdp: 'v=0' } });

    const v1 = await connect(h.url('/ws', 'ws'));
    const v2 = await connect(h.url('/ws', 'ws'));
    const id1 = (await v1.next('welcome')).peer_id as string;
    const id2 = (await v2.next('welcome')).peer_id as string;
    v1.send({ type: 'join', room: 'vc-mounted', name: 'ada' });
    await v1.next('joined');
    v2.send({ type: 'join', room: 'vc-mounted', name: 'bob' });
    await v2.next('joined');
    v2.send({ type: 'offer', to: id1, sdp: 'v=0 offer' });
    assert.deepEqual(await v1.next('offer'), { type: 'offer', to: id1, sdp: 'v=0 offer', from: id2 });

    assert.equal(h.sb.connections.size, 4);
    for (const c of [a.c, b.c, v1, v2]) await c.close();
  });
});

test("Express: Switchboard's HTTP paths answer, everything else is the app's", async () => {
  await withExpress({}, {}, async (h) => {
    const health = await text(h.url('/health'));
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.body), { ok: true, ts: Math.floor(h.clock.now() / 1000), version: JSON.parse(health.body).version, node: h.sb.hub.nodeId, state: 'ready' });
    assert.equal((await text(h.url('/ready'))).status, 200);
    assert.match((await text(h.url('/metrics'))).body, /switchboard_/);
    const ice = await text(h.url('/v1/ice-servers'));
    assert.equal(ice.status, 200);
    assert.ok(Array.isArray(JSON.parse(ice.body).iceServers));
    const created = await text(h.url('/room'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(created.status, 201, created.body);
    const id = JSON.parse(created.body).id as string;
    assert.equal((await text(h.url(`/room/${id}`))).status, 200);
    assert.equal((await text(h.url('/admin/v1/nodes'))).status, 200, 'the admin API, from loopback');
    assert.equal((await text(h.url('/v1'))).status, 426, 'a WebSocket path of Switchboard over plain HTTP');

    assert.deepEqual(await text(h.url('/app/hello')), { status: 200, type: 'application/json; charset=utf-8', body: '{"from":"app"}' });
    for (const path of ['/', '/nope', '/healthz', '/admin', '/v2']) {
      const r = await text(h.url(path));
      assert.deepEqual([r.status, r.body], [404, 'the app has no such page'], `${path} reaches the app's 404`);
    }
  });
});

test("Express: the app's own WebSocket works beside Switchboard's, and the catch-all is off by default", async () => {
  await withExpress({}, {}, async (h) => {
    const own = await connect(h.url('/app/ws', 'ws'));
    own.send('hi');
    assert.deepEqual(await own.next(), { type: '<non-json>', text: 'app echo: hi' });
    // Switchboard leaves /app/other alone (no catch-all): the app's own listener answers it.
    assert.deepEqual(await refused(h.url('/app/other', 'ws')), { status: 404, body: 'app: no such socket' });
    assert.equal(h.sb.connections.size, 0);
    await own.close();
  });
});

test('Express: the gates still apply when mounted (origins, connection caps)', async () => {
  await withExpress({ allowedOrigins: ['https://app.example.com'], connections: { maxPerIp: 1 } }, {}, async (h) => {
    const foreign = await connect(h.url('/v1', 'ws'), { headers: { origin: 'https://evil.example.com' } }).then(
      () => assert.fail('a foreign origin connected'),
      (err: { status?: number }) => err.status,
    );
    assert.equal(foreign, 403);
    const first = await peer(h.url('/v1', 'ws'));
    assert.equal((await refused(h.url('/v1', 'ws'))).status, 429, 'the second connection from one address');
    await first.c.close();
  });
});

test('Express: a body parser before Switchboard is named in the error instead of a hang', async () => {
  await withExpress({}, { bodyParserFirst: true }, async (h) => {
    const r = await text(h.url('/room'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(r.status, 500);
    assert.match(JSON.parse(r.body).error, /mount Switchboard before any body-parsing middleware/);
  });
});

test("Express: sb.stop() drains Switchboard's sockets and leaves the app's server, routes and WebSocket up", async () => {
  await withExpress({}, {}, async (h) => {
    const native = await peer(h.url('/v1', 'ws'));
    const vc = await connect(h.url('/ws', 'ws'));
    await vc.next('welcome');
    const own = await connect(h.url('/app/ws', 'ws'));

    const stopping = h.sb.stop({ drainTimeoutMs: 1000 });
    const goaway = await native.c.next('goaway');
    assert.equal(goaway.reason, 'shutdown');
    h.clock.advance(1000);
    for (const c of [native.c, vc]) assert.deepEqual(await c.closedWithin(), { code: 1001, reason: 'server shutting down' });
    await stopping;
    assert.equal(h.sb.state, 'stopped');
    assert.equal(h.sb.connections.size, 0);

    assert.equal(h.server.listening, true, "the host's server is not closed");
    own.send('still there?');
    assert.deepEqual(await own.next(), { type: '<non-json>', text: 'app echo: still there?' });
    assert.equal((await text(h.url('/app/hello'))).status, 200);
    // Switchboard's paths still answer, as a stopped server: not ready, refusing connections.
    assert.equal(JSON.parse((await text(h.url('/health'))).body).state, 'stopped');
    assert.equal((await text(h.url('/ready'))).status, 503);
    assert.equal((await refused(h.url('/v1', 'ws'))).status, 503);
    await own.close();
  });
});

test('attach() on a bare http.Server: chained before its request listener; stray upgrades get a 404, never a hang', async () => {
  const server = createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('the host answered');
  });
  const port = await listen(server);
  const url = (path: string, scheme = 'http') => `${scheme}://127.0.0.1:${port}${path}`;
  const clock = new ManualClock();
  const sb = await attach(server, { routes: [{ path: '/signal', dialect: 'auto' }] }, { clock, logger: silent() });
  try {
    assert.equal(sb.state, 'ready');
    assert.equal(server.listenerCount('request'), 1, 'one request listener: Switchboard, calling the host one');
    assert.equal(JSON.parse((await text(url('/health'))).body).state, 'ready');
    assert.deepEqual([(await text(url('/elsewhere'))).body, (await text(url('/'))).body], ['the host answered', 'the host answered']);

    const a = await peer(url('/v1', 'ws'));
    const b = await peer(url('/v1', 'ws'));
    await join(a.c, 'bare');
    await join(b.c, 'bare');
    b.c.send({ type: 'signal', to: a.id, data: 'x' });
    assert.equal((await a.c.next('signal')).from, b.id);

    // A path config `routes` gives to first-frame detection is taken; any other is not, and with
    // Switchboard the only 'upgrade' listener it is answered 404 rather than left hanging.
    const seed = await connect(url('/signal', 'ws'));
    seed.send({ type: 'bogus' });
    assert.deepEqual(await seed.next('error'), { type: 'error', message: 'Unrecognised message type for this endpoint: bogus' });
    const stray = await refused(url('/elsewhere', 'ws'));
    assert.deepEqual([stray.status, JSON.parse(stray.body)], [404, { error: 'no WebSocket endpoint at this path' }]);

    const stopping = sb.stop({ drainTimeoutMs: 0 });
    for (const c of [a.c, b.c, seed]) assert.equal((await c.closedWithin()).code, 1001);
    await stopping;
    assert.equal(server.listening, true);
    assert.equal((await text(url('/elsewhere'))).body, 'the host answered');
  } finally {
    await sb.stop();
    await closeServer(server);
  }
});

test('attach() with the catch-all, on a server with no request listener: every free path is detected, the rest 404s', async () => {
  const server = createHttpServer();
  const port = await listen(server);
  const url = (path: string, scheme = 'http') => `${scheme}://127.0.0.1:${port}${path}`;
  const sb = await attach(server, {}, { catchAll: true, clock: new ManualClock(), logger: silent() });
  try {
    const seed = await connect(url('/any/path', 'ws'));
    seed.send({ type: 'bogus' });
    assert.deepEqual(await seed.next('error'), { type: 'error', message: 'Unrecognised message type for this endpoint: bogus' });
    const vc = await connect(url('/ws', 'ws'));
    assert.equal(typeof (await vc.next('welcome')).peer_id, 'string');
    const r = await text(url('/nothing-here'));
    assert.deepEqual([r.status, JSON.parse(r.body)], [404, { error: 'not found' }]);
    await seed.close();
    await vc.close();
  } finally {
    await sb.stop({ drainTimeoutMs: 0 });
    await closeServer(server);
  }
});

test('the plain request listener form: no next() means a 404 for what is not Switchboard', async () => {
  const clock = new ManualClock();
  const sb = createServer({}, { clock, logger: silent() });
  const server = createHttpServer(sb.requestHandler);
  server.on('upgrade', sb.upgradeHandler);
  const port = await listen(server);
  try {
    // Before start: its paths answer (not ready), upgrades on them are refused 503.
    assert.equal((await text(`http://127.0.0.1:${port}/ready`)).status, 503);
    assert.equal((await refused(`ws://127.0.0.1:${port}/v1`)).status, 503);
    await sb.start({ listen: false });
    assert.equal((await text(`http://127.0.0.1:${port}/ready`)).status, 200);
    assert.deepEqual(JSON.parse((await text(`http://127.0.0.1:${port}/other`)).body), { error: 'not found' });
    const c = await peer(`ws://127.0.0.1:${port}/v1`);
    await c.c.close();
    assert.equal((await refused(`ws://127.0.0.1:${port}/other`)).status, 404, 'its only upgrade listener: a stray path is answered');
  } finally {
    await sb.stop({ drainTimeoutMs: 0 });
    await closeServer(server);
  }
});
