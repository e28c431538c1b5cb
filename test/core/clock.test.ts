import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/core/clock.js';

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
