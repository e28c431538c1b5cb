import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { connect, type TestClient } from './helpers/ws.js';

const bin = 'bin/switchboard.js';

interface Launched {
  child: ChildProcess;
  port: number;
  /** Every stdout line read so far (none after stopReading()). */
  log: string[];
  /** Stops reading stdout: the pipe fills up and stays full, as when its reader is gone. */
  stopReading(): void;
  /** Resolves when the process has exited and its stdio closed; rejects past the guard (and kills it). */
  exit(guardMs: number): Promise<{ code: number | null; signal: string | null }>;
}

/** Starts `node bin/switchboard.js` (what `npm start` runs) on a free port, with extra env. */
async function launch(env: Record<string, string>): Promise<Launched> {
  const child = spawn(process.execPath, [bin], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const closed = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  child.stderr!.resume();
  const log: string[] = [];
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (l) => log.push(l));
  const port = await new Promise<number>((resolve, reject) => {
    lines.on('line', (l) => {
      const m = /listening on [^:]+:(\d+)/.exec(l);
      if (m) resolve(Number(m[1]));
    });
    void closed.then((r) => reject(new Error(`server exited (${JSON.stringify(r)}) before listening`)));
  });
  return {
    child,
    port,
    log,
    stopReading() {
      lines.close();
      child.stdout!.pause();
    },
    exit(guardMs) {
      let timer: NodeJS.Timeout | undefined;
      const guard = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`the server was still running ${guardMs} ms after SIGTERM (killed it)`));
        }, guardMs);
      });
      return Promise.race([closed, guard]).finally(() => clearTimeout(timer));
    },
  };
}

async function native(port: number): Promise<TestClient> {
  const c = await connect(`ws://127.0.0.1:${port}/v1`);
  await c.next('welcome');
  return c;
}

async function roundTrip(c: TestClient, id: string): Promise<void> {
  c.send({ type: 'ping', id });
  await c.next((f) => f.type === 'pong' && f.re === id, 20_000);
}

test('a server whose stdout nobody reads still exits after SIGTERM', async () => {
  // Debug logs (a line per relay) fill the pipe the test stops reading, far past what it and the
  // server may buffer; the test's own reader stands for a parent that is gone but left the pipe open.
  const srv = await launch({ SWITCHBOARD_LOG_LEVEL: 'debug', SWITCHBOARD_DRAIN_TIMEOUT_MS: '500', SWITCHBOARD_RATE_LIMITS_MESSAGES_PER_SECOND: '0' });
  try {
    srv.stopReading();
    const a = await native(srv.port);
    const b = await native(srv.port);
    for (const c of [a, b]) {
      c.send({ type: 'join', room: 'flood' });
      await c.next('joined');
    }
    for (let i = 0; i < 20_000; i++) a.send({ type: 'broadcast', room: 'flood', data: i });
    await roundTrip(a, 'flooded');
    srv.child.kill('SIGTERM');
    // Drain (0.5 s) plus the documented hard deadline (5 s) is the promise; the guard only turns
    // a hang into a failure.
    assert.deepEqual(await srv.exit(30_000), { code: 0, signal: null });
  } finally {
    srv.child.kill('SIGKILL');
  }
});

test('a second SIGTERM or SIGINT during the drain exits at once', async () => {
  const srv = await launch({ SWITCHBOARD_LOG_LEVEL: 'info', SWITCHBOARD_DRAIN_TIMEOUT_MS: '600000' });
  try {
    const c = await native(srv.port);
    srv.child.kill('SIGTERM');
    await c.next('goaway'); // the first signal started the drain: ten minutes for the client to leave
    srv.child.kill('SIGINT');
    assert.deepEqual(await srv.exit(20_000), { code: 1, signal: null });
    assert.ok(srv.log.some((l) => l.includes('"msg":"second signal: exiting now"')), 'logged why it exited');
  } finally {
    srv.child.kill('SIGKILL');
  }
});
