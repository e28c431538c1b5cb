import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryBackplane } from '../../src/backplane/memory.js';
import { ManualClock } from '../../src/core/clock.js';
import { HubError } from '../../src/core/errors.js';
import { Hub, type HubConfig } from '../../src/core/hub.js';
import type { Session } from '../../src/core/session.js';
import type { CloseReason, HubEvent } from '../../src/core/types.js';
import { tick } from '../helpers/wait.js';

const config: HubConfig = {
  heartbeat: { intervalMs: 1000, timeoutMs: 3000 },
  rooms: { requireCreate: false, maxPeers: 3, maxRoomsPerPeer: 2, emptyTtlMs: 5000, idleTtlMs: 0, sweepIntervalMs: 500 },
};

interface Peer {
  s: Session;
  events: HubEvent[];
  pings: number;
  closes: CloseReason[];
}

async function setup(overrides: Partial<HubConfig['rooms']> = {}) {
  const clock = new ManualClock();
  const hub = new Hub({ backplane: new MemoryBackplane('n1'), clock, config: { ...config, rooms: { ...config.rooms, ...overrides } } });
  await hub.start();
  const peer = (namespace = 'ns'): Peer => {
    const p = { events: [] as HubEvent[], pings: 0, closes: [] as CloseReason[] } as Peer;
    p.s = hub.openSession({
      dialect: 'test',
      namespace,
      link: { ping: () => p.pings++, close: (r) => p.closes.push(r) },
      sink: (e) => p.events.push(e),
      address: undefined,
    });
    return p;
  };
  return { clock, hub, peer };
}

/** Lets promise continuations queued by timer callbacks run. */
const settle = tick;

test('join returns the others, and members hear peer-joined', async () => {
  const { hub, peer } = await setup();
  const a = peer();
  const b = peer();
  assert.deepEqual((await hub.join(a.s, 'r', { name: 'A' })).peers, []);
  const j = await hub.join(b.s, 'r', { name: 'B', meta: { x: 1 } });
  assert.deepEqual(j.peers, [{ peerId: a.s.id, name: 'A' }]);
  assert.deepEqual(a.events, [{ type: 'peer-joined', room: 'r', peer: { peerId: b.s.id, name: 'B', meta: { x: 1 } } }]);
  assert.deepEqual(b.events, []);
});

test('signal reaches a peer only through a shared room', async () => {
  const { hub, peer } = await setup();
  const a = peer();
  const b = peer();
  const c = peer();
  await hub.join(a.s, 'r1');
  await hub.join(b.s, 'r1');
  await hub.join(c.s, 'r2');
  hub.signal(a.s, b.s.id, { sdp: 'x' });
  assert.deepEqual(b.events.at(-1), { type: 'signal', from: a.s.id, room: 'r1', data: { sdp: 'x' } });
  assert.throws(() => hub.signal(a.s, c.s.id, {}), (e: HubError) => e.code === 'peer-not-found');
  assert.throws(() => hub.signal(a.s, 'nobody', {}), (e: HubError) => e.code === 'peer-not-found');
  assert.throws(() => hub.signal(a.s, a.s.id, {}), (e: HubError) => e.code === 'peer-not-found');
  assert.equal(c.events.length, 0);
});

test('namespaces never mix: the same room name in two namespaces is two rooms', async () => {
  const { hub, peer } = await setup();
  const a = peer('one');
  const b = peer('two');
  await hub.join(a.s, 'lobby');
  const j = await hub.join(b.s, 'lobby');
  assert.deepEqual(j.peers, []);
  assert.equal(a.events.length, 0);
  assert.throws(() => hub.signal(b.s, a.s.id, {}), (e: HubError) => e.code === 'peer-not-found');
});

test('broadcast goes to every other member (and self only when asked)', async () => {
  const { hub, peer } = await setup();
  const [a, b, c] = [peer(), peer(), peer()];
  for (const p of [a, b, c]) await hub.join(p.s, 'r');
  a.events.length = b.events.length = c.events.length = 0;
  hub.broadcast(a.s, 'r', 'hi');
  assert.equal(a.events.length, 0);
  assert.deepEqual(b.events, [{ type: 'broadcast', room: 'r', from: a.s.id, data: 'hi' }]);
  assert.deepEqual(c.events, b.events);
  hub.broadcast(a.s, 'r', 'me too', true);
  assert.equal(a.events.length, 1);
  assert.throws(() => hub.broadcast(a.s, 'elsewhere', 1), (e: HubError) => e.code === 'not-in-room');
});

test('capacity, rooms per peer, double join and requireCreate are enforced with typed errors', async () => {
  const { hub, peer } = await setup();
  const ps = [peer(), peer(), peer(), peer()];
  for (const p of ps.slice(0, 3)) await hub.join(p.s, 'full');
  await assert.rejects(hub.join(ps[3]!.s, 'full'), (e: HubError) => e.code === 'room-full');
  await assert.rejects(hub.join(ps[0]!.s, 'full'), (e: HubError) => e.code === 'already-in-room');
  await hub.join(ps[0]!.s, 'second');
  await assert.rejects(hub.join(ps[0]!.s, 'third'), (e: HubError) => e.code === 'too-many-rooms');
  const strict = await setup({ requireCreate: true });
  const x = strict.peer();
  await assert.rejects(strict.hub.join(x.s, 'nope'), (e: HubError) => e.code === 'room-not-found');
  const name = await strict.hub.createRoom(x.s, { options: { capacity: 1 } });
  assert.match(name, /^[A-Za-z0-9_-]{22}$/);
  await strict.hub.join(x.s, name);
  await assert.rejects(strict.hub.join(strict.peer().s, name), (e: HubError) => e.code === 'room-full');
});

test('leave and disconnect tell the others, with reasons', async () => {
  const { hub, peer } = await setup();
  const [a, b, c] = [peer(), peer(), peer()];
  for (const p of [a, b, c]) await hub.join(p.s, 'r');
  a.events.length = 0;
  await hub.leave(b.s, 'r');
  assert.deepEqual(a.events, [{ type: 'peer-left', room: 'r', peerId: b.s.id, reason: 'left' }]);
  await assert.rejects(hub.leave(b.s, 'r'), (e: HubError) => e.code === 'not-in-room');
  await hub.closeSession(c.s, 'disconnect');
  assert.deepEqual(a.events.at(-1), { type: 'peer-left', room: 'r', peerId: c.s.id, reason: 'disconnect' });
  await hub.closeSession(c.s, 'timeout'); // idempotent: nothing more
  assert.equal(a.events.length, 2);
  assert.deepEqual(hub.members(a.s, 'r'), [{ peerId: a.s.id }]);
});

test('heartbeat pings live sessions and times out silent ones (injected clock)', async () => {
  const { hub, clock, peer } = await setup();
  const a = peer();
  const b = peer();
  await hub.join(a.s, 'r');
  await hub.join(b.s, 'r');
  clock.advance(1000);
  assert.equal(a.pings, 1);
  assert.equal(b.pings, 1);
  // a keeps talking, b goes silent
  for (let i = 0; i < 3; i++) {
    hub.touch(a.s);
    clock.advance(1000);
  }
  await settle();
  assert.deepEqual(b.closes, ['timeout']);
  assert.deepEqual(a.closes, []);
  assert.ok(b.s.closed);
  assert.deepEqual(a.events.at(-1), { type: 'peer-left', room: 'r', peerId: b.s.id, reason: 'timeout' });
  assert.equal(hub.sessions.has(b.s.id), false);
});

test('an empty room survives its grace period, then is removed', async () => {
  const { hub, clock, peer } = await setup();
  const a = peer();
  await hub.join(a.s, 'r', { meta: 1 });
  await hub.leave(a.s, 'r');
  clock.advance(4500);
  await settle();
  assert.ok(await hub.roomInfo('ns', 'r'), 'still there within the grace period');
  clock.advance(1000);
  await settle();
  assert.equal(await hub.roomInfo('ns', 'r'), undefined);
});

test('a room with emptyTtlMs 0 goes as soon as it is empty', async () => {
  const { hub, peer } = await setup();
  const a = peer();
  await hub.join(a.s, 'r', { defaults: { emptyTtlMs: 0 } });
  await hub.leave(a.s, 'r');
  assert.equal(await hub.roomInfo('ns', 'r'), undefined);
});

test('an idle room expires: every member hears a self-addressed peer-left "expired"; activity postpones it', async () => {
  const { hub, clock, peer } = await setup();
  const a = peer();
  const b = peer();
  await hub.join(a.s, 'r', { defaults: { idleTtlMs: 10_000 } });
  await hub.join(b.s, 'r');
  const keepAlive = () => (hub.touch(a.s), hub.touch(b.s));
  for (let i = 0; i < 4; i++) {
    for (let k = 0; k < 4; k++) {
      keepAlive();
      clock.advance(1000);
    }
    hub.signal(a.s, b.s.id, i); // relays are activity
    await settle();
  }
  assert.ok(await hub.roomInfo('ns', 'r'), 'kept alive by signals');
  a.events.length = b.events.length = 0;
  for (let k = 0; k < 11; k++) {
    keepAlive();
    clock.advance(1000);
    await settle(); // the sweep is async: let each tick's sweep finish
  }
  await settle();
  assert.deepEqual(a.events, [{ type: 'peer-left', room: 'r', peerId: a.s.id, reason: 'expired' }]);
  assert.deepEqual(b.events, [{ type: 'peer-left', room: 'r', peerId: b.s.id, reason: 'expired' }]);
  assert.equal(a.s.rooms.size, 0);
  assert.equal(await hub.roomInfo('ns', 'r'), undefined);
  // the name is free again
  await hub.join(a.s, 'r');
});

test('aliases are unique per namespace; replace kicks the previous holder', async () => {
  const { hub, peer } = await setup();
  const a = peer();
  const b = peer();
  await hub.claimAlias(a.s, 'alice', 'reject');
  await assert.rejects(hub.claimAlias(b.s, 'alice', 'reject'), (e: HubError) => e.code === 'identity-taken');
  assert.equal(await hub.resolveAlias('ns', 'alice'), a.s.id);
  await hub.claimAlias(peer('other').s, 'alice', 'reject'); // another namespace: independent
  await hub.claimAlias(b.s, 'alice', 'replace');
  await settle();
  assert.deepEqual(a.closes, ['replaced']);
  assert.ok(a.s.closed);
  assert.equal(await hub.resolveAlias('ns', 'alice'), b.s.id);
  await hub.closeSession(b.s, 'disconnect');
  assert.equal(await hub.resolveAlias('ns', 'alice'), undefined);
});

test('an alias claimed with an owner is replaced only by a claim with the same owner', async () => {
  const { hub, peer } = await setup();
  const a = peer();
  await hub.claimAlias(a.s, 'id', 'replace', 'owner-1');
  await assert.rejects(hub.claimAlias(peer().s, 'id', 'replace', 'owner-2'), (e: HubError) => e.code === 'identity-taken');
  // The same owner takes it over: the older holder is kicked.
  const b = peer();
  await hub.claimAlias(b.s, 'id', 'replace', 'owner-1');
  await settle();
  assert.deepEqual(a.closes, ['replaced']);
  assert.equal(await hub.resolveAlias('ns', 'id'), b.s.id);
});

test('direct: to the holder of an alias, synchronously on its node; nobody holds it: kept in its mailbox, taken once or expired once', async () => {
  const { hub, peer } = await setup();
  const a = peer();
  const b = peer();
  await hub.claimAlias(b.s, 'bob', 'reject');
  assert.equal(hub.direct(a.s, 'bob', '{"type":"x"}'), 'delivered');
  assert.deepEqual(b.events, [{ type: 'signal', from: a.s.id, room: '', data: undefined, raw: '{"type":"x"}' }]);
  const box = { from: 'a', max: 2, ttlMs: 1000 };
  assert.equal(hub.direct(a.s, 'carol', '1', box), 'queued');
  assert.equal(hub.direct(a.s, 'carol', '2', { ...box, from: 'z' }), 'queued');
  assert.equal(hub.direct(a.s, 'carol', '3', box), 'full');
  assert.equal(hub.direct(a.s, 'carol', '4'), 'absent');
  assert.equal(await hub.expireMail('ns', 'carol', 'a'), 1);
  assert.equal(await hub.expireMail('ns', 'carol', 'a'), 0);
  const c = peer();
  await hub.claimAlias(c.s, 'carol', 'reject');
  assert.deepEqual(await hub.takeMail(c.s, 'carol'), ['2']);
  assert.deepEqual(await hub.takeMail(c.s, 'carol'), []);
  assert.equal(await hub.expireMail('ns', 'carol', 'z'), 0);
  // Another namespace's alias of the same name is another alias.
  assert.equal(hub.direct(peer('other').s, 'bob', '5'), 'absent');
});

test('kick removes a member: it hears a self-addressed peer-left, the others hear "kicked"', async () => {
  const { hub, peer } = await setup();
  const a = peer();
  const b = peer();
  await hub.join(a.s, 'r');
  await hub.join(b.s, 'r');
  a.events.length = 0;
  assert.equal(await hub.kick('ns', 'r', b.s.id), true);
  assert.deepEqual(a.events, [{ type: 'peer-left', room: 'r', peerId: b.s.id, reason: 'kicked' }]);
  assert.deepEqual(b.events.at(-1), { type: 'peer-left', room: 'r', peerId: b.s.id, reason: 'kicked' });
  assert.equal(b.s.rooms.size, 0);
  assert.equal(await hub.kick('ns', 'r', b.s.id), false);
});

test('a session closed while its join is in flight leaves no membership behind', async () => {
  const { hub, peer } = await setup();
  const a = peer();
  const joining = hub.join(a.s, 'r');
  await hub.closeSession(a.s, 'disconnect');
  await assert.rejects(joining);
  assert.equal((await hub.roomInfo('ns', 'r'))?.members.length ?? 0, 0);
});

test('draining refuses new joins and rooms', async () => {
  const { hub, peer } = await setup();
  hub.draining = true;
  await assert.rejects(hub.join(peer().s, 'r'), (e: HubError) => e.code === 'shutting-down');
  await assert.rejects(hub.createRoom('ns'), (e: HubError) => e.code === 'shutting-down');
});

test('stop cancels every timer it started', async () => {
  const { hub, clock } = await setup();
  assert.ok(clock.pending > 0);
  await hub.stop();
  assert.equal(clock.pending, 0);
});

test('resume, on the injected clock: a detached session keeps its rooms for the window, then ends with disconnect; a heartbeat-dead one detaches', async () => {
  const clock = new ManualClock();
  // A heartbeat slower than the window, so only the window ends sessions here (until its own part).
  const hub = new Hub({ backplane: new MemoryBackplane('n1'), clock, config: { ...config, heartbeat: { intervalMs: 20_000, timeoutMs: 60_000 }, resume: { windowMs: 10_000, maxBufferBytes: 1000 } } });
  await hub.start();
  const open = (resumable: boolean) => {
    const p = { events: [] as HubEvent[], pings: 0, closes: [] as CloseReason[] } as Peer;
    p.s = hub.openSession({ dialect: 'test', namespace: 'ns', link: { ping: () => p.pings++, close: (r) => p.closes.push(r) }, sink: (e) => p.events.push(e), address: undefined, resumable });
    return p;
  };
  const a = open(true);
  const b = open(false);
  await hub.join(a.s, 'r');
  await hub.join(b.s, 'r');
  // Seq continuity: every recorded frame takes the next number.
  assert.deepEqual([hub.record(a.s, 'f1'), hub.record(a.s, 'f2'), hub.record(a.s, 'f3')], [1, 2, 3]);
  assert.equal(hub.record(b.s, 'x'), undefined, 'a session that is not resumable numbers nothing');
  hub.detach(a.s);
  assert.equal(a.s.attached, false);
  clock.advance(9_999);
  await settle();
  assert.equal(hub.sessions.has(a.s.id), true);
  assert.deepEqual(b.events.filter((e) => e.type === 'peer-left'), [], 'no peer-left inside the window');
  const token = a.s.resume!.tokens[0]!;
  clock.advance(1);
  await settle();
  assert.equal(hub.sessions.has(a.s.id), false);
  assert.deepEqual(b.events.filter((e) => e.type === 'peer-left'), [{ type: 'peer-left', room: 'r', peerId: a.s.id, reason: 'disconnect' }]);
  const late = hub.resume(token, 3, { ping() {}, close() {} }, () => {}, undefined);
  assert.deepEqual(late, { ok: false, error: 'session-expired' });

  // The heartbeat declares a resumable session dead: its link is closed (timeout), it waits.
  const c = open(true);
  await hub.join(c.s, 'r');
  clock.advance(70_000);
  await settle();
  assert.deepEqual(c.closes, ['timeout']);
  assert.equal(c.s.attached, false);
  assert.equal(hub.sessions.has(c.s.id), true);
  const back = hub.resume(c.s.resume!.tokens[0]!, 0, { ping() {}, close() {} }, () => {}, undefined);
  assert.equal(back.ok, true);
  assert.equal(c.s.attached, true);
  // Overflow while detached ends it: the buffer holds 1000 bytes.
  hub.detach(c.s);
  assert.equal(typeof hub.record(c.s, 'x'.repeat(600)), 'number');
  assert.equal(hub.record(c.s, 'y'.repeat(600)), undefined);
  await settle();
  assert.equal(hub.sessions.has(c.s.id), false);
  await hub.stop();
});
