import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect, type Frame } from '../helpers/ws.js';
import { drivers, until, wsSync, type Driver, type Member } from './drivers.js';

/**
 * Cross-room injection: a peer in room A forges every addressing field the dialects know (`to`,
 * `target_id`, `targetId`, `target_username`, `data.to`, `from`, `sender_id`, `senderId`,
 * `client_id`, room fields…) at a peer of room B. Nothing may reach room B, and the sender fields
 * a room-mate sees are always the server's. A legitimate relay inside room A is the control: it
 * shows the same frames do travel when they are allowed to.
 */
const M = 'XROOM-INJECTED';

interface Case {
  forged(a1: Member, a2: Member, b1: Member, b2: Member): [Member, Frame][];
  /** A relay a1 → a2 carrying forged sender fields, and what a2 must see. */
  legit(a1: Member, a2: Member, b1: Member): { frame: Frame; seen: (f: Frame) => boolean };
}

const cases: Record<string, Case> = {
  native: {
    forged: (a1, _a2, b1) => [
      [a1, { type: 'signal', to: b1.id, data: M }],
      [a1, { type: 'signal', to: b1.id, room: b1.room, data: M }],
      [a1, { type: 'signal', to: b1.id, room: a1.room, data: M }],
      [a1, { type: 'broadcast', room: b1.room, data: M }],
      [a1, { type: 'broadcast', room: a1.room, to: b1.id, from: b1.id, peerId: b1.id, data: M }],
    ],
    legit: (a1, a2, b1) => ({ frame: { type: 'signal', to: a2.id, from: b1.id, data: 'LEGIT' }, seen: (f) => f.type === 'signal' && f.from === a1.id && f.data === 'LEGIT' }),
  },
  vc: {
    forged: (a1, _a2, b1) => [
      [a1, { type: 'offer', to: b1.id, sdp: M }],
      [a1, { type: 'offer', to: b1.id, room: b1.room, sdp: M }],
      [a1, { type: 'ice', to: b1.id, from: b1.id, peer_id: b1.id, candidate: { candidate: M } }],
      [a1, { type: 'broadcast', room: b1.room, data: M }],
    ],
    legit: (a1, a2, b1) => ({ frame: { type: 'offer', to: a2.id, from: b1.id, sdp: 'LEGIT' }, seen: (f) => f.type === 'offer' && f.from === a1.id && f.sdp === 'LEGIT' }),
  },
  slam: {
    forged: (a1, _a2, b1) => [
      [a1, { type: 'offer', target_id: b1.id, sdp: M }],
      [a1, { type: 'offer', target_id: b1.id, room_id: b1.room, sdp: M }],
      [a1, { type: 'ice_candidate', target_id: b1.id, sender_id: b1.id, client_id: b1.id, candidate: M }],
      [a1, { type: 'answer', target_id: b1.id, to: b1.id, sdp: M }],
    ],
    legit: (a1, a2, b1) => ({ frame: { type: 'offer', target_id: a2.id, sender_id: b1.id, sdp: 'LEGIT' }, seen: (f) => f.type === 'offer' && f.sender_id === a1.id && f.sdp === 'LEGIT' }),
  },
  mesh: {
    forged: (a1, _a2, b1) => [
      [a1, { type: 'signal', targetId: b1.id, payload: M }],
      [a1, { type: 'signal', targetId: b1.id, roomId: b1.room, payload: M }],
      [a1, { type: 'signal', roomId: b1.room, senderId: b1.id, to: b1.id, payload: M }],
    ],
    legit: (a1, a2, b1) => ({ frame: { type: 'signal', targetId: a2.id, senderId: b1.id, payload: 'LEGIT' }, seen: (f) => f.type === 'signal' && f.senderId === a1.id && f.payload === 'LEGIT' }),
  },
  'slam-pair': {
    forged: (a1, _a2, b1) => [
      [a1, { type: 'offer', sdp: M, to: b1.id, room: b1.room, path: b1.room }],
      [a1, { type: 'ice_candidate', candidate: M, client_id: b1.id, room_id: b1.room }],
    ],
    legit: () => ({ frame: { type: 'offer', sdp: 'LEGIT' }, seen: (f) => f.type === 'offer' && f.sdp === 'LEGIT' }),
  },
  flyx: {
    // a1 and b1 are their rooms' senders, a2 and b2 receivers.
    forged: (a1, a2, b1, b2) => [
      [a1, { type: 'offer', data: { sdp: M, to: b2.id } }],
      [a1, { type: 'offer', data: { sdp: M, to: b2.id, client_id: b1.id } }],
      [a2, { type: 'answer', data: { sdp: M, to: b1.id } }],
      [a2, { type: 'ice_candidate', data: { candidate: M, to: b1.id, client_id: b2.id }, room: b1.room }],
    ],
    legit: (a1, _a2, b1) => ({
      frame: { type: 'offer', data: { sdp: 'LEGIT', client_id: b1.id } },
      seen: (f) => f.type === 'offer' && (f.data as Frame).client_id === a1.id && (f.data as Frame).sdp === 'LEGIT',
    }),
  },
  'flyx-cli': {
    // a1 and b1 are masters, a2 and b2 slaves; the CLI's frames address nobody, so only extra fields can be forged.
    forged: (a1, a2, b1) => [
      [a1, { type: 'offer', sdp: M, to: b1.id, room: b1.room, target_id: b1.id }],
      [a2, { type: 'answer', sdp: M, to: b1.id, id: b1.room }],
    ],
    legit: () => ({ frame: { type: 'offer', sdp: 'LEGIT', from: 'forged' }, seen: (f) => JSON.stringify(f) === '{"type":"offer","sdp":"LEGIT"}' }),
  },
};

describe('cross-room injection is impossible in every dialect', () => {
  let srv: TestServer;
  const rejections: unknown[] = [];
  const onRejection = (e: unknown) => rejections.push(e);
  before(async () => {
    process.on('unhandledRejection', onRejection);
    srv = await startServer();
  });
  after(async () => {
    process.off('unhandledRejection', onRejection);
    await srv.close();
    assert.deepEqual(rejections, []);
  });

  for (const name of Object.keys(cases)) {
    test(`${name}: forged addressing from room A never reaches room B; sender fields are the server's`, async () => {
      const d = drivers(srv).find((x) => x.name === name) as Driver;
      const c = cases[name]!;
      const a1 = await d.open('A');
      const a2 = await d.open('A');
      const b1 = await d.open('B');
      const b2 = await d.open('B');
      assert.notEqual(a1.room, b1.room);
      for (const [from, frame] of c.forged(a1, a2, b1, b2)) from.c.send(frame);
      const legit = c.legit(a1, a2, b1);
      a1.c.send(legit.frame);
      await a2.c.next(legit.seen);
      for (const m of [a1, a2, b1, b2]) await wsSync(m.c);
      for (const b of [b1, b2]) {
        assert.ok(!b.c.raw.some((r) => r.includes(M)), `${name}: room B received ${JSON.stringify(b.c.raw.filter((r) => r.includes(M)))}`);
        assert.ok(!b.c.raw.some((r) => r.includes('LEGIT')));
      }
      // Anything a room-mate received carries the server's sender fields, never b1's.
      if (name !== 'slam-pair' && name !== 'flyx-cli') {
        for (const f of a2.c.take()) assert.ok(!JSON.stringify(f).includes(b1.id) || f.type === 'error', `${name}: forged sender reached a2: ${JSON.stringify(f)}`);
      }
      for (const m of [a1, a2, b1, b2]) await m.c.close();
      await until(() => srv.server.hub.sessions.size === 0, 'every session to close');
    });
  }

  test('call: relays go to registered users only, with the server-set from_username; no other dialect reaches them', async () => {
    const d = drivers(srv).find((x) => x.name === 'call')!;
    const a1 = await d.open('lobby');
    const a2 = await d.open('lobby');
    // An unregistered socket and a slam client using a2's username as a target: neither gets through.
    const stranger = await connect(srv.ws('/'));
    stranger.send({ type: 'offer', target_username: a2.id, from_username: a1.id, data: M });
    assert.equal((await stranger.next('error')).message, 'Not registered');
    const slam = await drivers(srv).find((x) => x.name === 'slam')!.open('lobby');
    slam.c.send({ type: 'offer', target_id: a2.id, sdp: M });
    assert.match((await slam.c.next('error')).message as string, /^Peer not found/);
    a1.c.send({ type: 'offer', target_username: a2.id, from_username: 'mallory', caller_username: 'mallory', data: 'LEGIT' });
    const got = await a2.c.next('offer');
    assert.deepEqual(got, { type: 'offer', from_username: a1.id, data: 'LEGIT' });
    await wsSync(a2.c);
    assert.ok(!a2.c.raw.some((r) => r.includes(M)));
    for (const c of [a1.c, a2.c, stranger, slam.c]) await c.close();
    await until(() => srv.server.hub.sessions.size === 0, 'every session to close');
  });
});
