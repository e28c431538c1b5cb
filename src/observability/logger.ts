import { createRequire } from 'node:module';
import type { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

export type { Logger };

/** What the log may hold in the process for a destination that does not keep up; past it, lines are dropped. */
export const LOG_BUFFER_BYTES = 1024 * 1024;

export interface LoggerOptions {
  level: string;
  /** Human-readable output; defaults to "stdout is a terminal". */
  pretty?: boolean;
  /** Where lines go (default process.stdout). */
  destination?: Writable;
  /** Bytes queued for the destination past which lines are dropped (default LOG_BUFFER_BYTES). */
  bufferBytes?: number;
}

/** JSON lines by default (one object per event), pretty on a terminal. See LogSink for where they go. */
export function createLogger(opts: LoggerOptions): Logger {
  const base = { level: opts.level, base: { service: 'switchboard' }, timestamp: pino.stdTimeFunctions.isoTime };
  const out = opts.destination ?? process.stdout;
  const wantPretty = opts.pretty ?? Boolean((out as { isTTY?: boolean }).isTTY);
  const tap = new LogTap();
  const sink = new LogSink(out, opts.bufferBytes ?? LOG_BUFFER_BYTES, wantPretty ? prettyFormatter() : undefined, tap);
  const log = pino(base, sink);
  // pino's children are objects whose prototype is their parent: they all find the root's tap.
  (log as unknown as Record<symbol, LogTap>)[TAP] = tap;
  sink.onResumed = (dropped) => log.warn({ dropped }, 'log lines dropped: the log destination did not keep up');
  return log;
}

const TAP = Symbol('switchboard.logTap');

/** The tap of a logger made by createLogger (or a child of one); undefined for any other logger. */
export function logTap(log: Logger): LogTap | undefined {
  const t = (log as unknown as Record<symbol, unknown>)[TAP];
  return t instanceof LogTap ? t : undefined;
}

/** Lines the tap keeps for a late subscriber (the admin log stream sends the last ones first). */
export const LOG_TAP_LINES = 500;

/**
 * Every raw JSON line a logger writes, before pretty formatting: the last LOG_TAP_LINES kept as
 * strings (parsed only when someone reads them) and handed to live subscribers. It is what the
 * admin API's log stream and the cluster's log channel read; it costs one array slot per line.
 */
export class LogTap {
  private readonly ring: string[] = [];
  private next = 0;
  private readonly subs = new Set<(line: string) => void>();

  constructor(private readonly max = LOG_TAP_LINES) {}

  /** One line from pino (with or without its trailing newline). */
  push(line: string): void {
    const text = line.endsWith('\n') ? line.slice(0, -1) : line;
    if (this.ring.length < this.max) this.ring.push(text);
    else this.ring[this.next] = text;
    this.next = (this.next + 1) % this.max;
    for (const fn of this.subs) {
      try {
        fn(text);
      } catch {
        // A subscriber's failure (a closed response) must not cost the log its line.
      }
    }
  }

  /** The last `n` lines (at most LOG_TAP_LINES), oldest first. */
  recent(n = this.max): string[] {
    const ordered = this.ring.length < this.max ? this.ring : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
    return ordered.slice(Math.max(0, ordered.length - n));
  }

  /** Calls `fn` with every line from now on; returns the unsubscribe. `fn` must not log (it runs inside the write). */
  subscribe(fn: (line: string) => void): () => void {
    const own = (line: string) => fn(line);
    this.subs.add(own);
    return () => this.subs.delete(own);
  }

  get subscribers(): number {
    return this.subs.size;
  }
}

/**
 * pino-pretty is loaded on first use only: production logs are not a terminal and never need it.
 * A synchronous require (pino-pretty is CommonJS) keeps createLogger synchronous for the server's
 * constructor; only its formatter is used, so pretty lines go through the same LogSink. Where it
 * cannot be loaded (a single executable holds no node_modules) the terminal gets JSON lines.
 */
function prettyFormatter(): ((line: string) => string) | undefined {
  let pretty: typeof import('pino-pretty');
  try {
    pretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
  } catch {
    return undefined;
  }
  return pretty.prettyFactory({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' });
}

/**
 * The log's destination, which must never stall the server. pino's default (sonic-boom on fd 1)
 * keeps an unbounded buffer while a pipe is full and, at exit, flushes it synchronously, retrying
 * EAGAIN every 100 ms for ever: a server whose stdout reader was gone hung in process.exit.
 *
 * Here lines go through the Node stream (process.stdout): to a pipe or socket it writes without
 * blocking and queues what the kernel will not take yet; to a file it writes synchronously. Once
 * `maxBytes` are queued, lines are dropped and counted until the queue is down to half; the next
 * line written is then a warning with the count. A destination that fails (EPIPE: the reader
 * closed) drops everything after. Nothing runs at exit: the CLI calls flush() (bounded by its
 * shutdown deadline) before exiting. A terminal is the exception: Node writes to it synchronously.
 */
export class LogSink {
  /** Lines dropped since the last warning about it. */
  private dropped = 0;
  private full = false;
  private readonly health: StreamHealth;
  /** Called with the count of dropped lines when lines are written again after drops. */
  onResumed: ((dropped: number) => void) | undefined;

  constructor(
    private readonly out: Writable,
    private readonly maxBytes: number,
    private readonly format?: (line: string) => string,
    private readonly tap?: LogTap,
  ) {
    this.health = healthOf(out);
  }

  /** One line from pino. */
  write(line: string): void {
    this.tap?.push(line);
    if (this.health.failed) return;
    if (this.full || this.out.writableLength >= this.maxBytes) {
      this.full = this.out.writableLength > this.maxBytes / 2;
      if (this.full) {
        this.dropped++;
        return;
      }
    }
    if (this.dropped > 0) {
      const n = this.dropped;
      this.dropped = 0;
      this.onResumed?.(n);
    }
    this.out.write(this.format ? this.format(line) : line);
  }

  /** Calls back once everything written so far has left the process (or the destination failed). */
  flush(cb: (err?: Error) => void): void {
    if (this.health.failed || this.out.writableLength === 0) return void process.nextTick(cb);
    // An empty write's callback runs after every write queued before it.
    this.out.write('', () => cb());
  }
}

interface StreamHealth {
  failed: boolean;
}

/**
 * Whether a destination has failed, watched by one 'error' listener per stream however many loggers
 * write to it (every server embedded in one process shares process.stdout). Keyed by the stream,
 * which is the process's anyway; nothing per server lives here.
 */
const streams = new WeakMap<Writable, StreamHealth>();

function healthOf(out: Writable): StreamHealth {
  let h = streams.get(out);
  if (!h) {
    const health = { failed: false };
    out.on('error', () => {
      health.failed = true;
    });
    streams.set(out, health);
    h = health;
  }
  return h;
}
