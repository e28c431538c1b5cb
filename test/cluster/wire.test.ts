import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { appendMany, coalesce, decodeWire, eachFrame, encodeWire, type AppendRun, type Wire } from '../../src/backplane/redis.js';
import { appendManyCommand } from '../../src/backplane/redis-scripts.js';

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

// ---- a tick's appends to stored sessions: one sbAppendMany per run --------------------------------

/** An outbox entry as the store queues it: sbAppend [sess, log, peerId, text, owner, prefix]. */
const append = (peerId: string, prefix = 'sb:') => ({ script: 'sbAppend', args: [`${prefix}sess:${peerId}`, `${prefix}log:${peerId}`, peerId, `t-${peerId}`, '', prefix], done: () => {} });
const other = (name: string) => ({ script: 'sbTrim', args: [name], done: () => {} });
const pub = (channel: string) => ({ channel, message: 'm', kind: 'peer', resolve: () => {}, reject: () => {} });
const shape = (units: ReturnType<typeof coalesce>) => units.map((u) => ('run' in u ? u.run.map((a) => a.args[2]) : 'script' in u ? (u.args[2] ?? u.args[0]) : u.channel));

test('a tick\'s consecutive appends fold into one run; anything between them keeps its place and splits the run', () => {
  const batch = [append('a'), append('b'), append('a'), other('trim'), append('c'), pub('ch'), append('d'), append('e')];
  assert.deepEqual(shape(coalesce(batch as never)), [['a', 'b', 'a'], 'trim', 'c', 'ch', ['d', 'e']]);
});

test('on a cluster the runs are per slot bucket (a script may touch one slot), each in its first append\'s place, order kept within', () => {
  const batch = [append('a', '{b1}'), append('b', '{b2}'), append('c', '{b1}'), append('d', '{b2}'), append('e', '{b3}')];
  assert.deepEqual(shape(coalesce(batch as never)), [['a', 'c'], ['b', 'd'], 'e']);
});

test('a run holds at most 128 appends, and about 256 KiB of text', () => {
  const batch = Array.from({ length: 300 }, (_, i) => append(`p${i % 8}`));
  assert.deepEqual(coalesce(batch as never).map((u) => ('run' in u ? u.run.length : 1)), [128, 128, 44]);
  const big = Array.from({ length: 10 }, (_, i) => ({ ...append(`q${i}`), args: ['s', 'l', `q${i}`, 'x'.repeat(100 * 1024), '', 'sb:'] }));
  assert.deepEqual(coalesce(big as never).map((u) => ('run' in u ? u.run.length : 1)), [3, 3, 3, 1]);
});

test('a run goes to at most 16 sessions: a 17th starts the next run, while frames to its sessions still join it', () => {
  const batch = [...Array.from({ length: 16 }, (_, i) => append(`p${i}`)), append('p3'), append('p16'), append('p0')];
  assert.deepEqual(coalesce(batch as never).map((u) => ('run' in u ? u.run.length : 1)), [17, 2]);
});

test('sbAppendMany declares every key a frame touches: each session\'s sess and log once, padded to the command\'s size', () => {
  const runOf = (batch: ReturnType<typeof append>[]) => coalesce(batch as never)[0] as AppendRun;
  const m = appendMany(runOf([append('a'), append('b'), append('a'), append('c')]));
  assert.equal(m.command, 'sbAppendMany4');
  const keys = ['sb:sess:a', 'sb:log:a', 'sb:sess:b', 'sb:log:b', 'sb:sess:c', 'sb:log:c', 'sb:sess:a', 'sb:log:a'];
  assert.deepEqual(m.args, [...keys, 'sb:', 3, 'a', 'b', 'c', 1, 't-a', '', 3, 2, 't-b', '', 3, 1, 't-a', '', 3, 3, 't-c', '', 3]);
  assert.equal(appendMany(runOf([append('x'), append('x')])).command, 'sbAppendMany1');
  assert.throws(() => appendManyCommand(17), RangeError);
});

test('the frames of one publication come out as they went in, whatever their texts hold', () => {
  // Built as sbAppendMany builds it; len in UTF-16 units, as the node measured the text.
  const text = fc.string({ unit: 'binary' });
  const id = fc.stringMatching(/^[A-Za-z0-9_-]{1,24}$/);
  fc.assert(
    fc.property(fc.array(fc.tuple(id, fc.integer({ min: 1, max: 2 ** 40 }), text), { minLength: 1, maxLength: 8 }), (frames) => {
      const message = `M${frames.map(([p, seq, t]) => `${p} ${seq} ${t.length}\n${t}`).join('')}`;
      const got: [string, number, string][] = [];
      eachFrame(message, (p, seq, t) => got.push([p, seq, t]));
      assert.deepEqual(got, frames);
    }),
  );
});

test('a malformed frame stops the reading there: what came before it is kept, nothing is made up', () => {
  const seen = (message: string) => {
    const got: string[] = [];
    eachFrame(message, (p, seq, t) => got.push(`${p}/${seq}/${t}`));
    return got;
  };
  assert.deepEqual(seen('Ma 1 2\nhib 2 9\nshort'), ['a/1/hi'], 'a length past the end');
  assert.deepEqual(seen('Ma 1 2\nhi garbage'), ['a/1/hi']);
  assert.deepEqual(seen('Ma x 2\nhi'), [], 'no seq');
  assert.deepEqual(seen('M'), []);
});
