import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startServer, type TestServer } from '../helpers/server.js';
import { chromiumAvailable, chromiumSkip, launchChromium, servePage } from './chromium.js';

let browser: Browser;
let srv: TestServer;
before(async () => {
  if (!chromiumAvailable) return;
  browser = await launchChromium({ fakeMedia: true });
  srv = await startServer();
});
after(async () => {
  await browser?.close();
  await srv?.close();
});

/** The README's "A call in ten lines" page, as written, pointed at this test's server. */
function readmePage(port: number): string {
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('## A call in ten lines'));
  const html = /```html\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(html, 'the README section "A call in ten lines" has a ```html example');
  const code = html.split('\n').filter((l) => l.trim() && !/^<\/?script/.test(l.trim()) && !/^<video/.test(l.trim()));
  assert.ok(code.length <= 10, `ten lines of code, not ${code.length}`);
  return html.replaceAll('127.0.0.1:8765', `127.0.0.1:${port}`);
}

/** Polls the tab (in real time: the media is real) until its one remote video plays and advances. */
async function remoteVideoPlays(page: Page): Promise<void> {
  await page.waitForFunction(
    `(() => { const v = document.querySelectorAll('#others video'); if (v.length !== 1 || !v[0].videoWidth) return false;
      const t = v[0].currentTime; window.__t0 ??= t; return t > window.__t0; })()`,
    undefined,
    { timeout: 20_000, polling: 100 },
  );
}

test('the README\'s ten-line call, served from another origin, connects two tabs with live video', { skip: chromiumSkip }, async () => {
  const page = await servePage(`<!doctype html><meta charset="utf-8">${readmePage(srv.port)}`);
  const errors: string[] = [];
  const tabs = [await browser.newPage(), await browser.newPage()];
  for (const t of tabs) {
    t.on('pageerror', (e) => errors.push(String(e)));
    await t.goto(page.url);
  }
  for (const t of tabs) await remoteVideoPlays(t);
  // the other tab's video, by its peer id; it goes when that tab leaves
  const ids = await Promise.all(tabs.map((t) => t.evaluate('document.querySelector("#others video").id') as Promise<string>));
  assert.notEqual(ids[0], ids[1]);
  await tabs[1]!.close();
  await tabs[0]!.waitForFunction('document.querySelectorAll("#others video").length === 0', undefined, { timeout: 10_000 });
  assert.deepEqual(errors, []);
  await tabs[0]!.close();
  await page.close();
});
