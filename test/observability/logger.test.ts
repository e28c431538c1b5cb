import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { createLogger } from '../../src/observability/logger.js';
import { until } from '../helpers/wait.js';

test('pino-pretty is loaded only when pretty output is used', () => {
  // A fresh process whose stdout is a pipe (not a terminal), as under a supervisor.
  const script = `
    const { createRequire } = await import('node:module');
    const { createLogger } = await import(${JSON.stringify(new URL('../../src/observability/logger.js', import.meta.url).href)});
    const loaded = () => Object.keys(createRequire(process.cwd() + '/').cache).some((k) => k.includes('/pino-pretty/'));
    createLogger({ level: 'info' }).info('plain line');
    const plain = loaded();
    createLogger({ level: 'info', pretty: true }).info('pretty line');
    process.stderr.write(JSON.stringify({ plain, pretty: loaded() }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stderr), { plain: false, pretty: true });
  const [json, pretty] = r.stdout.split('\n');
  assert.equal((JSON.parse(json!) as { msg: string }).msg, 'plain line', 'not a terminal: JSON lines');
  assert.match(pretty!, /INFO.*pretty line/);
});

test('a destination that does not keep up never blocks: lines past the buffer are dropped, counted, and the count is logged once it drains', async () => {
  let peer: Socket | undefined;
  const server = createServer((s) => {
    s.pause(); // a reader that has stopped reading
    peer = s;
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const out = connect((server.address() as { port: number }).port, '127.0.0.1');
  await once(out, 'connect');
  await until(() => peer !== undefined, 'the accepted socket');
  const bufferBytes = 64 * 1024;
  const log = createLogger({ level: 'info', pretty: false, destination: out, bufferBytes });

  // Far more than the kernel's socket buffers and ours hold: the writes return at once (this test
  // would hang otherwise) and what waits in the process stays bounded.
  const total = 20_000;
  const filler = 'x'.repeat(1000);
  for (let i = 0; i < total; i++) log.info({ i }, filler);
  assert.ok(out.writableLength <= bufferBytes + 2000, `queued ${out.writableLength} B, bound ${bufferBytes} B + one line`);

  const received: string[] = [];
  createInterface({ input: peer! }).on('line', (l) => received.push(l));
  peer!.resume();
  await new Promise<void>((resolve) => log.flush(() => resolve()));
  log.info('after');
  await until(() => received.at(-1)?.includes('"msg":"after"') === true, 'the line logged after the flush');

  const lines = received.map((l) => JSON.parse(l) as { i?: number; msg: string; dropped?: number; level: number });
  const kept = lines.filter((l) => l.i !== undefined).map((l) => l.i);
  assert.ok(kept.length > 0 && kept.length < total, `${kept.length} of ${total} lines written`);
  assert.deepEqual(kept, Array.from({ length: kept.length }, (_, i) => i), 'the lines written are the first ones, in order');
  const warn = lines.at(-2)!;
  assert.equal(warn.level, 40);
  assert.equal(warn.msg, 'log lines dropped: the log destination did not keep up');
  assert.equal(warn.dropped, total - kept.length, 'every dropped line is counted');
  out.destroy();
  server.close();
});
