import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import type { Config, DeepPartial } from '../../src/config.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect, type Frame, type TestClient } from '../helpers/ws.js';
import { drivers, wsSync, type Driver, type Member } from './drivers.js';

/**
 * Deeply nested JSON. A 20,000-level array is 40 KB, well under the message size limit, and
 * JSON.parse takes it; re-serialising it (every seed dialect renders a relay with JSON.stringify)
 * overflows the stack. Frames nested deeper than `limits.maxJsonDepth` (default 64; arrays and
 * objects count one level each) are refused at the framing layer in each dialect's words, and a
 * relay the server fails to render anyway is an error to its sender, logged at a bounded rate.
 */

const LIMIT = 64;
const tooDeep = (limit: number) => `Message nests arrays and objects deeper than the limit of ${limit} levels.`;
const deepArray = (d: number) => '['.repeat(d) + ']'.repeat(d);
const deepObject = (d: number) => '{"a":'.repeat(d) + '1' + '}'.repeat(d);

const DIALECTS = ['native', 'vc', 'slam', 'slam-pair', 'call', 'mesh', 'flyx', 'flyx-cli'];

async function settle(...cs: TestClient[]): Promise<void> {
  for (const c of cs) await wsSync(c);
}

/** Two members of one room, `partner` first (flyx: the sender; flyx-cli: the master), nothing pending. */
async function pair(d: Driver, label: string): Promise<{ partner: Member; sender: Member }> {
  const partner = await d.open(label);
  const sender = await d.open(label);
  await settle(partner.c, sender.c);
  partner.c.take();
  sender.c.take();
  return { partner, sender };
}

async function withServer(overrides: DeepPartial<Config>, fn: (srv: TestServer) => Promise<void>, deps = {}): Promise<void> {
  const srv = await startServer(overrides, deps);
  try {
    await fn(srv);
  } finally {
    await srv.close();
  }
}

describe('deeply nested JSON is refused at the framing layer', () => {
  let srv: TestServer;
  let all: Driver[];
  before(async () => {
    srv = await startServer();
    all = drivers(srv);
  });
  after(() => srv.close());

  for (const name of DIALECTS) {
    test(`${name}: a relay nested 20,000 deep gets the dialect's error, reaches nobody, and the next relay goes through`, async () => {
      const d = all.find((x) => x.name === name)!;
      const { partner, sender } = await pair(d, `deep-${name}`);
      for (const payload of [deepArray(20_000), deepObject(10_000)]) {
        sender.c.ws.send(d.relay(partner, payload).text);
        await settle(sender.c, partner.c);
        const expected = d.refusal(tooDeep(LIMIT));
        assert.deepEqual(sender.c.take(), expected ? [expected] : [], 'the sender hears the refusal (flyx-cli: nothing, its CLI crashes on errors)');
        assert.deepEqual(partner.c.take(), [], 'nothing reaches the partner');
      }
      sender.c.ws.send(d.relay(partner, '"v=0"').text);
      const relayed = await partner.c.next(d.isRelay);
      assert.ok(relayed, 'an ordinary relay still travels');
      await settle(sender.c);
      assert.deepEqual(sender.c.take(), []);
      assert.equal(sender.c.closeCode, undefined, 'the socket stays open');
      await sender.c.close();
      await partner.c.close();
    });
  }

  test('catch-all path, before the first frame decided the dialect: the shared error shape', async () => {
    const c = await connect(srv.ws('/undecided-deep'));
    c.send(`{"type":"register","client_id":${deepArray(5_000)}}`);
    assert.deepEqual(await c.next(), { type: 'error', message: tooDeep(LIMIT) });
    await c.close();
  });

  test('native: a join with a deep meta is answered, before the request after it', async () => {
    const c = await connect(srv.ws('/v1'));
    await c.next('welcome');
    c.send(`{"type":"join","id":"j1","room":"deep-meta","meta":{"a":${deepArray(20_000)}}}`);
    c.send({ type: 'ping', id: 'p1', ts: 1 });
    assert.deepEqual(await c.next(), { type: 'error', code: 'invalid-message', message: tooDeep(LIMIT) });
    assert.deepEqual(await c.next(), { type: 'pong', re: 'p1', ts: 1 });
    assert.equal(await srv.server.hub.roomInfo('native', 'deep-meta'), undefined, 'no room was made');
    await c.close();
  });

  test('arrays and objects count one level each: 64 levels pass, 65 are refused; brackets inside strings do not count', async () => {
    const d = all.find((x) => x.name === 'native')!;
    const { partner, sender } = await pair(d, 'deep-bounds');
    const signal = (data: string) => `{"type":"signal","to":${JSON.stringify(partner.id)},"data":${data}}`;
    // The frame's own object is level 1.
    const passing = [
      deepArray(LIMIT - 1),
      deepObject(LIMIT - 1),
      `[${'{"k":'.repeat(31)}${deepArray(31)}${'}'.repeat(31)}]`,
      JSON.stringify('['.repeat(500)),
      JSON.stringify(`"\\${'{'.repeat(500)}`),
      `["\\\\",${deepArray(LIMIT - 2)}]`,
    ];
    for (const data of passing) {
      sender.c.ws.send(signal(data));
      const got = await partner.c.next('signal');
      assert.deepEqual(got.data, JSON.parse(data));
    }
    const refused = [deepArray(LIMIT), deepObject(LIMIT), `["\\\\",${deepArray(LIMIT - 1)}]`, `[${'{"k":'.repeat(32)}${deepArray(31)}${'}'.repeat(32)}]`];
    for (const data of refused) {
      sender.c.ws.send(signal(data));
      assert.deepEqual(await sender.c.next(), { type: 'error', code: 'invalid-message', message: tooDeep(LIMIT) }, data.slice(0, 80));
    }
    await settle(sender.c, partner.c);
    assert.deepEqual(partner.c.take(), []);
    await sender.c.close();
    await partner.c.close();
  });
});

describe('limits.maxJsonDepth', () => {
  test('is configurable and advertised in native welcome.limits', async () => {
    await withServer({ limits: { maxJsonDepth: 3 } }, async (srv) => {
      const c = await connect(srv.ws('/v1'));
      const welcome = await c.next('welcome');
      assert.equal((welcome.limits as Frame).maxJsonDepth, 3);
      c.send('{"type":"ping","id":1,"ts":2,"x":[[]]}');
      assert.deepEqual(await c.next(), { type: 'pong', re: 1, ts: 2 });
      c.send('{"type":"ping","id":2,"ts":2,"x":[[[]]]}');
      assert.deepEqual(await c.next(), { type: 'error', code: 'invalid-message', message: tooDeep(3) });
      await c.close();
    });
  });
});

describe('a relay the server fails to render is an error to its sender, logged at a bounded rate', () => {
  // With the depth limit lifted, JSON.stringify overflows the stack while rendering the relay.
  const DEEP = deepArray(20_000);
  const lines: { level: number; msg: string; suppressed?: number }[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as (typeof lines)[number]) });

  test('a seed dialect that re-serialises a relay (flyx and vc rebuilding a client-sent id), and native join meta; the forwarding ones deliver it intact', async () => {
    await withServer(
      { limits: { maxJsonDepth: 1_000_000 }, rateLimits: { messagesPerSecond: 0 } },
      async (srv) => {
        const all = drivers(srv);
        let failures = 0;
        // These forward the sender's own bytes: nothing is rendered, so nothing fails.
        for (const name of ['vc', 'slam', 'slam-pair', 'call', 'mesh', 'flyx']) {
          const d = all.find((x) => x.name === name)!;
          const { partner, sender } = await pair(d, `forward-${name}`);
          sender.c.ws.send(d.relay(partner, DEEP).text);
          assert.ok(await partner.c.next(d.isRelay), `${name}: the deep relay arrives`);
          const raw = partner.c.raw.find((t) => t.includes(DEEP));
          assert.ok(raw, `${name}: as the sender's bytes`);
          await settle(sender.c, partner.c);
          assert.deepEqual(sender.c.take(), [], `${name}: no error for the sender`);
          await sender.c.close();
          await partner.c.close();
        }
        // A flyx relay whose data names a client_id of its own is rebuilt without it: that one is rendered.
        for (const name of ['flyx']) {
          const d = all.find((x) => x.name === name)!;
          const { partner, sender } = await pair(d, `render-${name}`);
          for (let i = 0; i < 3; i++) {
            sender.c.ws.send(`{"type":"offer","data":{"client_id":"forged","sdp":"v=0","to":${JSON.stringify(partner.id)},"extra":${DEEP}}}`);
            await settle(sender.c, partner.c);
            const got = sender.c.take();
            assert.equal(got.length, 1, `${name}: the sender is told: ${JSON.stringify(got)}`);
            assert.ok(d.isError(got[0]!), `${name}: in the dialect's error shape: ${JSON.stringify(got[0])}`);
            assert.match(JSON.stringify(got[0]), /internal-error|could not deliver/, name);
            assert.deepEqual(partner.c.take(), [], `${name}: the partner gets nothing`);
            failures++;
          }
          sender.c.ws.send(d.relay(partner, '"v=0"').text);
          assert.ok(await partner.c.next(d.isRelay), `${name}: the next relay goes through`);
          await sender.c.close();
          await partner.c.close();
        }
        const vc = all.find((x) => x.name === 'vc')!;
        // A frame with its own `from` is rebuilt with the server's: that one is rendered.
        const rebuilt = (to: { id: string }) => `{"type":"offer","from":"forged","to":${JSON.stringify(to.id)},"sdp":${DEEP}}`;
        const { partner, sender } = await pair(vc, 'render-vc-to');
        sender.c.ws.send(rebuilt(partner));
        assert.deepEqual(await sender.c.next(), { type: 'error', error: 'internal-error', to: partner.id });
        failures++;
        await sender.c.close();
        await partner.c.close();

        const c = await connect(srv.ws('/v1'));
        await c.next('welcome');
        c.send(`{"type":"join","id":"j1","room":"render-meta","meta":{"a":${DEEP}}}`);
        const reply = await c.next();
        assert.equal(reply.code, 'internal-error');
        assert.equal(reply.re, 'j1');
        failures++;
        await c.close();

        const render = () => lines.filter((l) => l.msg === 'dialect failed to render an event');
        const errors = () => lines.filter((l) => l.level >= 50);
        assert.equal(render().length, failures - 1, 'every render failure is logged');
        assert.deepEqual(
          errors().map((l) => l.msg),
          ['dialect failed to render an event', 'request failed'],
          'once at error level per kind of failure; the rest at debug',
        );

        // A minute later, the next failure is logged at error again, with how many were not.
        srv.clock.advance(60_000);
        const again = await pair(vc, 'render-later');
        again.sender.c.ws.send(rebuilt(again.partner));
        await again.sender.c.next('error');
        const last = errors().slice(2);
        assert.equal(last.length, 1, JSON.stringify(last));
        assert.equal(last[0]!.msg, 'dialect failed to render an event');
        assert.equal(last[0]!.suppressed, failures - 2);
        await again.sender.c.close();
        await again.partner.c.close();
      },
      { logger },
    );
  });
});
