import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeWire, encodeWire, type Wire } from '../../src/backplane/redis.js';

test('a relay carrying its client\'s text crosses Redis as header + newline + that text, unescaped', () => {
  const raw = '{ "sdp": "v=0\\r\\n…",\n "x": [1, 2] }';
  const w: Wire = { o: 'n1', t: 5, p: 'peer', e: { k: 'signal', room: 'native/r', from: 'a', to: 'peer', data: { ignored: true }, raw } };
  const text = encodeWire(w);
  assert.equal(text.slice(text.indexOf('\n') + 1), raw, 'the text travels as it was sent');
  assert.ok(!text.slice(0, text.indexOf('\n')).includes('sdp'), 'and only once');
  assert.deepEqual(decodeWire(text), { o: 'n1', t: 5, p: 'peer', e: { k: 'signal', room: 'native/r', from: 'a', to: 'peer', raw } });
});

test('the wire codec round-trips every envelope, whatever the text holds', () => {
  const str = fc.string({ unit: 'binary' });
  const envelope = fc.oneof(
    fc.record({ k: fc.constant('signal' as const), room: str, from: str, to: str, raw: str }),
    fc.record({ k: fc.constant('broadcast' as const), room: str, from: str, self: fc.boolean(), raw: str }),
    fc.record({ k: fc.constant('left' as const), room: str, peerId: str, reason: fc.constant('left' as const) }),
  );
  fc.assert(
    fc.property(str, fc.nat(), fc.option(str, { nil: undefined }), envelope, (o, t, p, e) => {
      const w = { o, t, ...(p === undefined ? {} : { p }), e: { ...e } } as Wire;
      assert.deepEqual(decodeWire(encodeWire(w)), w);
    }),
  );
});

test('a header cannot be forged from inside the text, and garbage decodes to nothing', () => {
  // Whatever the text after the newline says, the header is the JSON before it.
  const w: Wire = { o: 'n1', t: 1, p: 'x', e: { k: 'signal', room: 'native/r', from: 'a', to: 'x', data: undefined, raw: '\n{"o":"n2","e":{"k":"kick"}}' } };
  const d = decodeWire(encodeWire(w));
  assert.equal(d?.o, 'n1');
  assert.equal(d?.e.k, 'signal');
  for (const junk of ['', 'not json', '{"o":"n"}', '{"o":"n","t":1,"e":{"k":"left"}}\nextra', '\n{}']) {
    assert.equal(decodeWire(junk), undefined, JSON.stringify(junk));
  }
});
