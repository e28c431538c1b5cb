import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { Config, DeepPartial } from '../../src/config.js';
import type { ServerDeps } from '../../src/server/server.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer, type TestServer } from '../helpers/server.js';

/** A logger with a tap (createLogger) whose lines go nowhere: what the admin log stream reads. */
export function tappedLogger(): Logger {
  return createLogger({ level: 'info', pretty: false, destination: new Writable({ write: (_c, _e, cb) => cb() }) });
}

/** A test server for one test: started, handed to `fn`, stopped whatever happens. */
export async function withServer(overrides: DeepPartial<Config>, fn: (srv: TestServer) => Promise<void>, deps: ServerDeps = {}): Promise<void> {
  const srv = await startServer(overrides, deps);
  try {
    await fn(srv);
  } finally {
    await srv.close();
  }
}

export interface SseEvent {
  event: string;
  /** The parsed `data` (JSON); a comment (`: ping`) has event `comment` and its text. */
  data: Record<string, unknown> & { [k: string]: unknown };
}

/**
 * An admin event stream read the way the dashboard reads it: fetch() with headers and a streaming
 * body reader. Events queue up; next() takes the next matching one (the guard only turns a hang
 * into a failure).
 */
export class SseClient {
  readonly events: SseEvent[] = [];
  private waiters: { pred: (e: SseEvent) => boolean; resolve: (e: SseEvent) => void }[] = [];
  ended = false;
  private endWaiters: (() => void)[] = [];

  private constructor(
    readonly status: number,
    readonly headers: Headers,
    private readonly abort: AbortController,
  ) {}

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const abort = new AbortController();
    const res = await fetch(url, { headers, signal: abort.signal });
    const c = new SseClient(res.status, res.headers, abort);
    if (res.status !== 200 || !res.body) {
      await res.text().catch(() => '');
      c.ended = true;
      return c;
    }
    void c.read(res.body.getReader());
    return c;
  }

  private async read(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const dec = new TextDecoder();
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          this.push(buf.slice(0, i));
          buf = buf.slice(i + 2);
        }
      }
    } catch {
      // aborted
    }
    this.ended = true;
    for (const w of this.endWaiters.splice(0)) w();
  }

  private push(block: string): void {
    let event = 'message';
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        event = 'comment';
        data = JSON.stringify({ text: line.slice(1).trim() });
      } else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data += line.slice(6);
    }
    const e: SseEvent = { event, data: JSON.parse(data) as SseEvent['data'] };
    const i = this.waiters.findIndex((w) => w.pred(e));
    if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(e);
    else this.events.push(e);
  }

  next(pred: string | ((e: SseEvent) => boolean), guardMs = 5000): Promise<SseEvent> {
    const p = typeof pred === 'string' ? (e: SseEvent) => e.event === pred : pred;
    const i = this.events.findIndex(p);
    if (i >= 0) return Promise.resolve(this.events.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`no matching event within ${guardMs} ms; queued: ${this.events.map((e) => e.event + ' ' + JSON.stringify(e.data).slice(0, 200)).join(' | ')}`));
      }, guardMs);
      const done = (e: SseEvent) => {
        clearTimeout(timer);
        resolve(e);
      };
      this.waiters.push({ pred: p, resolve: done });
    });
  }

  /** Resolves when the server ends the stream. */
  endedWithin(guardMs = 5000): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the stream did not end')), guardMs);
      this.endWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  close(): void {
    this.abort.abort();
  }
}

/** A JSON request to the admin API: status, body, headers. */
export async function call(url: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers };
}
