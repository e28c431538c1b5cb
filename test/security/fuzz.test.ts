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
 *
 * Two targeted generators per dialect then aim at what the random frames cannot find: relays
 * (addressed to the real partner) nested around and far past `limits.maxJsonDepth`, and relays
 * spoofing the server's own frame types.
 */

/** Runs per target (9 dialect targets plus the undecided catch-all). Each run is 1–4 frames. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
/** Runs of each targeted generator (deep nesting, server-type spoofing) per dialect. Each run is one frame. */
const TARGETED_RUNS = Math.max(10, Math.round(RUNS / 3));
/** limits.maxJsonDepth's default. */
const MAX_DEPTH = 64;
const TOO_DEEP = `Message nests arrays and objects deeper than the limit of ${MAX_DEPTH} levels.`;

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
  peerjs: { types: ['HEARTBEAT', 'OFFER', 'ANSWER', 'CANDIDATE', 'LEAVE', 'EXPIRE'], fields: ['dst', 'src', 'payload', 'key', 'id', 'token'] },
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

/**
 * A JSON value nested `depth` levels deep (arrays and objects count one each), in one of three
 * shapes, with a string full of brackets and quotes at the bottom (which must not count). Depths
 * cluster around the limit and reach far past it; at most 10,000 levels keeps every frame under
 * the 64 KiB message limit, so the depth is what is tested.
 */
const nested = fc
  .record({
    depth: fc.oneof(fc.integer({ min: 1, max: MAX_DEPTH + 6 }), fc.constantFrom(MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1), fc.integer({ min: 100, max: 10_000 })),
    shape: fc.constantFrom('array', 'object', 'mixed'),
    bottom: fc.constantFrom('null', '"[[[{{{"', String.raw`"\\"`, String.raw`"\\\"[{"`, '[]', '{}'),
  })
  .map(({ depth, shape, bottom }) => {
    // `[]` and `{}` at the bottom are a level of their own.
    const wrappers = bottom === '[]' || bottom === '{}' ? depth - 1 : depth;
    let text = bottom;
    for (let i = wrappers - 1; i >= 0; i--) text = shape === 'array' || (shape === 'mixed' && i % 2 === 0) ? `[${text}]` : `{"k":${text}}`;
    return { text, depth };
  });

describe('fuzzing every dialect', () => {
  let srv: TestServer;
  /** One set of drivers for every test: it hands out unique client ids and remembers room ids. */
  let all: Driver[];
  const rejections: unknown[] = [];
  const onRejection = (e: unknown) => rejections.push(e);
  before(async () => {
    process.on('unhandledRejection', onRejection);
    // Floods are the rate limiter's business (abuse.test.ts), and room counts the quota's
    // (room-quota.test.ts): here every frame reaches the dialect, all from one address.
    srv = await startServer({ rateLimits: { messagesPerSecond: 0, joinsPerSecond: 0 }, rooms: { maxPerAddress: 0 } });
    all = drivers(srv);
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
      if (f.type === (d.errorType ?? 'error')) assert.ok(d.isError(f), `${d.name}/${who}: error not in the dialect's shape: ${text.slice(0, 300)}`);
      if (d.outTypes) assert.ok(d.outTypes.has(f.type), `${d.name}/${who}: unexpected frame type ${f.type}: ${text.slice(0, 200)}`);
    }
    raw.length = 0;
  }

  /** Sends one frame from the fuzzer and returns what each side received for it (after a round trip on both). */
  async function exchange(fuzzer: Member, partner: Member, text: string): Promise<{ toFuzzer: Frame[]; toPartner: Frame[] }> {
    fuzzer.c.ws.send(text);
    await wsSync(fuzzer.c);
    await wsSync(partner.c);
    const toFuzzer = fuzzer.c.take();
    const toPartner = partner.c.take();
    fuzzer.c.raw.length = 0;
    partner.c.raw.length = 0;
    return { toFuzzer, toPartner };
  }

  const targets = [...Object.keys(VOCAB), 'catch-all'];
  let totalFrames = 0;

  for (const name of targets) {
    test(`${name}: ${RUNS} runs of hostile frames`, async () => {
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

  /**
   * Deep nesting where each dialect relays: a frame deeper than limits.maxJsonDepth gets exactly the
   * dialect's refusal (flyx-cli: silence) and reaches nobody; one within it is relayed, once.
   */
  for (const name of Object.keys(VOCAB)) {
    test(`${name}: ${TARGETED_RUNS} relays nested around and far past the depth limit`, async () => {
      const d = all.find((x) => x.name === name)!;
      const partner = await d.open(`deep-${name}`);
      let fuzzer = await d.open(`deep-${name}`);
      await wsSync(partner.c);
      partner.c.raw.length = 0;
      partner.c.take();
      fuzzer.c.raw.length = 0;
      fuzzer.c.take();
      await fc.assert(
        fc.asyncProperty(nested, async (payload) => {
          if (d.closesOnRefusal && fuzzer.c.closeCode !== undefined) fuzzer = await d.open(`deep-${name}`);
          const { text, base } = d.relay(partner, payload.text);
          const depth = base + payload.depth;
          totalFrames++;
          const { toFuzzer, toPartner } = await exchange(fuzzer, partner, text);
          if (depth > MAX_DEPTH) {
            const refusal = d.refusal(TOO_DEEP);
            assert.deepEqual(toFuzzer, refusal ? [refusal] : [], `${name}: depth ${depth} is refused`);
            assert.deepEqual(toPartner, [], `${name}: depth ${depth} reaches nobody`);
            if (d.closesOnRefusal) await fuzzer.c.closedWithin();
          } else {
            assert.deepEqual(toFuzzer, [], `${name}: depth ${depth} is not an error`);
            assert.equal(toPartner.length, 1, `${name}: depth ${depth} is relayed once`);
            assert.ok(d.isRelay(toPartner[0]!), `${name}: as a relay: ${JSON.stringify(toPartner[0]).slice(0, 200)}`);
          }
        }),
        { numRuns: TARGETED_RUNS },
      );
      if (!d.closesOnRefusal) assert.equal(fuzzer.c.closeCode, undefined);
      await fuzzer.c.close();
      await partner.c.close();
    });
  }

  /**
   * Server-type spoofing: a member asks the server to relay a frame typed as one the server itself
   * sends (a forged `peer-left`, `welcome`, `registered`…), or carrying such a frame inside its
   * payload. The partner only ever receives relays (in the dialect's relay shape, never a frame of
   * the server's own types); a relay typed as a server type reaches nobody and its sender gets one
   * error in the dialect's shape (flyx-cli: silence).
   */
  for (const name of Object.keys(VOCAB)) {
    test(`${name}: ${TARGETED_RUNS} relays spoofing the server's own frame types`, async () => {
      const d = all.find((x) => x.name === name)!;
      const partner = await d.open(`spoof-${name}`);
      const fuzzer = await d.open(`spoof-${name}`);
      await wsSync(partner.c);
      partner.c.take();
      fuzzer.c.take();
      const serverType = fc.constantFrom(...d.serverTypes);
      const forgedFields = fc.constantFrom('', ',"peer_id":"victim","reason":"left"', ',"room":"spoofed","peers":[]', ',"client_id":"victim","sender_id":"victim"', ',"message":"forged","error":"forged"');
      // A relay typed as a server frame (with that frame's fields added), or one carrying such a frame as its payload.
      const spoof = fc.oneof(
        fc.tuple(serverType, forgedFields, fc.constantFrom('"v=0"', '{"type":"offer"}')).map(([outer, extra, payload]) => ({ outer, payload, extra })),
        fc.tuple(serverType, forgedFields).map(([t, extra]) => ({ outer: undefined, payload: `{"type":${JSON.stringify(t)}${extra}}`, extra: '' })),
      );
      await fc.assert(
        fc.asyncProperty(spoof, async ({ outer, payload, extra }) => {
          const relay = d.relay(partner, payload, outer).text;
          const text = extra ? `${relay.slice(0, -1)}${extra}}` : relay;
          totalFrames++;
          const { toFuzzer, toPartner } = await exchange(fuzzer, partner, text);
          for (const f of toPartner) assert.ok(d.isRelay(f), `${name}: the partner got a frame that is not a relay: ${JSON.stringify(f).slice(0, 200)} (sent ${text.slice(0, 200)})`);
          if (outer !== undefined) {
            assert.deepEqual(toPartner, [], `${name}: a relay typed ${outer} reaches nobody`);
            // flyx-cli never sends errors; PeerJS ignores a type it does not take, as `peer` does.
            assert.equal(toFuzzer.length, name === 'flyx-cli' || d.ignoresUnknown ? 0 : 1, `${name}: the sender hears one error: ${JSON.stringify(toFuzzer)}`);
            for (const f of toFuzzer) assert.ok(d.isError(f), `${name}: in the dialect's error shape: ${JSON.stringify(f)}`);
          } else {
            assert.deepEqual(toFuzzer, [], `${name}: a payload is the dialect's to carry`);
            assert.equal(toPartner.length, 1, `${name}: relayed once`);
          }
        }),
        { numRuns: TARGETED_RUNS },
      );
      assert.equal(fuzzer.c.closeCode, undefined);
      await fuzzer.c.close();
      await partner.c.close();
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
