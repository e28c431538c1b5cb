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
  const sink = new LogSink(out, opts.bufferBytes ?? LOG_BUFFER_BYTES, wantPretty ? prettyFormatter() : undefined);
  const log = pino(base, sink);
  sink.onResumed = (dropped) => log.warn({ dropped }, 'log lines dropped: the log destination did not keep up');
  return log;
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
  ) {
    this.health = healthOf(out);
  }

  /** One line from pino. */
  write(line: string): void {
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
