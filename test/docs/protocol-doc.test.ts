import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { defaultConfig } from '../../src/config.js';
import { ERROR_CODES } from '../../src/core/errors.js';
import { NATIVE_CLOSE_CODES, clientSchemas, serverSchemas } from '../../src/dialects/native/schema.js';
import { nativeDialect } from '../../src/dialects/native/native.js';

/** docs/protocol.md is the normative spec; these checks keep it and the validators in lock-step. */
const doc = readFileSync('docs/protocol.md', 'utf8');

function section(title: string): string {
  const start = doc.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `docs/protocol.md has a "## ${title}" section`);
  const end = doc.indexOf('\n## ', start + 4);
  return doc.slice(start, end < 0 ? undefined : end);
}

function examples(sec: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const re = /### `([^`]+)`[\s\S]*?```json\n([\s\S]*?)```/g;
  for (const m of sec.matchAll(re)) out.set(m[1]!, JSON.parse(m[2]!));
  return out;
}

const client = clientSchemas(defaultConfig().limits);

test('every client message is documented with an example that validates, and nothing else is', () => {
  const ex = examples(section('Client → server'));
  assert.deepEqual([...ex.keys()].sort(), Object.keys(client).sort());
  for (const [type, example] of ex) {
    assert.ok(Value.Check(client[type]!, example), `example of ${type}: ${JSON.stringify([...Value.Errors(client[type]!, example)][0])}`);
    assert.equal((example as { type: string }).type, type);
  }
  assert.deepEqual([...nativeDialect.types].sort(), Object.keys(client).sort());
});

test('every server message is documented with an example that validates, and nothing else is', () => {
  const ex = examples(section('Server → client'));
  assert.deepEqual([...ex.keys()].sort(), Object.keys(serverSchemas).sort());
  for (const [type, example] of ex) {
    assert.ok(Value.Check(serverSchemas[type]!, example), `example of ${type}: ${JSON.stringify([...Value.Errors(serverSchemas[type]!, example)][0])}`);
  }
});

test('the error table lists exactly the error codes', () => {
  const codes = [...section('Error codes').matchAll(/^\| `([a-z-]+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual(codes.sort(), Object.keys(ERROR_CODES).sort());
});

test('the close-code table lists exactly the close codes the native dialect uses', () => {
  const codes = [...section('Close codes').matchAll(/^\| (\d{4}) \|/gm)].map((m) => Number(m[1]));
  assert.deepEqual(codes.sort(), Object.keys(NATIVE_CLOSE_CODES).map(Number).sort());
  const used = new Set(Object.values(nativeDialect.closeCodes).map(([c]) => c));
  used.add(1009); // set by the ws layer for oversized frames
  assert.deepEqual([...used].sort(), codes.sort());
});
