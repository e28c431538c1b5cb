import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect as tcpConnect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { ConfigError } from '../../src/config.js';
import { ManualClock } from '../../src/core/clock.js';
import { TokenBucket } from '../../src/core/rate.js';
import { createClientAddress } from '../../src/security/client-address.js';
import { connectionCap, fdSoftLimit, parseProcLimits, socketCap } from '../../src/security/fd-limit.js';
import { createOriginCheck } from '../../src/security/origins.js';
import { startServer } from '../helpers/server.js';
import { connect, refused, type TestClient } from '../helpers/ws.js';
import { until } from './drivers.js';

/** Handshake-time limits: node and per-IP connection caps, proxies, origins, the handshake deadline. */

describe('building blocks', () => {
  test('token bucket: burst, then the injected clock refills it; rate 0 is unlimited', () => {
    const clock = new ManualClock();
    const b = new TokenBucket(clock, 2, 3);
    assert.deepEqual([b.take(), b.take(), b.take(), b.take()], [true, true, true, false]);
    clock.advance(499);
    assert.equal(b.take(), false);
    clock.advance(1);
    assert.deepEqual([b.take(), b.take()], [true, false]);
    clock.advance(60_000);
    assert.deepEqual([b.take(), b.take(), b.take(), b.take()], [true, true, true, false]);
    const free = new TokenBucket(clock, 0, 1);
    assert.ok(Array.from({ length: 1000 }, () => free.take()).every(Boolean));
  });

  test('descriptor limit: /proc parsing, the derived cap and the socket cap', () => {
    assert.equal(parseProcLimits('Max cpu time  unlimited  unlimited  seconds\nMax open files            20000                20000                files\n'), 20000);
    assert.equal(parseProcLimits('Max open files  unlimited  unlimited  files\n'), undefined);
    const here = fdSoftLimit();
    if (process.platform === 'linux') assert.ok(typeof here === 'number' && here > 0, `read the fd limit: ${here}`);
    assert.equal(connectionCap(0, 20_000), 19_000); // minus 5%
    assert.equal(connectionCap(0, 1024), 960); // minus the 64 minimum
    assert.equal(connectionCap(500, 20_000), 500);
    assert.equal(connectionCap(50_000, 20_000), 19_000);
    assert.equal(connectionCap(0, undefined), 10_000);
    assert.equal(connectionCap(300, undefined), 300);
    assert.equal(socketCap(19_000, 20_000), 19_500);
    assert.equal(socketCap(10, undefined), Infinity);
  });

  test('client address: peer by default; right-most untrusted X-Forwarded-For / Forwarded entry with trustProxy', () => {
    const req = (remote: string, headers: Record<string, string> = {}) => ({ socket: { remoteAddress: remote }, headers }) as never;
    const off = createClientAddress({ trustProxy: false, proxyHeader: 'x-forwarded-for', trustedProxies: [] });
    assert.equal(off(req('::ffff:10.1.1.1', { 'x-forwarded-for': '1.2.3.4' })), '10.1.1.1');
    const xff = createClientAddress({ trustProxy: true, proxyHeader: 'x-forwarded-for', trustedProxies: [] });
    assert.equal(xff(req('10.0.0.9', { 'x-forwarded-for': '6.6.6.6, 1.2.3.4' })), '1.2.3.4'); // a client-written 6.6.6.6 is ignored
    assert.equal(xff(req('10.0.0.9')), '10.0.0.9');
    assert.equal(xff(req('10.0.0.9', { 'x-forwarded-for': 'garbage' })), '10.0.0.9');
    const layered = createClientAddress({ trustProxy: true, proxyHeader: 'x-forwarded-for', trustedProxies: ['10.0.0.0/8', '192.168.1.1'] });
    assert.equal(layered(req('10.0.0.9', { 'x-forwarded-for': '6.6.6.6, 1.2.3.4, 192.168.1.1, 10.2.3.4' })), '1.2.3.4');
    assert.equal(layered(req('10.0.0.9', { 'x-forwarded-for': '10.1.1.1, 10.2.2.2' })), '10.1.1.1'); // all trusted: the left-most
    assert.equal(layered(req('8.8.8.8', { 'x-forwarded-for': '1.2.3.4' })), '8.8.8.8'); // not from a trusted proxy: header ignored
    const fwd = createClientAddress({ trustProxy: true, proxyHeader: 'forwarded', trustedProxies: [] });
    assert.equal(fwd(req('10.0.0.9', { forwarded: 'for=6.6.6.6, for="[2001:DB8::17]:4711";proto=https', 'x-forwarded-for': '9.9.9.9' })), '2001:db8::17');
    assert.equal(fwd(req('10.0.0.9', { forwarded: 'for=192.0.2.60:8080;by=10.0.0.9' })), '192.0.2.60');
    assert.equal(fwd(req('10.0.0.9', { forwarded: 'for=unknown' })), '10.0.0.9');
    assert.throws(() => createClientAddress({ trustProxy: true, proxyHeader: 'forwarded', trustedProxies: ['10.0.0.0/33'] }), ConfigError);
    assert.throws(() => createClientAddress({ trustProxy: true, proxyHeader: 'forwarded', trustedProxies: ['proxy.local'] }), ConfigError);
  });

  test('origin check: exact and wildcard origins, default ports, null; empty list allows all', () => {
    const check = createOriginCheck(['https://app.example.com:443', 'https://*.example.org']);
    const ok = (o: string | undefined) => check(o).ok;
    assert.equal(ok(undefined), true);
    assert.equal(ok('https://app.example.com'), true);
    assert.equal(ok('HTTPS://APP.EXAMPLE.COM'), true);
    assert.equal(ok('https://a.b.example.org'), true);
    assert.equal(ok('https://example.org'), false);
    assert.equal(ok('http://app.example.com'), false);
    assert.equal(ok('https://app.example.com.evil.com'), false);
    assert.equal(ok('https://evilexample.org'), false);
    assert.equal(ok('null'), false);
    assert.equal(ok('not a url'), false);
    assert.equal(createOriginCheck([])('https://anything').ok, true);
    assert.throws(() => createOriginCheck(['app.example.com']), ConfigError);
  });
});

describe('connection caps at the handshake', () => {
  test('node cap: the connection past connections.maxPerNode gets 503; a closed one frees its slot', async () => {
    const srv = await startServer({ connections: { maxPerNode: 5, maxPerIp: 0 } });
    const open: TestClient[] = [];
    for (let i = 0; i < 5; i++) open.push(await connect(srv.ws(i % 2 ? '/v1' : '/ws')));
    const r = await refused(srv.ws('/v1'));
    assert.equal(r.status, 503);
    assert.match(r.body, /connection limit/);
    // Plain HTTP is not a WebSocket connection: still served.
    assert.equal((await fetch(srv.http('/health'))).status, 200);
    await open.pop()!.close();
    await until(() => srv.server.caps.total === 4, 'the slot to be freed');
    open.push(await connect(srv.ws('/v1')));
    for (const c of open) await c.close();
    await until(() => srv.server.caps.total === 0 && srv.server.caps.perIp.size === 0, 'every slot back');
    await srv.close();
  });

  test('per IP: the connection past connections.maxPerIp gets 429; refusals by later checks hold no slot', async () => {
    const srv = await startServer({ connections: { maxPerIp: 3 } });
    const open = [await connect(srv.ws('/v1')), await connect(srv.ws('/ws')), await connect(srv.ws('/'))];
    const r = await refused(srv.ws('/v1'));
    assert.equal(r.status, 429);
    assert.match(r.body, /too many connections/);
    await open.pop()!.close();
    await until(() => srv.server.caps.total === 2, 'the slot to be freed');
    // A handshake refused after the caps (an unknown flyx room) gives its slot back at once.
    for (let i = 0; i < 5; i++) assert.equal((await refused(srv.ws('/ws/ZZZZZZ'))).status, 406);
    await until(() => srv.server.caps.total === 2, 'refused handshakes to free their slots');
    open.push(await connect(srv.ws('/v1')));
    assert.equal((await refused(srv.ws('/v1'))).status, 429);
    for (const c of open) await c.close();
    await srv.close();
  });

  test('a node cap derived from a low descriptor limit refuses with 503 before the process runs out (child under ulimit -n 256)', async () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const child = spawn('/bin/sh', ['-c', `ulimit -n 256 && exec "${process.execPath}" "${join(here, 'fixtures', 'fd-server.js')}"`], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`fixture exited ${code}`)));
      });
      const { port, cap } = JSON.parse(line) as { port: number; cap: number };
      assert.equal(cap, 192); // 256 minus the 64-descriptor headroom
      const open: TestClient[] = [];
      let refusal: { status: number; body: string } | undefined;
      for (let i = 0; i < 260 && !refusal; i++) {
        try {
          open.push(await connect(`ws://127.0.0.1:${port}/v1`));
        } catch (err) {
          const e = err as { status?: number; body?: string };
          if (e.status === undefined) throw err;
          refusal = { status: e.status, body: e.body ?? '' };
        }
      }
      console.log(`# fd-derived cap: soft limit 256 → ${open.length} WebSockets accepted, then HTTP ${refusal?.status}`);
      assert.equal(open.length, 192);
      assert.equal(refusal?.status, 503);
      // Still alive and serving.
      assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);
      for (const c of open) c.ws.terminate();
    } finally {
      child.kill();
    }
  });
});

describe('proxies and origins', () => {
  test('per-IP limits use the forwarded address only when trustProxy is on', async () => {
    const xff = (ip: string) => ({ headers: { 'x-forwarded-for': `6.6.6.6, ${ip}` } });
    const off = await startServer({ connections: { maxPerIp: 2 } });
    const a = [await connect(off.ws('/v1'), xff('1.1.1.1')), await connect(off.ws('/v1'), xff('2.2.2.2'))];
    // Different forwarded addresses, one real peer: the header is ignored, so the third is refused.
    await assert.rejects(connect(off.ws('/v1'), xff('3.3.3.3')), { status: 429 });
    assert.deepEqual([...off.server.caps.perIp.keys()], ['127.0.0.1']);
    for (const c of a) await c.close();
    await off.close();

    const on = await startServer({ connections: { maxPerIp: 2 }, trustProxy: true });
    const b = [await connect(on.ws('/v1'), xff('1.1.1.1')), await connect(on.ws('/v1'), xff('1.1.1.1'))];
    await assert.rejects(connect(on.ws('/v1'), xff('1.1.1.1')), { status: 429 });
    b.push(await connect(on.ws('/v1'), xff('2.2.2.2')));
    b.push(await connect(on.ws('/v1'), { headers: { forwarded: 'for=1.1.1.1' } })); // not the configured header: the peer's address counts
    assert.deepEqual(Object.fromEntries(on.server.caps.perIp), { '1.1.1.1': 2, '2.2.2.2': 1, '127.0.0.1': 1 });
    for (const c of b) await c.close();
    await on.close();
  });

  test('allowedOrigins: a foreign browser Origin gets 403 on every dialect; no Origin is allowed', async () => {
    const srv = await startServer({ allowedOrigins: ['https://app.example.com'] });
    for (const path of ['/v1', '/ws', '/', '/api/room/ABCDEF', '/ws/ABCDEF']) {
      await assert.rejects(connect(srv.ws(path), { headers: { origin: 'https://evil.example' } }), { status: 403 });
    }
    const ok = await connect(srv.ws('/v1'), { headers: { origin: 'https://app.example.com' } });
    const noOrigin = await connect(srv.ws('/v1'));
    assert.equal(srv.server.caps.total, 2); // refused origins never took a slot
    await ok.close();
    await noOrigin.close();
    await srv.close();
  });
});

describe('handshake deadline', () => {
  async function rawTcp(port: number): Promise<{ sock: Socket; closed: Promise<void> }> {
    const sock = tcpConnect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    sock.on('error', () => {});
    const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    return { sock, closed };
  }

  test('a TCP connection that never completes its upgrade is dropped at connections.handshakeTimeoutMs (injected clock)', async () => {
    const srv = await startServer({ connections: { handshakeTimeoutMs: 10_000 } });
    const silent = await rawTcp(srv.port);
    const partial = await rawTcp(srv.port);
    partial.sock.write('GET /v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
    await until(() => srv.server.sockets.open === 2, 'both sockets to be seen');
    let closedEarly = false;
    void silent.closed.then(() => (closedEarly = true));
    srv.clock.advance(9_999);
    // A full round trip on another connection: had the deadline fired, the close would be here by now.
    assert.equal((await fetch(srv.http('/health'))).status, 200);
    assert.equal(closedEarly, false);
    srv.clock.advance(1);
    // The guard only catches a deadline that did not fire (Node's own 30-second header check would).
    const guard = (p: Promise<void>) => Promise.race([p, new Promise<void>((_, reject) => setTimeout(() => reject(new Error('not dropped by the handshake deadline')), 5000).unref())]);
    await guard(silent.closed);
    await guard(partial.closed);
    await until(() => srv.server.sockets.open === 0, 'sockets to be counted closed');
    // A completed upgrade is not subject to it.
    const c = await connect(srv.ws('/v1'));
    srv.clock.advance(30_000);
    c.send({ type: 'ping', id: 1 });
    assert.equal((await c.next('pong')).re, 1);
    await c.close();
    await srv.close();
  });
});

describe('oversized handshakes', () => {
  test('headers over Node\'s maxHeaderSize (a 100 KB token) get HTTP 431 with a JSON reason, not a reset; the server carries on', async () => {
    const srv = await startServer();
    try {
      const huge = 'x'.repeat(100_000);
      const byHeader = await connect(srv.ws('/v1'), { headers: { authorization: `Bearer ${huge}` } }).then(
        () => assert.fail('connected'),
        (err: Error & { status?: number; body?: string }) => err,
      );
      assert.equal(byHeader.status, 431, String(byHeader));
      assert.match(byHeader.body ?? '', /"error":"request headers too large"/);
      const byQuery = await refused(srv.ws(`/v1?token=${huge}`));
      assert.equal(byQuery.status, 431);
      // A plain HTTP request too, on any path.
      const res = await fetch(srv.http('/health'), { headers: { 'x-filler': huge } });
      assert.equal(res.status, 431);
      const c = await connect(srv.ws('/v1'));
      assert.equal((await c.next('welcome')).type, 'welcome');
      await c.close();
    } finally {
      await srv.close();
    }
  });

  test('a malformed request line gets HTTP 400', async () => {
    const srv = await startServer();
    try {
      const sock = tcpConnect(srv.port, '127.0.0.1');
      let reply = '';
      sock.on('data', (d: Buffer) => (reply += d.toString()));
      await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
      sock.write('THIS IS NOT HTTP\r\n\r\n');
      await new Promise<void>((resolve) => sock.once('close', () => resolve()));
      assert.match(reply, /^HTTP\/1\.1 400 Bad Request\r\n/);
    } finally {
      await srv.close();
    }
  });
});
