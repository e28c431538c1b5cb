import WebSocket from 'ws';
import type { Kind } from './payloads.js';

/**
 * How a load-generator client speaks to each server under test. Switchboard's native protocol
 * (/v1) and the bare relay share one wire format (the bare relay implements the same frames, only
 * less of them); Switchboard's vc dialect (/ws) is vc-server's protocol (server-made `peer_id`,
 * relays `{type, to, …}` forwarded whole with `from` added); PeerJS has its own (client-chosen
 * ids, {type, dst, payload} → {type, src, dst, payload}, no rooms).
 */
export type Protocol = 'native' | 'vc' | 'peerjs';

export interface Wire {
  readonly protocol: Protocol;
  /** Whether the protocol has rooms (join storm and fan-out need them). */
  readonly rooms: boolean;
  url(base: string, proposedId: string): string;
  /** The peer id once the handshake frame arrives; undefined for frames to ignore; throws on a refusal. */
  handshake(frame: Record<string, unknown>, proposedId: string): string | undefined;
  /** A targeted relay; `data` is the JSON text of the payload. */
  signal(to: string, kind: Kind, data: string): string;
  /** The sender of a targeted relay as the server stated it, or undefined if `frame` is not one. */
  deliveredFrom(frame: Record<string, unknown>): string | undefined;
}

const PEERJS_TYPE: Record<Kind, string> = { offer: 'OFFER', answer: 'ANSWER', candidate: 'CANDIDATE' };
/** vc-client's relay frames: `offer {to, sdp}`, `answer {to, sdp}`, `ice {to, candidate}`. */
const VC_FRAME: Record<Kind, { type: string; field: string }> = { offer: { type: 'offer', field: 'sdp' }, answer: { type: 'answer', field: 'sdp' }, candidate: { type: 'ice', field: 'candidate' } };
const VC_RELAYED: ReadonlySet<unknown> = new Set(['offer', 'answer', 'ice']);

/** Switchboard's handshake: the server's `welcome` names the id in `field`; an `error` is a refusal. */
function welcomeHandshake(field: string): Wire['handshake'] {
  return (frame) => {
    const id = frame.type === 'welcome' ? frame[field] : undefined;
    if (typeof id === 'string') return id;
    if (frame.type === 'error') throw new Error(`refused: ${JSON.stringify(frame)}`);
    return undefined;
  };
}

export const nativeWire: Wire = {
  protocol: 'native',
  rooms: true,
  url: (base) => `${base}/v1`,
  handshake: welcomeHandshake('peerId'),
  signal: (to, _kind, data) => `{"type":"signal","to":${JSON.stringify(to)},"data":${data}}`,
  deliveredFrom: (f) => (f.type === 'signal' && typeof f.from === 'string' ? f.from : undefined),
};

/**
 * vc at `/ws`. The payload (the same bytes as the native `data`) is the value of the field vc-client
 * puts it in (`sdp`, `candidate`); the server forwards the sender's frame text with `"from"` spliced
 * in. vc's `join {room}` → `joined` / `peer-joined` have the native frames' shape, so the relay
 * driver's room setup (`roomFrames.join`) serves both; vc relays, too, only reach a room-mate.
 */
export const vcWire: Wire = {
  protocol: 'vc',
  rooms: true,
  url: (base) => `${base}/ws`,
  handshake: welcomeHandshake('peer_id'),
  signal(to, kind, data) {
    const f = VC_FRAME[kind];
    return `{"type":"${f.type}","to":${JSON.stringify(to)},"${f.field}":${data}}`;
  },
  deliveredFrom: (f) => (VC_RELAYED.has(f.type) && typeof f.from === 'string' ? f.from : undefined),
};

export const peerjsWire: Wire = {
  protocol: 'peerjs',
  rooms: false,
  url: (base, id) => `${base}/peerjs?key=peerjs&id=${encodeURIComponent(id)}&token=${encodeURIComponent(`t${id}`)}`,
  handshake(frame, proposedId) {
    if (frame.type === 'OPEN') return proposedId;
    if (frame.type === 'ERROR' || frame.type === 'ID-TAKEN') throw new Error(`refused: ${JSON.stringify(frame)}`);
    return undefined;
  },
  signal: (to, kind, data) => `{"type":"${PEERJS_TYPE[kind]}","dst":${JSON.stringify(to)},"payload":${data}}`,
  deliveredFrom: (f) => (typeof f.src === 'string' && (f.type === 'OFFER' || f.type === 'ANSWER' || f.type === 'CANDIDATE') ? f.src : undefined),
};

const WIRES: Record<Protocol, Wire> = { native: nativeWire, vc: vcWire, peerjs: peerjsWire };

export function wireFor(p: Protocol): Wire {
  return WIRES[p];
}

/** Native-protocol room frames (Switchboard and the bare relay); vc's `join` is the same frame. */
export const roomFrames = {
  join: (room: string) => `{"type":"join","room":${JSON.stringify(room)}}`,
  broadcast: (room: string, data: string) => `{"type":"broadcast","room":${JSON.stringify(room)},"data":${data}}`,
};

/** Client options shared by every load-generator socket: no compression, no UTF-8 re-validation. */
const CLIENT_OPTS: WebSocket.ClientOptions = { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: 15_000 };

/**
 * One load-generator socket. `onFrame` is swapped by the driver after the handshake. A close that
 * the driver did not ask for is reported through `onLost` — a dead target must fail the run.
 */
export class Client {
  id = '';
  closing = false;
  onFrame: (buf: Buffer) => void = () => {};
  onLost: (why: string) => void = () => {};

  constructor(readonly ws: WebSocket) {}

  send(text: string): void {
    this.ws.send(text);
  }

  close(): void {
    this.closing = true;
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
  }

  terminate(): void {
    this.closing = true;
    this.ws.terminate();
  }
}

/** Connects and completes the protocol handshake; rejects with a message naming the URL and cause. */
export function connectClient(base: string, wire: Wire, proposedId: string): Promise<Client> {
  const url = wire.url(base, proposedId);
  return new Promise((resolve, reject) => {
    let settled = false;
    const ws = new WebSocket(url, CLIENT_OPTS);
    const c = new Client(ws);
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      c.terminate();
      reject(new Error(`cannot connect to ${url}: ${why}`));
    };
    ws.on('error', (err: NodeJS.ErrnoException) => {
      if (!settled) fail(err.code ?? err.message);
      else if (!c.closing) c.onLost(`socket error ${err.code ?? err.message}`);
    });
    ws.on('unexpected-response', (_req, res) => fail(`HTTP ${res.statusCode}`));
    ws.on('close', (code, reason) => {
      if (!settled) return fail(`closed during handshake (${code} ${reason.toString()})`);
      if (!c.closing) c.onLost(`the target closed a connection (${code}${reason.length ? ` ${reason.toString()}` : ''})`);
    });
    ws.on('message', (data: Buffer) => {
      if (settled) return c.onFrame(data);
      let frame: Record<string, unknown>;
      try {
        frame = JSON.parse(data.toString()) as Record<string, unknown>;
      } catch {
        return fail(`handshake frame is not JSON: ${data.toString().slice(0, 100)}`);
      }
      try {
        const id = wire.handshake(frame, proposedId);
        if (id === undefined) return;
        c.id = id;
        settled = true;
        resolve(c);
      } catch (err) {
        fail((err as Error).message);
      }
    });
  });
}

/** Runs `fn` over `items` with at most `limit` in flight; rejects on the first failure (and starts no more). */
export async function bounded<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  let failed = false;
  const lane = async () => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}
