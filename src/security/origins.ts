import { ConfigError } from '../config-error.js';
import type { Admission } from '../core/handshake.js';

/** An allowlist entry: an exact origin, or `scheme://*.domain` for any subdomain of it. */
interface Rule {
  scheme: string;
  host: string;
  wildcard: boolean;
}

function parseRule(raw: string, i: number): Rule | 'any' {
  const s = raw.trim().toLowerCase();
  if (s === '*') return 'any';
  const m = /^([a-z][a-z0-9+.-]*):\/\/(\*\.)?([^/?#\s*]+)\/?$/.exec(s);
  if (!m && s !== 'null') throw new ConfigError(`allowedOrigins.${i}`, `expected an origin like "https://app.example.com" or "https://*.example.com", got ${JSON.stringify(raw)}`);
  if (!m) return { scheme: 'null', host: '', wildcard: false };
  if (m[2] !== undefined) return { scheme: m[1]!, host: m[3]!, wildcard: true };
  const c = canonical(`${m[1]}://${m[3]}`);
  if (!c) throw new ConfigError(`allowedOrigins.${i}`, `not a valid origin: ${JSON.stringify(raw)}`);
  return { ...c, wildcard: false };
}

/** `https://App.Example.com:443` → `https://app.example.com` (default ports dropped), or undefined. */
function canonical(origin: string): { scheme: string; host: string } | undefined {
  if (origin === 'null') return { scheme: 'null', host: '' };
  try {
    const u = new URL(origin);
    return { scheme: u.protocol.slice(0, -1), host: u.host };
  } catch {
    return undefined;
  }
}

/**
 * The browser Origin check at the handshake. An empty list allows every origin. A request without
 * an Origin header (native apps, CLIs, servers) is always allowed: the header is what browsers add,
 * and only a browser page can be made to connect on a victim's behalf.
 */
export function createOriginCheck(allowed: readonly string[]): (origin: string | undefined) => Admission {
  const rules = allowed.map(parseRule);
  const ok: Admission = { ok: true };
  if (rules.length === 0 || rules.includes('any')) return () => ok;
  const list = rules.filter((r): r is Rule => r !== 'any');
  return (origin) => {
    if (origin === undefined) return ok;
    const o = canonical(origin.trim().toLowerCase());
    const pass =
      o !== undefined &&
      list.some((r) => r.scheme === o.scheme && (r.wildcard ? o.host.endsWith(`.${r.host}`) : o.host === r.host));
    return pass ? ok : { ok: false, status: 403, body: { error: 'origin not allowed' } };
  };
}
