import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { launchServer } from './helpers/launch.js';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
const bin = 'bin/switchboard.js';

test('switchboard --version and --help', () => {
  const v = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
  assert.equal(v.status, 0);
  assert.equal(v.stdout.trim(), pkg.version);
  const h = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
  assert.equal(h.status, 0);
  assert.match(h.stdout, /Usage: switchboard/);
  assert.match(h.stdout, /--heartbeat-interval-ms\s+SWITCHBOARD_HEARTBEAT_INTERVAL_MS/);
});

test('invalid configuration exits 2 with a message naming the key', () => {
  const r = spawnSync(process.execPath, [bin, '--port', 'abc'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /invalid configuration: port: expected a number/);
  const e = spawnSync(process.execPath, [bin], { encoding: 'utf8', env: { ...process.env, SWITCHBOARD_ROOMS_MAX_PEERS: '-1' } });
  assert.equal(e.status, 2);
  assert.match(e.stderr, /rooms\.maxPeers/);
  const u = spawnSync(process.execPath, [bin, '--frobnicate'], { encoding: 'utf8' });
  assert.equal(u.status, 2);
  assert.match(u.stderr, /--frobnicate: unknown option/);
});

/** Starts a server process on a free port (PORT=0: the log says which) in its own process group. */
function launch(cmd: string, args: string[]) {
  return launchServer(cmd, args, { env: { ...process.env, PORT: '0', HOST: '127.0.0.1', SWITCHBOARD_LOG_LEVEL: 'info' } });
}

test('`npm start`, as the README says, serves GET /health', async () => {
  const { kill, port, exited } = await launch('npm', ['start', '--silent']);
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { ok: boolean; ts: number };
    assert.equal(body.ok, true);
    assert.equal(Number.isInteger(body.ts), true);
  } finally {
    kill('SIGTERM');
    await exited;
  }
});

test('the server process drains on SIGTERM and exits 0', async () => {
  const pkgScripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
  assert.equal(pkgScripts.start, `node ${bin}`, 'this test runs what `npm start` runs');
  const { child, port, exited, stdout: log } = await launch(process.execPath, [bin]);
  assert.equal((await fetch(`http://127.0.0.1:${port}/ready`)).status, 200);
  child.kill('SIGTERM');
  assert.deepEqual(await exited, { code: 0, signal: null });
  assert.ok(log.some((l) => l.includes('"msg":"stopped"')), 'logged its stop');
});
