import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SwitchboardError } from 'switchboard/client';
import { startServer, type TestServer } from '../helpers/server.js';
import { SECRET, sign } from '../security/auth-tokens.js';
import { manualTimers, next, open, record, recordingWebSocket, tick, until, type RecordedSocket } from './harness.js';

/**
 * Tokens: a provider is asked on every (re)connect and on token-expiring, and the SDK refreshes the
 * token before expiry; a static token expires with 4005 and the SDK stops. Server time on its
 * ManualClock; heartbeats pushed out of the way so that minutes pass in one advance.
 */

const FAR = { heartbeat: { intervalMs: 1_000_000_000, timeoutMs: 2_000_000_000 } };
const TOLERANCE_MS = 5_000;
const WARNING_MS = 60_000;

describe('tokens', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer({ auth: { secret: SECRET }, ...FAR });
  });
  after(() => srv.close());

  const deadlineOf = (issuedAt: number, ttl: number) => (Math.floor(issuedAt / 1000) + ttl) * 1000 + TOLERANCE_MS;

  test('a provider is asked on connect and on token-expiring; the refreshed connection outlives the first token', async () => {
    const { WS, sockets } = recordingWebSocket();
    const { timers } = manualTimers();
    let asked = 0;
    const sb = await open(srv.ws(), { WebSocket: WS, timers, token: () => (asked++, sign({ sub: 'ann' }, { now: srv.clock.now(), ttl: 600 })) });
    try {
      assert.equal(asked, 1);
      assert.match((sockets[0] as RecordedSocket).url, /[?&]token=ey/);
      const deadline = deadlineOf(srv.clock.now(), 600);
      const expiring = next<{ expiresAt: number }>(sb, 'token-expiring');
      srv.clock.advance(deadline - WARNING_MS - srv.clock.now());
      assert.deepEqual(await expiring, { expiresAt: deadline });
      await until(() => (sockets[0] as RecordedSocket).sent.some((f) => f.type === 'refresh-token'), 'refresh-token');
      assert.equal(asked, 2);
      await sb.ping(); // the token-refreshed reply came before the pong
      srv.clock.advance(deadline + 1 - srv.clock.now());
      await sb.ping();
      assert.equal(sb.state, 'open', 'still connected after the first token expired');
    } finally {
      sb.close();
    }
  });

  test('a static token: 4005 at expiry closes for good (no reconnect)', async () => {
    const { WS, sockets } = recordingWebSocket();
    const { clock, timers } = manualTimers();
    const token = await sign({ sub: 'bob' }, { now: srv.clock.now(), ttl: 600 });
    const deadline = deadlineOf(srv.clock.now(), 600);
    const sb = await open(srv.ws(), { WebSocket: WS, timers, token });
    const closed = next<{ code: number }>(sb, 'closed');
    srv.clock.advance(deadline - srv.clock.now());
    assert.equal((await closed).code, 4005);
    clock.advance(60_000);
    await tick();
    assert.equal(sockets.length, 1);
    assert.equal(sb.state, 'closed');
  });

  test('4005 with a provider (the refresh failed): reconnects with a new token, the session is lost and its rooms rejoined', async () => {
    const { WS, sockets } = recordingWebSocket();
    const { clock, timers } = manualTimers();
    let asked = 0;
    const sb = await open(srv.ws(), {
      WebSocket: WS,
      timers,
      token: () => {
        asked++;
        if (asked === 2) throw new Error('identity provider down');
        return sign({ sub: 'cy' }, { now: srv.clock.now(), ttl: 600 });
      },
    });
    try {
      await sb.join('kept');
      const deadline = deadlineOf(srv.clock.now(), 600);
      const events = record(sb, ['error', 'session-lost', 'rejoined']);
      srv.clock.advance(deadline - WARNING_MS - srv.clock.now());
      await until(() => events.length === 1, 'the failed refresh');
      assert.equal((events[0]!.payload as SwitchboardError).code, 'token-refresh-failed');
      srv.clock.advance(WARNING_MS);
      await until(() => sb.state === 'reconnecting', '4005');
      clock.advance(375);
      await until(() => events.length === 3, 'session-lost and rejoined');
      assert.equal(asked, 3);
      assert.match((sockets[1] as RecordedSocket).url, /[?&]token=ey/);
      assert.deepEqual(events[1]!.payload, { code: 'session-ended', previousPeerId: (events[1]!.payload as { previousPeerId: string }).previousPeerId });
      assert.deepEqual(events[2]!.payload, { rooms: ['kept'], failed: [] });
    } finally {
      sb.close();
    }
  });
});
