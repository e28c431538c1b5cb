// Runs every compiled test file (dist/test/**/*.test.js) with Node's built-in test runner.
// Node 20's runner cannot glob .ts files itself, so `npm test` compiles first (typecheck) and runs the output.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
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

const filter = process.argv.slice(2);
let files = find('dist/test').sort();
if (filter.length) files = files.filter((f) => filter.some((x) => f.includes(x)));
if (!files.length) {
  console.error('run-tests: no test files found under dist/test (did the build run?)');
  process.exit(1);
}
const child = spawn(process.execPath, ['--enable-source-maps', '--test', '--test-concurrency=3', ...files], { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
