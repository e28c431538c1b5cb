import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
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
  const port = await freePort();
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
