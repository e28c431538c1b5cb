import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

/**
 * The layout docs/architecture.md promises, read off the sources' import lines: server → dialects →
 * core ← backplane, a dialect is one folder, and no module waits on itself at load time.
 */

interface Edge {
  to: string;
  typeOnly: boolean;
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Every relative import and re-export of every file under src/, as repo-relative .ts paths. */
function graph(): Map<string, Edge[]> {
  const g = new Map<string, Edge[]>();
  for (const file of sources('src')) {
    const text = readFileSync(file, 'utf8');
    const edges: Edge[] = [];
    for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?[^'";]*?from\s+'(\.[^']+)'/gm)) {
      edges.push({ to: relative('.', resolve(dirname(file), m[2]!.replace(/\.js$/, '.ts'))), typeOnly: m[1] !== undefined });
    }
    g.set(file, edges);
  }
  return g;
}

const g = graph();
const runtime = (f: string) => (g.get(f) ?? []).filter((e) => !e.typeOnly).map((e) => e.to);
const all = (f: string) => (g.get(f) ?? []).map((e) => e.to);

test('the import graph was read (the test sees the sources)', () => {
  assert.ok(g.size > 50, `only ${g.size} files under src/`);
  assert.ok(all('src/server/server.ts').includes('src/dialects/registry.ts'));
});

test('no runtime import cycle: every module can finish loading before its importers use it', () => {
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (f: string, path: string[]) => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'open') return void cycles.push([...path.slice(path.indexOf(f)), f].join(' → '));
    state.set(f, 'open');
    for (const t of runtime(f)) if (g.has(t)) visit(t, [...path, f]);
    state.set(f, 'done');
  };
  for (const f of g.keys()) visit(f, []);
  assert.deepEqual(cycles, []);
});

test('src/core imports nothing outside src/core (no ws, http, Redis or dialect)', () => {
  for (const [f, edges] of g) {
    if (!f.startsWith('src/core/')) continue;
    for (const e of edges) assert.ok(e.to.startsWith('src/core/'), `${f} imports ${e.to}`);
    assert.doesNotMatch(readFileSync(f, 'utf8'), /from '(node:http|node:net|ws|ioredis)'/, `${f} imports a transport`);
  }
});

test('the security layer imports neither the dialects nor the server', () => {
  for (const [f, edges] of g) {
    if (!f.startsWith('src/security/')) continue;
    for (const e of edges) assert.ok(!e.to.startsWith('src/dialects/') && !e.to.startsWith('src/server/'), `${f} imports ${e.to}`);
  }
});

test('a dialect is one folder: it imports no other dialect nor the server, and only the registry (and the library entry) import it', () => {
  const folder = (f: string) => /^src\/dialects\/([^/]+)\//.exec(f)?.[1];
  for (const [f, edges] of g) {
    const own = folder(f);
    for (const e of edges) {
      const target = folder(e.to);
      if (own !== undefined) {
        assert.ok(!e.to.startsWith('src/server/'), `${f} imports ${e.to}`);
        assert.ok(target === undefined || target === own, `${f} (dialect ${own}) imports dialect ${target}: ${e.to}`);
      } else if (target !== undefined) {
        assert.ok(['src/dialects/registry.ts', 'src/index.ts'].includes(f), `${f} imports the ${target} dialect (${e.to}); only the registry may`);
      }
    }
  }
});
