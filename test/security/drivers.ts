import { ERROR_CODES } from '../../src/core/errors.js';
import type { TestServer } from '../helpers/server.js';
import { connect, type Frame, type TestClient } from '../helpers/ws.js';
import { until } from '../helpers/wait.js';
import { openPeer } from '../dialects/peerjs-helpers.js';

/** One client of a dialect, inside a room (or the call lobby). `id` is what peers address it by. */
export interface Member {
  c: TestClient;
  id: string;
  /** The dialect's real room id (server-generated ones included). */
  room: string;
}

/**
 * How the security tests drive each dialect: get a client into a room, and recognise the dialect's
 * error shape and outbound frame types. One instance per server: it remembers generated room ids.
 */
export interface Driver {
  name: string;
  /** Opens a client in the room called `label` (the first one creates it where the dialect must). */
  open(label: string): Promise<Member>;
  /** True when `f` is exactly this dialect's error frame. */
  isError(f: Frame): boolean;
  /** Every frame type this dialect may send a client that only the test drives; undefined: relays carry any type. */
  outTypes: ReadonlySet<string> | undefined;
  /** The frame that makes a catch-all socket this dialect's, sent before fuzzing (if any). */
  prelude?: Frame;
  /**
   * The text of a frame this dialect relays to `to` (the other member; for flyx and flyx-cli, the
   * room's first member), carrying `payload` (JSON text) as a value `base` levels deep (the frame's
   * own object is level 1). `type` replaces the frame's type: a spoofing attempt.
   */
  relay(to: Member, payload: string, type?: string): { text: string; base: number };
  /** True when `f` is a client's frame passed on by the server, as opposed to one the server itself originates. */
  isRelay(f: Frame): boolean;
  /**
   * The frame types this dialect's server itself sends (relay envelopes aside): never a client's to
   * have relayed. Types a client also sends as requests (flyx's `join`, `disconnect`) are not listed.
   */
  serverTypes: readonly string[];
  /** The exact frame this dialect answers a frame refused before parsing (`detail`: the server's text); undefined: silence. */
  refusal(detail: string): Frame | undefined;
  /** The `type` of this dialect's error frames (default `error`). */
  errorType?: string;
  /** The dialect closes the socket after refusing a frame (PeerJS: its client aborts on ERROR anyway). */
  closesOnRefusal?: boolean;
  /** A frame of a type the dialect does not take is ignored, never answered (PeerJS, as `peer`). */
  ignoresUnknown?: boolean;
}

const keys = (f: Frame) => Object.keys(f).sort().join(',');
const str = (v: unknown) => typeof v === 'string';
const q = (v: string) => JSON.stringify(v);
/** A relay frame's text: `"type":…` first, then the given members (already JSON text). */
const frameText = (type: string, members: [string, string][]) => `{"type":${q(type)}${members.map(([k, v]) => `,${q(k)}:${v}`).join('')}}`;
const SEEDS_RELAYED = new Set(['offer', 'answer', 'ice_candidate']);

/** WebSocket-level round trip: everything the server wrote to this socket before it has arrived. */
export function wsSync(c: TestClient): Promise<void> {
  return new Promise((resolve, reject) => {
    if (c.ws.readyState !== c.ws.OPEN) return resolve();
    const guard = setTimeout(() => reject(new Error('no pong within 5 s')), 5000);
    const done = () => {
      clearTimeout(guard);
      c.ws.off('pong', done);
      c.ws.off('close', done);
      resolve();
    };
    c.ws.on('pong', done);
    c.ws.on('close', done);
    c.ws.ping();
  });
}

export { until };

/** What the vc server itself sends (docs/dialects/vc.md): a room-mate must never be able to forge one. */
const VC_SERVER_TYPES: readonly string[] = ['welcome', 'joined', 'left', 'peer-joined', 'peer-left', 'ping', 'error'];

async function post(url: string): Promise<string> {
  const res = await fetch(url, { method: 'POST' });
  const body = (await res.json()) as { id: string };
  return body.id;
}

export function drivers(srv: TestServer): Driver[] {
  let n = 0;
  const uniq = (p: string) => `${p}${++n}`;
  const meshRooms = new Map<string, string>();
  const flyxRooms = new Map<string, string>();
  const cliRooms = new Map<string, string>();

  const members = async (ns: string, room: string) => (await srv.server.hub.roomInfo(ns, room))?.members.length ?? 0;
  const plainError = (f: Frame) => f.type === 'error' && keys(f) === 'message,type' && str(f.message);
  const plainRefusal = (message: string): Frame => ({ type: 'error', message });

  return [
    {
      name: 'native',
      outTypes: new Set(['welcome', 'joined', 'left', 'peer-joined', 'peer-left', 'signal', 'broadcast', 'room-created', 'ack', 'pong', 'error', 'goaway']),
      isError: (f) =>
        f.type === 'error' && typeof f.code === 'string' && f.code in ERROR_CODES && str(f.message) && Object.keys(f).every((k) => ['type', 'code', 'message', 're', 'seq'].includes(k)),
      async open(room) {
        const c = await connect(srv.ws('/v1'));
        const id = (await c.next('welcome')).peerId as string;
        c.send({ type: 'join', room });
        await c.next('joined');
        return { c, id, room };
      },
      relay: (to, payload, type = 'signal') => ({ text: frameText(type, [['to', q(to.id)], ['data', payload]]), base: 1 }),
      isRelay: (f) => f.type === 'signal' || f.type === 'broadcast',
      serverTypes: ['welcome', 'joined', 'left', 'peer-joined', 'peer-left', 'room-created', 'ack', 'pong', 'error', 'ice-servers', 'goaway'],
      refusal: (message) => ({ type: 'error', code: 'invalid-message', message }),
    },
    {
      name: 'vc',
      // A member receives its room-mates' frames whole, whatever their type.
      outTypes: undefined,
      isError: (f) => f.type === 'error' && str(f.error) && Object.keys(f).every((k) => ['type', 'error', 'to', 'detail'].includes(k)),
      async open(room) {
        const c = await connect(srv.ws('/ws'));
        const id = (await c.next('welcome')).peer_id as string;
        c.send({ type: 'join', room, name: 'n' });
        await c.next('joined');
        return { c, id, room };
      },
      relay: (to, payload, type = 'offer') => ({ text: frameText(type, [['to', q(to.id)], ['sdp', payload]]), base: 1 }),
      // vc relays a frame whole, whatever its type, with the sender in `from`; the server's own frames never carry `from`.
      isRelay: (f) => str(f.from) && !VC_SERVER_TYPES.includes(f.type!),
      serverTypes: VC_SERVER_TYPES,
      refusal: (detail) => ({ type: 'error', error: 'invalid-json', detail }),
    },
    {
      name: 'slam',
      outTypes: new Set(['registered', 'peer_joined', 'peer_left', 'error', 'offer', 'answer', 'ice_candidate']),
      isError: plainError,
      prelude: { type: 'register', client_id: 'fuzzer', room_id: 'fuzz' },
      async open(room) {
        const c = await connect(srv.ws('/'));
        const id = uniq('slam-');
        c.send({ type: 'register', client_id: id, room_id: room });
        await c.next('registered');
        return { c, id, room };
      },
      relay: (to, payload, type = 'offer') => ({ text: frameText(type, [['target_id', q(to.id)], ['sdp', payload]]), base: 1 }),
      isRelay: (f) => SEEDS_RELAYED.has(f.type!) && str(f.sender_id),
      serverTypes: ['registered', 'peer_joined', 'peer_left', 'error'],
      refusal: plainRefusal,
    },
    {
      name: 'call',
      outTypes: new Set(['registered', 'online_users', 'error', 'incoming_call', 'call_accepted', 'call_rejected', 'call_ended', 'offer', 'answer', 'ice_candidate']),
      isError: plainError,
      prelude: { type: 'register', username: 'fuzzer', user_id: 'fuzzer-id' },
      async open() {
        const c = await connect(srv.ws('/'));
        const id = uniq('user-');
        c.send({ type: 'register', username: id, user_id: `${id}-id` });
        await c.next('registered');
        return { c, id, room: 'lobby' };
      },
      relay: (to, payload, type = 'offer') => ({ text: frameText(type, [['target_username', q(to.id)], ['data', payload]]), base: 1 }),
      isRelay: (f) => SEEDS_RELAYED.has(f.type!) && str(f.from_username),
      serverTypes: ['registered', 'online_users', 'error', 'incoming_call', 'call_accepted', 'call_rejected', 'call_ended'],
      refusal: plainRefusal,
    },
    {
      name: 'mesh',
      outTypes: new Set(['room_created', 'room_joined', 'room_left', 'room_expired', 'initiate_call', 'peer_left', 'signal', 'error']),
      isError: plainError,
      prelude: { type: 'create' },
      async open(label) {
        const c = await connect(srv.ws('/'));
        const known = meshRooms.get(label);
        c.send(known ? { type: 'join', roomId: known } : { type: 'create' });
        const f = await c.next((x) => x.type === 'room_created' || x.type === 'room_joined');
        if (!known) meshRooms.set(label, f.roomId as string);
        return { c, id: f.myId as string, room: f.roomId as string };
      },
      relay: (to, payload, type = 'signal') => ({ text: frameText(type, [['targetId', q(to.id)], ['payload', payload]]), base: 1 }),
      isRelay: (f) => f.type === 'signal' && str(f.senderId),
      serverTypes: ['room_created', 'room_joined', 'room_left', 'room_expired', 'initiate_call', 'peer_left', 'error'],
      refusal: plainRefusal,
    },
    {
      name: 'slam-pair',
      // The partner's frames, unchanged: offer/answer/ice_candidate only (anything else is refused).
      outTypes: new Set(['offer', 'answer', 'ice_candidate', 'error']),
      isError: plainError,
      async open(label) {
        const path = `/pair-${label}`;
        const before = await members('slam-pair', path);
        const c = await connect(srv.ws(path));
        await until(async () => (await members('slam-pair', path)) > before, 'the pairing join');
        return { c, id: path, room: path };
      },
      // Bare frames, to every other socket on the path.
      relay: (_to, payload, type = 'offer') => ({ text: frameText(type, [['sdp', payload]]), base: 1 }),
      isRelay: (f) => SEEDS_RELAYED.has(f.type!),
      serverTypes: ['error'],
      refusal: plainRefusal,
    },
    {
      name: 'flyx',
      outTypes: new Set(['join', 'offer', 'answer', 'ice_candidate', 'disconnect', 'error']),
      isError: (f) => f.type === 'error' && keys(f) === 'data,type' && typeof f.data === 'object' && f.data !== null && keys(f.data as Frame) === 'message' && str((f.data as Frame).message),
      async open(label) {
        let room = flyxRooms.get(label);
        if (!room) flyxRooms.set(label, (room = await post(srv.http('/room'))));
        const c = await connect(srv.ws(`/ws/${room}`));
        const j = await c.next('join');
        return { c, id: (j.data as { client_id: string }).client_id, room };
      },
      // A receiver's frames go to the room's sender (`to` the first member), whose `data` is passed on.
      relay: (to, payload, type = 'offer') => ({ text: frameText(type, [['data', `{"sdp":"v=0","to":${q(to.id)},"extra":${payload}}`]]), base: 2 }),
      isRelay: (f) => SEEDS_RELAYED.has(f.type!),
      serverTypes: ['error'],
      refusal: (message) => ({ type: 'error', data: { message } }),
    },
    {
      name: 'peerjs',
      // The server's own frames, and relays (whose types the server writes).
      outTypes: new Set(['OPEN', 'ERROR', 'ID-TAKEN', 'OFFER', 'ANSWER', 'CANDIDATE', 'LEAVE', 'EXPIRE']),
      errorType: 'ERROR',
      isError: (f) => f.type === 'ERROR' && keys(f) === 'payload,type' && typeof f.payload === 'object' && f.payload !== null && keys(f.payload as Frame) === 'msg' && str((f.payload as Frame).msg),
      async open(label) {
        const id = uniq('pj-');
        return { c: await openPeer(srv, id), id, room: label };
      },
      relay: (to, payload, type = 'OFFER') => ({ text: frameText(type, [['dst', q(to.id)], ['payload', payload]]), base: 1 }),
      isRelay: (f) => ['OFFER', 'ANSWER', 'CANDIDATE', 'LEAVE', 'EXPIRE'].includes(f.type!) && str(f.src) && str(f.dst),
      serverTypes: ['OPEN', 'ERROR', 'ID-TAKEN'],
      refusal: (detail) => ({ type: 'ERROR', payload: { msg: `Invalid message: ${detail.charAt(0).toLowerCase()}${detail.slice(1)}` } }),
      closesOnRefusal: true,
      ignoresUnknown: true,
    },
    {
      name: 'flyx-cli',
      outTypes: new Set(['offer', 'answer', 'icecandidate', 'slavejoined']),
      // The CLI crashes on error frames: it must never get one.
      isError: () => false,
      async open(label) {
        let room = cliRooms.get(label);
        const first = !room;
        if (!room) cliRooms.set(label, (room = await post(srv.http('/api/room'))));
        const before = await members('flyx-cli', room);
        const c = await connect(srv.ws(`/api/room/${room}`));
        await until(async () => (await members('flyx-cli', room)) > before, 'the flyx-cli join');
        return { c, id: first ? 'master' : uniq('slave-'), room };
      },
      // A slave's frames go to the master; only `sdp`/`candidate` travel, extra fields are dropped.
      relay: (_to, payload, type = 'offer') => ({ text: frameText(type, [['sdp', '"v=0"'], ['extra', payload]]), base: 1 }),
      isRelay: (f) => f.type === 'offer' || f.type === 'answer' || f.type === 'icecandidate',
      serverTypes: ['slavejoined'],
      refusal: () => undefined,
    },
  ];
}
