import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../bench/redis.js';
import { needProgram } from './programs.js';

/** Whether redis-server is on PATH; tests that need it skip loudly (naming the apt package) when not. */
export const redisSkip = needProgram('redis-server', ['--version'], 'redis-server', 'Redis cluster tests');
export const redisAvailable = redisSkip === false;

export { freePort };

/** A real redis-server child process on a free loopback port; kill and restart it at will. */
export class RedisProcess {
  private proc: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'sb-redis-'));

  private constructor(readonly port: number) {}

  static async start(port?: number): Promise<RedisProcess> {
    const r = new RedisProcess(port ?? (await freePort()));
    await r.start();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', this.dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) resolve();
      });
      proc.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
    });
  }

  /** Stops it the hard way (SIGKILL) and waits for the process to be gone. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill('SIGKILL');
    await gone;
  }
}
