import assert from 'node:assert/strict';
import { test } from 'node:test';
import { selfCosts } from '../../bench/callgrind-diff.js';

test('callgrind-diff reads callgrind_annotate\'s self costs by function: file dropped, JIT addresses as one line, totals skipped', () => {
  const annotated = [
    '1,850,822,775 (100.0%)  PROGRAM TOTALS',
    '73,289,711 ( 3.96%)  ???:v8::internal::JsonStringifier::SerializeString(v8::internal::Handle<v8::internal::String>) [/usr/bin/node]',
    '39,672,307 ( 2.14%)  ./malloc/./malloc/malloc.c:_int_free [/usr/lib/x86_64-linux-gnu/libc.so.6]',
    '    7,000 ( 0.01%)  ???:0x000000000d084314 [???]',
    '    5,000 ( 0.01%)  ???:0x000000000d075080 [???]',
    '    1,000 ( 0.00%)  ???:Builtins_LoadIC [/usr/bin/node]',
    'Ir                   file:function',
  ].join('\n');
  const got = selfCosts(annotated);
  assert.equal(got.get('v8::internal::JsonStringifier::SerializeString(v8::internal::Handle<v8::internal::String>)'), 73_289_711);
  assert.equal(got.get('_int_free'), 39_672_307);
  assert.equal(got.get('(JIT code: V8-generated, no symbols)'), 12_000);
  assert.equal(got.get('Builtins_LoadIC'), 1000);
  assert.equal(got.size, 4);
});
