import { execFileSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem } from 'node:os';
import type { Plan } from './plan.js';
import type { FanoutResult, IdleResult, LatencyResult, RedisClusterResult, RelayResult, StormSizeResult } from './scenarios.js';
import type { LatencySummary } from './stats.js';

export type ClusterResult = (RelayResult & { nodes: number }) | { skipped: string };
import { TARGETS, type TargetName } from './targets.js';

/** The commit measured, with `+dirty` when the work tree had uncommitted changes ('unknown' outside git). */
export function revision(cwd: string): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${sha}+dirty` : sha;
  } catch {
    return 'unknown';
  }
}

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  kernel: string;
  loadAverage: number[];
}

export function machine(): Machine {
  return { cpuModel: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, kernel: release(), loadAverage: loadavg().map((x) => Math.round(x * 100) / 100) };
}

export interface Check {
  goal: string;
  value: string;
  pass: boolean | undefined;
}

export interface RunResult {
  version: 1;
  mode: Plan['mode'];
  command: string;
  /** Git commit of the Switchboard measured (`+dirty`: src/ had uncommitted changes). */
  revision: string;
  startedAt: string;
  finishedAt: string;
  seconds: number;
  machine: Machine;
  loadAverageAfter: number[];
  plan: Plan;
  targets: TargetName[];
  /** The round with the highest closed-loop throughput (the least disturbed), per target. */
  relay: Partial<Record<TargetName, RelayResult>>;
  relayRounds: Partial<Record<TargetName, RelayResult[]>>;
  /** Switchboard's vc dialect (/ws) in the relay scenario: its best round, and every round. */
  relayVc?: RelayResult;
  relayVcRounds: RelayResult[];
  joinStorm: Partial<Record<TargetName, StormSizeResult[]>>;
  fanout: Partial<Record<TargetName, FanoutResult>>;
  idle: Partial<Record<TargetName, IdleResult>>;
  latency: Partial<Record<TargetName, LatencyResult>>;
  /** The wake-up probe alone before the first scenario (ms late): the machine at rest. */
  wakeupAtRest?: LatencySummary;
  cluster: ClusterResult | undefined;
  /** The cluster scenario on a 3-master Redis Cluster instead of one Redis. */
  redisCluster?: RedisClusterResult;
  /** Switchboard with session resume on (the default) and off, interleaved rounds, one node and two. */
  resume?: ResumeCost;
  skipped: string[];
  checks: Check[];
  profiles: string[];
}

export interface ResumeCost {
  relayOn: RelayResult;
  relayOff: RelayResult;
  clusterOn?: RelayResult;
  clusterOff?: RelayResult;
  clusterSkipped?: string;
}

const COLS: TargetName[] = ['switchboard', 'bare', 'peerjs'];

function num(v: number | undefined, digits = 0): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '—';
  return `${(a / b).toFixed(2)}×`;
}

type Row = { scenario: string; metric: string; get: (t: TargetName) => number | undefined; fmt: (v: number | undefined) => string; ratio?: boolean; text?: (t: TargetName) => string | undefined };

function lat(l: { p50: number; p99: number; p999: number } | undefined): string | undefined {
  return l && `${l.p50.toFixed(2)} / ${l.p99.toFixed(2)} / ${l.p999.toFixed(2)}`;
}

function late(w: LatencySummary | undefined): string | undefined {
  return w && `${w.p99.toFixed(2)} / ${w.p999.toFixed(2)} / ${w.max.toFixed(2)}`;
}

const PROBE = 'idle probe process: timer woke late by p99 / p99.9 / max (ms)';

function rows(r: RunResult): Row[] {
  const out: Row[] = [];
  const add = (scenario: string, metric: string, get: Row['get'], digits = 0, isRatio = true, text?: Row['text']) =>
    out.push({ scenario, metric, get, fmt: (v) => num(v, digits), ratio: isRatio, ...(text ? { text } : {}) });
  const p = r.plan;
  if (Object.keys(r.relay).length) {
    const s = `relay, closed loop (${p.relay.pairs} pairs × ${p.relay.window} in flight${p.relay.rounds > 1 ? `; best of ${p.relay.rounds} rounds` : ''})`;
    add(s, 'messages/s', (t) => r.relay[t]?.closed.perSecond);
    if (p.relay.rounds > 1) {
      add(s, 'messages/s, each round', () => undefined, 0, false, (t) => r.relayRounds[t]?.map((x) => num(x.closed.perSecond)).join(' · '));
      add(s, 'other processes\' CPU, each round (%)', () => undefined, 0, false, (t) => r.relayRounds[t]?.map((x) => num(x.closed.otherCpuPct)).join(' · '));
    }
    add(s, 'MB/s delivered', (t) => r.relay[t]?.closed.receivedMBps, 1);
    add(s, 'latency p50 / p99 / p99.9 (ms)', (t) => r.relay[t]?.closed.latency.p99, 2, true, (t) => lat(r.relay[t]?.closed.latency));
    add(s, 'server CPU (% of a core)', (t) => r.relay[t]?.closed.serverCpuPct, 0, false);
    add(s, 'server RSS peak (MB)', (t) => r.relay[t]?.closed.serverRssPeakMB, 0);
    add(s, 'client CPU (% of a core)', (t) => r.relay[t]?.closed.clientCpuPct, 0, false);
    add(s, 'other processes\' CPU (% of a core)', (t) => r.relay[t]?.closed.otherCpuPct, 0, false);
    const h = 'relay at half its own maximum (open loop)';
    add(h, 'offered messages/s', (t) => r.relay[t]?.half.offeredPerSecond, 0, false);
    add(h, 'delivered messages/s', (t) => r.relay[t]?.half.perSecond, 0, false);
    add(h, 'latency p50 / p99 / p99.9 (ms)', (t) => r.relay[t]?.half.latency.p99, 2, true, (t) => lat(r.relay[t]?.half.latency));
    add(h, 'server CPU (% of a core)', (t) => r.relay[t]?.half.serverCpuPct, 0, false);
    add(h, 'client CPU (% of a core)', (t) => r.relay[t]?.half.clientCpuPct, 0, false);
    add(h, 'other processes\' CPU (% of a core)', (t) => r.relay[t]?.half.otherCpuPct, 0, false);
    if (COLS.some((t) => r.relay[t]?.half.wakeup)) add(h, PROBE, () => undefined, 0, false, (t) => late(r.relay[t]?.half.wakeup));
  }
  const vc = r.relayVc;
  if (vc) {
    const s = `relay, closed loop, Switchboard's vc dialect at /ws (the same pairs, payloads and window${p.relay.rounds > 1 ? `; best of ${p.relay.rounds} rounds` : ''}; the other columns repeat their relay figures above)`;
    // Switchboard's column is the vc run; the baselines' are their own relay, so the ratio columns are vc's.
    const vcOr = (f: (x: RelayResult) => number | undefined) => (t: TargetName) => {
      const x = t === 'switchboard' ? vc : r.relay[t];
      return x && f(x);
    };
    add(s, 'messages/s', vcOr((x) => x.closed.perSecond));
    if (p.relay.rounds > 1) add(s, 'messages/s, each round', () => undefined, 0, false, (t) => (t === 'switchboard' ? r.relayVcRounds.map((x) => num(x.closed.perSecond)).join(' · ') : undefined));
    add(s, 'vc / native (relay above)', () => undefined, 0, false, (t) => (t === 'switchboard' ? ratio(vc.closed.perSecond, r.relay.switchboard?.closed.perSecond) : undefined));
    add(s, 'MB/s delivered', vcOr((x) => x.closed.receivedMBps), 1);
    add(s, 'latency p50 / p99 / p99.9 (ms)', vcOr((x) => x.closed.latency.p99), 2, true, (t) => lat(t === 'switchboard' ? vc.closed.latency : r.relay[t]?.closed.latency));
    add(s, 'server CPU (% of a core)', vcOr((x) => x.closed.serverCpuPct), 0, false);
    add(s, 'server RSS peak (MB)', vcOr((x) => x.closed.serverRssPeakMB), 0);
    add(s, 'client CPU (% of a core)', vcOr((x) => x.closed.clientCpuPct), 0, false);
    add(s, 'other processes\' CPU (% of a core)', vcOr((x) => x.closed.otherCpuPct), 0, false);
    add(s, 'at half its own maximum: latency p50 / p99 / p99.9 (ms)', vcOr((x) => x.half.latency.p99), 2, true, (t) => lat(t === 'switchboard' ? vc.half.latency : r.relay[t]?.half.latency));
  }
  const lt = COLS.find((t) => r.latency[t]);
  if (lt) {
    const s = `relay latency at the same offered load for every target (open loop, ${r.latency[lt]!.pairs} pairs)`;
    for (const [i, rate] of p.latency.rates.entries()) {
      const pt = (t: TargetName) => r.latency[t]?.points[i];
      add(s, `${num(rate)} msg/s: latency p50 / p99 / p99.9 (ms)`, (t) => pt(t)?.latency.p99, 2, true, (t) => lat(pt(t)?.latency));
      add(s, `${num(rate)} msg/s: server / client CPU (% of a core)`, () => undefined, 0, false, (t) => pt(t) && `${num(pt(t)!.serverCpuPct)} / ${num(pt(t)!.clientCpuPct)}`);
      add(s, `${num(rate)} msg/s: ${PROBE.replace('idle probe process: ', 'idle probe ')}`, () => undefined, 0, false, (t) => late(pt(t)?.wakeup));
    }
  }
  for (const [i, size] of p.storm.roomSizes.entries()) {
    if (!Object.keys(r.joinStorm).length) break;
    const s = `join storm, ${p.storm.clients} clients, rooms of ${size}`;
    add(s, 'joins/s', (t) => r.joinStorm[t]?.[i]?.joinsPerSecond);
    add(s, 'all rosters complete (ms)', (t) => r.joinStorm[t]?.[i]?.rosterCompleteMs);
    add(s, 'per-client roster p50 / p99 (ms)', (t) => r.joinStorm[t]?.[i]?.roster.p99, 0, true, (t) => {
      const x = r.joinStorm[t]?.[i]?.roster;
      return x && `${x.p50.toFixed(0)} / ${x.p99.toFixed(0)}`;
    });
    add(s, 'server CPU (% of a core)', (t) => r.joinStorm[t]?.[i]?.serverCpuPct, 0, false);
    add(s, 'client CPU (% of a core)', (t) => r.joinStorm[t]?.[i]?.clientCpuPct, 0, false);
  }
  if (Object.keys(r.fanout).length) {
    const s = `fan-out, ${p.workers} room(s) of ${p.fanout.members}, ${p.fanout.window} broadcasts in flight each`;
    add(s, 'deliveries/s', (t) => r.fanout[t]?.perSecond);
    add(s, 'broadcasts/s', (t) => r.fanout[t]?.broadcastsPerSecond);
    add(s, 'delivery latency p50 / p99 / p99.9 (ms)', (t) => r.fanout[t]?.latency.p99, 2, true, (t) => lat(r.fanout[t]?.latency));
    add(s, 'server CPU (% of a core)', (t) => r.fanout[t]?.serverCpuPct, 0, false);
    add(s, 'client CPU (% of a core)', (t) => r.fanout[t]?.clientCpuPct, 0, false);
    add(s, 'other processes\' CPU (% of a core)', (t) => r.fanout[t]?.otherCpuPct, 0, false);
  }
  const only = (v: number | undefined) => (t: TargetName) => (t === 'switchboard' ? v : undefined);
  const onlyText = (v: string | undefined) => (t: TargetName) => (t === 'switchboard' ? v : undefined);
  /** Rows of a cross-node relay (two nodes on a broker); `vs` are ratios to other runs of this one. */
  const crossNode = (s: string, x: RelayResult, broker: string, vs: [string, number | undefined][]) => {
    add(s, 'messages/s', only(x.closed.perSecond), 0, false);
    for (const [what, other] of vs) add(s, what, only(undefined), 0, false, onlyText(ratio(x.closed.perSecond, other)));
    add(s, 'latency p50 / p99 / p99.9 (ms)', only(x.closed.latency.p99), 2, false, onlyText(lat(x.closed.latency)));
    add(s, 'at half load: p50 / p99 / p99.9 (ms)', only(x.half.latency.p99), 2, false, onlyText(lat(x.half.latency)));
    add(s, `CPU of both nodes + ${broker} (% of a core)`, only(x.closed.serverCpuPct), 0, false);
    add(s, `CPU per message, both nodes + ${broker} (µs)`, only(cpuPerMessageUs(x)), 1, false);
    const parts = x.closed.serverCpuPartsPct;
    if (parts) add(s, `CPU per message: node 1 / node 2 / ${broker} (µs)`, only(undefined), 0, false, onlyText(cpuParts(parts, x.closed.perSecond)));
    add(s, 'client CPU (% of a core)', only(x.closed.clientCpuPct), 0, false);
  };
  const c = r.cluster;
  const one = c && 'closed' in c ? c : undefined;
  if (one) {
    const s = `cluster: cross-node relay (${one.nodes} Switchboard nodes + Redis, every pair split across nodes)`;
    crossNode(s, one, 'Redis', [['vs one node (relay above)', r.relay.switchboard?.closed.perSecond]]);
  }
  const rcl = r.redisCluster;
  if (rcl && 'closed' in rcl) {
    const s = `Redis Cluster: cross-node relay (${rcl.nodes} Switchboard nodes + a ${rcl.shards}-master Redis Cluster, every pair split across nodes)`;
    crossNode(s, rcl, `${rcl.shards} Redis shards`, [
      ['vs one Redis (cluster above)', one?.closed.perSecond],
      ['vs one node (relay above)', r.relay.switchboard?.closed.perSecond],
    ]);
  }
  const rc = r.resume;
  if (rc) {
    const s = 'session resume: the same relay with resume on (default) and off, best of interleaved rounds';
    const both = (on: RelayResult | undefined, off: RelayResult | undefined, f: (x: RelayResult) => string) => (t: TargetName) =>
      t === 'switchboard' && on && off ? `${f(on)} on · ${f(off)} off` : undefined;
    add(s, 'one node: messages/s, on · off', only(rc.relayOn.closed.perSecond), 0, false, both(rc.relayOn, rc.relayOff, (x) => num(x.closed.perSecond)));
    add(s, 'one node: on / off', only(undefined), 0, false, (t) => (t === 'switchboard' ? ratio(rc.relayOn.closed.perSecond, rc.relayOff.closed.perSecond) : undefined));
    add(s, 'one node, resume on: vs bare relay (relay above)', only(undefined), 0, false, (t) => (t === 'switchboard' && r.relay.bare ? ratio(rc.relayOn.closed.perSecond, r.relay.bare.closed.perSecond) : undefined));
    add(s, 'one node: server CPU (% of a core), on · off', only(undefined), 0, false, both(rc.relayOn, rc.relayOff, (x) => num(x.closed.serverCpuPct)));
    if (rc.clusterOn && rc.clusterOff) {
      add(s, 'two nodes + Redis: messages/s, on · off', only(undefined), 0, false, both(rc.clusterOn, rc.clusterOff, (x) => num(x.closed.perSecond)));
      add(s, 'two nodes + Redis: on / off', only(undefined), 0, false, (t) => (t === 'switchboard' ? ratio(rc.clusterOn!.closed.perSecond, rc.clusterOff!.closed.perSecond) : undefined));
      add(s, 'two nodes + Redis: CPU of nodes + Redis (% of a core), on · off', only(undefined), 0, false, both(rc.clusterOn, rc.clusterOff, (x) => num(x.closed.serverCpuPct)));
    } else if (rc.clusterSkipped) {
      add(s, 'two nodes + Redis', only(undefined), 0, false, (t) => (t === 'switchboard' ? rc.clusterSkipped : undefined));
    }
  }
  for (const [i, level] of p.idle.levels.entries()) {
    if (!Object.keys(r.idle).length) break;
    const s = `idle, ${num(level)} connections`;
    add(s, 'server RSS per connection (KB)', (t) => r.idle[t]?.levels[i]?.rssPerConnKB, 2);
    add(s, 'server heap + external per connection (KB)', (t) => r.idle[t]?.levels[i]?.heapPerConnKB, 2);
    add(s, 'server RSS (MB)', (t) => r.idle[t]?.levels[i]?.serverRssMB, 0);
    add(s, 'time to open (s)', (t) => r.idle[t]?.levels[i]?.openSeconds, 1);
  }
  return out;
}

export function markdownTable(r: RunResult): string {
  const cols = COLS.filter((t) => r.targets.includes(t));
  const head = ['scenario', 'metric', ...cols.map((t) => TARGETS[t].label)];
  const withBare = cols.includes('bare') && cols.includes('switchboard');
  const withPeer = cols.includes('peerjs') && cols.includes('switchboard');
  if (withBare) head.push('Switchboard / bare');
  if (withPeer) head.push('Switchboard / PeerJS');
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`];
  let last = '';
  for (const row of rows(r)) {
    const cells = [row.scenario === last ? '' : row.scenario, row.metric];
    last = row.scenario;
    for (const t of cols) cells.push(row.text?.(t) ?? row.fmt(row.get(t)));
    if (withBare) cells.push(row.ratio ? ratio(row.get('switchboard'), row.get('bare')) : '');
    if (withPeer) cells.push(row.ratio ? ratio(row.get('switchboard'), row.get('peerjs')) : '');
    lines.push(`| ${cells.join(' | ')} |`);
  }
  const line = (scenario: string, text: string) => lines.push(`| ${scenario} | cross-node relay | ${oneLine(text)} |${' |'.repeat(head.length - 3)}`);
  if (r.cluster && 'skipped' in r.cluster) line('cluster', r.cluster.skipped);
  const rcl = r.redisCluster;
  if (rcl && 'skipped' in rcl) line('Redis Cluster', rcl.skipped);
  if (rcl && 'failed' in rcl) line('Redis Cluster', `FAILED: ${rcl.failed}`);
  return lines.join('\n');
}

/** CPU time of the measured processes per message delivered, in µs (closed loop). */
/** Per-process CPU per message, "a / b / c" µs: the nodes, then the broker's processes summed. */
function cpuParts(parts: number[], perSecond: number, nodes = 2): string {
  const us = (pct: number) => ((pct / 100 / perSecond) * 1e6).toFixed(1);
  const broker = parts.slice(nodes).reduce((a, b) => a + b, 0);
  return [...parts.slice(0, nodes).map(us), us(broker)].join(' / ');
}

function cpuPerMessageUs(x: RelayResult): number {
  return (x.closed.serverCpuPct / 100 / x.closed.perSecond) * 1e6;
}

/** A message as one table cell: one line, no stack frames or pipes, at most 400 characters (the JSON keeps it whole). */
function oneLine(text: string): string {
  const flat = text.replace(/\n\s+at .*/g, '').replace(/\s+/g, ' ').replace(/\|/g, '\\|').trim();
  return flat.length > 400 ? `${flat.slice(0, 399)}…` : flat;
}

export function checks(r: RunResult): Check[] {
  const out: Check[] = [];
  const sb = r.relay.switchboard;
  const bare = r.relay.bare;
  const peer = r.relay.peerjs;
  if (sb && bare) out.push({ goal: 'relay throughput ≥ 0.85 × bare relay', value: ratio(sb.closed.perSecond, bare.closed.perSecond), pass: sb.closed.perSecond >= 0.85 * bare.closed.perSecond });
  if (sb && peer) out.push({ goal: 'relay throughput ≥ PeerJS server', value: ratio(sb.closed.perSecond, peer.closed.perSecond), pass: sb.closed.perSecond >= peer.closed.perSecond });
  const isb = r.idle.switchboard?.levels[0];
  const ibare = r.idle.bare?.levels[0];
  if (isb && ibare) out.push({ goal: `server RSS per idle connection ≤ 1.3 × bare relay (at ${num(isb.connections)})`, value: `${isb.rssPerConnKB.toFixed(2)} KB vs ${ibare.rssPerConnKB.toFixed(2)} KB = ${ratio(isb.rssPerConnKB, ibare.rssPerConnKB)}`, pass: isb.rssPerConnKB <= 1.3 * ibare.rssPerConnKB });
  if (r.relayVc && bare) {
    const v = r.relayVc.closed.perSecond;
    out.push({ goal: 'vc dialect relay throughput ≥ 1.0 × bare relay (configured as native: resume on)', value: ratio(v, bare.closed.perSecond), pass: v >= bare.closed.perSecond });
  }
  const rcl = r.redisCluster;
  if (rcl) {
    const one = r.cluster && 'closed' in r.cluster ? r.cluster : undefined;
    const goal = 'Redis Cluster cross-node relay vs one Redis (no target set: reported)';
    if ('failed' in rcl) out.push({ goal, value: `failed: ${oneLine(rcl.failed)}`, pass: false });
    else if ('skipped' in rcl) out.push({ goal, value: rcl.skipped, pass: undefined });
    else out.push({ goal, value: `${ratio(rcl.closed.perSecond, one?.closed.perSecond)}; CPU per message ${num(cpuPerMessageUs(rcl), 1)} µs vs ${one ? num(cpuPerMessageUs(one), 1) : '—'} µs`, pass: undefined });
  }
  if (r.resume && bare) {
    const on = r.resume.relayOn.closed.perSecond;
    out.push({ goal: 'relay throughput with session resume on ≥ 1.1 × bare relay (one node)', value: ratio(on, bare.closed.perSecond), pass: on >= 1.1 * bare.closed.perSecond });
  }
  if (sb) {
    const others = [bare && `bare relay ${bare.half.latency.p99.toFixed(2)} ms`, peer && `PeerJS ${peer.half.latency.p99.toFixed(2)} ms`].filter(Boolean);
    out.push({ goal: 'relay p99 latency at half load ≤ 5 ms', value: `${sb.half.latency.p99.toFixed(2)} ms${others.length ? ` (${others.join(', ')}, each at half its own maximum)` : ''}`, pass: sb.half.latency.p99 <= 5 });
  }
  return out;
}

export function markdownReport(r: RunResult): string {
  const m = r.machine;
  const lines = [
    `Run: ${r.startedAt} (${r.mode}, ${Math.round(r.seconds)} s) · ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB · Node ${m.node} · Linux ${m.kernel} · load average before/after ${m.loadAverage[0]} / ${r.loadAverageAfter[0]}`,
    '',
    `Command: \`${r.command}\` · Switchboard at ${r.revision}`,
    '',
    ...(r.wakeupAtRest ? [`Machine at rest (before the first scenario): an idle process's 1 ms timer woke late by p50 ${r.wakeupAtRest.p50.toFixed(2)} / p99 ${r.wakeupAtRest.p99.toFixed(2)} / p99.9 ${r.wakeupAtRest.p999.toFixed(2)} / max ${r.wakeupAtRest.max.toFixed(2)} ms.`, ''] : []),
    markdownTable(r),
    '',
  ];
  if (r.checks.length) {
    lines.push('| target | measured | met |', '| --- | --- | --- |');
    for (const c of r.checks) lines.push(`| ${c.goal} | ${c.value} | ${c.pass === undefined ? '—' : c.pass ? 'yes' : 'no'} |`);
    lines.push('');
  }
  if (r.skipped.length) lines.push(...r.skipped.map((s) => `- ${s}`), '');
  lines.push('Figures come from a shared 2-core machine (other jobs may run beside the benchmark); compare columns of one run, not numbers across runs.');
  return lines.join('\n');
}
