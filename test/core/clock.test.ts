import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock, systemClock } from '../../src/core/clock.js';

test('ManualClock fires timers in due order, intervals repeatedly, and never early', () => {
  const c = new ManualClock(0);
  const log: string[] = [];
  c.setTimeout(() => log.push(`t300@${c.now()}`), 300);
  const iv = c.setInterval(() => log.push(`i100@${c.now()}`), 100);
  c.setTimeout(() => log.push(`t150@${c.now()}`), 150);
  c.advance(99);
  assert.deepEqual(log, []);
  c.advance(251);
  // equal due times fire in scheduling order
  assert.deepEqual(log, ['i100@100', 't150@150', 'i100@200', 't300@300', 'i100@300']);
  iv.cancel();
  c.advance(1000);
  assert.equal(log.length, 5);
  assert.equal(c.now(), 1350);
  assert.equal(c.pending, 0);
});

test('a timer scheduled from a timer callback fires within the same advance when due', () => {
  const c = new ManualClock(0);
  const log: number[] = [];
  c.setTimeout(() => c.setTimeout(() => log.push(c.now()), 50), 50);
  c.advance(100);
  assert.deepEqual(log, [100]);
});

test('systemClock takes delays past 2^31-1 ms (about 24.8 days) without firing at once', async () => {
  // Node's timers cap at 2^31-1 ms: a longer delay is set to 1 ms (with a TimeoutOverflowWarning),
  // so a 30-day token would expire its connection in the next millisecond.
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on('warning', onWarning);
  let fired = 0;
  const long = 30 * 86_400_000;
  const t = systemClock.setTimeout(() => fired++, long);
  const i = systemClock.setInterval(() => fired++, long);
  // The warning is emitted on the next tick; two turns of the event loop see it.
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  process.off('warning', onWarning);
  t.cancel();
  i.cancel();
  assert.deepEqual(warnings.filter((w) => w === 'TimeoutOverflowWarning'), []);
  assert.equal(fired, 0);
});
