/** Path patterns: literal segments, `:name` segments (one segment each), or `*` (anything). */
export interface Match<T> {
  value: T;
  params: Record<string, string>;
}

interface Compiled<T> {
  segments: string[];
  any: boolean;
  value: T;
  pattern: string;
}

function split(path: string): string[] {
  return path.split('/').filter((s) => s.length > 0);
}

/**
 * A small path router. Literal segments beat `:params`, which beat the catch-all `*`; among equals,
 * the first registered wins.
 */
export class PathRouter<T> {
  private readonly routes: Compiled<T>[] = [];

  add(pattern: string, value: T): this {
    this.routes.push({ segments: pattern === '*' ? [] : split(pattern), any: pattern === '*', value, pattern });
    return this;
  }

  /** The best route for a path; `wildcard: false` ignores the catch-all `*`. */
  match(path: string, wildcard = true): Match<T> | undefined {
    const parts = split(path);
    let best: { m: Match<T>; score: number } | undefined;
    for (const r of this.routes) {
      if (r.any) {
        if (!wildcard) continue;
        if (!best) best = { m: { value: r.value, params: {} }, score: -1 };
        continue;
      }
      if (r.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let score = 0;
      let ok = true;
      for (let i = 0; i < parts.length; i++) {
        const seg = r.segments[i]!;
        const part = parts[i]!;
        if (seg.startsWith(':')) {
          try {
            params[seg.slice(1)] = decodeURIComponent(part);
          } catch {
            ok = false;
            break;
          }
        } else if (seg === part) score += 2;
        else {
          ok = false;
          break;
        }
      }
      if (ok && (!best || score > best.score)) best = { m: { value: r.value, params }, score };
    }
    return best?.m;
  }
}
