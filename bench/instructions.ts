/**
 * `npm run bench:instructions`: instructions per relayed message, counted by valgrind's callgrind
 * in the server process — a figure that does not move with the machine's load or clock, unlike
 * every timing in `npm run bench`. Use it to A/B a change to the per-message path on a noisy
 * machine.
 *
 * Two cases, each target twice under callgrind per case:
 * - relay: N1 and then N2 signals (SDP and candidates, as in the relay scenario) between 4 pairs at
 *   a low open-loop rate, so every frame arrives alone (the unbatched regime);
 * - fan-out: one room of 11, members broadcasting a ~200 B candidate in turn, one broadcast in
 *   flight (each reaches the 10 others before the next is sent), until N1 and then N2 messages were
 *   delivered (N/10 broadcasts). The bare relay fans out the plain way, one `ws.send` per member.
 * Instructions per delivered message = (total at N2 − total at N1) / (N2 − N1): start-up,
 * connections and shutdown cancel out. The slope still holds V8's optimising compiler at work on
 * the hot path (the first few thousand messages); the report splits that part out by function
 * name (callgrind_annotate) and gives the rest as "steady".
 *
 *   --targets=switchboard,bare   (default both; PeerJS works too, in the relay case only)
 *   --cases=relay,fanout         (default both)
 *   --messages=4000,10000        relay: N1,N2 (from message 4,000 on, the hot path is optimised code;
 *                                before it, much of it still runs in V8's baseline tier: docs/benchmarks.md)
 *   --fanout-messages=10000,30000  fan-out: N1,N2 delivered messages (multiples of 10; a broadcast's
 *                                work is spread over its 10 deliveries, so fewer are mostly noise)
 *   --rate=100                   relay: messages/s (valgrind runs the server ~50× slower)
 *   --switchboard=PATH           another build's dist/src/index.js (A/B)
 *   --resume-ms=N                Switchboard's resume.windowMs (default: the server's, 30000; 0: resume off)
 *   --keep=DIR                   keep the callgrind files there (<case>-<target>-<N>.callgrind), to
 *                                compare functions: callgrind_annotate, or bench/callgrind-diff.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ACK_EVERY, RelayDriver } from './loadgen/relay.js';
import { FanoutDriver } from './loadgen/rooms.js';
import { startTarget, TARGETS, type TargetName } from './targets.js';

/** Functions that are V8 compiling or parsing code, not running it (warm-up, not per-message work). */
export const WARMUP = /compiler::|Scanner|Parser|PreParse|Zone|Bytecode|Maglev|Turbo|RegisterAllocat|LinearScan|Instruction|Compil|AstNode|Scope|SourcePosition|CodeGen|Assembler|Deoptimiz|Utf16CharacterStream/;

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

/** Members of the fan-out room who receive each broadcast (all but its sender). */
const FANOUT_RECIPIENTS = 10;

type Case = 'relay' | 'fanout';
const CASES: Record<Case, string> = {
  relay: 'Instructions per relayed message in the server process (callgrind; messages {n1}→{n2} at {rate}/s, 4 pairs, each frame alone)',
  fanout: `Instructions per delivered broadcast message in the server process (callgrind; messages {n1}→{n2} delivered, one room of ${FANOUT_RECIPIENTS + 1}: each broadcast to ${FANOUT_RECIPIENTS} local members, one in flight)`,
};
async function run(kind: Case, name: TargetName, n: number, rate: number, dir: string, env: Record<string, string>): Promise<Count> {
  const out = join(dir, `${kind}-${name}-${n}.callgrind`);
  // --no-memory-reducer: V8's memory reducer runs a full GC when the allocation rate drops for a
  // while — under valgrind, at the end of the load or not, as timing falls — so one run of a pair
  // would have it and the other not: ~76M instructions that belong to no message. GCs that
  // allocation causes (scavenges, and full GCs as the old generation grows) are still counted.
  const t = await startTarget(TARGETS[name], { wrap: { execPath: 'valgrind', args: ['--tool=callgrind', `--callgrind-out-file=${out}`] }, execArgv: ['--no-memory-reducer'], readyTimeoutMs: 180_000, env });
  const tag = `ins-${n}-${Date.now()}`;
  const d =
    kind === 'relay'
      ? new RelayDriver({ base: t.base, protocol: TARGETS[name].protocol, pairs: 4, window: 1, tagBase: 0, name: tag, maxSends: n, connectConcurrency: 1 })
      : new FanoutDriver({ base: t.base, members: FANOUT_RECIPIENTS + 1, window: 1, name: tag, tag: 0, maxBroadcasts: n / FANOUT_RECIPIENTS, ackEvery: ACK_EVERY });
  try {
    await Promise.race([d.connect(), t.dead]);
    if (d instanceof RelayDriver) {
      d.start({ mode: 'rate', perSecond: rate });
      await Promise.race([d.receivedAtLeast(n), d.failed, t.dead]);
    } else {
      d.start({ mode: 'closed' });
      await Promise.race([d.finished(), t.dead]);
    }
    await d.stop(5000);
  } finally {
    await d.close();
    await t.stop(60_000);
  }
  return countOf(out);
}

export async function main(argv: string[]): Promise<number> {
  let targets: TargetName[] = ['switchboard', 'bare'];
  let cases: Case[] = ['relay', 'fanout'];
  const counts: Record<Case, [number, number]> = { relay: [4000, 10_000], fanout: [10_000, 30_000] };
  let rate = 100;
  const env: Record<string, string> = {};
  let keep: string | undefined;
  for (const a of argv) {
    const [k, v = ''] = a.split('=', 2) as [string, string?];
    if (k === '--targets') targets = v.split(',').filter((x): x is TargetName => x in TARGETS);
    else if (k === '--cases') cases = v.split(',').filter((x): x is Case => x in CASES);
    else if (k === '--messages') counts.relay = v.split(',').map(Number) as [number, number];
    else if (k === '--fanout-messages') counts.fanout = v.split(',').map(Number) as [number, number];
    else if (k === '--rate') rate = Number(v);
    else if (k === '--switchboard') env.BENCH_SWITCHBOARD_MODULE = resolve(v);
    else if (k === '--resume-ms' && /^\d+$/.test(v)) env.BENCH_SWITCHBOARD_RESUME_MS = v;
    else if (k === '--keep' && v) keep = resolve(v);
    else {
      console.error(`bench:instructions: unknown argument "${a}"`);
      return 2;
    }
  }
  for (const [n1, n2] of Object.values(counts)) {
    if (!(n2 > n1 && n1 > 0 && rate > 0)) {
      console.error('bench:instructions: --messages=N1,N2 and --fanout-messages=N1,N2 need 0 < N1 < N2, and --rate a positive number');
      return 2;
    }
  }
  if (counts.fanout.some((n) => n % FANOUT_RECIPIENTS !== 0)) {
    console.error(`bench:instructions: the fan-out case delivers each broadcast to ${FANOUT_RECIPIENTS} members: --fanout-messages must be multiples of ${FANOUT_RECIPIENTS}`);
    return 2;
  }
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
  } catch {
    console.error('bench:instructions: valgrind is not on PATH (apt install valgrind)');
    return 2;
  }
  if (keep) mkdirSync(keep, { recursive: true });
  const dir = keep ?? mkdtempSync(join(tmpdir(), 'sb-instructions-'));
  const tables: string[] = [];
  try {
    for (const kind of cases) {
      const [n1, n2] = counts[kind];
      const rows: string[] = [];
      const per: Partial<Record<TargetName, number>> = {};
      for (const name of targets) {
        if (kind === 'fanout' && !TARGETS[name].rooms) continue;
        console.error(`${kind} · ${TARGETS[name].label}: ${n1} then ${n2} messages${kind === 'relay' ? ` at ${rate}/s` : ''} under callgrind…`);
        const a = await run(kind, name, n1, rate, dir, env);
        const b = await run(kind, name, n2, rate, dir, env);
        const all = (b.total - a.total) / (n2 - n1);
        const warm = (b.warmup - a.warmup) / (n2 - n1);
        per[name] = all - warm;
        rows.push(`| ${TARGETS[name].label} | ${Math.round(all).toLocaleString('en-US')} | ${Math.round(warm).toLocaleString('en-US')} | ${Math.round(all - warm).toLocaleString('en-US')} |`);
      }
      let table = `${CASES[kind].replace('{n1}', String(n1)).replace('{n2}', String(n2)).replace('{rate}', String(rate))}\n\n| target | all | V8 compiling | steady |\n| --- | ---: | ---: | ---: |\n${rows.join('\n')}`;
      if (per.switchboard !== undefined && per.bare !== undefined) table += `\n\nSwitchboard / bare relay, steady: ${(per.switchboard / per.bare).toFixed(2)}×`;
      tables.push(table);
    }
  } catch (err) {
    console.error(`bench:instructions FAILED: ${(err as Error).message}`);
    return 1;
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
  console.log(tables.join('\n\n'));
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
