import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseArgs } from '../src/cli.js';
import { localBaseUrl, openCommand } from '../src/open-browser.js';
import { createServer, type AddressInfo } from 'node:net';
import { launch, launchServer } from './helpers/launch.js';
import { needProgram } from './helpers/programs.js';

const bin = 'bin/switchboard.js';

test('--open and --no-open: the last one given wins; neither leaves the choice to the default', () => {
  assert.equal(parseArgs([]).open, undefined);
  assert.equal(parseArgs(['--open']).open, true);
  assert.equal(parseArgs(['--no-open']).open, false);
  assert.equal(parseArgs(['--open', '--no-open']).open, false);
  assert.equal(parseArgs(['--no-open', '--port', '9000', '--open']).open, true);
  assert.throws(() => parseArgs(['--open=yes']), /--open is a switch and takes no value/);
});

test('the URL a local browser opens: a wildcard address is localhost, IPv6 gets brackets', () => {
  assert.equal(localBaseUrl('0.0.0.0', 8765), 'http://localhost:8765');
  assert.equal(localBaseUrl('::', 8765), 'http://localhost:8765');
  assert.equal(localBaseUrl('127.0.0.1', 1234), 'http://127.0.0.1:1234');
  assert.equal(localBaseUrl('::1', 1234), 'http://[::1]:1234');
});

test('the opener per platform (Windows: start with an empty title, so the URL is not taken for one)', () => {
  const url = 'http://localhost:8765/dashboard';
  assert.deepEqual(openCommand(url, 'linux'), { cmd: 'xdg-open', args: [url], verbatim: false });
  assert.deepEqual(openCommand(url, 'darwin'), { cmd: 'open', args: [url], verbatim: false });
  assert.deepEqual(openCommand(url, 'win32'), { cmd: 'cmd', args: ['/c', 'start', '""', url], verbatim: true });
});

/** A PATH holding only a stand-in xdg-open that records the URL it was given (or none at all). */
function fakeDesktop(withOpener: boolean): { path: string; opened: string; done(): void } {
  const path = mkdtempSync(join(tmpdir(), 'sb-desktop-'));
  const opened = join(path, 'opened.txt');
  if (withOpener) writeFileSync(join(path, 'xdg-open'), `#!/bin/sh\nprintf '%s\\n' "$*" > '${opened}'\n`, { mode: 0o755 });
  return { path, opened, done: () => rmSync(path, { recursive: true, force: true }) };
}

const env = (path: string) => ({ PATH: path, HOME: process.env.HOME, PORT: '0', HOST: '127.0.0.1', SWITCHBOARD_LOG_LEVEL: 'info' });

describe('switchboard --open', { skip: process.platform === 'linux' ? false : 'the stand-in opener is xdg-open (Linux)' }, () => {
  test('prints the URLs on stderr and opens the dashboard in the browser once listening', async () => {
    const desk = fakeDesktop(true);
    try {
      const s = await launchServer(process.execPath, [bin, '--open'], { env: env(desk.path) });
      try {
        await s.line('opened the dashboard in the browser');
        const base = `http://127.0.0.1:${s.port}`;
        assert.equal(readFileSync(desk.opened, 'utf8'), `${base}/dashboard\n`);
        const urls = [['Dashboard', `${base}/dashboard`], ['Demo', `${base}/demo`], ['Health', `${base}/health`], ['Signaling', `ws://127.0.0.1:${s.port}/v1`]];
        // stderr is its own pipe: its lines may arrive after the stdout line awaited above.
        for (const [name] of urls) await s.line(name!, 10_000, 'stderr');
        const text = s.stderr.join('\n') + '\n';
        for (const [name, url] of urls) assert.match(text, new RegExp(`${name} +${url}\n`));
        assert.ok(s.stdout.every((l) => l.startsWith('{')), 'stdout stays JSON log lines');
      } finally {
        s.kill();
      }
      assert.equal((await s.exited).code, 0);
    } finally {
      desk.done();
    }
  });

  test('a failed open (no opener installed) is logged with the URL to open by hand, and the server keeps serving', async () => {
    const desk = fakeDesktop(false);
    try {
      const s = await launchServer(process.execPath, [bin, '--open'], { env: env(desk.path) });
      try {
        const warn = JSON.parse(await s.line('could not open the browser')) as { level: number; url: string; msg: string };
        assert.equal(warn.level, 40);
        assert.equal(warn.url, `http://127.0.0.1:${s.port}/dashboard`);
        assert.match(warn.msg, /ENOENT.*open http:\/\/127\.0\.0\.1:\d+\/dashboard yourself/);
        const res = await fetch(`http://127.0.0.1:${s.port}/health`);
        assert.equal(res.status, 200);
      } finally {
        s.kill();
      }
      assert.equal((await s.exited).code, 0);
    } finally {
      desk.done();
    }
  });

  test('--no-open after --open: nothing printed, nothing opened', async () => {
    const desk = fakeDesktop(true);
    try {
      const s = await launchServer(process.execPath, [bin, '--open', '--no-open'], { env: env(desk.path) });
      assert.equal((await fetch(`http://127.0.0.1:${s.port}/health`)).status, 200);
      s.kill();
      assert.equal((await s.exited).code, 0);
      // The banner and the opener's spawn come right after the listening line, before any request is answered.
      assert.deepEqual(s.stderr, []);
      assert.ok(!s.stdout.some((l) => l.includes('browser')), s.stdout.join('\n'));
    } finally {
      desk.done();
    }
  });

  test('started with no arguments outside a single executable, it opens nothing (that is the double-click rule of the executables only)', async () => {
    const desk = fakeDesktop(true);
    try {
      const s = await launchServer(process.execPath, [bin], { env: env(desk.path) });
      assert.equal((await fetch(`http://127.0.0.1:${s.port}/health`)).status, 200);
      s.kill();
      await s.exited;
      assert.deepEqual(s.stderr, []);
    } finally {
      desk.done();
    }
  });
});

/** A port some other program holds (the second double-click's situation), until `close()`. */
async function takenPort(): Promise<{ port: number; close(): void }> {
  const blocker = createServer().listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  return { port: (blocker.address() as AddressInfo).port, close: () => blocker.close() };
}

describe('a failed start in desktop mode (--open, or a double-click)', () => {
  test('without a terminal it exits 1 at once, the reason in the log', async () => {
    const taken = await takenPort();
    try {
      const p = launch(process.execPath, [bin, '--open', '--host', '127.0.0.1', '--port', String(taken.port)], { env: env(process.env.PATH!) });
      assert.equal((await p.exited).code, 1);
      assert.ok(p.stdout.some((l) => l.includes('cannot listen on 127.0.0.1') && l.includes('EADDRINUSE')), p.stdout.join('\n'));
      assert.ok(!p.stderr.some((l) => l.includes('Press Enter')));
    } finally {
      taken.close();
    }
  });

  const scriptSkip = needProgram('script', ['-V'], 'bsdutils', 'the terminal test of a failed desktop start');
  test('on a terminal it says why and waits for Enter before exiting 1 (the console window keeps the reason)', { skip: scriptSkip }, async () => {
    const taken = await takenPort();
    try {
      // script(1) gives the server a terminal; what is written to script's stdin is typed into it.
      const cmd = `'${process.execPath}' ${bin} --open --host 127.0.0.1 --port ${taken.port}`;
      const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env: env(process.env.PATH!), stdio: ['pipe', 'pipe', 'pipe'] });
      const exited = once(child, 'close') as Promise<[number | null, string | null]>;
      let screen = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          screen += d.toString();
          if (screen.includes('Press Enter to close this window.')) resolve();
        });
        void exited.then(() => reject(new Error(`exited without waiting:\n${screen}`)));
      });
      assert.match(screen, /Switchboard could not start: listen EADDRINUSE/);
      assert.equal(child.exitCode, null, 'still waiting for Enter');
      child.stdin.write('\n');
      assert.deepEqual(await exited, [1, null], 'exit code 1 (script -e passes it on)');
    } finally {
      taken.close();
    }
  });
});
