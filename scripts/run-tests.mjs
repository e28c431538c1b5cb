// Runs every compiled test file (dist/test/**/*.test.js) with Node's built-in test runner.
// Node 20's runner cannot glob .ts files itself, so `npm test` compiles first (typecheck) and runs the output.
// Three passes: everything but the browser tests, three files at a time; then the cluster suite
// (dist/test/cluster/) again, on a real 3-master Redis Cluster instead of one redis-server
// (SWITCHBOARD_TEST_REDIS=cluster, see test/helpers/redis.ts); then the browser tests
// (dist/test/browser/), one file at a time. Each browser file drives several Chromium tabs with
// live video; two or three of them at once beside the rest of the suite starve a 2-core CI machine.
//
// Each pass has a time budget (minutes, below; SWITCHBOARD_TEST_BUDGET_SCALE multiplies them on a slow
// machine), several times what it takes on a 2-core CI machine. A pass over budget is ended and
// fails, naming the test files still running: a file whose tests are done but whose process does
// not exit (a timer or socket left open) must fail the run, not hold it until the CI limit.
import { readdirSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const scale = Number(process.env.SWITCHBOARD_TEST_BUDGET_SCALE ?? 1) || 1;

/** The processes of group `pgid` (the runner and the test files it spawned), one per line. */
function processesOf(pgid) {
  try {
    return execFileSync('ps', ['-o', 'pid=,etime=,args=', '-g', String(pgid)], { encoding: 'utf8' }).trim();
  } catch {
    return '(ps failed)';
  }
}

function run(name, minutes, files, concurrency, env = {}, flags = []) {
  return new Promise((resolve) => {
    // Its own process group, so the runner and every test file it spawned can be ended together.
    const child = spawn(process.execPath, ['--enable-source-maps', '--test', `--test-concurrency=${concurrency}`, ...flags, ...files], { stdio: 'inherit', env: { ...process.env, ...env }, detached: true });
    // Ctrl-C or a CI cancel reaches this process only: pass it on to the group.
    const forward = (sig) => {
      try {
        process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
      process.exit(1);
    };
    process.once('SIGINT', forward);
    process.once('SIGTERM', forward);
    let over = false;
    const budget = setTimeout(() => {
      over = true;
      console.error(`\n# run-tests: FAILED: the ${name} pass ran past its budget of ${minutes * scale} min. Still running (a test file that does not exit has left a handle open):\n${processesOf(child.pid)}`);
      const kill = (sig) => {
        try {
          process.kill(-child.pid, sig);
        } catch {
          // already gone
        }
      };
      kill('SIGTERM');
      setTimeout(() => kill('SIGKILL'), 5000).unref();
    }, minutes * scale * 60_000);
    child.on('exit', (code, signal) => {
      clearTimeout(budget);
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(over ? 1 : (code ?? (signal ? 1 : 0)));
    });
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
if (rest.length) code ||= await run('main', 25, rest, 3);
if (onCluster.length) {
  console.log('# run-tests: the cluster suite again, on a 3-master Redis Cluster (SWITCHBOARD_TEST_REDIS=cluster)');
  // --test-force-exit: a test file ends when its tests have, whatever a Redis Cluster client left
  // behind (ioredis's own slot-refresh timer could outlive disconnect(); Switchboard no longer uses
  // it, see src/backplane/redis-client.ts and test/backplane/redis-client.test.ts). The same files
  // run without the flag on one Redis above, so a handle of Switchboard's own left open fails there.
  code = (await run('Redis Cluster', 15, onCluster, 2, { SWITCHBOARD_TEST_REDIS: 'cluster' }, ['--test-force-exit'])) || code;
}
if (browser.length) code = (await run('browser', 20, browser, 1)) || code;
process.exit(code);
