import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Used when the descriptor limit cannot be read (e.g. Windows) and no cap is configured. */
export const FALLBACK_MAX_CONNECTIONS = 10_000;

/**
 * The process's soft limit on open file descriptors, or undefined when it cannot be read.
 * Node has no getrlimit: `process.getrlimit` is used where a runtime provides it, then Linux's
 * /proc/self/limits, then (other POSIX systems) `ulimit -n` in a child shell, which inherits ours.
 */
export function fdSoftLimit(): number | undefined {
  const getrlimit = (process as unknown as { getrlimit?: (r: string) => { soft: number | null } }).getrlimit;
  if (typeof getrlimit === 'function') {
    try {
      const soft = getrlimit('nofile').soft;
      if (soft !== null && Number.isFinite(soft)) return soft;
    } catch {
      // fall through
    }
  }
  if (process.platform === 'linux') {
    try {
      return parseProcLimits(readFileSync('/proc/self/limits', 'utf8'));
    } catch {
      return undefined;
    }
  }
  if (process.platform === 'win32') return undefined;
  try {
    const out = execFileSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8', timeout: 2000 }).trim();
    return /^\d+$/.test(out) ? Number(out) : undefined;
  } catch {
    return undefined;
  }
}

/** The soft limit from /proc/PID/limits ("Max open files  <soft>  <hard>  files"); undefined when unlimited or absent. */
export function parseProcLimits(text: string): number | undefined {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  return m && /^\d+$/.test(m[1]!) ? Number(m[1]) : undefined;
}

/** Descriptors kept free beside WebSocket connections: pending handshakes, HTTP requests, logs, Redis. */
export function fdHeadroom(fdLimit: number): number {
  return Math.max(64, Math.ceil(fdLimit * 0.05));
}

/**
 * WebSocket connections one node accepts: the configured cap (0: none), never more than the
 * descriptor limit minus headroom, so the process refuses with 503 well before accept() fails.
 */
export function connectionCap(configured: number, fdLimit: number | undefined): number {
  const byFds = fdLimit === undefined ? Infinity : Math.max(1, fdLimit - fdHeadroom(fdLimit));
  const cap = Math.min(configured > 0 ? configured : Infinity, byFds);
  return Number.isFinite(cap) ? cap : FALLBACK_MAX_CONNECTIONS;
}

/**
 * Open TCP sockets (every listener; handshakes and plain HTTP included) past which a new
 * connection is dropped at once, without a response, to keep accept() from failing with EMFILE:
 * the descriptor limit minus half the headroom. Unlimited when the limit is unknown.
 */
export function socketCap(wsCap: number, fdLimit: number | undefined): number {
  if (fdLimit === undefined) return Infinity;
  return Math.max(wsCap + 1, fdLimit - Math.ceil(fdHeadroom(fdLimit) / 2));
}
