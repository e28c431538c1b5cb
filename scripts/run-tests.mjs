// Runs every compiled test file (dist/test/**/*.test.js) with Node's built-in test runner.
// Node 20's runner cannot glob .ts files itself, so `npm test` compiles first (typecheck) and runs the output.
// Three passes: everything but the browser tests, three files at a time; then the cluster suite
// (dist/test/cluster/) again, on a real 3-master Redis Cluster instead of one redis-server
// (SWITCHBOARD_TEST_REDIS=cluster, see test/helpers/redis.ts); then the browser tests
// (dist/test/browser/), one file at a time. Each browser file drives several Chromium tabs with
// live video; two or three of them at once beside the rest of the suite starve a 2-core CI machine.
import { readdirSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { spawn } from 'node:child_process';

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

function run(files, concurrency, env = {}, flags = []) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--enable-source-maps', '--test', `--test-concurrency=${concurrency}`, ...flags, ...files], { stdio: 'inherit', env: { ...process.env, ...env } });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const filter = process.argv.slice(2);
let files = find('dist/test').sort();
if (filter.length) files = files.filter((f) => filter.some((x) => f.includes(x)));
if (!files.length) {
  console.error('run-tests: no test files found under dist/test (did the build run?)');
  process.exit(1);
}
const browserDir = join('dist', 'test', 'browser') + sep;
const browser = files.filter((f) => f.startsWith(browserDir));
const rest = files.filter((f) => !f.startsWith(browserDir));
let code = 0;
const clusterDir = join('dist', 'test', 'cluster') + sep;
const onCluster = rest.filter((f) => f.startsWith(clusterDir));
if (rest.length) code ||= await run(rest, 3);
if (onCluster.length) {
  console.log('# run-tests: the cluster suite again, on a 3-master Redis Cluster (SWITCHBOARD_TEST_REDIS=cluster)');
  // --test-force-exit: a test file ends when its tests have. Seen once in a loaded CI run: a file
  // whose tests had passed never exited. The suspect is ioredis's Cluster client, which can re-arm its
  // slot-refresh timer after disconnect() when a refresh was in flight. The same files run without it on one Redis above,
  // so a handle of Switchboard's own left open still fails there.
  code = (await run(onCluster, 2, { SWITCHBOARD_TEST_REDIS: 'cluster' }, ['--test-force-exit'])) || code;
}
if (browser.length) code = (await run(browser, 1)) || code;
process.exit(code);
