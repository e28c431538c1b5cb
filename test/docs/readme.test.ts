import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { configTable } from '../../src/config.js';
import { startServer } from '../helpers/server.js';

test('the README configuration table is the one generated from the schema (npm run docs:config)', () => {
  const readme = readFileSync('README.md', 'utf8');
  assert.ok(readme.includes(`<!-- config-table:start -->\n${configTable()}\n<!-- config-table:end -->`), 'run `npm run docs:config` to refresh README.md');
});

test('the README states the two commands', () => {
  const readme = readFileSync('README.md', 'utf8');
  assert.match(readme, /npm ci && npm start/);
  assert.match(readme, /npm ci && npm test/);
});

test('the README JavaScript example runs as written on this Node (it joins a room)', async () => {
  const readme = readFileSync('README.md', 'utf8');
  const code = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(code, 'the README has a ```js example');
  const srv = await startServer();
  // The example's own URL, pointed at this test's server; run from the repository, where a user's
  // `npm i ws` would have put `ws`.
  const child = spawn(process.execPath, ['--input-type=module', '-e', code.replace('ws://127.0.0.1:8765', `ws://127.0.0.1:${srv.port}`)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/type: 'joined'/.test(out)) resolve();
      });
      child.on('exit', (code) => reject(new Error(`the example exited (${code}) before joining: ${err || out}`)));
    });
    assert.match(out, /type: 'welcome'/);
  } finally {
    child.kill();
    await srv.close();
  }
});
