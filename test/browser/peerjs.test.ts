import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import type { Browser } from 'playwright-core';
import type { Config, DeepPartial } from '../../src/config.js';
import { createServer, type SwitchboardServer } from '../../src/server/server.js';
import { RedisProcess, redisSkip } from '../helpers/redis.js';
import { startProxy, type Proxy } from '../helpers/tcp-proxy.js';
import { chromiumSkip, launchChromium } from './chromium.js';
import { PeerTab, servePeerPage, type ServerOptions } from './peerjs-page.js';
import { connectData, openedId, scenarios, uniqueId, type Pair, type Target } from './peerjs-scenarios.js';

/**
 * The browser check: the real `peerjs` 1.5.5 client in real Chromium against Switchboard's
 * PeerJS dialect, on one node (path / and path /myapp) and on a 2-node cluster over a real
 * redis-server with the two peers on different nodes. The same scenarios pass against the
 * reference `peer` server (node dist/test/browser/peerjs-reference.js).
 *
 * The servers run on the real clock: the browser's WebRTC and the client's timers do, and
 * peer-unavailable comes after `peerjs.expireTimeoutMs` (small here). No test waits on a timer:
 * each waits on an event the client fires.
 */
const PEERJS = { expireTimeoutMs: 300 };
const logger = pino({ level: process.env.SWITCHBOARD_TEST_LOG ?? 'silent' });

interface Node {
  server: SwitchboardServer;
  port: number;
  close(): Promise<void>;
}

async function startNode(overrides: DeepPartial<Config> = {}): Promise<Node> {
  const server = createServer({ host: '127.0.0.1', port: 0, ...overrides, peerjs: { ...PEERJS, ...overrides.peerjs } }, { logger });
  const { port } = await server.start();
  return { server, port, close: () => server.stop({ drainTimeoutMs: 0 }) };
}

/** Whether one of this node's sessions holds the PeerJS id. */
const holds = (n: Node, id: string): boolean => [...n.server.hub.sessions.values()].some((s) => s.namespace === 'peerjs' && s.aliases.has(id));

const at = (n: { port: number }, path = '/'): ServerOptions => ({ host: '127.0.0.1', port: n.port, path });

describe('the real peerjs client in Chromium against the PeerJS dialect', { skip: chromiumSkip }, () => {
  let browser: Browser;
  let site: Awaited<ReturnType<typeof servePeerPage>>;
  const pair = {} as Pair;
  before(async () => {
    browser = await launchChromium({ fakeMedia: true });
    site = await servePeerPage();
    pair.a = await PeerTab.open(browser, site.url);
    pair.b = await PeerTab.open(browser, site.url);
  });
  after(async () => {
    await browser?.close();
    await site?.close();
    // nothing threw inside either page
    assert.deepEqual([...(pair.a?.pageErrors ?? []), ...(pair.b?.pageErrors ?? [])], []);
  });

  describe('one node, peerjs.path / (the default)', () => {
    let node: Node;
    const target = {} as Target;
    before(async () => {
      node = await startNode();
      Object.assign(target, { a: at(node), b: at(node), httpA: `http://127.0.0.1:${node.port}` });
    });
    after(() => node?.close());
    for (const s of scenarios) test(s.name, () => s.run(target, pair));
  });

  describe("one node, peerjs.path '/myapp'", () => {
    let node: Node;
    const target = {} as Target;
    before(async () => {
      node = await startNode({ peerjs: { path: '/myapp' } });
      Object.assign(target, { a: at(node, '/myapp'), b: at(node, '/myapp'), httpA: `http://127.0.0.1:${node.port}` });
    });
    after(() => node?.close());
    for (const s of scenarios) test(s.name, () => s.run(target, pair));
  });

  describe('a 2-node cluster over redis-server, peer A on node 1 and peer B on node 2', { skip: redisSkip }, () => {
    let redis: RedisProcess;
    let nodes: Node[];
    let proxy: Proxy;
    const target = {} as Target;
    before(async () => {
      redis = await RedisProcess.start();
      nodes = [await startNode({ redis: { url: redis.url } }), await startNode({ redis: { url: redis.url } })];
      proxy = await startProxy(nodes[0]!.port);
      Object.assign(target, { a: at(nodes[0]!), b: at(nodes[1]!), httpA: `http://127.0.0.1:${nodes[0]!.port}` });
    });
    after(async () => {
      await proxy?.close();
      for (const n of nodes ?? []) await n.close();
      await redis?.kill();
    });
    for (const s of scenarios) test(s.name, () => s.run(target, pair));

    test('disconnect() on node 1, reconnect() lands on node 2: same id, reached from node 1', async () => {
      // A signals through a proxy (a load balancer, say) that sends later connections to node 2
      const viaProxy: ServerOptions = { host: '127.0.0.1', port: proxy.port, path: '/' };
      proxy.target = nodes[0]!.port;
      const ida = openedId(await pair.a.makePeer(null, viaProxy), 'A on node 1');
      const idb = openedId(await pair.b.makePeer(uniqueId('b'), at(nodes[0]!)), 'B on node 1');
      await connectData(pair, idb, 'json');
      await pair.a.disconnect();
      proxy.target = nodes[1]!.port;
      assert.deepEqual(await pair.a.reconnect(), { id: ida, peerId: ida });
      assert.ok(holds(nodes[1]!, ida), 'A is on node 2 now');
      assert.ok(!holds(nodes[0]!, ida), 'and no longer on node 1');
      // B, on node 1, reaches A on node 2 by its id, and A reaches B back
      const r = await pair.b.connect(ida, { serialization: 'binary', label: 'moved' });
      assert.ok('connectionId' in r, JSON.stringify(r));
      const { connectionId } = r;
      await pair.b.send(connectionId, [{ kind: 'Uint8Array', bytes: [1, 2, 3] }]);
      const c = await pair.a.accepted('moved');
      assert.equal(c.peer, idb);
      assert.deepEqual(await pair.a.received(c.connectionId, 1), [{ kind: 'ArrayBuffer', bytes: [1, 2, 3] }]);
      const back = await connectData(pair, idb, 'json');
      await pair.b.send(back, [{ kind: 'value', value: { to: ida } }]);
      assert.deepEqual(await pair.a.received(back, 1), [{ kind: 'value', value: { to: ida } }]);
    });
  });
});
