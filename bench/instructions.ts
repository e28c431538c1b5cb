/**
 * `npm run bench:instructions`: instructions per relayed message, counted by valgrind's callgrind
 * in the server process — a figure that does not move with the machine's load or clock, unlike
 * every timing in `npm run bench`. Use it to A/B a change to the per-message path on a noisy
 * machine.
 *
 * Each target runs twice under callgrind, relaying N1 and then N2 signals (SDP and candidates, as
 * in the relay scenario) between 4 pairs at a low open-loop rate, so every frame arrives alone (the
 * unbatched regime). Instructions per message = (total at N2 − total at N1) / (N2 − N1): start-up,
 * connections and shutdown cancel out. The slope still holds V8's optimising compiler at work on
 * the hot path (the first few thousand messages); the report splits that part out by function
 * name (callgrind_annotate) and gives the rest as "steady".
 *
 *   --targets=switchboard,bare   (default both; PeerJS works too)
 *   --messages=1000,3000         N1,N2
 *   --rate=50                    messages/s (valgrind runs the server ~50× slower)
 *   --switchboard=PATH           another build's dist/src/index.js (A/B)
 *   --resume-ms=N                Switchboard's resume.windowMs (default: the server's, 30000; 0: resume off)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RelayDriver } from './loadgen/relay.js';
import { startTarget, TARGETS, type TargetName } from './targets.js';

/** Functions that are V8 compiling or parsing code, not running it (warm-up, not per-message work). */
const WARMUP = /compiler::|Scanner|Parser|PreParse|Zone|Bytecode|Maglev|Turbo|RegisterAllocat|LinearScan|Instruction|Compil|AstNode|Scope|SourcePosition|CodeGen|Assembler|Deoptimiz|Utf16CharacterStream/;

interface Count {
  total: number;
  warmup: number;
}

function countOf(file: string): Count {
  const total = Number(/^totals:\s+(\d+)/m.exec(readFileSync(file, 'utf8'))?.[1]);
  if (!Number.isFinite(total)) throw new Error(`no totals in ${file}`);
  let warmup = 0;
  const annotated = execFileSync('callgrind_annotate', ['--threshold=100', file], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  for (const line of annotated.split('\n')) {
    const m = /^\s*([\d,]+)\s+\([^)]*\)\s+(.*)$/.exec(line);
    if (m && !m[2]!.includes('PROGRAM TOTALS') && WARMUP.test(m[2]!)) warmup += Number(m[1]!.replace(/,/g, ''));
  }
  return { total, warmup };
}

async function run(name: TargetName, n: number, rate: number, dir: string, env: Record<string, string>): Promise<Count> {
  const out = join(dir, `${name}-${n}.callgrind`);
  const t = await startTarget(TARGETS[name], { wrap: { execPath: 'valgrind', args: ['--tool=callgrind', `--callgrind-out-file=${out}`] }, readyTimeoutMs: 180_000, env });
  const d = new RelayDriver({ base: t.base, protocol: TARGETS[name].protocol, pairs: 4, window: 1, tagBase: 0, name: `ins-${n}-${Date.now()}`, maxSends: n, connectConcurrency: 1 });
  try {
    await Promise.race([d.connect(), t.dead]);
    d.start({ mode: 'rate', perSecond: rate });
    await Promise.race([d.receivedAtLeast(n), d.failed, t.dead]);
    await d.stop(5000);
  } finally {
    await d.close();
    await t.stop(60_000);
  }
  return countOf(out);
}

export async function main(argv: string[]): Promise<number> {
  let targets: TargetName[] = ['switchboard', 'bare'];
  let [n1, n2] = [1000, 3000];
  let rate = 50;
  const env: Record<string, string> = {};
  for (const a of argv) {
    const [k, v = ''] = a.split('=', 2) as [string, string?];
    if (k === '--targets') targets = v.split(',').filter((x): x is TargetName => x in TARGETS);
    else if (k === '--messages') [n1, n2] = v.split(',').map(Number) as [number, number];
    else if (k === '--rate') rate = Number(v);
    else if (k === '--switchboard') env.BENCH_SWITCHBOARD_MODULE = resolve(v);
    else if (k === '--resume-ms' && /^\d+$/.test(v)) env.BENCH_SWITCHBOARD_RESUME_MS = v;
    else {
      console.error(`bench:instructions: unknown argument "${a}"`);
      return 2;
    }
  }
  if (!(n2 > n1 && n1 > 0 && rate > 0)) {
    console.error('bench:instructions: --messages=N1,N2 needs 0 < N1 < N2, and --rate a positive number');
    return 2;
  }
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
  } catch {
    console.error('bench:instructions: valgrind is not on PATH (apt install valgrind)');
    return 2;
  }
  const dir = mkdtempSync(join(tmpdir(), 'sb-instructions-'));
  const rows: string[] = [];
  const per: Partial<Record<TargetName, number>> = {};
  try {
    for (const name of targets) {
      console.error(`${TARGETS[name].label}: ${n1} then ${n2} messages at ${rate}/s under callgrind…`);
      const a = await run(name, n1, rate, dir, env);
      const b = await run(name, n2, rate, dir, env);
      const all = (b.total - a.total) / (n2 - n1);
      const warm = (b.warmup - a.warmup) / (n2 - n1);
      per[name] = all - warm;
      rows.push(`| ${TARGETS[name].label} | ${Math.round(all).toLocaleString('en-US')} | ${Math.round(warm).toLocaleString('en-US')} | ${Math.round(all - warm).toLocaleString('en-US')} |`);
    }
  } catch (err) {
    console.error(`bench:instructions FAILED: ${(err as Error).message}`);
    return 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`Instructions per relayed message in the server process (callgrind; messages ${n1}→${n2} at ${rate}/s, 4 pairs, each frame alone)\n`);
  console.log('| target | all | V8 compiling | steady |\n| --- | ---: | ---: | ---: |');
  for (const r of rows) console.log(r);
  if (per.switchboard !== undefined && per.bare !== undefined) console.log(`\nSwitchboard / bare relay, steady: ${(per.switchboard / per.bare).toFixed(2)}×`);
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
