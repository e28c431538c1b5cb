import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, afterEach, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { startServer, type TestServer } from '../helpers/server.js';
import { chromiumSkip, launchChromium } from './chromium.js';
import { openDemo, untilLive, type DemoTab } from './demo-tabs.js';
import { startProxy, type Proxy } from '../helpers/tcp-proxy.js';

/** Polls a condition in real time (the browser's media and the SDK's reconnect run on real clocks); the guard only turns a hang into a failure. */
async function eventually<T>(f: () => Promise<T | undefined | false>, what: string, guardMs = 15_000): Promise<T> {
  const deadline = Date.now() + guardMs;
  while (Date.now() < deadline) {
    const v = await f();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('the demo at /demo in real Chromium (fake camera and microphone)', { skip: chromiumSkip }, () => {
  let browser: Browser;
  let srv: TestServer;
  let proxy: Proxy;
  const tabs: DemoTab[] = [];
  before(async () => {
    browser = await launchChromium({ fakeMedia: true });
    srv = await startServer();
    proxy = await startProxy(srv.port);
  });
  // a failed test leaves no tab behind to load the next one
  afterEach(async () => {
    for (const t of tabs.splice(0)) await t.page.close().catch(() => {});
  });
  after(async () => {
    await browser?.close();
    await proxy?.close();
    await srv?.close();
  });

  test('three tabs are in one video call; a cut signaling connection resumes unnoticed; a fourth tab joins and reaches everyone', async () => {
    const base = srv.http('').replace(/\/$/, '');
    const a = await openDemo(browser, base, 'standup', 'Ann');
    const b = await openDemo(browser, base, 'standup', 'Bob');
    // Carol's signaling runs through a TCP proxy the test can cut
    const c = await openDemo(browser, base, 'standup', 'Carol', `ws://127.0.0.1:${proxy.port}/v1`);
    tabs.push(a, b, c);
    const ids = { a: await a.peerId(), b: await b.peerId(), c: await c.peerId() };
    for (const t of [a, b, c]) await untilLive(t, 2, `${t.name} to see two live videos`);
    // each remote video is tagged with its peer's id
    assert.deepEqual((await a.videos()).map((v) => v.peerId).sort(), [ids.b, ids.c].sort());
    assert.equal(proxy.open, 1);

    const before = new Map<DemoTab, Awaited<ReturnType<DemoTab['videos']>>>();
    for (const t of [a, b, c]) before.set(t, await t.videos());

    assert.equal(proxy.cut(), 1);
    // the SDK notices, reconnects through the proxy and resumes its session
    await eventually(async () => (await c.events('resumed')).length > 0, 'Carol to resume');
    assert.ok(proxy.accepted >= 2, 'a second connection went through the proxy');
    assert.deepEqual((await c.events('state')).map((e) => e.state), ['reconnecting', 'open']);
    assert.equal(await c.peerId(), ids.c, 'same peerId after the resume');
    assert.deepEqual(await c.events('session-lost'), []);
    for (const t of [a, b]) {
      assert.deepEqual(await t.events('peer-left'), [], `${t.name} saw no peer-left`);
      assert.ok(await t.page.evaluate(`window.demo.room.peers.has(${JSON.stringify(ids.c)})`));
    }

    // media kept flowing on the same connections, never renegotiated nor ICE-restarted
    for (const t of [a, b, c]) {
      const was = before.get(t)!;
      const now = await eventually(async () => {
        const v = await t.videos();
        return v.every((x) => x.frames > was.find((w) => w.peerId === x.peerId)!.frames) && v;
      }, `${t.name}'s videos to keep decoding`);
      for (const v of now) {
        const w = was.find((x) => x.peerId === v.peerId)!;
        assert.equal(v.state, 'connected');
        assert.equal(v.signaling, w.signaling, `${t.name} ↔ ${v.peerId}: no renegotiation`);
        assert.equal(v.restarts, 0);
        assert.equal(v.local, w.local);
        assert.equal(v.remote, w.remote);
      }
    }

    // a fourth tab joins after the resume and calls everyone, the resumed tab included
    const d = await openDemo(browser, base, 'standup', 'Dan');
    tabs.push(d);
    const idD = await d.peerId();
    for (const t of [a, b, c, d]) await untilLive(t, 3, `${t.name} to see three live videos`);
    assert.ok((await c.videos()).some((v) => v.peerId === idD && v.frames > 0));
    assert.ok((await d.videos()).some((v) => v.peerId === ids.c && v.frames > 0));
    // the names the others joined with are on the tiles
    const names = await d.page.$$eval('.tile:not(.local) .name', (els) => els.map((e) => e.textContent).sort());
    assert.deepEqual(names, ['Ann', 'Bob', 'Carol']);
    for (const t of tabs) assert.deepEqual(t.errors, [], `${t.name}: page errors`);
  });

  test('a chat message and a 1 MB file cross between two tabs intact, with progress shown', async () => {
    const base = srv.http('').replace(/\/$/, '');
    const a = await openDemo(browser, base, 'files', 'Ann');
    const b = await openDemo(browser, base, 'files', 'Bob');
    tabs.push(a, b);
    await untilLive(a, 1, 'Ann to see Bob');
    await untilLive(b, 1, 'Bob to see Ann');
    await eventually(async () => (await a.page.evaluate('[...window.demo.peers.values()].every((e) => e.p.channel("chat").readyState === "open" && e.p.channel("file").readyState === "open")')) as boolean, 'the data channels to open');

    await a.page.fill('#chat-input', 'hello Bob 👋');
    await a.page.press('#chat-input', 'Enter');
    await b.page.waitForSelector('.msg:not(.mine) .bubble >> text=hello Bob 👋', { timeout: 30_000 });
    await b.page.fill('#chat-input', 'hi Ann');
    await b.page.click('#chat-send');
    await a.page.waitForSelector('.msg:not(.mine) .bubble >> text=hi Ann', { timeout: 30_000 });
    assert.equal(await a.page.textContent('.msg.mine .bubble'), 'hello Bob 👋');

    // watch the progress each side shows while the file crosses
    const watch = `window.__seen = new Set(); new MutationObserver(() => document.querySelectorAll('.file[data-progress]').forEach((f) => window.__seen.add(f.dataset.direction + ':' + f.dataset.progress))).observe(document.body, { subtree: true, attributes: true, attributeFilter: ['data-progress'], childList: true });`;
    await a.page.evaluate(watch);
    await b.page.evaluate(watch);
    const file = randomBytes(1024 * 1024);
    const sha = createHash('sha256').update(file).digest('hex');
    await a.page.setInputFiles('#file-input', { name: 'data.bin', mimeType: 'application/octet-stream', buffer: file });
    const save = await b.page.waitForSelector('.file[data-direction="in"] a.save', { timeout: 20_000 });
    assert.equal(await save.getAttribute('download'), 'data.bin');
    const got = (await b.page.evaluate(`(async () => {
      const buf = await (await fetch(document.querySelector('.file[data-direction="in"] a.save').href)).arrayBuffer();
      const hash = [...new Uint8Array(await crypto.subtle.digest('SHA-256', buf))].map((x) => x.toString(16).padStart(2, '0')).join('');
      return { size: buf.byteLength, hash };
    })()`)) as { size: number; hash: string };
    assert.deepEqual(got, { size: file.length, hash: sha });
    await a.page.waitForSelector('.file[data-direction="out"][data-state="done"]', { timeout: 30_000 });

    const seenB = (await b.page.evaluate('[...window.__seen]')) as string[];
    const seenA = (await a.page.evaluate('[...window.__seen]')) as string[];
    const partial = (seen: string[], dir: string) => seen.filter((s) => s.startsWith(dir + ':')).map((s) => Number(s.split(':')[1])).filter((p) => p > 0 && p < 100);
    assert.ok(partial(seenB, 'in').length >= 2, `the receiver showed progress on the way: ${seenB.join(',')}`);
    assert.ok(seenB.includes('in:100'));
    assert.ok(partial(seenA, 'out').length >= 2, `the sender showed progress on the way: ${seenA.join(',')}`);
    assert.ok(seenA.includes('out:100'));
    assert.match((await b.page.textContent('.file[data-direction="in"] .file-meta')) ?? '', /1\.0 MB · Received/);
    assert.deepEqual([...a.errors, ...b.errors], []);
  });
});
