import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect, type Frame } from '../helpers/ws.js';
import { drivers, until, wsSync, type Driver, type Member } from './drivers.js';

/**
 * Property-based fuzzing of every dialect's inbound frames over real sockets. Each run sends a
 * short burst of hostile frames — random JSON, random bytes, binary frames, deep nesting, huge
 * strings, `__proto__`/`constructor` keys, odd unicode, and frames built from the dialect's own
 * message types with type-confused fields — from one member of a room, while a second member
 * listens. Properties: the server never crashes and never leaves an unhandled rejection; every frame
 * either socket receives is a frame of that dialect (errors in its exact error shape; flyx-cli
 * only ever its four frame types); and when the sockets close, no session or occupied room is left,
 * and the empty rooms are swept once the clock passes their grace.
 */

/** Runs per target (8 dialect targets plus the undecided catch-all). Each run is 1–4 frames. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

/** Message types and field names each dialect really uses: the fuzzer builds around them. */
const VOCAB: Record<string, { types: string[]; fields: string[] }> = {
  native: { types: ['join', 'leave', 'signal', 'broadcast', 'create-room', 'ping'], fields: ['id', 'room', 'name', 'meta', 'to', 'data', 'options', 'ts', 'capacity'] },
  vc: { types: ['join', 'leave', 'pong', 'offer', 'answer', 'ice', 'broadcast'], fields: ['room', 'name', 'to', 'from', 'sdp', 'candidate', 'ts'] },
  slam: { types: ['register', 'offer', 'answer', 'ice_candidate'], fields: ['client_id', 'room_id', 'client_type', 'target_id', 'sender_id', 'sdp', 'candidate', 'sdpMid', 'sdpMLineIndex'] },
  call: {
    types: ['register', 'call_request', 'call_accepted', 'call_rejected', 'call_ended', 'offer', 'answer', 'ice_candidate'],
    fields: ['username', 'user_id', 'target_username', 'caller_username', 'from_username', 'data'],
  },
  mesh: { types: ['create', 'join', 'leave', 'signal'], fields: ['roomId', 'payload', 'targetId', 'senderId', 'myId'] },
  'slam-pair': { types: ['offer', 'answer', 'ice_candidate'], fields: ['sdp', 'candidate', 'sdpMid', 'sdpMLineIndex', 'target_id'] },
  flyx: { types: ['join', 'offer', 'answer', 'ice_candidate', 'disconnect'], fields: ['data', 'client_id', 'to', 'sdp', 'candidate', 'role'] },
  'flyx-cli': { types: ['offer', 'answer', 'icecandidate', 'slavejoined'], fields: ['sdp', 'candidate'] },
};

const NASTY_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'then'];

const oddString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('', ' ', '\u0000', '\ud800', '\udfff', '\u202e', '\ufeff', '𝕏', 'null', 'undefined', '-1', '1e999', 'NaN', '../../etc', '%s%n'),
  fc.nat({ max: 70_000 }).map((n) => 'x'.repeat(n)),
);

/** A JSON value as *text*, so that a `__proto__` key stays an own key on the wire. */
const jsonText: fc.Arbitrary<string> = fc.letrec<{ v: string }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    oddString.map((s) => JSON.stringify(s)),
    fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null)).map((x) => JSON.stringify(x)),
    fc.nat({ max: 30_000 }).map((d) => '['.repeat(d) + ']'.repeat(d)),
    fc.nat({ max: 5_000 }).map((d) => '{"a":'.repeat(d) + '1' + '}'.repeat(d)),
    fc.array(tie('v'), { maxLength: 4 }).map((xs) => `[${xs.join(',')}]`),
    fc.array(fc.tuple(fc.oneof(oddString, fc.constantFrom(...NASTY_KEYS)), tie('v')), { maxLength: 4 }).map((kv) => `{${kv.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
  ),
})).v;

type Wire = string | Buffer;

function frames(vocab: { types: string[]; fields: string[] }): fc.Arbitrary<Wire> {
  const key = fc.oneof(fc.constantFrom(...vocab.fields), fc.constantFrom(...NASTY_KEYS), oddString);
  const typeText = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...vocab.types).map((t) => JSON.stringify(t)) }, { weight: 1, arbitrary: jsonText });
  const shaped = fc
    .tuple(typeText, fc.array(fc.tuple(key, jsonText), { maxLength: 5 }), fc.boolean())
    .map(([t, kv, typeLast]) => {
      const parts = kv.map(([k, v]) => `${JSON.stringify(k)}:${v}`);
      const ty = `"type":${t}`;
      return `{${(typeLast ? [...parts, ty] : [ty, ...parts]).join(',')}}`;
    });
  return fc.oneof(
    { weight: 8, arbitrary: shaped },
    { weight: 2, arbitrary: jsonText },
    { weight: 1, arbitrary: fc.json() },
    { weight: 1, arbitrary: oddString },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b).toString('latin1')) },
  );
}

describe('fuzzing every dialect', () => {
  let srv: TestServer;
  const rejections: unknown[] = [];
  const onRejection = (e: unknown) => rejections.push(e);
  before(async () => {
    process.on('unhandledRejection', onRejection);
    // Floods are the rate limiter's business (abuse.test.ts), and room counts the quota's
    // (room-quota.test.ts): here every frame reaches the dialect, all from one address.
    srv = await startServer({ rateLimits: { messagesPerSecond: 0, joinsPerSecond: 0 }, rooms: { maxPerAddress: 0 } });
  });
  after(async () => {
    process.off('unhandledRejection', onRejection);
    await srv.close();
  });

  function checkFrames(d: Driver, who: string, raw: string[]): void {
    for (const text of raw) {
      assert.notEqual(text, '<binary>', `${d.name}/${who}: the server never sends binary`);
      let f: Frame;
      try {
        f = JSON.parse(text) as Frame;
      } catch {
        assert.fail(`${d.name}/${who}: not JSON: ${text.slice(0, 200)}`);
      }
      assert.ok(typeof f === 'object' && f !== null && !Array.isArray(f) && typeof f.type === 'string', `${d.name}/${who}: not a typed object: ${text.slice(0, 200)}`);
      if (f.type === 'error') assert.ok(d.isError(f), `${d.name}/${who}: error not in the dialect's shape: ${text.slice(0, 300)}`);
      if (d.outTypes) assert.ok(d.outTypes.has(f.type), `${d.name}/${who}: unexpected frame type ${f.type}: ${text.slice(0, 200)}`);
    }
    raw.length = 0;
  }

  const targets = [...Object.keys(VOCAB), 'catch-all'];
  let totalFrames = 0;

  for (const name of targets) {
    test(`${name}: ${RUNS} runs of hostile frames`, async () => {
      const all = drivers(srv);
      const catchAll = name === 'catch-all';
      const d: Driver = catchAll
        ? { ...all.find((x) => x.name === 'slam')!, name: 'catch-all', outTypes: undefined, open: async () => ({ c: await connect(srv.ws('/fuzz-undecided')), id: '', room: '' }) }
        : all.find((x) => x.name === name)!;
      const vocab = catchAll ? { types: ['register', 'create', 'join', 'signal', 'offer', 'answer', 'ice_candidate', 'call_request'], fields: [...VOCAB.slam!.fields, ...VOCAB.call!.fields, ...VOCAB.mesh!.fields] } : VOCAB[name]!;
      const label = `fuzz-${name}`;
      let partner: Member = await d.open(label);
      let fuzzer: Member = await d.open(label);
      let reopened = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(frames(vocab), { minLength: 1, maxLength: 4 }), async (batch) => {
          if (fuzzer.c.closeCode !== undefined) {
            checkFrames(d, 'fuzzer', fuzzer.c.raw);
            fuzzer = await d.open(label);
            reopened++;
          }
          if (partner.c.closeCode !== undefined) {
            checkFrames(d, 'partner', partner.c.raw);
            partner = await d.open(label);
            reopened++;
          }
          for (const w of batch) if (fuzzer.c.ws.readyState === fuzzer.c.ws.OPEN) fuzzer.c.ws.send(w);
          totalFrames += batch.length;
          await wsSync(fuzzer.c);
          await wsSync(partner.c);
          checkFrames(d, 'fuzzer', fuzzer.c.raw);
          checkFrames(d, 'partner', partner.c.raw);
        }),
        { numRuns: RUNS },
      );
      // The server is still up and answering.
      assert.equal((await fetch(srv.http('/health'))).status, 200);
      await fuzzer.c.close();
      await partner.c.close();
      console.log(`# fuzz ${name}: ${RUNS} runs, sockets reopened ${reopened} times`);
    });
  }

  test('afterwards: no unhandled rejection, no prototype pollution, no leaked session or occupied room; empty rooms are swept', async () => {
    console.log(`# fuzz total: ${totalFrames} hostile frames over ${targets.length} targets`);
    assert.deepEqual(rejections, []);
    assert.deepEqual(Object.keys(Object.prototype), []);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    await until(() => srv.server.connections.size === 0, 'every connection to close');
    assert.equal(srv.server.hub.sessions.size, 0);
    const hub = srv.server.hub;
    for (const r of await hub.listRooms()) {
      const slash = r.key.indexOf('/');
      const info = await hub.roomInfo(r.key.slice(0, slash), r.key.slice(slash + 1));
      assert.deepEqual(info?.members ?? [], [], `room ${r.key} still has members`);
    }
    // Past every grace period (native create-room may ask for a day; flyx keeps empty rooms 10 minutes): nothing is left.
    srv.clock.advance(25 * 3_600_000);
    // The sweep the clock started may still be running; the next one sees the result.
    await until(async () => (await hub.sweep(), (await hub.listRooms()).length === 0), 'the sweep');
    assert.deepEqual(await hub.listRooms(), []);
    assert.equal(hub.stats().localRooms, 0);
  });
});
