import type { Dialect } from '../dialects/dialect.js';

/** Maps an upgrade path to the dialect that serves it. */
export interface Route {
  /** Exact path, or a prefix ending in '/' (matches anything below it). */
  path: string;
  dialect: Dialect;
}

export class Router {
  private readonly exact = new Map<string, Dialect>();
  private readonly prefixes: { prefix: string; dialect: Dialect }[] = [];

  constructor(routes: Route[]) {
    for (const r of routes) {
      if (r.path.endsWith('/') && r.path.length > 1) this.prefixes.push({ prefix: r.path, dialect: r.dialect });
      else this.exact.set(r.path, r.dialect);
    }
    this.prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  resolve(path: string): Dialect | undefined {
    const hit = this.exact.get(path);
    if (hit) return hit;
    for (const p of this.prefixes) if (path.startsWith(p.prefix)) return p.dialect;
    return undefined;
  }
}
