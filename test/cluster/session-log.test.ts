import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLUSTER_SCRIPTS, SCRIPTS, scriptDefs } from '../../src/backplane/redis-scripts.js';
import { redisSkip, startRedis, type TestRedis } from '../helpers/redis.js';

/**
 * A stored session's log, at the level of the scripts (docs/operations.md, "Session resume across
 * nodes"): a trim drops entries unread and leaves `bytes` as an upper bound, so the bound must be
 * counted again before it evicts or refuses anything — never earlier, never wrongly.
 */

type Run = (...args: (string | number)[]) => Promise<unknown>;

interface Log {
  r: ReturnType<TestRedis['client']>;
  call: Record<string, Run>;
  sess: string;
  log: string;
  /** sbAppend of `text` to the session. */
  append(text: string): Promise<unknown>;
}

/** A fresh store with session `id` open (resume.maxBufferBytes 1000) and the backplane's scripts defined. */
async function withLog(id: string, fn: (l: Log) => Promise<void>): Promise<void> {
  const redis = await startRedis();
  const r = redis.client();
  try {
    await r.connect().catch(() => {});
    for (const [name, s] of scriptDefs(redis.cluster ? CLUSTER_SCRIPTS : SCRIPTS)) r.defineCommand(name, s);
    const call = r as unknown as Record<string, Run>;
    const sess = redis.key(`sess:${id}`, id);
    const log = redis.key(`log:${id}`, id);
    const prefix = sess.slice(0, sess.length - `sess:${id}`.length);
    assert.equal(await call.sbOpenSession!(sess, log, redis.key('node-sess:N1', id), redis.key('tok:h', id), id, 'N1', 'native', '', 'h', 1000, 30_000, 0, '0'), 1);
    await fn({ r, call, sess, log, append: (text) => call.sbAppend!(sess, log, id, text, '', prefix) });
  } finally {
    r.disconnect();
    await redis.kill();
  }
}

test('after a trim the buffer bound is counted again before anything is evicted or refused: exactly what fits, fits', { skip: redisSkip }, async () => {
  await withLog('p1', async ({ r, call, sess, log, append: add }) => {
    const text = (i: number) => `{"i":${String(i).padStart(4, '0')},"pad":"${'x'.repeat(100 - 19)}"}`;
    assert.equal(text(1).length, 100);
    const append = (i: number) => add(text(i));
    for (let i = 1; i <= 9; i++) assert.equal(await append(i), i);
    assert.equal(await call.sbTrim!(sess, log, 9), 1);
    assert.equal(await r.llen(log), 0, 'the acknowledged entries are gone');
    assert.equal(await r.hget(sess, 'loose'), '1', 'bytes is an upper bound now');

    // 900 bytes counted, none kept: nine more fit without evicting anything.
    for (let i = 10; i <= 18; i++) assert.equal(await append(i), i);
    assert.equal(await r.llen(log), 9, 'nothing evicted');
    assert.equal(await r.hget(sess, 'first'), '10');
    const kept = (await call.sbReadLog!(sess, log, 9)) as string[];
    assert.deepEqual(kept.map((e) => e.slice(0, e.indexOf(' '))), ['10', '11', '12', '13', '14', '15', '16', '17', '18']);
    assert.equal(await r.hget(sess, 'bytes'), '900', 'counted exactly once it mattered');

    // Without a socket (a deadline set): exactly one more 100-byte frame fits in 1000, then refused.
    await r.hset(sess, 'deadline', Date.now() + 30_000);
    assert.equal(await append(19), 19);
    assert.equal(await append(20), -3, 'over the bound while away: refused, nothing kept');
    assert.equal(await r.llen(log), 10);

    // A trim while away, then the bound again: the trimmed bytes are free.
    await call.sbTrim!(sess, log, 14);
    for (let i = 20; i <= 24; i++) assert.equal(await append(i), i);
    assert.equal(await append(25), -3);
    assert.equal(await r.hget(sess, 'bytes'), '1000');
  });
});

test('with a socket and never acknowledged, the oldest entries go to make room, one for one, and the numbering goes on', { skip: redisSkip }, async () => {
  await withLog('p2', async ({ r, sess, log, append }) => {
    for (let i = 1; i <= 25; i++) assert.equal(await append('y'.repeat(100)), i);
    assert.equal(await r.llen(log), 10);
    assert.deepEqual([await r.hget(sess, 'first'), await r.hget(sess, 'bytes')], ['16', '1000']);
  });
});
