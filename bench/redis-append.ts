/**
 * What one relayed frame to a stored (resumable) session costs Redis, and the node's Redis client,
 * without the rest of a node: the backplane's own scripts (`src/backplane/redis-scripts.ts`, or
 * another build's with --scripts=) run against a fresh redis-server, `--frames` appends to 64
 * sessions in pipelined batches of `--batch`, as a node's per-tick pipeline sends them (`--many`:
 * one sbAppendMany per batch; otherwise one sbAppend per frame), each session trimmed every 32 of
 * its frames (the SDK's acknowledgement), while a subscriber receives every frame published. The
 * frames are the relay scenario's mix (per negotiation 2 SDPs of 3–6 KB and 16 candidates).
 *
 *   npm run bench:redis -- [--frames=200000] [--batch=8] [--many] [--scripts=<redis-scripts.js>] [--no-wait]
 *
 * (--no-wait: do not wait for every frame to be received, for a script variant that publishes nothing.)
 *
 * Prints Redis's CPU per frame (utime+stime of redis-server over the appends, after a warm-up)
 * and this process's (ioredis encoding the commands, parsing replies and publications).
 */
import { Redis } from 'ioredis';
import { pathToFileURL } from 'node:url';
import { payloadBank, SCRIPT } from './payloads.js';
import { appendMany, coalesce, eachFrame } from '../src/backplane/redis.js';
import { scriptDefs, type ScriptDef } from '../src/backplane/redis-scripts.js';
import { cpuSeconds } from './proc.js';
import { startRedis } from './redis.js';

const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=').slice(1).join('=');
const flag = (name: string) => process.argv.includes(`--${name}`);

const SESSIONS = 64;
const TRIM_EVERY = 32;

async function main(): Promise<void> {
  const frames = Number(arg('frames') ?? 200_000);
  const batch = Number(arg('batch') ?? 8);
  const many = flag('many');
  const from = arg('scripts') ?? new URL('../src/backplane/redis-scripts.js', import.meta.url).href;
  const { SCRIPTS } = (await import(from.startsWith('/') ? pathToFileURL(from).href : from)) as { SCRIPTS: Record<string, ScriptDef> };
  if (many && !SCRIPTS.sbAppendMany) throw new Error(`${from} has no sbAppendMany (run without --many)`);

  const bank = payloadBank(7);
  const texts = SCRIPT.map((s, i) => {
    const body = bank[s.kind][i % bank[s.kind].length]!;
    return `{"type":"signal","from":"p${i}","room":"r","data":{"b":["t",${i},123456789],${body}}}`;
  });
  const redis = await startRedis();
  const cmd = new Redis(redis.url, { lazyConnect: true });
  const sub = new Redis(redis.url, { lazyConnect: true });
  try {
    await cmd.connect();
    await sub.connect();
    for (const [name, s] of scriptDefs(SCRIPTS)) cmd.defineCommand(name, s);
    const run = cmd as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>;
    const p = 'sb:';
    const node = 'N1';
    let received = 0;
    // Counted as a node reads them: "F<id> <seq>\n<text>", or an "M" of many (eachFrame).
    sub.on('message', (_c: string, m: string) => {
      if (m.charCodeAt(0) !== 77) received++;
      else eachFrame(m, () => received++);
    });
    await sub.subscribe(`${p}n:${node}`);
    const ids = Array.from({ length: SESSIONS }, (_, i) => `s${i}`);
    for (const id of ids) {
      await run.sbOpenSession!(`${p}sess:${id}`, `${p}log:${id}`, `${p}node-sess:${node}`, `${p}tok:h${id}`, id, node, 'default', '', `h${id}`, 256 * 1024, 30_000, 0, '0');
    }
    const sent = new Map<string, number>();
    let next = 0;
    // As a node sends a tick's batch: the commands one by one into a corked socket (one write).
    const stream = (cmd as unknown as { stream: { cork(): void; uncork(): void } }).stream;
    const oneBatch = async (): Promise<void> => {
      const sending: Promise<unknown>[] = [];
      const entries: [string, string][] = [];
      for (let i = 0; i < batch; i++, next++) entries.push([ids[next % SESSIONS]!, texts[next % texts.length]!]);
      stream.cork();
      if (many) {
        // Folded into runs as a node folds its tick (coalesce: ≤ 16 sessions, ≤ 128 frames a run).
        const appends = entries.map(([id, text]) => ({ script: 'sbAppend' as const, args: [`${p}sess:${id}`, `${p}log:${id}`, id, text, '', p], done: () => {} }));
        for (const u of coalesce(appends)) {
          if ('run' in u) {
            const m = appendMany(u);
            sending.push(run[m.command]!(...m.args));
          } else if ('script' in u) sending.push(run.sbAppend!(...u.args));
        }
      } else {
        for (const [id, text] of entries) sending.push(run.sbAppend!(`${p}sess:${id}`, `${p}log:${id}`, id, text, '', p));
      }
      for (const [id] of entries) {
        const n = (sent.get(id) ?? 0) + 1;
        sent.set(id, n);
        if (n % TRIM_EVERY === 0) sending.push(run.sbTrim!(`${p}sess:${id}`, `${p}log:${id}`, n));
      }
      stream.uncork();
      await Promise.all(sending);
    };
    const warm = Math.min(20_000, frames / 4);
    while (next < warm) await oneBatch();
    const r0 = cpuSeconds(redis.pid);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const start = next;
    // Two batches in flight, as a busy node has.
    const lane = async () => {
      while (next < start + frames) await oneBatch();
    };
    await Promise.all([lane(), lane()]);
    const done = next - start;
    const seconds = (performance.now() - t0) / 1000;
    const redisUs = ((cpuSeconds(redis.pid) - r0) / done) * 1e6;
    const c = process.cpuUsage(c0);
    const clientUs = (c.user + c.system) / done;
    while (!flag('no-wait') && received < next) await new Promise((resolve) => setTimeout(resolve, 10));
    const meanBytes = texts.reduce((n, t) => n + Buffer.byteLength(t), 0) / texts.length;
    console.log(
      `${done} frames (mean ${meanBytes.toFixed(0)} B) in batches of ${batch}${many ? ' (sbAppendMany)' : ''}, ${(done / seconds).toFixed(0)} frames/s: ` +
        `Redis ${redisUs.toFixed(2)} µs of CPU per frame, client ${clientUs.toFixed(2)} µs (${from})`,
    );
  } finally {
    cmd.disconnect();
    sub.disconnect();
    await redis.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
