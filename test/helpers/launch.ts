import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, openSync, readFileSync, watch } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

export interface Launched {
  child: ChildProcess;
  /** The port from the server's "listening on host:port" log line. */
  port: number;
  /** Every stdout and stderr line so far. */
  stdout: string[];
  stderr: string[];
  /** Resolves once the process has exited and its output is all read. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Signals the process's whole group (it runs detached), as Ctrl-C in a terminal would. */
  kill(signal?: NodeJS.Signals): void;
  /** The first stdout line (already read or still to come) containing `text`; the guard catches hangs. */
  line(text: string, guardMs?: number): Promise<string>;
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

/**
 * Starts a Switchboard process (node bin/switchboard.js, an executable, wine running one) in its
 * own process group and resolves once its log says where it listens; rejects if it exits first,
 * or if no such line comes within the guard (a hang, not a timing: then it is killed).
 */
export async function launchServer(cmd: string, args: string[], opts: LaunchOptions = {}, guardMs = 30_000): Promise<Launched> {
  const { outputDir, ...spawnOpts } = opts;
  let files: { out: string; err: string; fds: number[] } | undefined;
  if (outputDir) {
    const out = join(outputDir, 'stdout.log');
    const err = join(outputDir, 'stderr.log');
    files = { out, err, fds: [openSync(out, 'w'), openSync(err, 'w')] };
  }
  const child = spawn(cmd, args, { ...spawnOpts, stdio: ['ignore', files?.fds[0] ?? 'pipe', files?.fds[1] ?? 'pipe'], detached: true });
  for (const fd of files?.fds ?? []) closeSync(fd);
  const [outLines, errLines] = files ? [fileLines(files.out), fileLines(files.err)] : [pipeLines(child.stdout!), pipeLines(child.stderr!)];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      for (const l of [outLines, errLines]) (l as { end?: () => void }).end?.();
      resolve({ code, signal });
    }),
  );
  const stdout: string[] = [];
  const stderr: string[] = [];
  outLines.on('line', (l: string) => stdout.push(l));
  errLines.on('line', (l: string) => stderr.push(l));
  const kill = (signal: NodeJS.Signals = 'SIGTERM') => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  const line = (text: string, guardMs = 10_000) =>
    new Promise<string>((resolve, reject) => {
      const seen = stdout.find((l) => l.includes(text));
      if (seen !== undefined) return resolve(seen);
      const timer = setTimeout(() => reject(new Error(`no stdout line with ${JSON.stringify(text)} within ${guardMs} ms:\n${stdout.join('\n')}`)), guardMs);
      const onLine = (l: string) => {
        if (!l.includes(text)) return;
        clearTimeout(timer);
        outLines.off('line', onLine);
        resolve(l);
      };
      outLines.on('line', onLine);
    });
  let port: number;
  try {
    const listening = line('listening on ', guardMs);
    const early = exited.then((r) => Promise.reject(new Error(`${cmd} exited (${JSON.stringify(r)}) before listening:\n${[...stdout, ...stderr].join('\n')}`)));
    early.catch(() => {}); // only the race's outcome matters
    port = Number(/listening on \S+:(\d+)/.exec(await Promise.race([listening, early]))![1]);
  } catch (err) {
    kill('SIGKILL');
    throw err;
  }
  return { child, port, stdout, stderr, exited, kill, line };
}
