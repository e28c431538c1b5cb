/**
 * Where the instructions of `npm run bench:instructions -- --keep=DIR` go, per message and per
 * function: for each target, (function's count at N2 − at N1) / (N2 − N1), from callgrind_annotate
 * (self cost, every function, V8 compiling left out); then the functions by how much more (or less) Switchboard spends in
 * them than the bare relay. V8's JIT code has no symbols for valgrind: it is one line, `???`.
 *
 *   node dist/bench/callgrind-diff.js DIR [--case=relay] [--messages=4000,10000] [--top=40]
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { WARMUP } from './instructions.js';

/** Self instructions by function name (object file dropped: a function's name is enough here). */
export function selfCosts(annotated: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of annotated.split('\n')) {
    const m = /^\s*([\d,]+)\s+\([^)]*\)\s+(?:\*\s+)?(.*?)(?:\s+\[[^\]]*\])?\s*$/.exec(line);
    if (!m || m[2]!.includes('PROGRAM TOTALS')) continue;
    const name = /^(?:\?\?\?:)?0x[0-9a-f]+$/.test(m[2]!) ? '(JIT code: V8-generated, no symbols)' : m[2]!.replace(/^[^:]*:(?=[^:])/, '');
    out.set(name, (out.get(name) ?? 0) + Number(m[1]!.replace(/,/g, '')));
  }
  return out;
}

function perMessage(dir: string, kind: string, target: string, n1: number, n2: number): Map<string, number> {
  const read = (n: number) => selfCosts(execFileSync('callgrind_annotate', ['--threshold=100', join(dir, `${kind}-${target}-${n}.callgrind`)], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 }));
  const [a, b] = [read(n1), read(n2)];
  const out = new Map<string, number>();
  for (const name of new Set([...a.keys(), ...b.keys()])) out.set(name, ((b.get(name) ?? 0) - (a.get(name) ?? 0)) / (n2 - n1));
  return out;
}

function main(argv: string[]): void {
  const dir = argv.find((a) => !a.startsWith('--'));
  if (!dir) throw new Error('usage: callgrind-diff DIR [--case=relay] [--messages=4000,10000] [--top=40]');
  const opt = (k: string) => argv.find((a) => a.startsWith(`--${k}=`))?.split('=')[1];
  const kind = opt('case') ?? 'relay';
  const [n1, n2] = (opt('messages') ?? (kind === 'relay' ? '4000,10000' : '10000,30000')).split(',').map(Number) as [number, number];
  const top = Number(opt('top') ?? 40);
  // The steady part only: V8 compiling is split out as bench:instructions does.
  const steady = (m: Map<string, number>) => new Map([...m].filter(([name]) => !WARMUP.test(name)));
  const sb = steady(perMessage(dir, kind, 'switchboard', n1, n2));
  const bare = steady(perMessage(dir, kind, 'bare', n1, n2));
  const sum = (m: Map<string, number>) => [...m.values()].reduce((x, y) => x + y, 0);
  console.log(`${kind}: per message (steady), Switchboard ${Math.round(sum(sb))}, bare ${Math.round(sum(bare))}`);
  const rows = [...new Set([...sb.keys(), ...bare.keys()])].map((name) => ({ name, sb: sb.get(name) ?? 0, bare: bare.get(name) ?? 0 }));
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(8);
  console.log('\nlargest in Switchboard (self, per message):    switchboard     bare');
  for (const r of [...rows].sort((x, y) => y.sb - x.sb).slice(0, top)) console.log(`${fmt(r.sb)} ${fmt(r.bare)}  ${r.name.slice(0, 110)}`);
  console.log('\nlargest differences (switchboard − bare):');
  for (const r of [...rows].sort((x, y) => Math.abs(y.sb - y.bare) - Math.abs(x.sb - x.bare)).slice(0, top)) console.log(`${fmt(r.sb - r.bare)}  (${fmt(r.sb)} vs ${fmt(r.bare)})  ${r.name.slice(0, 100)}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main(process.argv.slice(2));
