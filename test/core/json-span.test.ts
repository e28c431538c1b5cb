import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { frameTypeOf, memberSpan, memberText } from '../../src/core/json-span.js';

function check(text: string, name: string): void {
  const parsed = JSON.parse(text) as Record<string, unknown>;
  const span = memberSpan(text, name);
  if (!Object.prototype.hasOwnProperty.call(parsed, name)) {
    assert.equal(span, undefined, `no ${name} in ${text}`);
    return;
  }
  assert.ok(span, `found ${name} in ${text}`);
  assert.deepEqual(JSON.parse(text.slice(span[0], span[1])), parsed[name], text);
}

test('memberSpan finds exactly the value JSON.parse sees, on awkward documents', () => {
  const corpus = [
    '{"data":{"a":1}}',
    ' { "type" : "signal" , "data" : [1, "]}", {"x":"\\"}"}] , "to":"b" } ',
    '{"data":{"a":1},"data":{"b":2}}',
    '{"d\\u0061ta":"escaped key","x":1}',
    '{"data":"x","d\\u0061ta":"later wins"}',
    '{"a":"\\\\","data":"\\\\\\"","b":"\\\\\\\\"}',
    '{"data":-0}',
    '{"data":1e-7,"z":true}',
    '{"data":1E+300}',
    '{"data":true}',
    '{"data":false}',
    '{"data":null}',
    '{"data":""}',
    '{"data":{}}',
    '{"data":[]}',
    '{"data":"\\u0000\\u2028\\ud83d\\ude00\\ud800"}',
    '{"data":[[[[[[{"deep":[[[]]]}]]]]]]}',
    '{\n\t"data"\r\n:\n"spaced"\n}',
    '{"x":{"data":"nested is not top-level"}}',
    '{}',
    '{"from":"victim","data":1,"from":"victim2"}',
  ];
  for (const t of corpus) check(t, 'data');
  assert.equal(memberSpan('[1,2]', 'data'), undefined);
  assert.equal(memberSpan('"str"', 'data'), undefined);
});

test('memberSpan agrees with JSON.parse on generated documents (property)', () => {
  const key = fc.constantFrom('data', 'from', 'room', 'type', 'to', 'd\\u0061ta', 'x\\"y', 'z\\\\');
  fc.assert(
    fc.property(fc.array(fc.tuple(key, fc.jsonValue()), { maxLength: 6 }), fc.constantFrom('', ' ', '\n', '\t '), (members, ws) => {
      const text = `{${ws}${members.map(([k, v]) => `"${k}"${ws}:${ws}${JSON.stringify(v, null, ws ? 1 : 0)}`).join(`${ws},${ws}`)}${ws}}`;
      check(text, 'data');
    }),
    { numRuns: 2000 },
  );
});

test('memberText is the value’s own text; frameTypeOf reads a rendered frame’s front, else locates type', () => {
  assert.equal(memberText('{ "a" : [1, 2.50] , "b":{}}', 'a'), '[1, 2.50]');
  assert.equal(memberText('{"a":1}', 'b'), undefined);
  assert.equal(frameTypeOf('{"type":"offer","sdp":"x"}'), 'offer');
  assert.equal(frameTypeOf('{ "to":"p", "type" : "mute" }'), 'mute');
  assert.equal(frameTypeOf('{"type":"a\\u0062","x":1}'), 'ab');
  assert.equal(frameTypeOf('{"type":3}'), 'other');
  assert.equal(frameTypeOf('{"x":1}'), 'other');
});
