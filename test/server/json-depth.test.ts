import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { deeperThan } from '../../src/server/json-depth.js';

/** The nesting of a parsed value: each array or object is one level. */
function depth(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depth));
  if (typeof v === 'object' && v !== null) return 1 + Math.max(0, ...Object.values(v).map(depth));
  return 0;
}

test('deeperThan agrees with the depth of the parsed value, for every limit around it', () => {
  // Strings full of brackets, quotes and backslashes, and non-ASCII text, are what could fool a scan.
  const tricky = fc.oneof(fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a', 'é', '𝕏') }), fc.string());
  const value = fc.letrec<{ v: unknown }>((tie) => ({
    v: fc.oneof({ depthSize: 'medium' }, tricky, fc.integer(), fc.constant(null), fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(tricky, tie('v'), { maxKeys: 3 })),
  })).v;
  fc.assert(
    fc.property(value, fc.boolean(), (v, spaced) => {
      const text = JSON.stringify(v, null, spaced ? 1 : undefined);
      const d = depth(v);
      for (let max = Math.max(0, d - 2); max <= d + 1; max++) assert.equal(deeperThan(Buffer.from(text), max), d > max, `${text} at max ${max} (depth ${d})`);
    }),
    { numRuns: 2000 },
  );
});

test('deeperThan: many brackets inside strings are not levels; far past the limit it stops early', () => {
  assert.equal(deeperThan(Buffer.from(JSON.stringify({ s: '['.repeat(1000), t: '\\"{'.repeat(1000) })), 1), false);
  assert.equal(deeperThan(Buffer.from(`[${JSON.stringify('\\')},${'['.repeat(64)}${']'.repeat(64)}]`), 64), true);
  assert.equal(deeperThan(Buffer.from('['.repeat(30_000) + ']'.repeat(30_000)), 64), true);
  // Not JSON: never throws; JSON.parse decides.
  assert.equal(deeperThan(Buffer.from('"unterminated [[[['), 1), false);
  assert.equal(deeperThan(Buffer.from('[[[['), 3), true);
});
