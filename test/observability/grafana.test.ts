import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';

const DASHBOARD = 'deploy/grafana/switchboard.json';

interface Panel {
  type: string;
  title: string;
  id: number;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { expr: string }[];
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'vector', 'inf', 'nan']);

/**
 * The metric names a PromQL expression reads: identifiers left once strings, label matchers,
 * ranges and `by (...)` label lists are removed, that are not functions (followed by `(`) or keywords.
 */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const rest = bare.slice(m.index + m[0].length);
    if (/^\s*\(/.test(rest) || KEYWORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names];
}

/** Every series name /metrics can hold: each metric's own name, and its histogram's _bucket, _sum and _count. */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(m[1]!);
    if (m[2] === 'histogram' || m[2] === 'summary') for (const s of ['_bucket', '_sum', '_count']) names.add(m[1]! + s);
  }
  return names;
}

describe('the Grafana dashboard (deploy/grafana/switchboard.json)', () => {
  let srv: TestServer;
  let metrics: string;
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[]; templating: { list: { name: string; query?: unknown }[] }; uid: string };
  const panels = dashboard.panels.filter((p) => p.type !== 'row');

  before(async () => {
    srv = await startServer();
    metrics = await (await fetch(srv.http('/metrics'))).text();
  });
  after(() => srv.close());

  it('the name extractor finds metrics and skips functions, labels and keywords', () => {
    assert.deepEqual(metricNames('histogram_quantile(0.99, sum by (le, instance) (rate(a_bucket{job=~"x|y"}[5m])))'), ['a_bucket']);
    assert.deepEqual(metricNames('count(b{x="1"} == 0) or vector(0)'), ['b']);
    assert.deepEqual(metricNames('sum(c) / sum(d_total)'), ['c', 'd_total']);
  });

  it('every metric a query names exists in a real server\'s /metrics', () => {
    const exposed = exposedNames(metrics);
    assert.ok(exposed.has('switchboard_connections') && exposed.has('switchboard_relay_latency_seconds_bucket'), 'the scrape was read');
    const queries = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr })));
    for (const v of dashboard.templating.list) {
      const q = (v.query as { query?: string } | undefined)?.query;
      if (q) queries.push({ where: `variable ${v.name}`, expr: q.replace(/^label_values\(([^,)]+).*$/, '$1') });
    }
    assert.ok(queries.length >= 25, `the dashboard has its queries (${queries.length})`);
    const missing = queries.flatMap((q) => metricNames(q.expr).filter((n) => !exposed.has(n)).map((n) => `${q.where}: ${n}`));
    assert.deepEqual(missing, [], 'metrics that /metrics does not have');
  });

  it('covers what an operator looks for: connections, sessions, rooms, messages, latency, errors, backplane, per node', () => {
    const all = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join('\n');
    for (const m of ['switchboard_connections', 'switchboard_sessions', 'switchboard_rooms', 'switchboard_frames_in_total', 'switchboard_relay_latency_seconds_bucket', 'switchboard_errors_total', 'switchboard_backplane_up']) {
      assert.ok(all.includes(m), `a panel queries ${m}`);
    }
    assert.match(all, /by \([^)]*instance[^)]*\)/, 'some panels are per node');
  });

  it('is a well-formed dashboard: unique ids, panels inside the 24-column grid, every panel queries something', () => {
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const p of panels) {
      assert.ok(p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24, `${p.title} fits the grid`);
      assert.ok((p.targets ?? []).length > 0 && p.targets!.every((t) => t.expr.length > 0), `${p.title} has queries`);
    }
    assert.equal(dashboard.uid, 'switchboard');
  });

  it('is what scripts/grafana-dashboard.mjs generates (edit the script, then `npm run grafana`)', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'sb-grafana-')), 'switchboard.json');
    execFileSync(process.execPath, ['scripts/grafana-dashboard.mjs', out], { stdio: 'ignore' });
    assert.equal(readFileSync(out, 'utf8'), readFileSync(DASHBOARD, 'utf8'));
  });
});
