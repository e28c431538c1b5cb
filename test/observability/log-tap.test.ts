import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { createLogger, LOG_TAP_LINES, logTap } from '../../src/observability/logger.js';

function sink(): { out: Writable; written: string[] } {
  const written: string[] = [];
  return { out: new Writable({ write: (c: Buffer, _e, cb) => (written.push(c.toString()), cb()) }), written };
}

test('the tap keeps the last lines as raw JSON and hands each new one to subscribers; children share it', () => {
  const { out } = sink();
  const log = createLogger({ level: 'info', pretty: false, destination: out });
  const tap = logTap(log)!;
  assert.ok(tap);
  assert.equal(logTap(log.child({ a: 1 })), tap, "a child finds its root's tap");
  const seen: string[] = [];
  const off = tap.subscribe((l) => seen.push(l));
  log.child({ part: 'x' }).info('hello');
  log.debug('below the level: never written, never tapped');
  assert.equal(seen.length, 1);
  assert.deepEqual([JSON.parse(seen[0]!).msg, JSON.parse(seen[0]!).part], ['hello', 'x']);
  assert.ok(!seen[0]!.endsWith('\n'));
  off();
  log.info('after');
  assert.equal(seen.length, 1, 'unsubscribed');
  assert.equal(tap.subscribers, 0);
  for (let i = 0; i < LOG_TAP_LINES + 20; i++) log.info({ i }, 'many');
  const recent = tap.recent();
  assert.equal(recent.length, LOG_TAP_LINES);
  assert.equal(JSON.parse(recent[0]!).i, 20, 'the oldest kept');
  assert.equal(JSON.parse(recent.at(-1)!).i, LOG_TAP_LINES + 19);
  assert.deepEqual(tap.recent(2).map((l) => JSON.parse(l).i), [LOG_TAP_LINES + 18, LOG_TAP_LINES + 19]);
});

test('a terminal still gets pretty lines while the tap gets JSON; a failing subscriber costs nothing', () => {
  const { out, written } = sink();
  const log = createLogger({ level: 'info', pretty: true, destination: out });
  const tap = logTap(log)!;
  tap.subscribe(() => {
    throw new Error('a closed response');
  });
  log.info('pretty please');
  assert.match(written.join(''), /INFO.*pretty please/);
  assert.equal(JSON.parse(tap.recent(1)[0]!).msg, 'pretty please');
});

test('a logger not made by createLogger has no tap', () => {
  assert.equal(logTap(pino({ level: 'silent' })), undefined);
});
