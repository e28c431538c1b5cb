/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self time and
 * the most inclusive time. Usage: node dist/bench/profile-summary.js FILE.cpuprofile [N]
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionTime {
  name: string;
  where: string;
  selfPct: number;
  totalPct: number;
}

function where(url: string, line: number): string {
  if (!url) return '';
  let u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) u = u.slice(nm + 'node_modules/'.length);
  else u = u.replace(/^.*?\/(dist|\.tmp\/[^/]+)\//, '');
  return `${u}:${line + 1}`;
}

export function summariseProfile(p: Profile): { totalMs: number; functions: FunctionTime[] } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'}\u0000${where(n.callFrame.url, n.callFrame.lineNumber)}`;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let sum = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    sum += dt;
    const n = byId.get(id)!;
    self.set(key(n), (self.get(key(n)) ?? 0) + dt);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const k = key(byId.get(at)!);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + dt);
    }
  });
  const functions = [...total.keys()].map((k) => {
    const [name, loc] = k.split('\u0000') as [string, string];
    return { name, where: loc, selfPct: (100 * (self.get(k) ?? 0)) / sum, totalPct: (100 * total.get(k)!) / sum };
  });
  return { totalMs: sum / 1000, functions };
}

export function formatSummary(file: string, top = 25): string {
  const s = summariseProfile(JSON.parse(readFileSync(file, 'utf8')) as Profile);
  const bySelf = [...s.functions].sort((a, b) => b.selfPct - a.selfPct).slice(0, top);
  const byTotal = [...s.functions].filter((f) => !f.name.startsWith('(')).sort((a, b) => b.totalPct - a.totalPct).slice(0, top);
  const row = (f: FunctionTime) => `${f.selfPct.toFixed(1).padStart(6)}% ${f.totalPct.toFixed(1).padStart(6)}%  ${f.name}  ${f.where}`;
  return [
    `${file}: ${(s.totalMs / 1000).toFixed(1)} s sampled`,
    '',
    '  self  total  function (by self time)',
    ...bySelf.map(row),
    '',
    '  self  total  function (by inclusive time)',
    ...byTotal.map(row),
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [file, n] = process.argv.slice(2);
  if (!file) {
    console.error('usage: profile-summary FILE.cpuprofile [TOP]');
    process.exit(2);
  }
  console.log(formatSummary(file, Number(n ?? 25)));
}
