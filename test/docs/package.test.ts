import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { license: string; dependencies: Record<string, string>; devDependencies: Record<string, string> };

function declarations(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? declarations(p) : name.endsWith('.d.ts') ? [p] : [];
  });
}

/** The package a bare specifier names (`@scope/name/sub` → `@scope/name`). */
const packageOf = (spec: string) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');

test('the published type declarations only import what a user installs with the package', () => {
  // dist/src is what `files` publishes; the build that `npm test` runs first wrote it.
  const files = declarations('dist/src');
  assert.ok(files.length > 10, 'the build wrote declarations');
  const missing = new Set<string>();
  for (const f of files) {
    for (const m of readFileSync(f, 'utf8').matchAll(/(?:from |import\()'([^'.][^']*)'/g)) {
      const name = packageOf(m[1]!);
      // Node's own modules: typed by @types/node, which every TypeScript project on Node has.
      if (name.startsWith('node:')) continue;
      if (pkg.dependencies[name] || pkg.dependencies[`@types/${name}`]) continue;
      missing.add(`${name} (in ${f})`);
    }
  }
  assert.deepEqual([...missing], [], 'these are only dev dependencies: a user of the package would not have their types');
});

test('the license package.json names is shipped', () => {
  assert.equal(pkg.license, 'MIT');
  assert.ok(existsSync('LICENSE'), 'LICENSE file');
  assert.match(readFileSync('LICENSE', 'utf8'), /^MIT License/);
});
