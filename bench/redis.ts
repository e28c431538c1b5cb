import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunningRedis {
  url: string;
  pid: number;
  dead: Promise<never>;
  stop(): Promise<void>;
}

/** A TCP port nothing listens on right now (127.0.0.1). */
export function freePort(): Promise<number> {
  return listenFree(0);
}

/** Listens on `port` (0: any) on 127.0.0.1 and closes again: the port it got; rejects if taken. */
export function listenFree(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => {
      const got = (srv.address() as { port: number }).port;
      srv.close(() => resolve(got));
    });
  });
}

/** The first port of the kernel's ephemeral range, where outgoing connections get their local ports. */
function ephemeralLow(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}

/**
 * A free port for a store that may be killed and started again on it (and, with `bus`, whose
 * port + bus is free too: a Redis Cluster shard's bus port), picked below the ephemeral range: a
 * port from there can be taken meanwhile as the local port of any outgoing connection (seen in CI:
 * a shard's bus port taken between the check and the spawn). Falls back to any free port.
 */
export async function freeStorePort(bus = 0): Promise<number> {
  const bottom = 10_000;
  const top = ephemeralLow() - bus;
  const free = (p: number) => listenFree(p).then(() => true, () => false);
  for (let i = 0; i < 200 && top - bottom > 100; i++) {
    const port = bottom + Math.floor(Math.random() * (top - bottom));
    if ((await free(port)) && (bus === 0 || (await free(port + bus)))) return port;
  }
  for (;;) {
    const port = await freePort();
    if (bus === 0 || (port + bus < 65536 && (await free(port + bus)))) return port;
  }
}

/**
 * Resolves when a redis-server child says it accepts connections; rejects (saying what to install
 * when it is missing) if it fails, exits or takes over 10 s. `stopping()`: an exit is expected.
 */
export function redisReady(child: ChildProcess, stopping: () => boolean = () => false): Promise<void> {
  let out = '';
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out.slice(-300)}`)), 10_000);
    child.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(err.code === 'ENOENT' ? 'redis-server is not installed (apt-get install -y redis-server)' : `redis-server: ${err.message}`));
    });
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!stopping()) reject(new Error(`redis-server exited (${code}): ${out.slice(-300)}`));
    });
  });
}

/** A throwaway redis-server on 127.0.0.1 (no persistence) for the cluster scenario. */
export async function startRedis(): Promise<RunningRedis> {
  const port = await freeStorePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stopping = false;
  await redisReady(child);
  const dead = new Promise<never>((_, reject) => child.once('exit', (code) => !stopping && reject(new Error(`redis-server exited during the run (${code})`))));
  dead.catch(() => {});
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid!,
    dead,
    stop: () =>
      new Promise<void>((resolve) => {
        stopping = true;
        const done = () => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        };
        if (child.exitCode !== null) return done();
        child.once('exit', done);
        child.kill('SIGTERM');
      }),
  };
}
