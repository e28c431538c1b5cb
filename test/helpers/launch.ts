import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, openSync, readFileSync, watch } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

export interface Launched {
  child: ChildProcess;
  /** Every stdout and stderr line so far. */
  stdout: string[];
  stderr: string[];
  /** Resolves once the process has exited and its output is all read. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Signals the process's whole group (it runs detached), as Ctrl-C in a terminal would. */
  kill(signal?: NodeJS.Signals): void;
  /**
   * The first line of `stream` (already read or still to come) containing `text`. Rejects when the
   * process ends without one, or past the guard (which only catches hangs).
   */
  line(text: string, guardMs?: number, stream?: 'stdout' | 'stderr'): Promise<string>;
}

export interface LaunchedServer extends Launched {
  /** The port from the server's "listening on host:port" log line. */
  port: number;
}

export interface LaunchOptions extends SpawnOptions {
  /**
   * Write stdout and stderr to files in this folder (and follow them) instead of pipes: Node for
   * Windows under wine cannot open a pipe as its stdout (EBADF), a file it can.
   */
  outputDir?: string;
}

/** Emits each line of a readable stream ('line'), then 'end'. */
function pipeLines(input: Readable): EventEmitter {
  const out = new EventEmitter();
  createInterface({ input })
    .on('line', (l) => out.emit('line', l))
    .on('close', () => out.emit('end'));
  return out;
}

/**
 * Emits each line appended to a file ('line'), woken by fs.watch rather than polling; `end()`
 * reads what is left (call it once the writer has exited), then emits 'end'.
 */
function fileLines(file: string): EventEmitter & { end(): void } {
  const out = Object.assign(new EventEmitter(), { end: () => {} });
  let pos = 0;
  let rest = '';
  const read = () => {
    const buf = readFileSync(file);
    if (buf.length <= pos) return;
    const parts = (rest + buf.subarray(pos).toString('utf8')).split(/\r?\n/);
    pos = buf.length;
    rest = parts.pop()!;
    for (const p of parts) out.emit('line', p);
  };
  const watcher = watch(file, read);
  out.end = () => {
    watcher.close();
    read();
    if (rest) out.emit('line', rest);
    out.emit('end');
  };
  return out;
}

/** Starts a program in its own process group, reading its output line by line (see LaunchOptions). */
export function launch(cmd: string, args: string[], opts: LaunchOptions = {}): Launched {
  const { outputDir, ...spawnOpts } = opts;
  let files: { out: string; err: string; fds: number[] } | undefined;
  if (outputDir) {
    const out = join(outputDir, 'stdout.log');
    const err = join(outputDir, 'stderr.log');
    files = { out, err, fds: [openSync(out, 'w'), openSync(err, 'w')] };
  }
  const child = spawn(cmd, args, { ...spawnOpts, stdio: ['ignore', files?.fds[0] ?? 'pipe', files?.fds[1] ?? 'pipe'], detached: true });
  for (const fd of files?.fds ?? []) closeSync(fd);
  const streams = files ? { stdout: fileLines(files.out), stderr: fileLines(files.err) } : { stdout: pipeLines(child.stdout!), stderr: pipeLines(child.stderr!) };
  const seen = { stdout: [] as string[], stderr: [] as string[] };
  let ended = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      for (const l of Object.values(streams)) (l as { end?: () => void }).end?.();
      ended = true;
      for (const l of Object.values(streams)) l.emit('gone');
      resolve({ code, signal });
    }),
  );
  streams.stdout.on('line', (l: string) => seen.stdout.push(l));
  streams.stderr.on('line', (l: string) => seen.stderr.push(l));
  const kill = (signal: NodeJS.Signals = 'SIGTERM') => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  const line = (text: string, guardMs = 10_000, stream: 'stdout' | 'stderr' = 'stdout') =>
    new Promise<string>((resolve, reject) => {
      const found = seen[stream].find((l) => l.includes(text));
      if (found !== undefined) return resolve(found);
      const all = () => [...seen.stdout, ...seen.stderr].join('\n');
      if (ended) return reject(new Error(`${cmd} ended without a ${stream} line with ${JSON.stringify(text)}:\n${all()}`));
      const src = streams[stream];
      const stop = () => {
        clearTimeout(timer);
        src.off('line', onLine);
        src.off('gone', onGone);
      };
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`no ${stream} line with ${JSON.stringify(text)} from ${cmd} within ${guardMs} ms:\n${all()}`));
      }, guardMs);
      const onLine = (l: string) => {
        if (!l.includes(text)) return;
        stop();
        resolve(l);
      };
      const onGone = () => {
        stop();
        reject(new Error(`${cmd} ended without a ${stream} line with ${JSON.stringify(text)}:\n${all()}`));
      };
      src.on('line', onLine);
      src.on('gone', onGone);
    });
  return { child, stdout: seen.stdout, stderr: seen.stderr, exited, kill, line };
}

/**
 * Starts a Switchboard process (node bin/switchboard.js, an executable, wine running one) and
 * resolves once its log says where it listens; if it does not (it exited, or hung past the
 * guard), it is killed and the promise rejects with its output.
 */
export async function launchServer(cmd: string, args: string[], opts: LaunchOptions = {}, guardMs = 30_000): Promise<LaunchedServer> {
  const p = launch(cmd, args, opts);
  try {
    const listening = await p.line('listening on ', guardMs);
    return { ...p, port: Number(/listening on \S+:(\d+)/.exec(listening)![1]) };
  } catch (err) {
    p.kill('SIGKILL');
    throw err;
  }
}
