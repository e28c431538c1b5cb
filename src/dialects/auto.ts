import type { ErrorCode } from '../core/errors.js';
import { type CloseKind, type Conn, type Dialect, type DialectContext, type DialectHandler, seedCloseCodes } from './dialect.js';

/**
 * First-frame detection for shared catch-all paths. Several seed protocols accept any path on one
 * port, so the path cannot tell them apart; the first frame can. Each candidate dialect's `detect`
 * is asked in order. Until a candidate claims the connection, it is served by the `fallback`
 * dialect (slam's Android pairing): a socket that has not spoken yet must still receive its
 * partner's frames. A frame nobody recognises gets `{"type":"error","message":…}` — the error
 * shape shared by every catch-all seed — and the connection stays undecided.
 */
export function autoDialect(candidates: readonly Dialect[], fallback?: Dialect): Dialect {
  return {
    name: 'auto',
    types: new Set<string>(),
    closeCodes: fallback?.closeCodes ?? seedCloseCodes(),
    accept: (conn: Conn, ctx: DialectContext): DialectHandler => new AutoLine(conn, ctx, candidates, fallback),
  };
}

/** One catch-all connection: the fallback's handler until a first frame picks a dialect, then that dialect's. */
class AutoLine implements DialectHandler {
  private current: DialectHandler | undefined;
  private decided = false;

  constructor(
    private readonly conn: Conn,
    private readonly ctx: DialectContext,
    private readonly candidates: readonly Dialect[],
    private readonly fallback: Dialect | undefined,
  ) {
    this.current = fallback?.accept(conn, ctx);
  }

  private undecidedError(message: string): void {
    this.ctx.countError('auto', 'unrecognised');
    this.conn.send({ type: 'error', message });
  }

  /** Hands the connection to `chosen`: the fallback's handler (if any) closes first, then the chosen one takes the frame. */
  private switchTo(chosen: Dialect, msg: unknown, text: string): void | Promise<void> {
    this.decided = true;
    const previous = this.current;
    this.current = undefined;
    this.conn.log.debug({ dialect: chosen.name }, 'dialect detected from first frame');
    const begin = (): void | Promise<void> => {
      this.conn.rebind(chosen);
      this.current = chosen.accept(this.conn, this.ctx);
      return this.current.message(msg, text);
    };
    const quit = previous?.closed();
    return quit ? quit.then(begin) : begin();
  }

  message(msg: unknown, text: string): void | Promise<void> {
    if (this.decided) return this.current!.message(msg, text);
    const chosen = this.candidates.find((c) => c.detect?.(msg));
    if (chosen) return this.switchTo(chosen, msg, text);
    if (this.fallback && this.current && this.fallback.detect?.(msg)) {
      this.decided = true;
      this.conn.rebind(this.fallback);
      return this.current.message(msg, text);
    }
    const t = (msg as { type?: unknown } | null)?.type;
    this.undecidedError(typeof t === 'string' ? `Unrecognised message type for this endpoint: ${t.slice(0, 64)}` : 'Message must be a JSON object with a string "type"');
  }

  reject(code: ErrorCode, detail: string): void {
    if (this.decided && this.current) return this.current.reject(code, detail);
    this.undecidedError(code === 'invalid-json' ? 'Invalid JSON' : code === 'rate-limited' ? 'Rate limit exceeded: slow down' : detail);
  }

  closed(how?: CloseKind): void | Promise<void> {
    return this.current?.closed(how);
  }

  drain(closeInMs: number): void {
    if (this.decided) this.current?.drain?.(closeInMs);
  }

  heartbeat(): void {
    if (this.decided) this.current?.heartbeat?.();
  }

  tokenExpiring(expiresAt: number): void {
    if (this.decided) this.current?.tokenExpiring?.(expiresAt);
  }
}
