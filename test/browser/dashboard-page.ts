import type { Browser, Page } from 'playwright-core';
import type { Logger } from 'pino';
import type { Config, DeepPartial } from '../../src/config.js';
import { tappedLogger } from '../admin/helpers.js';
import { join, peer } from '../cluster/cluster-helpers.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect, type TestClient } from '../helpers/ws.js';

/**
 * What the dashboard's browser test and its screenshot script share: a server whose logger has a
 * tap (so the page's log panel has lines to show), clients of two dialects, and the page itself.
 */
export interface DashboardServer extends TestServer {
  /** The server's own logger: a line written here is one of the server's lines. */
  log: Logger;
}

export async function startDashboardServer(overrides: DeepPartial<Config> = {}): Promise<DashboardServer> {
  const log = tappedLogger();
  // The heartbeat is not what these tests are about: with the clock advanced for snapshots, a
  // long interval keeps it from closing a client whose pong is still on its way.
  const srv = await startServer({ heartbeat: { intervalMs: 600_000, timeoutMs: 1_200_000 }, ...overrides }, { logger: log });
  return Object.assign(srv, { log });
}

export interface Member {
  c: TestClient;
  id: string;
  name: string;
}

/** A native client (docs/protocol.md) that joined `room` as `name`. */
export async function nativeMember(srv: TestServer, room: string, name: string, url = srv.ws('/v1')): Promise<Member> {
  const { c, id } = await peer(url);
  const answer = await join(c, room, { name });
  if (answer.type !== 'joined') throw new Error(`${name} could not join ${room}: ${JSON.stringify(answer)}`);
  return { c, id, name };
}

/** A vc client (docs/dialects/vc.md) that joined `room` as `name`. */
export async function vcMember(srv: TestServer, room: string, name: string): Promise<Member> {
  const c = await connect(srv.ws('/ws'));
  const id = (await c.next('welcome')).peer_id as string;
  c.send({ type: 'join', room, name });
  await c.next('joined');
  return { c, id, name };
}

/** Opens the dashboard in a fresh tab; errors the page throws are collected in `errors`. */
export async function openDashboard(browser: Browser, base: string, opts: { colorScheme?: 'light' | 'dark'; width?: number; height?: number } = {}): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: opts.width ?? 1440, height: opts.height ?? 960 }, colorScheme: opts.colorScheme ?? 'light' });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}/dashboard`);
  return { page, errors };
}

/**
 * Waits until `expr` (a JavaScript expression) holds in the page, advancing the server's ManualClock by a second at a time:
 * snapshots are sent on that clock's one-second timer. The guard only turns a hang into a failure.
 */
export async function tickUntil(srv: TestServer, page: Page, expr: string, what: string, rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    srv.clock.advance(1_000);
    try {
      await page.waitForFunction(expr, undefined, { timeout: 1_000 });
      return;
    } catch {
      // not yet: the next snapshot may carry it
    }
  }
  throw new Error(`the dashboard did not show ${what} after ${rounds} snapshots`);
}

/** The selector of a member's row. */
export const memberRow = (peerId: string): string => `[data-testid="member"][data-peer-id="${peerId}"]`;

/** A page expression: true while a member's row is shown. */
export const hasMember = (peerId: string): string => `Boolean(document.querySelector(${JSON.stringify(memberRow(peerId))}))`;
