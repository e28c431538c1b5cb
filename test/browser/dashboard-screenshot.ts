/**
 * Takes docs/images/dashboard.png from the real page: a server whose ManualClock is run through
 * ten minutes of a small cluster's day (people join and leave rooms, chat flows, a vc room, one
 * client flooding until it is cut off), so the charts have history, then the dashboard at desktop
 * size. Not a test (it writes a file): run it after a build with
 *   node dist/test/browser/dashboard-screenshot.js
 */
import { mkdirSync } from 'node:fs';
import { sync } from '../cluster/cluster-helpers.js';
import { connect } from '../helpers/ws.js';
import { launchChromium } from './chromium.js';
import { hasMember, nativeMember, openDashboard, startDashboardServer, tickUntil, vcMember, type Member } from './dashboard-page.js';

const OUT = 'docs/images';
mkdirSync(OUT, { recursive: true });
const srv = await startDashboardServer();
const browser = await launchChromium();
const live: Member[] = [];
try {
  /** Five seconds of manual time (one history point), with `frames` broadcasts from each talker first. */
  async function step(talkers: Member[], room: (m: Member) => string, frames: number): Promise<void> {
    for (const t of talkers) for (let i = 0; i < frames; i++) t.c.send({ type: 'broadcast', room: room(t), data: { i } });
    for (const t of talkers) await sync(t.c);
    srv.clock.advance(5_000);
    await new Promise((r) => setImmediate(r));
  }
  const rooms = new Map<Member, string>();
  async function enter(room: string, name: string, vc = false): Promise<Member> {
    const m = vc ? await vcMember(srv, room, name) : await nativeMember(srv, room, name);
    rooms.set(m, room);
    live.push(m);
    return m;
  }
  async function leave(m: Member): Promise<void> {
    await m.c.close();
    live.splice(live.indexOf(m), 1);
  }
  const nativeTalkers = () => live.filter((m) => !m.c.ws.url.endsWith('/ws'));

  // Ten minutes: a standup that comes and goes, a design review that grows, chat all along.
  const standup: Member[] = [];
  for (const n of ['Dev Patel', 'Eve Chen', 'Farid Haddad', 'Grace Kim', 'Hiro Tanaka']) standup.push(await enter('standup', n));
  for (let s = 0; s < 120; s++) {
    if (s === 10) await enter('design-review', 'Ann Lee');
    if (s === 14) await enter('design-review', 'Bob Martin');
    if (s === 30) await enter('support-queue', 'Ivan Petrov', true);
    if (s === 33) await enter('support-queue', 'Julia Santos', true);
    if (s === 40) for (const m of standup.splice(2)) await leave(m);
    if (s === 62) await enter('design-review', 'Carmen Ortiz');
    if (s === 75) await enter('release-1.4', 'Kofi Mensah');
    if (s === 80) await enter('release-1.4', 'Lena Vogel');
    if (s === 96) await enter('design-review', 'Maya Singh');
    if (s === 58) {
      // A client that floods its socket: the server cuts it off (a warn line in the log).
      const noisy = await connect(srv.ws('/v1'));
      await noisy.next('welcome');
      for (let i = 0; i < 300; i++) noisy.send({ type: 'ping', id: i });
      await noisy.closedWithin();
    }
    const wave = 6 + Math.round(10 * (1 + Math.sin(s / 9)) + (s > 60 ? 8 : 0));
    await step(nativeTalkers(), (m) => rooms.get(m)!, wave);
  }

  const { page, errors } = await openDashboard(browser, srv.http('').replace(/\/$/, ''), { width: 1440, height: 1000 });
  await page.waitForSelector('#stream-status[data-state="live"]');
  await tickUntil(srv, page, live.map((m) => hasMember(m.id)).join(' && '), 'every member');
  // Rates are measured between snapshots: talk, then let the next one come.
  for (let i = 0; i < 4; i++) {
    for (const t of nativeTalkers()) for (let k = 0; k < 5; k++) t.c.send({ type: 'broadcast', room: rooms.get(t)!, data: { k } });
    for (const t of nativeTalkers()) await sync(t.c);
    srv.clock.advance(1_000);
    await page.waitForFunction(`window.dashboard.snapshot.ts === ${srv.clock.now()}`);
  }
  await page.waitForTimeout(400); // the last frame painted
  await page.screenshot({ path: `${OUT}/dashboard.png` });
  if (errors.length) throw new Error(`the page threw: ${errors.join('; ')}`);
  console.log(`wrote ${OUT}/dashboard.png`);
} finally {
  for (const m of live) m.c.ws.terminate();
  await browser.close();
  await srv.close();
}
