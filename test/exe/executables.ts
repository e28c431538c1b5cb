// `npm run test:exe` (after build:exe; not part of `npm test`, which must stay fast): the single
// executables as a user gets them. Named without `.test` so scripts/run-tests.mjs skips it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { launchServer, type LaunchedServer } from '../helpers/launch.js';
import { needProgram } from '../helpers/programs.js';
import { relayNative } from '../helpers/relay.js';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
const EXE = resolve('dist/exe');

// Debian's wine64 package installs `wine` (older ones only `wine64`).
const wine = ['wine', 'wine64'].find((w) => spawnSync(w, ['--version'], { stdio: 'ignore' }).status === 0);
const wineSkip = wine ? false : needProgram('wine', ['--version'], 'wine64', 'the Windows executable under wine');
const unzipSkip = needProgram('unzip', ['-v'], 'unzip', 'the zip check');

/** A copy of one built file alone in a new empty folder: no node_modules, no dist/ beside it. */
function alone(name: string): { dir: string; exe: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sb-exe-'));
  const exe = join(dir, name);
  copyFileSync(join(EXE, name), exe);
  chmodSync(exe, 0o755);
  assert.deepEqual(readdirSync(dir), [name]);
  return { dir, exe };
}

/** The environment of a user's shell: nothing that points back into this checkout. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, SWITCHBOARD_LOG_LEVEL: 'info', ...extra };
  return env;
}

/** GET /health until it answers: the first answer ends start-up. Returns the body and the time since `t0`. */
async function health(port: number, t0: number): Promise<{ body: { ok: boolean; version: string }; ms: number }> {
  const res = await fetch(`http://127.0.0.1:${port}/health`);
  assert.equal(res.status, 200);
  return { body: (await res.json()) as { ok: boolean; version: string }, ms: performance.now() - t0 };
}

/** What every run checks: /health, the demo page, the dashboard and the SDK served from the embedded assets, a relayed message. */
async function serves(s: LaunchedServer, t0: number, guardMs: number): Promise<number> {
  const h = await health(s.port, t0);
  assert.equal(h.body.ok, true);
  assert.equal(h.body.version, pkg.version, '/health reports the version embedded from package.json');
  const demo = await fetch(`http://127.0.0.1:${s.port}/demo`);
  assert.equal(demo.status, 200);
  assert.equal(demo.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(await demo.text(), readFileSync('web/demo/index.html', 'utf8'), 'the demo page is the embedded web/demo/index.html');
  const sdk = await fetch(`http://127.0.0.1:${s.port}/sdk/switchboard.js`);
  assert.equal(sdk.status, 200);
  assert.equal(await sdk.text(), readFileSync('dist/client/switchboard.js', 'utf8'));
  assert.equal((await fetch(`http://127.0.0.1:${s.port}/demo/missing.js`)).status, 404);
  // The dashboard the desktop mode opens (a loopback client: the admin access rule lets it in).
  const dash = await fetch(`http://127.0.0.1:${s.port}/dashboard`);
  assert.equal(dash.status, 200);
  assert.equal(await dash.text(), readFileSync('web/dashboard/index.html', 'utf8'), 'the dashboard is the embedded web/dashboard/index.html');
  const js = await fetch(`http://127.0.0.1:${s.port}/dashboard/dashboard.js`);
  assert.equal(await js.text(), readFileSync('web/dashboard/dashboard.js', 'utf8'));
  await relayNative(`ws://127.0.0.1:${s.port}/v1`, undefined, guardMs);
  return h.ms;
}

test('the Linux executable alone in an empty folder: --version, /health, the demo from its assets, a relayed message, a drain on SIGTERM', async (t) => {
  const { dir, exe } = alone('switchboard-linux-x64');
  try {
    const v = spawnSync(exe, ['--version'], { cwd: dir, env: userEnv(), encoding: 'utf8' });
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stdout.trim(), pkg.version);
    const t0 = performance.now();
    const s = await launchServer(exe, ['--host', '127.0.0.1', '--port', '0'], { cwd: dir, env: userEnv() });
    try {
      const ms = await serves(s, t0, 5000);
      t.diagnostic(`linux start-up to /health answering: ${ms.toFixed(0)} ms`);
      // With an argument, no browser: nothing printed for a desktop user.
      assert.ok(!s.stderr.some((l) => l.includes('is running')), 'no URLs printed when started with arguments');
    } finally {
      s.kill('SIGTERM');
    }
    assert.deepEqual(await s.exited, { code: 0, signal: null });
    assert.ok(s.stdout.some((l) => l.includes('"msg":"stopped"')), 'drained and logged its stop');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the Linux executable started with no arguments (a double-click) serves, prints the URLs and opens the dashboard', async () => {
  const { dir, exe } = alone('switchboard-linux-x64');
  // The desktop's opener: a stand-in xdg-open that records what it was asked to open.
  const bin = mkdtempSync(join(tmpdir(), 'sb-opener-'));
  const opened = join(bin, 'opened.txt');
  writeFileSync(join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s\\n' "$*" > '${opened}'\n`, { mode: 0o755 });
  try {
    // The defaults, except where the test must differ: a free port (PORT=0) on loopback, from the environment.
    const s = await launchServer(exe, [], { cwd: dir, env: userEnv({ PATH: bin, PORT: '0', HOST: '127.0.0.1' }) });
    try {
      // The opener's exit is logged; by then it has written its file.
      await s.line('opened the dashboard in the browser');
      const url = `http://127.0.0.1:${s.port}/dashboard`;
      assert.equal(readFileSync(opened, 'utf8'), `${url}\n`);
      const text = s.stderr.join('\n');
      assert.match(text, new RegExp(`Dashboard +${url}`));
      assert.match(text, new RegExp(`Demo +http://127.0.0.1:${s.port}/demo`));
      assert.match(text, new RegExp(`Health +http://127.0.0.1:${s.port}/health`));
      assert.equal((await health(s.port, 0)).body.ok, true);
    } finally {
      s.kill('SIGTERM');
    }
    assert.equal((await s.exited).code, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(bin, { recursive: true, force: true });
  }
});

const scriptSkip = needProgram('script', ['-V'], 'bsdutils', 'the executable on a terminal');
test('the Linux executable on a terminal logs JSON lines (pino-pretty is not inside it; the logger falls back)', { skip: scriptSkip }, async () => {
  const { dir, exe } = alone('switchboard-linux-x64');
  try {
    // script(1) gives it a terminal, as a double-click's console window does.
    const s = await launchServer('script', ['-qfec', `'${exe}' --host 127.0.0.1 --port 0`, '/dev/null'], { cwd: dir, env: userEnv() });
    try {
      const line = await s.line('listening on ');
      const entry = JSON.parse(line.trim()) as { msg: string; version: string };
      assert.equal(entry.version, pkg.version);
      assert.equal((await health(s.port, 0)).body.ok, true);
    } finally {
      s.kill('SIGTERM');
      await s.exited;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('switchboard-windows.zip holds the exe (intact) and README.txt', { skip: unzipSkip }, () => {
  const zip = join(EXE, 'switchboard-windows.zip');
  const t = spawnSync('unzip', ['-t', zip], { encoding: 'utf8' });
  assert.equal(t.status, 0, t.stdout + t.stderr);
  const l = spawnSync('unzip', ['-Z1', zip], { encoding: 'utf8' });
  assert.deepEqual(l.stdout.trim().split('\n').sort(), ['README.txt', 'switchboard-win-x64.exe']);
  const exe = spawnSync('unzip', ['-p', zip, 'switchboard-win-x64.exe'], { maxBuffer: 1 << 30 });
  assert.ok(exe.stdout.equals(readFileSync(join(EXE, 'switchboard-win-x64.exe'))), 'the zipped exe is the built one');
  const readme = spawnSync('unzip', ['-p', zip, 'README.txt'], { encoding: 'utf8' }).stdout;
  assert.match(readme, new RegExp(`Switchboard ${pkg.version.replace(/\./g, '\\.')} for Windows`));
});

test('the Windows executable under wine: --version, /health, the demo from its assets, a relayed message', { skip: wineSkip }, async (t) => {
  const { dir, exe } = alone('switchboard-win-x64.exe');
  // A fresh prefix says Windows 7, which Node 22 refuses without NODE_SKIP_PLATFORM_CHECK.
  const env = userEnv({ WINEPREFIX: join(dir, 'prefix'), WINEDEBUG: '-all', NODE_SKIP_PLATFORM_CHECK: '1', DISPLAY: '' });
  try {
    const t1 = performance.now();
    const v = launchOnce(wine!, [exe, '--version'], dir, env);
    t.diagnostic(`wine switchboard-win-x64.exe --version (new prefix, ${(performance.now() - t1).toFixed(0)} ms): exit ${v.status}`);
    for (const l of `${v.stdout}${v.stderr}`.trim().split(/\r?\n/)) t.diagnostic(`  ${l}`);
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stdout.trim(), pkg.version);
    const t0 = performance.now();
    // Output to files: Node for Windows under wine cannot open a pipe as stdout (EBADF).
    const s = await launchServer(wine!, [exe, '--host', '127.0.0.1', '--port', '0'], { cwd: dir, env, outputDir: dir });
    try {
      const ms = await serves(s, t0, 20_000);
      t.diagnostic(`windows (wine) start-up to /health answering: ${ms.toFixed(0)} ms`);
    } finally {
      s.kill('SIGTERM');
      await s.exited;
      t.diagnostic('wine run output:');
      for (const l of [...s.stdout, ...s.stderr]) t.diagnostic(`  ${l}`);
    }
  } finally {
    spawnSync('wineserver', ['-k'], { env, stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Runs a command to completion with stdout and stderr in files of `dir` (see launchServer's outputDir). */
function launchOnce(cmd: string, args: string[], dir: string, env: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string } {
  const out = join(dir, 'once.out');
  const err = join(dir, 'once.err');
  const fds = [openSync(out, 'w'), openSync(err, 'w')];
  try {
    const r = spawnSync(cmd, args, { cwd: dir, env, stdio: ['ignore', fds[0]!, fds[1]!] });
    return { status: r.status, stdout: readFileSync(out, 'utf8'), stderr: readFileSync(err, 'utf8') };
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}
