import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ReplayLog } from '../../src/core/replay-log.js';
import { ResumeTokens, newResumeToken } from '../../src/core/resume-tokens.js';

function seqs(r: ReturnType<ReplayLog<string>['after']>): number[] {
  assert.ok(r.ok, 'in range');
  return r.entries.map((e) => e.seq);
}

test('seq starts at 1 and is continuous; after(n) is exactly what follows n', () => {
  const log = new ReplayLog<string>(1000);
  for (let i = 1; i <= 5; i++) assert.equal(log.append(`f${i}`, 10, true), i);
  assert.deepEqual(log.after(2), { ok: true, entries: [3, 4, 5].map((n) => ({ seq: n, item: `f${n}`, bytes: 10 })) });
  assert.deepEqual(log.after(5), { ok: true, entries: [] });
  assert.equal(seqs(log.after(0)).length, 5);
  assert.deepEqual(log.after(6), { ok: false, code: 'seq-out-of-range' }, 'a seq beyond any sent');
  assert.deepEqual(log.after(-1), { ok: false, code: 'seq-out-of-range' });
  assert.deepEqual(log.after(1.5), { ok: false, code: 'seq-out-of-range' });
});

test('ackUpTo forgets what the client processed; a resume from before it is out of range, never a gap', () => {
  const log = new ReplayLog<string>(1000);
  for (let i = 1; i <= 5; i++) log.append(`f${i}`, 10, true);
  log.ackUpTo(3);
  assert.equal(log.size, 2);
  assert.equal(log.byteSize, 20);
  assert.equal(log.firstSeq, 4);
  assert.deepEqual(seqs(log.after(3)), [4, 5]);
  assert.deepEqual(log.after(2), { ok: false, code: 'seq-out-of-range' });
  log.ackUpTo(99);
  assert.equal(log.size, 0);
  assert.equal(log.firstSeq, 6);
  assert.equal(log.append('f6', 10, true), 6, 'numbering goes on after a full acknowledgement');
});

test('the byte bound: with a socket the oldest give way; without one, an append that does not fit is refused', () => {
  const log = new ReplayLog<string>(30);
  for (let i = 1; i <= 3; i++) log.append(`f${i}`, 10, true);
  assert.equal(log.append('f4', 10, true), 4);
  assert.equal(log.firstSeq, 2, 'f1 gave way');
  assert.equal(log.byteSize, 30);
  assert.equal(log.append('f5', 10, false), undefined, 'no socket: nothing may give way');
  assert.equal(log.lastSeq, 4, 'a refused append takes no number');
  assert.equal(log.append('big', 100, true), 5, 'an entry larger than the bound evicts everything and is kept alone');
  assert.equal(log.size, 1);
});

test('property: whatever the appends and acks, after(k) returns seqs k+1..last in order or says out of range', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.record({ add: fc.integer({ min: 1, max: 40 }) }), fc.record({ ack: fc.integer({ min: 0, max: 60 }) })), { maxLength: 80 }), fc.integer({ min: 0, max: 60 }), (ops, k) => {
      const log = new ReplayLog<number>(100);
      for (const op of ops) {
        if ('add' in op) log.append(log.lastSeq + 1, op.add, true);
        else log.ackUpTo(op.ack);
        assert.ok(log.byteSize <= 100 || log.size === 1);
      }
      const r = log.after(k);
      if (r.ok) {
        assert.deepEqual(r.entries.map((e) => e.seq), Array.from({ length: log.lastSeq - k }, (_, i) => k + 1 + i));
        assert.deepEqual(r.entries.map((e) => e.item), r.entries.map((e) => e.seq));
      } else {
        assert.ok(k > log.lastSeq || k + 1 < log.firstSeq);
      }
    }),
  );
});

test('resume tokens: 144 random bits, url-safe; ended ones say why for a while, then are unknown', () => {
  const t = newResumeToken();
  assert.match(t, /^[A-Za-z0-9_-]{24}$/);
  assert.notEqual(newResumeToken(), t);
  const tokens = new ResumeTokens<string>(1000);
  tokens.add(t, 'session');
  assert.equal(tokens.get(t), 'session');
  tokens.end(t, 'session-expired', 5000);
  assert.equal(tokens.get(t), undefined);
  assert.equal(tokens.why(t, 5999), 'session-expired');
  assert.equal(tokens.why(t, 6000), 'unknown-session');
  tokens.prune(6000);
  assert.equal(tokens.why(t, 0), 'unknown-session', 'pruned');
  assert.equal(tokens.why('never', 0), 'unknown-session');
});

test('a log that takes over numbering starts after the seq already handed out', () => {
  const log = new ReplayLog<string>(100, 41);
  assert.equal(log.lastSeq, 41);
  assert.equal(log.firstSeq, 42);
  assert.deepEqual(log.after(41), { ok: true, entries: [] });
  assert.equal(log.append('x', 1, true), 42);
  assert.deepEqual(seqs(log.after(41)), [42]);
  assert.deepEqual(log.after(40), { ok: false, code: 'seq-out-of-range' });
});
