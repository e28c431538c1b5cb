import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

/**
 * The SDK is one set of plain ES modules a browser can load from /sdk/ without a bundler: every
 * import is relative and names a file that exists, nothing imports a package or a Node module, and
 * each file has its source map. The package exports it as `switchboard/client`.
 */

const DIR = 'dist/client';

test('dist/client: relative imports only (no dependencies, nothing of Node), each with its file and source map', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.js') || f.endsWith('.d.ts'));
  assert.ok(files.includes('switchboard.js') && files.includes('switchboard.d.ts'), 'the entry and its types');
  for (const f of files) {
    const text = readFileSync(join(DIR, f), 'utf8');
    for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g)) {
      const spec = m[1]!;
      assert.match(spec, /^\.\/[\w-]+\.js$/, `${f} imports ${spec}: only relative .js imports load in a browser without a bundler`);
      assert.ok(existsSync(join(DIR, spec)), `${f} imports ${spec}, which exists`);
    }
    if (f.endsWith('.js')) {
      assert.match(text, /\/\/# sourceMappingURL=[\w-]+\.js\.map\s*$/, `${f} names its source map`);
      assert.ok(existsSync(join(DIR, `${f}.map`)), `${f}.map`);
      assert.doesNotMatch(text, /\b(require\(|process\.|Buffer\b)/, `${f} uses nothing of Node`);
    }
  }
});

test('package.json exports ./client with its types, and ships it', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { exports: Record<string, unknown>; files: string[] };
  assert.deepEqual(pkg.exports['./client'], { types: './dist/client/switchboard.d.ts', default: './dist/client/switchboard.js' });
  assert.ok(pkg.files.includes('dist/client'));
});

test('the package self-reference resolves to the built SDK', async () => {
  const mod = (await import('switchboard/client')) as Record<string, unknown>;
  for (const name of ['connect', 'SwitchboardError', 'Switchboard', 'Room', 'Call', 'CallPeer']) assert.equal(typeof mod[name], 'function', name);
});
