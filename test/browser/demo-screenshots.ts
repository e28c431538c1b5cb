/**
 * Takes the screenshots in docs/images/ from the real demo page: three headless Chromium tabs with
 * fake cameras in one call, a few chat lines and a file sent, then the call from one tab at desktop
 * and phone sizes, and the lobby. Not a test (it writes files): run it after a build with
 *   node dist/test/browser/demo-screenshots.js
 */
import { mkdirSync } from 'node:fs';
import { startServer } from '../helpers/server.js';
import { launchChromium } from './chromium.js';
import { openDemo, untilLive } from './demo-tabs.js';

const OUT = 'docs/images';
mkdirSync(OUT, { recursive: true });
const srv = await startServer();
const browser = await launchChromium({ fakeMedia: true });
try {
  const base = srv.http('').replace(/\/$/, '');
  const ann = await openDemo(browser, base, 'design-review', 'Ann Lee', undefined, { fullCamera: true });
  const bob = await openDemo(browser, base, 'design-review', 'Bob Martin', undefined, { fullCamera: true });
  const cat = await openDemo(browser, base, 'design-review', 'Carmen Ortiz', undefined, { fullCamera: true });
  for (const t of [ann, bob, cat]) await untilLive(t, 2, `${t.name}'s call`);
  await bob.page.fill('#chat-input', 'Morning! Can everyone see the new mockups?');
  await bob.page.press('#chat-input', 'Enter');
  await ann.page.waitForSelector('.msg:not(.mine)');
  await ann.page.fill('#chat-input', 'Yes, looks great. Sending the spec now.');
  await ann.page.press('#chat-input', 'Enter');
  await ann.page.setInputFiles('#file-input', { name: 'spec-v2.pdf', mimeType: 'application/pdf', buffer: Buffer.alloc(2_400_000, 7) });
  await cat.page.waitForSelector('.file[data-direction="in"] a.save', { timeout: 20_000 });
  await cat.page.fill('#chat-input', 'Got it, thanks!');
  await cat.page.press('#chat-input', 'Enter');
  await cat.page.click('#toggle-mic');
  await ann.page.waitForSelector('.msg:not(.mine) >> text=Got it');
  await ann.page.waitForTimeout(600); // let the toasts fade and the last frames paint
  await ann.page.screenshot({ path: `${OUT}/demo-call.png` });

  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  await phone.goto(`${base}/demo?room=design-review&name=${encodeURIComponent('Dev Patel')}`);
  await phone.waitForFunction('document.querySelectorAll("video[data-peer-id]").length === 3 && [...document.querySelectorAll("video[data-peer-id]")].every((v) => v.videoWidth > 0)', undefined, { timeout: 20_000 });
  await phone.waitForTimeout(4500);
  await phone.screenshot({ path: `${OUT}/demo-phone.png` });

  const lobby = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await lobby.goto(`${base}/demo`);
  await lobby.fill('#lobby-name', 'Ann Lee');
  await lobby.screenshot({ path: `${OUT}/demo-lobby.png` });
  console.log(`wrote ${OUT}/demo-call.png, demo-phone.png, demo-lobby.png`);
} finally {
  await browser.close();
  await srv.close();
}
