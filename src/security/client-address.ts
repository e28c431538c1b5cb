import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { Config } from '../config.js';
import { ConfigError } from '../config-error.js';

/** `::ffff:1.2.3.4` (an IPv4 peer on a dual-stack socket) is 1.2.3.4. */
export function normalizeAddress(a: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  return (m ? m[1]! : a).toLowerCase();
}

function family(a: string): 'ipv4' | 'ipv6' | undefined {
  const v = isIP(a);
  return v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : undefined;
}

/** Builds the trusted-proxy list from `trustedProxies` (addresses or CIDR ranges). */
function trustedList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  entries.forEach((raw, i) => {
    const [addr, bits, extra] = raw.trim().split('/');
    const a = normalizeAddress(addr ?? '');
    const f = family(a);
    const prefix = bits === undefined ? undefined : Number(bits);
    const max = f === 'ipv4' ? 32 : 128;
    if (!f || extra !== undefined || (prefix !== undefined && !(Number.isInteger(prefix) && prefix >= 0 && prefix <= max && /^\d+$/.test(bits!)))) {
      throw new ConfigError(`trustedProxies.${i}`, `expected an IP address or CIDR range, got ${JSON.stringify(raw)}`);
    }
    if (prefix === undefined) list.addAddress(a, f);
    else list.addSubnet(a, prefix, f);
  });
  return list;
}

/** The addresses of one `X-Forwarded-For` header (all its lines), left to right. */
function xForwardedFor(req: IncomingMessage): string[] {
  const h = req.headers['x-forwarded-for'];
  const text = Array.isArray(h) ? h.join(',') : (h ?? '');
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** The `for=` values of RFC 7239 `Forwarded` headers, left to right, brackets and ports removed. */
function forwarded(req: IncomingMessage): string[] {
  const h = req.headers.forwarded;
  const text = Array.isArray(h) ? h.join(',') : (h ?? '');
  const out: string[] = [];
  for (const element of text.split(',')) {
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq < 0 || pair.slice(0, eq).trim().toLowerCase() !== 'for') continue;
      let v = pair.slice(eq + 1).trim();
      if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
      const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(v);
      if (bracketed) v = bracketed[1]!;
      else if (/^[\d.]+:\d+$/.test(v)) v = v.slice(0, v.lastIndexOf(':'));
      out.push(v);
    }
  }
  return out;
}

/**
 * How the server names a client: for per-IP limits and logs. Without `trustProxy`, the TCP peer.
 * With it (behind a reverse proxy), the right-most entry of `proxyHeader` that is not a trusted
 * proxy — the address the outermost trusted proxy saw, which a client cannot forge because that
 * proxy appends it. See docs/security.md for the whole rule.
 */
export function createClientAddress(config: Pick<Config, 'trustProxy' | 'proxyHeader' | 'trustedProxies'>): (req: IncomingMessage) => string {
  const trusted = trustedList(config.trustedProxies);
  const anyPeer = config.trustedProxies.length === 0;
  const isTrusted = (a: string) => {
    const f = family(a);
    return f !== undefined && trusted.check(a, f);
  };
  return (req) => {
    const peer = normalizeAddress(req.socket.remoteAddress ?? 'unknown');
    if (!config.trustProxy) return peer;
    if (!anyPeer && !isTrusted(peer)) return peer;
    const chain = (config.proxyHeader === 'forwarded' ? forwarded(req) : xForwardedFor(req)).map(normalizeAddress);
    if (chain.length === 0) return peer;
    let i = chain.length - 1;
    while (i > 0 && isTrusted(chain[i]!)) i--;
    const client = chain[i]!;
    // "unknown", an obfuscated identifier or garbage: the hop that wrote it is the best we know.
    return family(client) ? client : peer;
  };
}
