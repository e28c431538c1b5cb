import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomId } from '../../src/core/ids.js';

test('random ids: url-safe, the asked size, never repeated across refills of the byte pool', () => {
  const seen = new Set<string>();
  // 16-byte ids and odd sizes interleaved, well past several 4 KiB refills.
  for (let i = 0; i < 3000; i++) {
    const id = randomId();
    assert.match(id, /^[A-Za-z0-9_-]{22}$/);
    seen.add(id);
    const short = randomId(6);
    assert.equal(Buffer.from(short, 'base64url').length, 6);
  }
  assert.equal(seen.size, 3000);
  assert.equal(Buffer.from(randomId(5000), 'base64url').length, 5000, 'larger than the pool');
  // Consecutive ids do not share bytes (each pool byte is handed out once).
  const a = Buffer.from(randomId(), 'base64url');
  const b = Buffer.from(randomId(), 'base64url');
  assert.notDeepEqual(a, b);
});
