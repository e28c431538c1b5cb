import { execFile, fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Totals, WindowResult } from './loadgen/driver.js';
import type { IdleCommand, IdleReport } from './loadgen/idle-client.js';
import { WorkerPool } from './loadgen/pool.js';
import type { StormResult } from './loadgen/rooms.js';
import type { Task } from './loadgen/worker.js';
import type { Plan, ScenarioName } from './plan.js';
import { cpuSeconds, cpuWindow, machineBusySeconds, rssBytes, RssSampler, selfCpuWindow } from './proc.js';
import { merge, summarize, type LatencySummary } from './stats.js';
import { RedisCluster } from './redis-cluster.js';
import { startRedis } from './redis.js';
import { startTarget, TARGETS, RunningTarget, type StartOptions, type TargetSpec } from './targets.js';
import type { WakeupProbe } from './wakeup.js';

export interface RunContext {
  plan: Plan;
  /** Unique per run: prefixes ids and room names. */
  tag: string;
  log(line: string): void;
  /** Node flags for a target's process in a scenario (profiling). */
  execArgv?(target: TargetSpec, scenario: ScenarioName): string[];
  /** Test hook: called at the start of each phase with the running target. */
  onPhase?(phase: string, target: RunningTarget): void;
  /** Launcher override (tests). */
  script?(target: TargetSpec): URL | undefined;
  /** Extra environment for a target's process. */
  env?(target: TargetSpec): Record<string, string>;
  /** The wake-up probe, sampled over every steady window (see `wakeup.ts`). */
  probe?: WakeupProbe;
  /** `--profile-window`: where to write a CPU profile of each server process over each closed-loop window. */
  windowProfile?(label: string): string | undefined;
}

export interface Resources {
  /** % of one core over the measured window. */
  serverCpuPct: number;
  serverRssPeakMB: number;
  /** Per process of the server (`Measured.pids` order: the nodes, then the broker's), % of one core. */
  serverCpuPartsPct?: number[];
  /** The load generator (this process, all worker threads), % of one core. */
  clientCpuPct: number;
  /** Everything else on the machine (other people's jobs on a shared machine), % of one core. */
  otherCpuPct?: number;
  /** How late the wake-up probe's 1 ms timer fired over the same window (ms), when it ran. */
  wakeup?: LatencySummary;
}

export interface SteadyResult extends Resources {
  seconds: number;
  sent: number;
  received: number;
  perSecond: number;
  /** Payload of the frames received, in MB/s. */
  receivedMBps: number;
  meanFrameBytes: number;
  latency: LatencySummary;
}

export interface RelayResult {
  closed: SteadyResult & { pairs: number; window: number };
  half: SteadyResult & { offeredPerSecond: number; behind: number };
  lost: number;
}

/** Open loop at one offered rate, the same for every target. */
export interface LatencyPoint extends SteadyResult {
  offeredPerSecond: number;
  behind: number;
}

export interface LatencyResult {
  pairs: number;
  points: LatencyPoint[];
  lost: number;
}

export interface StormSizeResult extends Resources {
  roomSize: number;
  clients: number;
  /** Clients joined per second, storm start → last `joined`. */
  joinsPerSecond: number;
  /** Storm start → every client knows its whole room, ms. */
  rosterCompleteMs: number;
  /** Per client, storm start → its roster is complete, ms. */
  roster: LatencySummary;
}

export interface FanoutResult extends SteadyResult {
  rooms: number;
  members: number;
  broadcastsPerSecond: number;
  lost: number;
}

export interface IdleLevel {
  connections: number;
  openSeconds: number;
  serverRssMB: number;
  rssPerConnKB: number;
  heapPerConnKB: number;
  clientCpuPct: number;
}

export interface IdleResult {
  baselineRssMB: number;
  levels: IdleLevel[];
}

const MB = 1024 * 1024;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What a scenario measures: one server process, or a group of them (a cluster and its broker). */
export interface Measured {
  spec: { label: string };
  /** Where clients connect. */
  base: string;
  pid: number;
  /** Every process whose CPU and RSS count as the server's (default: [pid]). */
  pids?: number[];
  /** The server processes of ours (profiled with --profile-window; default: the target itself). */
  launched?: RunningTarget[];
  dead: Promise<never>;
}

const pidsOf = (t: Measured) => t.pids ?? [t.pid];

/** Races a phase against the target's death, the workers' failure and a deadline. */
async function guard<T>(what: string, p: Promise<T>, t: Measured, ms: number, pool?: WorkerPool): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${t.spec.label}: ${what} did not finish within ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, t.dead, deadline, ...(pool ? [pool.failed] : [])]);
  } catch (err) {
    const msg = (err as Error).message;
    throw new Error(msg.startsWith(t.spec.label) ? msg : `${t.spec.label}: ${what}: ${msg}`);
  } finally {
    clearTimeout(timer);
  }
}

async function withTarget<T>(ctx: RunContext, spec: TargetSpec, scenario: ScenarioName, fn: (t: RunningTarget) => Promise<T>): Promise<T> {
  const opts: StartOptions = { execArgv: ctx.execArgv?.(spec, scenario) ?? [], env: ctx.env?.(spec) ?? {} };
  const script = ctx.script?.(spec);
  if (script) opts.script = script;
  const t = await startTarget(spec, opts);
  try {
    return await fn(t);
  } finally {
    await t.stop();
  }
}

/** One steady-state window: server CPU and RSS from /proc, client CPU, every latency sample. */
async function measure(ctx: RunContext, t: Measured, pool: WorkerPool, ms: number): Promise<{ win: WindowResult; seconds: number } & Resources> {
  const cpus = pidsOf(t).map((pid) => cpuWindow(pid));
  const client = selfCpuWindow();
  const busy0 = machineBusySeconds();
  const rsss = pidsOf(t).map((pid) => new RssSampler(pid));
  const endProbe = ctx.probe ? await ctx.probe.window() : undefined;
  const t0 = performance.now();
  await guard('measure', pool.call('begin'), t, ctx.plan.phaseTimeoutMs, pool);
  await guard('measure', sleep(ms), t, ms + ctx.plan.phaseTimeoutMs, pool);
  const wins = await guard('measure', pool.call<WindowResult>('end'), t, ctx.plan.phaseTimeoutMs, pool);
  const seconds = (performance.now() - t0) / 1000;
  const parts = cpus.map((cpu) => cpu());
  const serverCpuPct = sum(parts, (x) => x);
  const clientCpuPct = client();
  const otherCpuPct = Math.max(0, (100 * (machineBusySeconds() - busy0)) / seconds - serverCpuPct - clientCpuPct);
  const peak = sum(rsss, (rss) => rss.stop().peak);
  const wakeup = await endProbe?.();
  const win: WindowResult = {
    sent: sum(wins, (w) => w.sent),
    received: sum(wins, (w) => w.received),
    bytesSent: sum(wins, (w) => w.bytesSent),
    bytesReceived: sum(wins, (w) => w.bytesReceived),
    behind: sum(wins, (w) => w.behind),
    samples: merge(wins.map((w) => w.samples)),
  };
  if (win.received === 0) {
    // Nothing arrived: if the target just died, let its exit (the real cause) be the message.
    await guard('measure', sleep(250), t, ctx.plan.phaseTimeoutMs, pool);
    throw new Error(`${t.spec.label}: the target delivered nothing in ${seconds.toFixed(1)} s (sent ${win.sent})`);
  }
  return { win, seconds, serverCpuPct, ...(parts.length > 1 ? { serverCpuPartsPct: parts } : {}), clientCpuPct, otherCpuPct, serverRssPeakMB: peak / MB, ...(wakeup ? { wakeup } : {}) };
}

function steady(m: Awaited<ReturnType<typeof measure>>): SteadyResult {
  const { win, seconds } = m;
  return {
    seconds,
    sent: win.sent,
    received: win.received,
    perSecond: win.received / seconds,
    receivedMBps: win.bytesReceived / seconds / MB,
    meanFrameBytes: win.bytesReceived / win.received,
    latency: summarize(win.samples),
    serverCpuPct: m.serverCpuPct,
    ...(m.serverCpuPartsPct ? { serverCpuPartsPct: m.serverCpuPartsPct } : {}),
    serverRssPeakMB: m.serverRssPeakMB,
    clientCpuPct: m.clientCpuPct,
    otherCpuPct: m.otherCpuPct ?? 0,
    ...(m.wakeup ? { wakeup: m.wakeup } : {}),
  };
}

const sum = <T>(xs: T[], f: (x: T) => number) => xs.reduce((n, x) => n + f(x), 0);

function split(total: number, parts: number, i: number): number {
  return Math.floor(total / parts) + (i < total % parts ? 1 : 0);
}

async function stopAndCheck(t: Measured, pool: WorkerPool, ctx: RunContext, what: string): Promise<number> {
  const totals = await guard(`${what}: drain`, pool.call<Totals>('stop', ctx.plan.drainMs), t, ctx.plan.drainMs + ctx.plan.phaseTimeoutMs, pool);
  const lost = sum(totals, (x) => x.lost);
  const received = sum(totals, (x) => x.received);
  if (received === 0) throw new Error(`${t.spec.label}: ${what}: the target delivered nothing`);
  if (lost > 0) throw new Error(`${t.spec.label}: ${what}: ${lost} of ${sum(totals, (x) => x.sent)} messages were never delivered`);
  return lost;
}

/** Relay: pairs exchanging signaling, closed loop (maximum), then open loop at half that rate. */
export function relay(ctx: RunContext, spec: TargetSpec): Promise<RelayResult> {
  return withTarget(ctx, spec, 'relay', (t) => relayOn(ctx, spec, t, t));
}

/** The relay scenario against `t`; with `baseB`, each pair's second member connects there. */
async function relayOn(ctx: RunContext, spec: TargetSpec, t: Measured, hook: RunningTarget, baseB?: string): Promise<RelayResult> {
  const { plan } = ctx;
  const { pairs, window } = plan.relay;
  const label = t.spec.label;
  const pool = new WorkerPool(relayTasks(ctx, spec, t, 'w', baseB));
  try {
    ctx.onPhase?.('connect', hook);
    ctx.log(`relay · ${label}: ${pairs} pairs × window ${window}, ${plan.workers} workers`);
    await guard('connect', pool.call('connect'), t, plan.phaseTimeoutMs, pool);
    await guard('start', pool.call('start', { mode: 'closed' }), t, plan.phaseTimeoutMs, pool);
    await guard('warm-up', sleep(plan.relay.warmupMs), t, plan.relay.warmupMs + plan.phaseTimeoutMs, pool);
    ctx.onPhase?.('measure', hook);
    const profiled = t.launched ?? (t instanceof RunningTarget ? [t] : []);
    const files = profiled.map((_, i) => ctx.windowProfile?.(`${label}-${i + 1}`));
    for (let i = 0; i < profiled.length; i++) if (files[i]) profiled[i]!.profileStart();
    const closed = steady(await measure(ctx, t, pool, plan.relay.measureMs));
    for (let i = 0; i < profiled.length; i++) if (files[i]) await guard('profile', profiled[i]!.profileEnd(files[i]!), t, plan.phaseTimeoutMs, pool);
    let lost = await stopAndCheck(t, pool, ctx, 'relay (closed loop)');
    ctx.log(`relay · ${label}: ${Math.round(closed.perSecond)} msg/s, p99 ${closed.latency.p99.toFixed(2)} ms; server ${closed.serverCpuPct.toFixed(0)}% CPU, client ${closed.clientCpuPct.toFixed(0)}%`);

    const offered = closed.perSecond / 2;
    await guard('start', pool.call('start', (i: number) => ({ mode: 'rate', perSecond: (offered * split(pairs, plan.workers, i)) / pairs })), t, plan.phaseTimeoutMs, pool);
    await guard('warm-up', sleep(plan.relay.halfWarmupMs), t, plan.relay.halfWarmupMs + plan.phaseTimeoutMs, pool);
    ctx.onPhase?.('measure-half', hook);
    const m = await measure(ctx, t, pool, plan.relay.halfMeasureMs);
    const half = { ...steady(m), offeredPerSecond: offered, behind: m.win.behind };
    lost += await stopAndCheck(t, pool, ctx, 'relay (half load)');
    ctx.log(`relay · ${label}: at ${Math.round(offered)} msg/s offered, p50 ${half.latency.p50.toFixed(2)} ms, p99 ${half.latency.p99.toFixed(2)} ms`);
    return { closed: { ...closed, pairs, window }, half, lost };
  } finally {
    await pool.close();
  }
}

function relayTasks(ctx: RunContext, spec: TargetSpec, t: Measured, prefix: string, baseB?: string): Task[] {
  const { pairs, window } = ctx.plan.relay;
  return Array.from({ length: ctx.plan.workers }, (_, i) => {
    const n = split(pairs, ctx.plan.workers, i);
    return { task: 'relay', opts: { base: t.base, ...(baseB ? { baseB } : {}), protocol: spec.protocol, pairs: n, window, tagBase: i * 100_000, name: `${ctx.tag}-${prefix}${i}`, seed: 1 + i } };
  });
}

/**
 * Latency at equal load: the relay's pairs in open loop at each of `plan.latency.rates`, the same
 * rates for every target — so the columns compare latency at one load, and the rows show how the
 * tail grows with load. Each window also records the wake-up probe: the floor no server can beat.
 */
export function latency(ctx: RunContext, spec: TargetSpec): Promise<LatencyResult> {
  const { plan } = ctx;
  const { pairs } = plan.relay;
  return withTarget(ctx, spec, 'latency', async (t) => {
    const pool = new WorkerPool(relayTasks(ctx, spec, t, 'l'));
    try {
      ctx.onPhase?.('connect', t);
      await guard('connect', pool.call('connect'), t, plan.phaseTimeoutMs, pool);
      const points: LatencyPoint[] = [];
      let lost = 0;
      for (const rate of plan.latency.rates) {
        await guard('start', pool.call('start', (i: number) => ({ mode: 'rate', perSecond: (rate * split(pairs, plan.workers, i)) / pairs })), t, plan.phaseTimeoutMs, pool);
        await guard('warm-up', sleep(plan.latency.warmupMs), t, plan.latency.warmupMs + plan.phaseTimeoutMs, pool);
        ctx.onPhase?.('measure', t);
        const m = await measure(ctx, t, pool, plan.latency.measureMs);
        const point: LatencyPoint = { ...steady(m), offeredPerSecond: rate, behind: m.win.behind };
        lost += await stopAndCheck(t, pool, ctx, `latency at ${rate} msg/s`);
        points.push(point);
        const w = point.wakeup;
        ctx.log(`latency · ${spec.label}: at ${rate} msg/s, p50 ${point.latency.p50.toFixed(2)} ms, p99 ${point.latency.p99.toFixed(2)} ms; server ${point.serverCpuPct.toFixed(0)}% CPU${w ? `; probe wake-up p99 ${w.p99.toFixed(2)} ms, max ${w.max.toFixed(2)} ms` : ''}`);
      }
      return { pairs, points, lost };
    } finally {
      await pool.close();
    }
  });
}

/**
 * Cluster: two Switchboard nodes sharing a Redis backplane; every pair has one member on each
 * node, so every message crosses nodes. Server CPU and RSS are both nodes' plus Redis's.
 */
export async function cluster(ctx: RunContext): Promise<RelayResult & { nodes: number } | { skipped: string }> {
  const redis = await startRedis().catch((err: Error) => err);
  if (redis instanceof Error) return { skipped: `not run: ${redis.message}` };
  try {
    return await crossNode(ctx, 'cluster', 'Switchboard cluster (2 nodes + Redis)', { BENCH_SWITCHBOARD_REDIS: redis.url }, [redis.pid], redis.dead);
  } finally {
    await redis.stop();
  }
}

export type RedisClusterResult = (RelayResult & { nodes: number; shards: number }) | { skipped: string } | { failed: string };

/**
 * Redis Cluster: the cluster scenario on a real Redis Cluster of `shards` masters (no replicas)
 * instead of one redis-server: the nodes get `redis.cluster` with a seed node (`redis.url`) and the
 * other shards (`redis.nodes`). CPU and RSS are both nodes' plus every shard's. Skipped when
 * redis-server or redis-cli is missing. Any failure (a build without Redis Cluster support, a
 * shard or node dying, nothing delivered) is the result, `{ failed }`, within the harness's phase
 * deadlines, so the rest of the run goes on.
 */
export async function redisCluster(ctx: RunContext, shards = 3): Promise<RedisClusterResult> {
  const missing = await missingProgram([
    ['redis-server', 'redis-server'],
    ['redis-cli', 'redis-tools'],
  ]);
  if (missing) return { skipped: `not run: ${missing}` };
  let rc: RedisCluster | undefined;
  try {
    rc = await RedisCluster.start(shards);
    const c = rc;
    const env = { BENCH_SWITCHBOARD_REDIS: c.url, BENCH_SWITCHBOARD_REDIS_CLUSTER: 'true', BENCH_SWITCHBOARD_REDIS_NODES: c.urls.filter((u) => u !== c.url).join(',') };
    const pids = c.ports.map((port) => c.pid(port)).filter((pid): pid is number => pid !== undefined);
    return { ...(await crossNode(ctx, 'redis-cluster', `Switchboard on Redis Cluster (2 nodes + ${shards} shards)`, env, pids)), shards };
  } catch (err) {
    const failed = (err as Error).message;
    ctx.log(`redis cluster: FAILED: ${failed}`);
    return { failed };
  } finally {
    await rc?.stop();
  }
}

/** The first of `[program, apt package]` that does not run, as a sentence naming its package. */
async function missingProgram(programs: [string, string][]): Promise<string | undefined> {
  for (const [cmd, pkg] of programs) {
    const ok = await new Promise<boolean>((resolve) => execFile(cmd, ['--version'], { timeout: 10_000 }, (err) => resolve(!err)));
    if (!ok) return `${cmd} is not installed (apt-get install -y ${pkg})`;
  }
  return undefined;
}

/**
 * Two Switchboard nodes on one backplane (`env` names it), the relay scenario with each pair split
 * across them. Server CPU and RSS are both nodes' plus the broker's processes (`brokerPids`).
 */
async function crossNode(ctx: RunContext, scenario: ScenarioName, label: string, env: Record<string, string>, brokerPids: number[], brokerDead?: Promise<never>): Promise<RelayResult & { nodes: number }> {
  const spec = TARGETS.switchboard;
  const script = ctx.script?.(spec);
  const nodes: RunningTarget[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      nodes.push(await startTarget(spec, { execArgv: ctx.execArgv?.(spec, scenario) ?? [], env: { ...ctx.env?.(spec), ...env }, ...(script ? { script } : {}) }));
    }
    const group: Measured = {
      spec: { label },
      base: nodes[0]!.base,
      pid: nodes[0]!.pid,
      pids: [...nodes.map((n) => n.pid), ...brokerPids],
      launched: nodes,
      dead: Promise.race([...nodes.map((n) => n.dead), ...(brokerDead ? [brokerDead] : [])]),
    };
    group.dead.catch(() => {});
    return { ...(await relayOn(ctx, spec, group, nodes[0]!, nodes[1]!.base)), nodes: 2 };
  } finally {
    for (const n of nodes) await n.stop();
  }
}

/** Join storm: K clients connect and join rooms of each size; joins/s and time to full rosters. */
export async function joinStorm(ctx: RunContext, spec: TargetSpec): Promise<StormSizeResult[]> {
  const { plan } = ctx;
  const out: StormSizeResult[] = [];
  for (const roomSize of plan.storm.roomSizes) {
    out.push(
      await withTarget(ctx, spec, 'join-storm', async (t) => {
        const per = plan.storm.clients / plan.workers;
        const tasks: Task[] = Array.from({ length: plan.workers }, (_, i) => ({
          task: 'storm',
          opts: { base: t.base, clients: per, roomSize, name: `${ctx.tag}-s${roomSize}-w${i}`, concurrency: plan.storm.concurrency, timeoutMs: plan.phaseTimeoutMs / 2 },
        }));
        const pool = new WorkerPool(tasks);
        try {
          ctx.onPhase?.('storm', t);
          const cpu = cpuWindow(t.pid);
          const client = selfCpuWindow();
          const rss = new RssSampler(t.pid, 100);
          const results = await guard(`join storm (rooms of ${roomSize})`, pool.call<StormResult>('run'), t, plan.phaseTimeoutMs, pool);
          const serverCpuPct = cpu();
          const clientCpuPct = client();
          const peak = rss.stop().peak;
          const joined = merge(results.map((r) => r.joinedUs));
          const roster = merge(results.map((r) => r.rosterUs));
          const lastJoin = Math.max(...joined);
          const r: StormSizeResult = {
            roomSize,
            clients: plan.storm.clients,
            joinsPerSecond: joined.length / (lastJoin / 1e6),
            rosterCompleteMs: Math.max(...roster) / 1000,
            roster: summarize(roster),
            serverCpuPct,
            serverRssPeakMB: peak / MB,
            clientCpuPct,
          };
          ctx.log(`join storm · ${spec.label}: ${r.clients} clients, rooms of ${roomSize}: ${Math.round(r.joinsPerSecond)} joins/s, rosters complete in ${r.rosterCompleteMs.toFixed(0)} ms`);
          return r;
        } finally {
          await pool.close();
        }
      }),
    );
  }
  return out;
}

/** Fan-out: one room of `members` per worker, members broadcasting in turn, closed loop. */
export async function fanout(ctx: RunContext, spec: TargetSpec): Promise<FanoutResult> {
  const { plan } = ctx;
  const { members, window } = plan.fanout;
  return withTarget(ctx, spec, 'fan-out', async (t) => {
    const tasks: Task[] = Array.from({ length: plan.workers }, (_, i) => ({
      task: 'fanout',
      opts: { base: t.base, members, window, name: `${ctx.tag}-f${i}`, tag: i, seed: 2 + i },
    }));
    const pool = new WorkerPool(tasks);
    try {
      ctx.onPhase?.('connect', t);
      await guard('connect', pool.call('connect'), t, plan.phaseTimeoutMs, pool);
      await guard('start', pool.call('start', { mode: 'closed' }), t, plan.phaseTimeoutMs, pool);
      await guard('warm-up', sleep(plan.fanout.warmupMs), t, plan.fanout.warmupMs + plan.phaseTimeoutMs, pool);
      ctx.onPhase?.('measure', t);
      const m = await measure(ctx, t, pool, plan.fanout.measureMs);
      const lost = await stopAndCheck(t, pool, ctx, 'fan-out');
      const r: FanoutResult = { ...steady(m), rooms: plan.workers, members, broadcastsPerSecond: m.win.sent / m.seconds, lost };
      ctx.log(`fan-out · ${spec.label}: ${Math.round(r.perSecond)} deliveries/s (${Math.round(r.broadcastsPerSecond)} broadcasts/s), p99 ${r.latency.p99.toFixed(2)} ms`);
      return r;
    } finally {
      await pool.close();
    }
  });
}

class IdleClients {
  private readonly procs: { child: ChildProcess; held: number }[] = [];
  readonly failed: Promise<never>;
  private rejectFn!: (e: Error) => void;
  private closing = false;

  constructor(
    private readonly base: string,
    private readonly spec: TargetSpec,
    private readonly name: string,
    private readonly perProcess: number,
    private readonly concurrency: number,
  ) {
    this.failed = new Promise<never>((_, reject) => (this.rejectFn = reject));
    this.failed.catch(() => {});
  }

  pids(): number[] {
    return this.procs.map((p) => p.child.pid!);
  }

  private spawn(): { child: ChildProcess; held: number } {
    const child = fork(fileURLToPath(new URL('./loadgen/idle-client.js', import.meta.url)), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    child.on('message', (m: IdleReport) => {
      if (m.type === 'lost') this.rejectFn(new Error(`${this.spec.label}: ${m.message}`));
    });
    child.on('exit', (code) => {
      if (!this.closing) this.rejectFn(new Error(`idle-client process exited (${code})`));
    });
    const p = { child, held: 0 };
    this.procs.push(p);
    return p;
  }

  /** Opens `count` more connections, filling each client process up to perProcess. */
  async open(count: number): Promise<void> {
    const jobs: Promise<void>[] = [];
    while (count > 0) {
      const p = this.procs.find((x) => x.held < this.perProcess) ?? this.spawn();
      const n = Math.min(count, this.perProcess - p.held);
      count -= n;
      const name = `${this.name}-p${this.procs.indexOf(p)}`;
      p.held += n;
      jobs.push(
        new Promise<void>((resolve, reject) => {
          const on = (m: IdleReport) => {
            if (m.type === 'opened') resolve();
            else if (m.type === 'error') reject(new Error(m.message));
            else return;
            p.child.off('message', on);
          };
          p.child.on('message', on);
          const cmd: IdleCommand = { type: 'open', base: this.base, protocol: this.spec.protocol, count: n, name, concurrency: this.concurrency };
          p.child.send(cmd);
        }),
      );
    }
    await Promise.all(jobs);
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.child.exitCode !== null) return resolve();
            const kill = setTimeout(() => p.child.kill('SIGKILL'), 5000);
            p.child.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            p.child.send({ type: 'close' } satisfies IdleCommand);
          }),
      ),
    );
  }
}

/** Idle capacity: connections held with nothing to say; server RSS per connection after a full GC. */
export async function idle(ctx: RunContext, spec: TargetSpec): Promise<IdleResult> {
  const { plan } = ctx;
  return withTarget(ctx, spec, 'idle', async (t) => {
    await t.mem();
    const base = rssBytes(t.pid);
    const baseMem = await t.mem();
    const clients = new IdleClients(t.base, spec, `${ctx.tag}-i`, plan.idle.perProcess, plan.idle.concurrency);
    const levels: IdleLevel[] = [];
    try {
      let held = 0;
      ctx.onPhase?.('connect', t);
      for (const level of plan.idle.levels) {
        const t0 = performance.now();
        const c0 = clients.pids().reduce((n, pid) => n + cpuSeconds(pid), 0);
        await Promise.race([guard(`opening ${level} connections`, clients.open(level - held), t, plan.phaseTimeoutMs), clients.failed]);
        const openSeconds = (performance.now() - t0) / 1000;
        const clientCpuPct = (100 * (clients.pids().reduce((n, pid) => n + cpuSeconds(pid), 0) - c0)) / openSeconds;
        held = level;
        const mem = await guard('gc', t.mem(), t, plan.phaseTimeoutMs);
        const rss = rssBytes(t.pid);
        const l: IdleLevel = {
          connections: level,
          openSeconds,
          serverRssMB: rss / MB,
          rssPerConnKB: (rss - base) / level / 1024,
          heapPerConnKB: (mem.heapUsed + mem.external - baseMem.heapUsed - baseMem.external) / level / 1024,
          clientCpuPct,
        };
        levels.push(l);
        ctx.log(`idle · ${spec.label}: ${level} connections, RSS ${l.serverRssMB.toFixed(0)} MB, ${l.rssPerConnKB.toFixed(2)} KB/connection`);
      }
      return { baselineRssMB: base / MB, levels };
    } finally {
      await clients.close();
    }
  });
}
