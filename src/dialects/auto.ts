import { type Conn, type Dialect, type DialectContext, type DialectHandler, seedCloseCodes } from './dialect.js';

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

    accept(conn: Conn, ctx: DialectContext): DialectHandler {
      let current: DialectHandler | undefined = fallback?.accept(conn, ctx);
      let decided = false;
      const undecidedError = (message: string) => {
        ctx.countError('auto', 'unrecognised');
        conn.send({ type: 'error', message });
      };

      return {
        message(msg, text) {
          if (decided) return current!.message(msg, text);
          const chosen = candidates.find((c) => c.detect?.(msg));
          if (chosen) {
            decided = true;
            const previous = current;
            current = undefined;
            conn.log.debug({ dialect: chosen.name }, 'dialect detected from first frame');
            const begin = (): void | Promise<void> => {
              conn.rebind(chosen);
              current = chosen.accept(conn, ctx);
              return current.message(msg, text);
            };
            const quit = previous?.closed();
            return quit ? quit.then(begin) : begin();
          }
          if (fallback && current && fallback.detect?.(msg)) {
            decided = true;
            conn.rebind(fallback);
            return current.message(msg, text);
          }
          const t = (msg as { type?: unknown } | null)?.type;
          undecidedError(
            typeof t === 'string'
              ? `Unrecognised message type for this endpoint: ${t.slice(0, 64)}`
              : 'Message must be a JSON object with a string "type"',
          );
        },
        reject(code, detail) {
          if (decided && current) return current.reject(code, detail);
          undecidedError(code === 'invalid-json' ? 'Invalid JSON' : code === 'rate-limited' ? 'Rate limit exceeded: slow down' : detail);
        },
        closed(how) {
          return current?.closed(how);
        },
        drain(closeInMs) {
          if (decided) current?.drain?.(closeInMs);
        },
        heartbeat() {
          if (decided) current?.heartbeat?.();
        },
      };
    },
  };
}
