// deploy/compose/nginx.conf run by Debian's nginx in front of real Switchboard nodes on loopback.
// Docker does not run on the development machines: this is how the compose file's load balancer
// is validated (docs/deploy.md).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startCluster, type Cluster } from '../cluster/cluster-helpers.js';
import { launch, type Launched } from '../helpers/launch.js';
import { needProgram } from '../helpers/programs.js';
import { freePort, redisSkip } from '../helpers/redis.js';
import { relayNative } from '../helpers/relay.js';
import { connect, type TestClient } from '../helpers/ws.js';

const nginxSkip = needProgram('nginx', ['-v'], 'nginx', 'the nginx load balancer tests');

/**
 * The compose file's nginx.conf with its three upstream servers pointed at `upstreams` and its
 * listener at 127.0.0.1:`port`. Each replacement must match exactly what the file says, so a
 * change of its shape fails here instead of silently testing something else.
 */
export function localNginxConf(conf: string, upstreams: string[], port: number): string {
  let n = 0;
  const out = conf.replace(/^(\s*server )switchboard-(\d):8765( .*;)$/gm, (_m, head: string, i: string, tail: string) => {
    n++;
    return `${head}${upstreams[Number(i) - 1]}${tail}`;
  });
  assert.equal(n, upstreams.length, 'nginx.conf names one upstream server per node');
  const listens = out.match(/^\s*listen 80;$/gm) ?? [];
  assert.equal(listens.length, 1, 'nginx.conf has one listener, on port 80');
  return out.replace(/^(\s*)listen 80;$/m, `$1listen 127.0.0.1:${port};`);
}

/** A main nginx.conf around the compose file's (an http-level include, as in the nginx image), all paths in `dir`. */
function mainConf(dir: string): string {
  return [
    'daemon off;',
    'worker_processes 1;',
    `pid ${dir}/nginx.pid;`,
    'error_log stderr notice;',
    'events { worker_connections 256; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`),
    `  include ${dir}/switchboard.conf;`,
    '}',
    '',
  ].join('\n');
}

describe('deploy/compose/nginx.conf in front of Switchboard nodes (nginx, real redis-server)', { skip: nginxSkip || redisSkip }, () => {
  let cluster: Cluster;
  let nginx: Launched;
  let dir: string;
  let lb: number;
  let deadPort: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sb-nginx-'));
    // Two live nodes sharing a Redis backplane, as in the compose file; the third upstream is a
    // port where nothing listens: a node that is down.
    cluster = await startCluster(2, { drainTimeoutMs: 60_000 });
    deadPort = await freePort();
    lb = await freePort();
    const conf = readFileSync('deploy/compose/nginx.conf', 'utf8');
    writeFileSync(join(dir, 'switchboard.conf'), localNginxConf(conf, [...cluster.nodes.map((n) => `127.0.0.1:${n.port}`), `127.0.0.1:${deadPort}`], lb));
    writeFileSync(join(dir, 'nginx.conf'), mainConf(dir));
    const args = ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', 'stderr'];
    const check = spawnSync('nginx', [...args, '-t'], { encoding: 'utf8' });
    assert.equal(check.status, 0, `nginx -t: ${check.stderr}`);
    nginx = launch('nginx', args);
    // Logged once its listener is bound and the worker is being started.
    await nginx.line('start worker process', 10_000, 'stderr');
  });

  after(async () => {
    nginx?.kill('SIGQUIT');
    await nginx?.exited;
    await cluster?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const http = (path: string) => `http://127.0.0.1:${lb}${path}`;
  const ws = (path = '/v1') => `ws://127.0.0.1:${lb}${path}`;

  test('nginx -t accepts it; plain HTTP goes through to a live node, never to the dead one', async () => {
    const nodes = new Set(cluster.nodes.map((n) => n.server.hub.nodeId));
    for (let i = 0; i < 6; i++) {
      const res = await fetch(http('/health'));
      assert.equal(res.status, 200);
      const body = (await res.json()) as { ok: boolean; node: string };
      assert.ok(nodes.has(body.node), `answered by a cluster node (${body.node})`);
      // Plain requests are not upgraded: no Connection: upgrade is forced on them.
      assert.equal(res.headers.get('upgrade'), null);
    }
  });

  test('a native message relayed between two WebSocket clients through nginx (WebSocket upgrade)', async () => {
    await relayNative(ws(), ws());
  });

  test('a draining node (503 to /ready and to handshakes) gets no new connection: nginx hands the handshake to the next node', async () => {
    const [draining, live] = cluster.nodes as [Cluster['nodes'][number], Cluster['nodes'][number]];
    // One connection keeps the draining node's listener open through its 60 s drain window.
    const held = await connect(draining.ws());
    await held.next('welcome');
    const stopped = draining.server.stop();
    assert.equal((await fetch(draining.http('/ready'))).status, 503);
    const before = { draining: draining.server.connections.size, live: live.server.connections.size };
    const clients: TestClient[] = [];
    try {
      for (let i = 0; i < 6; i++) {
        const c = await connect(ws());
        await c.next('welcome');
        clients.push(c);
      }
      assert.equal(draining.server.connections.size, before.draining, 'the draining node took none');
      assert.equal(live.server.connections.size, before.live + clients.length, 'the live node took every one');
    } finally {
      for (const c of clients) c.ws.terminate();
      held.ws.terminate();
      cluster.clock.advance(60_000);
      await stopped;
    }
  });
});
