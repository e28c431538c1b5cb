import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { VERSION } from '../../src/version.js';
import { advance, sync } from '../cluster/cluster-helpers.js';
import { startProxy, type Proxy } from '../helpers/tcp-proxy.js';
import { chromiumSkip, launchChromium } from './chromium.js';
import { hasMember, memberRow, nativeMember, openDashboard, startDashboardServer, tickUntil, vcMember, type DashboardServer, type Member } from './dashboard-page.js';

const roomCard = (dialect: string, room: string) => `[data-testid="room"][data-dialect="${dialect}"][data-room="${room}"]`;

/** A page expression: true once the log panel holds a line with `text`. */
const logHas = (text: string) => `document.getElementById('log').textContent.includes(${JSON.stringify(text)})`;

/** The visible lines of the log panel, as text. */
const visibleLog = (page: Page) => page.$$eval('#log > li:not([hidden])', (els) => els.map((e) => e.textContent ?? ''));

/** Clicks a row's or room's button, then the dialog's confirm (or cancel) button. */
async function confirmVia(page: Page, button: string, choice: 'confirm-ok' | 'confirm-cancel'): Promise<string> {
  await page.click(button);
  await page.waitForSelector('#confirm[open]');
  const text = (await page.textContent('#confirm-text')) ?? '';
  await page.click(`[data-testid="${choice}"]`);
  await page.waitForSelector('#confirm:not([open])', { state: 'attached' });
  return text;
}

describe('the dashboard at /dashboard in real Chromium: loopback, no token', { skip: chromiumSkip }, () => {
  let browser: Browser;
  let srv: DashboardServer;
  let page: Page;
  let errors: string[];
  let proxy: Proxy | undefined;
  const members: Member[] = [];
  before(async () => {
    browser = await launchChromium();
    srv = await startDashboardServer({ rooms: { emptyTtlMs: 30_000 } });
    ({ page, errors } = await openDashboard(browser, srv.http('').replace(/\/$/, '')));
  });
  after(async () => {
    for (const m of members) m.c.ws.terminate();
    await browser?.close();
    await proxy?.close();
    await srv?.close();
  });

  test('header and nodes; rooms and members appear and disappear live as native and vc clients join and leave; the room filter', async () => {
    await page.waitForSelector('#stream-status[data-state="live"]');
    assert.equal(await page.textContent('#stream-status'), 'Live');
    assert.equal(await page.textContent('#version'), `v${VERSION}`);
    await page.waitForFunction(`document.getElementById('cluster').textContent === '1 node up · backplane ok'`);
    const node = srv.server.hub.nodeId;
    assert.equal(await page.textContent(`#nodes tr[data-node="${node}"] .state`), 'ready');
    assert.match((await page.textContent(`#nodes tr[data-node="${node}"] th`)) ?? '', /this node/);
    assert.equal(await page.textContent('#rooms-empty'), 'No rooms right now.');

    const ann = await nativeMember(srv, 'standup', 'Ann');
    const bob = await nativeMember(srv, 'standup', 'Bob');
    const vic = await vcMember(srv, 'vc-lobby', 'Vic');
    members.push(ann, bob, vic);
    await tickUntil(srv, page, [ann, bob, vic].map((m) => hasMember(m.id)).join(' && '), 'three members');
    const annRow = await page.$$eval(`${memberRow(ann.id)} td`, (tds) => tds.map((td) => td.textContent));
    assert.deepEqual(annRow.slice(0, 4), [ann.id, 'Ann', '', node]);
    assert.match(annRow[4] ?? '', /^(just now|\d+s ago)$/);
    assert.equal(await page.getAttribute(roomCard('native', 'standup'), 'data-members'), '2');
    assert.ok(await page.$(`${roomCard('vc', 'vc-lobby')} ${memberRow(vic.id)}`), 'the vc member is in its vc room');
    assert.equal(await page.textContent('#v-connections'), '3');
    assert.deepEqual(await page.$$eval('#dialects li', (lis) => lis.map((li) => `${li.dataset.dialect}=${li.querySelector('.n')?.textContent}`)), ['native=2', 'vc=1']);
    assert.equal(await page.textContent(`#nodes tr[data-node="${node}"] .per-dialect`), 'native 2 · vc 1');

    // Bob leaves: his row goes, Ann's stays
    await bob.c.close();
    await tickUntil(srv, page, `!${hasMember(bob.id)}`, 'Bob gone');
    assert.equal(await page.getAttribute(roomCard('native', 'standup'), 'data-members'), '1');
    assert.ok(await page.$(memberRow(ann.id)));

    // The filter matches rooms by name and by their members' names, ids and nodes
    await page.fill('#room-filter', 'vc-lob');
    assert.deepEqual(await page.$$eval('[data-testid="room"]:not([hidden])', (els) => els.map((e) => e.getAttribute('data-room'))), ['vc-lobby']);
    await page.fill('#room-filter', 'ann');
    assert.deepEqual(await page.$$eval('[data-testid="room"]:not([hidden])', (els) => els.map((e) => e.getAttribute('data-room'))), ['standup']);
    assert.equal(await page.textContent('#rooms-count'), '1 of 2');
    await page.fill('#room-filter', 'nobody-here');
    assert.equal(await page.textContent('#rooms-empty'), 'No room matches “nobody-here”.');
    await page.fill('#room-filter', '');
    assert.equal(await page.$$eval('[data-testid="room"]:not([hidden])', (els) => els.length), 2);
  });

  test("the log panel shows the server's lines, with node and fields; level filter, search, pause", async () => {
    const ann = members[0]!;
    // Lines the server logged as Ann joined (from the backlog or live)
    await page.waitForFunction(`[...document.querySelectorAll('#log > li')].some((li) => li.textContent.includes('joined room') && li.textContent.includes(${JSON.stringify(ann.id)}))`);
    const node = srv.server.hub.nodeId;
    const joined = await page.$eval(`#log > li:has-text("${ann.id}")`, (li) => ({ level: li.querySelector('.lvl')?.textContent, node: li.querySelector('.node')?.textContent }));
    assert.deepEqual(joined, { level: 'info', node });

    srv.log.warn({ disk: 'sda1', freePercent: 4 }, 'disk nearly full');
    srv.log.error({ code: 'E42' }, 'something broke');
    srv.log.debug('a debug line the server does not log at level info');
    await page.waitForFunction(logHas('something broke'));
    const lines = await visibleLog(page);
    assert.ok(lines.some((l) => l.includes('warn') && l.includes('disk nearly full') && l.includes('disk=sda1') && l.includes('freePercent=4')), lines.join('\n'));
    assert.ok(!lines.some((l) => l.includes('a debug line')));
    assert.equal(await page.inputValue('#log-level'), '30', 'info by default');

    await page.selectOption('#log-level', { label: 'warn' });
    let shown = await visibleLog(page);
    assert.deepEqual(shown.map((l) => /disk nearly full|something broke/.test(l)), [true, true], shown.join('\n'));
    await page.selectOption('#log-level', { label: 'error' });
    shown = await visibleLog(page);
    assert.equal(shown.length, 1);
    assert.match(shown[0]!, /error.*something broke.*code=E42/);
    await page.selectOption('#log-level', { label: 'info' });

    await page.fill('#log-search', ann.id);
    shown = await visibleLog(page);
    assert.ok(shown.length >= 2, 'connected and joined, at least');
    assert.ok(shown.every((l) => l.includes(ann.id)));
    await page.fill('#log-search', 'DISK NEARLY');
    assert.equal((await visibleLog(page)).length, 1, 'search ignores case');
    await page.fill('#log-search', '');

    // Paused: lines wait (the footer counts them) and come in on resume
    await page.click('#log-pause');
    assert.equal(await page.getAttribute('#log-pause', 'aria-pressed'), 'true');
    srv.log.info('logged while paused');
    await page.waitForFunction(`/paused: 1 new line waiting/.test(document.getElementById('log-info').textContent)`);
    assert.ok(!(await page.textContent('#log'))!.includes('logged while paused'));
    await page.click('#log-pause');
    await page.waitForFunction(logHas('logged while paused'));
  });

  test("Disconnect, after confirming, closes that client's socket with 4003 (Cancel leaves it be)", async () => {
    const ann = members[0]!;
    const carl = await nativeMember(srv, 'standup', 'Carl');
    members.push(carl);
    await ann.c.next('peer-joined');
    await tickUntil(srv, page, hasMember(carl.id), 'Carl');
    const button = `${memberRow(carl.id)} [data-testid="disconnect"]`;
    assert.equal(await page.getAttribute(button, 'aria-label'), 'Disconnect Carl');

    const text = await confirmVia(page, button, 'confirm-cancel');
    assert.match(text, /Carl/);
    await sync(carl.c);
    assert.equal(carl.c.closeCode, undefined, 'cancelled: still connected');

    await confirmVia(page, button, 'confirm-ok');
    assert.equal((await carl.c.closedWithin()).code, 4003);
    const left = await ann.c.next((f) => f.type === 'peer-left' && f.peerId === carl.id);
    assert.equal(left.reason, 'kicked');
    await page.waitForSelector(`.toast.ok:has-text("Disconnected Carl (${carl.id})")`);
    await tickUntil(srv, page, `!${hasMember(carl.id)}`, 'Carl gone');
  });

  test('Close room removes every member (native and vc, each in its words); the empty room goes after its grace', async () => {
    const ann = members[0]!;
    const vic = members[2]!;
    const dee = await nativeMember(srv, 'standup', 'Dee');
    members.push(dee);
    await tickUntil(srv, page, hasMember(dee.id), 'Dee');
    const text = await confirmVia(page, `${roomCard('native', 'standup')} [data-testid="close-room"]`, 'confirm-ok');
    assert.match(text, /All 2 members of native room “standup”/);
    for (const p of [ann, dee]) {
      const left = await p.c.next((f) => f.type === 'peer-left' && f.peerId === p.id);
      assert.deepEqual([left.room, left.reason], ['standup', 'kicked']);
    }
    await page.waitForSelector('.toast.ok:has-text("Closed “standup”: 2 removed")');
    await confirmVia(page, `${roomCard('vc', 'vc-lobby')} [data-testid="close-room"]`, 'confirm-ok');
    assert.deepEqual(await vic.c.next('left'), { type: 'left', room: 'vc-lobby', reason: 'kicked' });

    await tickUntil(srv, page, `document.querySelectorAll('[data-testid="member"]').length === 0`, 'no members left');
    assert.equal(await page.getAttribute(roomCard('native', 'standup'), 'data-members'), '0');
    assert.match((await page.textContent(`${roomCard('native', 'standup')} .room-empty`)) ?? '', /empty-room grace/);
    await advance(srv.clock, 30_000 + srv.server.config.rooms.sweepIntervalMs, [srv], 1_000);
    await tickUntil(srv, page, `document.querySelectorAll('[data-testid="room"]').length === 0`, 'the empty rooms removed');
  });

  test('the stream reconnects after it is cut, and the log lines it sends again are not shown twice', async () => {
    proxy = await startProxy(srv.port);
    const { page: p2, errors: e2 } = await openDashboard(browser, `http://127.0.0.1:${proxy.port}`);
    await p2.waitForSelector('#stream-status[data-state="live"]');
    srv.log.info('a line before the cut');
    const count = () => p2.$$eval('#log > li', (els) => els.filter((e) => e.textContent!.includes('a line before the cut')).length);
    await p2.waitForFunction(logHas('a line before the cut'));
    // Two identical lines in one go (very likely one millisecond): both are news, and both stay so
    for (let i = 0; i < 2; i++) srv.log.info({ n: 1 }, 'twice the same');
    const twice = () => p2.$$eval('#log > li', (els) => els.filter((e) => e.textContent!.includes('twice the same')).length);
    await p2.waitForFunction(`document.querySelectorAll('#log > li').length && [...document.querySelectorAll('#log > li')].filter((e) => e.textContent.includes('twice the same')).length === 2`);
    proxy.refuse = true;
    proxy.cut();
    await p2.waitForSelector('#stream-status:is([data-state="reconnecting"], [data-state="error"])');
    proxy.refuse = false;
    await p2.waitForSelector('#stream-status[data-state="live"]', { timeout: 30_000 });
    assert.equal(await p2.isHidden('#banner'), true);
    // The new stream's backlog holds the line again: still one
    srv.log.info('a line after the cut');
    await p2.waitForFunction(logHas('a line after the cut'));
    assert.equal(await count(), 1);
    assert.equal(await twice(), 2);
    assert.deepEqual(e2, []);
    await p2.close();
  });

  test("a refused request (a proxy header makes no one local) shows the server's 403 message", async () => {
    const p3 = await browser.newPage();
    await p3.route('**/admin/v1/**', (route) => route.continue({ headers: { ...route.request().headers(), 'x-forwarded-for': '203.0.113.7' } }));
    await p3.goto(srv.http('/dashboard'));
    await p3.waitForSelector('#stream-status[data-state="forbidden"]');
    const banner = (await p3.textContent('#banner-text')) ?? '';
    assert.match(banner, /^The server refused access: .*set admin\.token.*never counts as local/);
    assert.equal(await p3.isVisible('#login'), false, 'a 403 does not ask for a token by itself');
    await p3.close();
    assert.deepEqual(errors, []);
  });
});

describe('the dashboard with admin.token set', { skip: chromiumSkip }, () => {
  const TOKEN = 'dashboard-test-token-3f9a';
  let browser: Browser;
  let srv: DashboardServer;
  before(async () => {
    browser = await launchChromium();
    srv = await startDashboardServer({ admin: { token: TOKEN } });
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
  });

  test('the page asks for the token once, keeps it in the tab, and sends it on every call', async () => {
    const eve = await nativeMember(srv, 'ops', 'Eve');
    const { page, errors } = await openDashboard(browser, srv.http('').replace(/\/$/, ''));
    await page.waitForSelector('#login[open]');
    assert.equal(await page.getAttribute('#stream-status', 'data-state'), 'auth');
    assert.equal(await page.$$eval('[data-testid="member"]', (els) => els.length), 0, 'nothing shown without the token');

    await page.fill('[data-testid="token-input"]', 'not-the-token');
    await page.click('[data-testid="token-submit"]');
    await page.waitForFunction(`document.getElementById('login-error').textContent === 'wrong admin token' && document.getElementById('login').open`);

    await page.fill('[data-testid="token-input"]', TOKEN);
    await page.click('[data-testid="token-submit"]');
    await page.waitForSelector('#stream-status[data-state="live"]');
    await page.waitForSelector(memberRow(eve.id));
    assert.equal(await page.evaluate("sessionStorage.getItem('switchboard.adminToken')"), TOKEN);

    // The DELETE carries the token too
    await confirmVia(page, `${memberRow(eve.id)} [data-testid="disconnect"]`, 'confirm-ok');
    assert.equal((await eve.c.closedWithin()).code, 4003);

    // A reload in the same tab asks no more
    await page.reload();
    await page.waitForSelector('#stream-status[data-state="live"]');
    assert.equal(await page.isVisible('#login'), false);
    assert.deepEqual(errors, []);
    await page.close();
  });
});
