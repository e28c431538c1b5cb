import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { pattern, type Opened, type PeerTab, type ServerOptions } from './peerjs-page.js';

/**
 * The browser check, as scenarios that run the same against any PeerJS server: the
 * reference `peer` (peerjs-reference.ts) and Switchboard's dialect on one node or across a cluster
 * (peerjs.test.ts). Peer A signals to `a`, peer B to `b` (another node, in a cluster).
 */
export interface Target {
  a: ServerOptions;
  b: ServerOptions;
  /** http://host:port of the server A signals to. */
  httpA: string;
  /** Awaited between A's disconnect() and reconnect() (the reference server must see the close first; see peerjs.md). */
  settleDisconnect?: (id: string) => Promise<void>;
}

export interface Pair {
  a: PeerTab;
  b: PeerTab;
}

export interface Scenario {
  name: string;
  run(t: Target, p: Pair): Promise<void>;
}

export const uniqueId = (prefix: string): string => `${prefix}-${randomBytes(5).toString('hex')}`;

/** The id a Peer opened with; fails with the error it got instead. */
export function openedId(r: Opened, what = 'the peer'): string {
  assert.ok('id' in r, `${what} did not open: ${JSON.stringify(r)}`);
  assert.equal(r.peerId, r.id, 'peer.id is the id open announced');
  return r.id;
}

function opened<T extends object>(r: T | { error: string; message: string }, what: string): T {
  assert.ok(!('error' in r), `${what}: ${JSON.stringify(r)}`);
  return r as T;
}

/** {path}{key}/ as the client builds it: the path option with a trailing slash, then the key. */
export function apiBase(s: ServerOptions): string {
  const path = s.path.endsWith('/') ? s.path : `${s.path}/`;
  return `${path}${s.key ?? 'peerjs'}/`;
}

/** A and B each with a Peer of their own (custom ids); resolves with the ids. */
export async function twoPeers(t: Target, p: Pair): Promise<{ ida: string; idb: string }> {
  const ida = openedId(await p.a.makePeer(uniqueId('a'), t.a), 'A');
  const idb = openedId(await p.b.makePeer(uniqueId('b'), t.b), 'B');
  return { ida, idb };
}

/** A opens a DataConnection to B; resolves with the connection's id on both sides (the same id). */
export async function connectData(p: Pair, idb: string, serialization: string, metadata?: unknown): Promise<string> {
  const label = uniqueId(serialization);
  const { connectionId } = opened(await p.a.connect(idb, { serialization, label, ...(metadata === undefined ? {} : { metadata }) }), 'A connects to B');
  const incoming = await p.b.accepted(label);
  assert.equal(incoming.connectionId, connectionId, 'both ends name the connection alike');
  assert.equal(incoming.serialization, serialization);
  if (metadata !== undefined) assert.deepEqual(incoming.metadata, metadata);
  return connectionId;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export const scenarios: Scenario[] = [
  {
    name: 'a server-assigned id (the client GETs …/peerjs/id) and a custom id',
    async run(t, p) {
      const assigned = openedId(await p.a.makePeer(null, t.a), 'A with no id');
      assert.match(assigned, /^\S+$/, 'the assigned id is a non-empty token');
      const again = openedId(await p.a.makePeer(null, t.a), 'A again with no id');
      assert.notEqual(again, assigned, 'each GET gives a new id');
      const custom = uniqueId('custom');
      assert.equal(openedId(await p.b.makePeer(custom, t.b), 'B with a custom id'), custom);
      // the assigned id is a real registration: B reaches A by it
      const { connectionId } = opened(await p.b.connect(again, { serialization: 'json', label: 'to-assigned' }), 'B connects to the assigned id');
      const c = await p.a.accepted('to-assigned');
      assert.equal(c.peer, custom);
      await p.b.send(connectionId, [{ kind: 'value', value: 'hi' }]);
      assert.deepEqual(await p.a.received(c.connectionId, 1), [{ kind: 'value', value: 'hi' }]);
    },
  },
  {
    name: 'unavailable-id for a taken id, and the holder keeps it',
    async run(t, p) {
      const id = uniqueId('taken');
      openedId(await p.a.makePeer(id, t.a), 'A');
      assert.deepEqual(await p.b.makePeer(id, t.b), { error: 'unavailable-id', message: `ID "${id}" is taken` });
      assert.equal((await p.a.state()).open, true, 'A is still open');
      // A still holds the id: a third peer reaches it there
      const idb = openedId(await p.b.makePeer(uniqueId('b'), t.b), 'B with another id');
      const { connectionId } = opened(await p.b.connect(id, { serialization: 'json', label: 'to-holder' }), 'B connects to the holder');
      await p.b.send(connectionId, [{ kind: 'value', value: { from: idb } }]);
      const c = await p.a.accepted('to-holder');
      assert.equal(c.peer, idb);
      assert.deepEqual(await p.a.received(c.connectionId, 1), [{ kind: 'value', value: { from: idb } }]);
    },
  },
  {
    name: 'a DataConnection both ways, JSON serialization',
    async run(t, p) {
      const { ida, idb } = await twoPeers(t, p);
      const metadata = { purpose: 'json test', n: 1, list: ['x', null] };
      const id = await connectData(p, idb, 'json', metadata);
      const toB = [{ hello: 'from A', n: 1, nested: [1, 'two', { three: null }], text: 'héllo ☃ 😀' }, 'a string', 42.5, [1, 2, 3], true];
      await p.a.send(id, toB.map((value) => ({ kind: 'value', value })));
      assert.deepEqual(await p.b.received(id, toB.length), toB.map((value) => ({ kind: 'value', value })));
      const toA = [{ reply: 'from B', to: ida }, { deep: { er: [{}, []] } }];
      await p.b.send(id, toA.map((value) => ({ kind: 'value', value })));
      assert.deepEqual(await p.a.received(id, toA.length), toA.map((value) => ({ kind: 'value', value })));
    },
  },
  {
    name: 'a DataConnection both ways, binary serialization (ArrayBuffer, Uint8Array, a chunked 200 kB message)',
    async run(t, p) {
      const { idb } = await twoPeers(t, p);
      const id = await connectData(p, idb, 'binary');
      const every = Array.from({ length: 256 }, (_, i) => i);
      const down = every.slice().reverse();
      await p.a.send(id, [
        { kind: 'Uint8Array', bytes: every },
        { kind: 'ArrayBuffer', bytes: down },
        { kind: 'value', value: { an: 'object', over: ['binarypack'] } },
      ]);
      // binarypack hands binary back as an ArrayBuffer, whatever view was sent
      assert.deepEqual(await p.b.received(id, 3), [
        { kind: 'ArrayBuffer', bytes: every },
        { kind: 'ArrayBuffer', bytes: down },
        { kind: 'value', value: { an: 'object', over: ['binarypack'] } },
      ]);
      const big = pattern(200_000, 7);
      await p.b.send(id, [
        { kind: 'pattern', length: big.length, seed: 7 },
        { kind: 'Uint8Array', bytes: [0, 1, 254, 255] },
      ]);
      // a message over the client's chunk size comes back reassembled, as a Uint8Array
      assert.deepEqual(await p.a.receivedDigests(id, 2), [
        { kind: 'Uint8Array', length: big.length, sha256: sha256(big) },
        { kind: 'ArrayBuffer', length: 4, sha256: sha256(Buffer.from([0, 1, 254, 255])) },
      ]);
    },
  },
  {
    name: 'a MediaConnection with the fake camera: live video both sides',
    async run(t, p) {
      const { ida, idb } = await twoPeers(t, p);
      const out = opened(await p.a.call(idb), 'A calls B');
      const back = await p.b.answered(ida);
      assert.equal(back.connectionId, out.connectionId, 'both ends name the call alike');
      const atA = await p.a.videoLive(out.connectionId);
      const atB = await p.b.videoLive(back.connectionId);
      for (const [live, from, who] of [[atA, back, 'A'], [atB, out, 'B']] as const) {
        assert.ok(live.width > 0 && live.height > 0, `${who}'s remote video has a size`);
        assert.equal(live.frames, 3, `${who}'s remote video presented new frames`);
        assert.equal(live.streamId, from.localStreamId, `${who} plays the other side's camera stream`);
        assert.deepEqual(live.tracks, ['audio:live', 'video:live']);
      }
    },
  },
  {
    name: 'peer-unavailable for an unknown id, and the peer stays usable',
    async run(t, p) {
      const { idb } = await twoPeers(t, p);
      const nobody = uniqueId('nobody');
      assert.deepEqual(await p.a.connect(nobody, { serialization: 'json', label: 'void' }), { error: 'peer-unavailable', message: `Could not connect to peer ${nobody}` });
      assert.equal((await p.a.state()).open, true);
      // the same peer still connects to one that is there
      await connectData(p, idb, 'json');
    },
  },
  {
    name: 'close when the remote peer is destroyed',
    async run(t, p) {
      const { ida, idb } = await twoPeers(t, p);
      const id = await connectData(p, idb, 'binary');
      await p.b.destroy();
      const closed = await p.a.event('conn-close', { connectionId: id });
      assert.equal(closed.peer, idb);
      assert.equal((await p.a.state()).open, true, 'A itself stays open');
      // B's id is free again: a new peer takes it
      assert.equal(openedId(await p.b.makePeer(idb, t.b), 'B again'), idb);
      const again = await connectData(p, idb, 'json');
      await p.b.send(again, [{ kind: 'value', value: `back to ${ida}` }]);
      assert.deepEqual(await p.a.received(again, 1), [{ kind: 'value', value: `back to ${ida}` }]);
    },
  },
  {
    name: 'disconnect() and reconnect() keep the server-assigned id',
    async run(t, p) {
      const ida = openedId(await p.a.makePeer(null, t.a), 'A');
      const idb = openedId(await p.b.makePeer(uniqueId('b'), t.b), 'B');
      assert.equal((await p.a.disconnect()).id, ida);
      assert.equal((await p.a.state()).disconnected, true);
      await t.settleDisconnect?.(ida);
      assert.deepEqual(await p.a.reconnect(), { id: ida, peerId: ida });
      assert.equal((await p.a.state()).open, true);
      // the server routes to the new socket: B reaches A, and A reaches B
      const { connectionId } = opened(await p.b.connect(ida, { serialization: 'json', label: 'after-reconnect' }), 'B connects to the reconnected A');
      await p.b.send(connectionId, [{ kind: 'value', value: 'after reconnect' }]);
      const c = await p.a.accepted('after-reconnect');
      assert.equal(c.peer, idb);
      assert.deepEqual(await p.a.received(c.connectionId, 1), [{ kind: 'value', value: 'after reconnect' }]);
      await connectData(p, idb, 'binary');
    },
  },
  {
    name: 'GET …/peerjs/id and …/peerjs/peers from another origin (CORS)',
    async run(t, p) {
      const base = `${t.httpA}${apiBase(t.a)}`;
      const first = await p.a.fetch(`${base}id?ts=${Date.now()}0.5&version=1.5.5`);
      const second = await p.a.fetch(`${base}id`);
      for (const r of [first, second]) {
        assert.equal(r.status, 200);
        assert.match(r.contentType ?? '', /^text\/html\b/);
        assert.match(r.body, /^\S+$/, 'the body is only the id');
      }
      assert.notEqual(first.body, second.body);
      // discovery is off by default
      assert.equal((await p.a.fetch(`${base}peers`)).status, 401);
      // an id fetched by hand is one a Peer can open with
      assert.equal(openedId(await p.a.makePeer(first.body, t.a), 'A with the fetched id'), first.body);
    },
  },
];
