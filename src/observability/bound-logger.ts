import type { Logger } from 'pino';
import type { CoreLogger } from '../core/session.js';

type Level = 'debug' | 'info' | 'warn' | 'error';

/**
 * A logger that carries its bindings (dialect, peer id, remote address…) as one plain object and
 * merges them into a line only when that line is actually written. A pino child per connection
 * costs a kilobyte or more of memory for every idle connection; this costs the bindings object.
 */
export class BoundLogger implements CoreLogger {
  constructor(
    private readonly root: Logger,
    private readonly bindings: Record<string, unknown>,
  ) {}

  private write(level: Level, obj: object, msg?: string): void {
    if (!this.root.isLevelEnabled(level)) return;
    this.root[level]({ ...this.bindings, ...obj }, msg);
  }

  debug(obj: object, msg?: string): void {
    this.write('debug', obj, msg);
  }

  info(obj: object, msg?: string): void {
    this.write('info', obj, msg);
  }

  warn(obj: object, msg?: string): void {
    this.write('warn', obj, msg);
  }

  error(obj: object, msg?: string): void {
    this.write('error', obj, msg);
  }

  child(bindings: object): CoreLogger {
    return new BoundLogger(this.root, { ...this.bindings, ...bindings });
  }
}
