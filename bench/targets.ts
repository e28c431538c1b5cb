import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Protocol } from './protocol.js';
import type { LauncherMessage } from './servers/launcher.js';

export type TargetName = 'switchboard' | 'bare' | 'peerjs';

export interface TargetSpec {
  name: TargetName;
  label: string;
  protocol: Protocol;
  /** Whether the server has rooms (join storm, fan-out). */
  rooms: boolean;
  script: URL;
}

export const TARGETS: Record<TargetName, TargetSpec> = {
  switchboard: { name: 'switchboard', label: 'Switchboard', protocol: 'native', rooms: true, script: new URL('./servers/switchboard.js', import.meta.url) },
  bare: { name: 'bare', label: 'bare ws relay', protocol: 'native', rooms: true, script: new URL('./servers/bare.js', import.meta.url) },
  peerjs: { name: 'peerjs', label: 'PeerJS server', protocol: 'peerjs', rooms: false, script: new URL('./servers/peerjs.js', import.meta.url) },
};

/**
 * Switchboard again, its clients speaking the vc dialect at `/ws` instead of the native protocol:
 * the same server process and configuration (so `--switchboard=` and `--profile` apply to it too).
 */
export const SWITCHBOARD_VC: TargetSpec = { ...TARGETS.switchboard, label: 'Switchboard (vc dialect)', protocol: 'vc' };

export interface ServerMem {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/**
 * A server under test in its own child process. `dead` rejects if the process exits before
 * stop() — every scenario races its work against it, so a crashed target fails the run.
 */
export class RunningTarget {
  readonly base: string;
  readonly pid: number;
  readonly dead: Promise<never>;
  private stopping = false;
  private stderr = '';

  constructor(
    readonly spec: TargetSpec,
    private readonly child: ChildProcess,
    port: number,
  ) {
    this.base = `ws://127.0.0.1:${port}`;
    this.pid = child.pid!;
    child.stderr?.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-2000)));
    this.dead = new Promise<never>((_, reject) => {
      child.once('exit', (code, signal) => {
        if (!this.stopping) reject(new Error(`${spec.label} (pid ${this.pid}) exited during the run (${signal ?? `code ${code}`})${this.stderr ? `: ${this.stderr.trim()}` : ''}`));
      });
    });
    this.dead.catch(() => {});
  }

  /** Server memory after a full GC (every launcher runs with --expose-gc). */
  mem(): Promise<ServerMem> {
    return new Promise((resolve, reject) => {
      const on = (m: LauncherMessage) => {
        if (m.type !== 'mem') return;
        this.child.off('message', on);
        resolve(m);
      };
      this.child.on('message', on);
      this.child.send({ type: 'gc' });
      this.dead.catch(reject);
    });
  }

  /** Starts a CPU profile of the server (the launcher's inspector); `profileEnd` writes it. */
  profileStart(): void {
    this.child.send({ type: 'profile', start: true });
  }

  /** Stops the profile and writes it to `file` (resolves to '' if the profiler failed). */
  profileEnd(file: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const on = (m: LauncherMessage) => {
        if (m.type !== 'profiled') return;
        this.child.off('message', on);
        resolve(m.file);
      };
      this.child.on('message', on);
      this.child.send({ type: 'profile', start: false, file });
      this.dead.catch(reject);
    });
  }

  /** Asks the server to close and waits for its exit (killed after `killAfterMs`). */
  stop(killAfterMs = 5000): Promise<void> {
    this.stopping = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const kill = setTimeout(() => this.child.kill('SIGKILL'), killAfterMs);
      this.child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      if (this.child.connected) this.child.send({ type: 'stop' });
      else this.child.kill('SIGTERM');
    });
  }

  /** Kills the server without warning (tests of the dead-target path). */
  kill(): void {
    this.child.kill('SIGKILL');
  }
}

export interface StartOptions {
  /** Extra node flags (e.g. --cpu-prof). */
  execArgv?: string[];
  readyTimeoutMs?: number;
  /** Launcher script override (tests). */
  script?: URL;
  /** Extra environment for the server process. */
  env?: Record<string, string>;
  /** Runs the server under a wrapper (valgrind): `execPath ...args node ...execArgv script`. */
  wrap?: { execPath: string; args: string[] };
}

export function startTarget(spec: TargetSpec, opts: StartOptions = {}): Promise<RunningTarget> {
  const nodeArgs = ['--expose-gc', ...(opts.execArgv ?? [])];
  const child = fork(fileURLToPath(opts.script ?? spec.script), [], {
    ...(opts.wrap ? { execPath: opts.wrap.execPath } : {}),
    execArgv: opts.wrap ? [...opts.wrap.args, process.execPath, ...nodeArgs] : nodeArgs,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, ...opts.env },
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${spec.label} did not report ready within ${opts.readyTimeoutMs ?? 15_000} ms${stderr ? `: ${stderr.trim()}` : ''}`));
    }, opts.readyTimeoutMs ?? 15_000);
    const onExit = (code: number | null, signal: string | null) => {
      clearTimeout(timer);
      reject(new Error(`${spec.label} exited before it was ready (${signal ?? `code ${code}`})${stderr ? `: ${stderr.trim()}` : ''}`));
    };
    child.once('exit', onExit);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${spec.label} could not be started: ${err.message}`));
    });
    child.on('message', (m: LauncherMessage) => {
      if (m.type !== 'ready') return;
      clearTimeout(timer);
      child.off('exit', onExit);
      resolve(new RunningTarget(spec, child, m.port));
    });
  });
}
