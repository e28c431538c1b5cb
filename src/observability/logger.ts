import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export interface LoggerOptions {
  level: string;
  /** Human-readable output; defaults to "stdout is a terminal". */
  pretty?: boolean;
}

/** JSON lines by default (one object per event), pretty on a terminal. */
export function createLogger(opts: LoggerOptions): Logger {
  const base = { level: opts.level, base: { service: 'switchboard' }, timestamp: pino.stdTimeFunctions.isoTime };
  const wantPretty = opts.pretty ?? Boolean(process.stdout.isTTY);
  if (wantPretty) return pino(base, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' }));
  return pino(base);
}
