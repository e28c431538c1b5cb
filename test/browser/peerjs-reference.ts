/**
 * The PeerJS scenarios (peerjs-scenarios.ts) against the reference server, npm `peer` 1.0.2 with
 * path /myapp (or the path given as an argument): it shows the harness is right, apart from
 * Switchboard. Run by hand, after `npm run build`:  node dist/test/browser/peerjs-reference.js [/path]
 * Exits 1 when a scenario fails.
 */
import type { Server } from 'node:http';
import { PeerServer } from 'peer';
import { freePort } from '../helpers/redis.js';
import { chromiumAvailable, launchChromium } from './chromium.js';
import { PeerTab, servePeerPage, type ServerOptions } from './peerjs-page.js';
import { scenarios, type Target } from './peerjs-scenarios.js';

if (!chromiumAvailable) {
  console.error('chromium not found: install the apt package `chromium`');
  process.exit(1);
}

const path = process.argv[2] ?? '/myapp';
const port = await freePort();
let http: Server | undefined;
const peerServer = PeerServer({ port, host: '127.0.0.1', path, expire_timeout: 300 }, (s) => (http = s));
// peer forgets an id when it handles the socket's close; a reconnect must not overtake it (peerjs.md)
const gone = new Set<string>();
const goneWaiters = new Map<string, () => void>();
peerServer.on('disconnect', (client) => {
  gone.add(client.getId());
  goneWaiters.get(client.getId())?.();
});
const settleDisconnect = (id: string): Promise<void> => (gone.has(id) ? Promise.resolve() : new Promise<void>((resolve) => goneWaiters.set(id, resolve)));

const server: ServerOptions = { host: '127.0.0.1', port, path };
const target: Target = { a: server, b: server, httpA: `http://127.0.0.1:${port}`, settleDisconnect };

const site = await servePeerPage();
const browser = await launchChromium({ fakeMedia: true });
const pair = { a: await PeerTab.open(browser, site.url), b: await PeerTab.open(browser, site.url) };
let failed = 0;
const started = Date.now();
for (const s of scenarios) {
  try {
    await s.run(target, pair);
    console.log(`ok - ${s.name}`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${s.name}\n  ${String((e as Error).stack ?? e).replace(/\n/g, '\n  ')}`);
  }
}
const errors = [...pair.a.pageErrors, ...pair.b.pageErrors];
if (errors.length) {
  failed++;
  console.log(`not ok - page errors: ${errors.join('; ')}`);
}
console.log(`# peer 1.0.2 at 127.0.0.1:${port}${path}: ${scenarios.length - failed} passed, ${failed} failed (${Date.now() - started} ms)`);
await browser.close();
await site.close();
http?.closeAllConnections();
await new Promise((resolve) => http?.close(resolve));
process.exit(failed ? 1 : 0);
