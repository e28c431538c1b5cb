import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { Browser, BrowserContext, Page } from 'playwright-core';

/**
 * The page each PeerJS peer runs in: the real `peerjs` 1.5.5 client (node_modules/peerjs/dist/
 * peerjs.min.js, served by this static server on 127.0.0.1, so the signaling server is another
 * origin and its CORS is exercised) and a few helpers on `window.pj` that a test calls through
 * playwright's page.evaluate. A tab holds one Peer at a time; everything the Peer and its
 * connections emit goes into an event log the helpers wait on. Every wait has a guard, which only
 * turns a hang into a failure.
 */
const PAGE_SCRIPT = String.raw`
const GUARD_MS = 15000;
let peer = null;
let log = [];
let waiters = [];
const conns = new Map();
const calls = new Map();
let camera = null;

function emit(e) {
  log.push(e);
  for (const w of [...waiters]) if (w.pred(e)) { waiters = waiters.filter((x) => x !== w); w.resolve(e); }
}
/** The first event since the peer was made that matches, now or later. */
function wait(pred, what) {
  const seen = log.find(pred);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const w = { pred, resolve };
    waiters.push(w);
    setTimeout(() => { waiters = waiters.filter((x) => x !== w); reject(new Error('guard: no ' + what + '; events: ' + JSON.stringify(log))); }, GUARD_MS);
  });
}
/** The first matching event from index 'from' on. */
function waitFrom(from, pred, what) {
  return wait((e) => log.indexOf(e) >= from && pred(e), what);
}
const isError = (type) => (e) => e.type === 'error' && e.errType === type;

function describe(d) {
  if (d instanceof ArrayBuffer) return { kind: 'ArrayBuffer', bytes: Array.from(new Uint8Array(d)) };
  if (ArrayBuffer.isView(d)) return { kind: d.constructor.name, bytes: Array.from(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)) };
  return { kind: 'value', value: d };
}
function encode(v) {
  if (v.kind === 'Uint8Array') return new Uint8Array(v.bytes);
  if (v.kind === 'ArrayBuffer') return new Uint8Array(v.bytes).buffer;
  if (v.kind === 'pattern') return pattern(v.length, v.seed);
  return v.value;
}
/** n bytes of a pattern both sides can make (the test's copy is in peerjs-page.ts). */
function pattern(n, seed) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed + (i >> 8)) & 255;
  return b;
}
async function sha256(d) {
  const bytes = d instanceof ArrayBuffer ? d : ArrayBuffer.isView(d) ? d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength) : new TextEncoder().encode(JSON.stringify(d)).buffer;
  const h = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(h, (x) => x.toString(16).padStart(2, '0')).join('');
}

function trackConn(conn, incoming) {
  const rec = { conn, received: [] };
  conns.set(conn.connectionId, rec);
  const id = conn.connectionId;
  if (incoming) emit({ type: 'connection', connectionId: id, peer: conn.peer, label: conn.label, serialization: conn.serialization, metadata: conn.metadata ?? null });
  conn.on('open', () => emit({ type: 'conn-open', connectionId: id, peer: conn.peer }));
  conn.on('data', (d) => { rec.received.push(d); emit({ type: 'data', connectionId: id }); });
  conn.on('close', () => emit({ type: 'conn-close', connectionId: id, peer: conn.peer }));
  conn.on('error', (err) => emit({ type: 'conn-error', connectionId: id, errType: err.type, message: String(err.message ?? err) }));
}

function videoFor(call) {
  const v = document.createElement('video');
  v.muted = true;
  v.autoplay = true;
  v.playsInline = true;
  v.dataset.connectionId = call.connectionId;
  document.body.append(v);
  return v;
}
function trackCall(call, incoming) {
  const rec = { call, video: null, remote: null };
  calls.set(call.connectionId, rec);
  const id = call.connectionId;
  if (incoming) emit({ type: 'call', connectionId: id, peer: call.peer, metadata: call.metadata ?? null });
  call.on('stream', (s) => {
    if (rec.remote === s) return;
    rec.remote = s;
    rec.video = rec.video ?? videoFor(call);
    rec.video.srcObject = s;
    rec.video.play().catch(() => {});
    emit({ type: 'call-stream', connectionId: id, peer: call.peer, streamId: s.id });
  });
  call.on('close', () => emit({ type: 'call-close', connectionId: id, peer: call.peer }));
  call.on('error', (err) => emit({ type: 'call-error', connectionId: id, errType: err.type, message: String(err.message ?? err) }));
}
async function localCamera() {
  camera = camera ?? (await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 }, audio: true }));
  return camera;
}

window.pj = {
  /** A new Peer (the old one destroyed): resolves with its id on open, or the error's type. */
  async makePeer(id, options) {
    if (peer && !peer.destroyed) peer.destroy();
    log = [];
    waiters = [];
    conns.clear();
    calls.clear();
    const opts = { debug: 0, config: { iceServers: [] }, ...options };
    const p = id === null ? new Peer(opts) : new Peer(id, opts);
    peer = p;
    p.on('open', (pid) => emit({ type: 'open', id: pid }));
    p.on('error', (err) => emit({ type: 'error', errType: err.type, message: String(err.message ?? err) }));
    p.on('disconnected', (pid) => emit({ type: 'disconnected', id: pid }));
    p.on('close', () => emit({ type: 'close' }));
    p.on('connection', (conn) => trackConn(conn, true));
    p.on('call', (call) => {
      trackCall(call, true);
      localCamera().then((s) => call.answer(s));
    });
    const e = await wait((x) => x.type === 'open' || x.type === 'error', 'open or error');
    return e.type === 'open' ? { id: e.id, peerId: p.id } : { error: e.errType, message: e.message };
  },
  /** Opens a DataConnection: its connectionId once open, or the peer error that came instead. */
  async connect(dst, options) {
    const from = log.length;
    const conn = peer.connect(dst, options);
    trackConn(conn, false);
    const e = await waitFrom(from, (x) => (x.type === 'conn-open' && x.connectionId === conn.connectionId) || x.type === 'error' || x.type === 'conn-error', 'the connection to ' + dst + ' to open');
    return e.type === 'conn-open' ? { connectionId: conn.connectionId } : { error: e.errType, message: e.message };
  },
  /** Waits for an incoming DataConnection with this label to open; resolves with what it says of itself. */
  async accepted(label) {
    const c = await wait((x) => x.type === 'connection' && x.label === label, 'an incoming connection labelled ' + label);
    await wait((x) => x.type === 'conn-open' && x.connectionId === c.connectionId, 'the incoming connection to open');
    return c;
  },
  send(connectionId, values) {
    const { conn } = conns.get(connectionId);
    for (const v of values) conn.send(encode(v));
    return true;
  },
  /** Waits for n messages on the connection; all it received, described (bytes as numbers). */
  async received(connectionId, n) {
    const rec = conns.get(connectionId);
    await wait(() => rec.received.length >= n, n + ' messages on ' + connectionId + ' (got ' + rec.received.length + ')');
    return rec.received.map(describe);
  },
  /** Like received, for big messages: each one's kind, length and SHA-256. */
  async receivedDigests(connectionId, n) {
    const rec = conns.get(connectionId);
    await wait(() => rec.received.length >= n, n + ' messages on ' + connectionId + ' (got ' + rec.received.length + ')');
    const out = [];
    for (const d of rec.received) out.push({ kind: describe(d).kind, length: d.byteLength ?? -1, sha256: await sha256(d) });
    return out;
  },
  /** Calls dst with the fake camera: the MediaConnection's id once the remote stream came, or the peer error. */
  async call(dst) {
    const stream = await localCamera();
    const from = log.length;
    const call = peer.call(dst, stream);
    trackCall(call, false);
    const e = await waitFrom(from, (x) => (x.type === 'call-stream' && x.connectionId === call.connectionId) || x.type === 'error' || x.type === 'call-error', 'the remote stream of the call to ' + dst);
    return e.type === 'call-stream' ? { connectionId: call.connectionId, localStreamId: stream.id } : { error: e.errType, message: e.message };
  },
  /** Waits for an incoming call from src and its remote stream. */
  async answered(src) {
    const c = await wait((x) => x.type === 'call' && x.peer === src, 'a call from ' + src);
    await wait((x) => x.type === 'call-stream' && x.connectionId === c.connectionId, 'the stream of the call from ' + src);
    return { connectionId: c.connectionId, localStreamId: (await localCamera()).id };
  },
  /**
   * The call's remote video really plays: it has a size and the browser presents new frames with
   * advancing media time (requestVideoFrameCallback).
   */
  async videoLive(connectionId, frames = 3) {
    const rec = calls.get(connectionId);
    const v = rec.video;
    const times = await new Promise((resolve, reject) => {
      const seen = [];
      const guard = setTimeout(() => reject(new Error('guard: video of ' + connectionId + ' presented ' + seen.length + ' frames, size ' + v.videoWidth + 'x' + v.videoHeight)), GUARD_MS);
      const step = (_now, meta) => {
        if (v.videoWidth > 0 && (!seen.length || meta.mediaTime > seen[seen.length - 1])) seen.push(meta.mediaTime);
        if (seen.length >= frames) { clearTimeout(guard); resolve(seen); } else v.requestVideoFrameCallback(step);
      };
      v.requestVideoFrameCallback(step);
    });
    return {
      width: v.videoWidth,
      height: v.videoHeight,
      frames: times.length,
      streamId: rec.remote.id,
      tracks: rec.remote.getTracks().map((t) => t.kind + ':' + t.readyState).sort(),
    };
  },
  /** The first event of this type (and these fields) since the peer was made. */
  event(type, fields = {}) {
    return wait((x) => x.type === type && Object.entries(fields).every(([k, v]) => x[k] === v), type + ' ' + JSON.stringify(fields));
  },
  events() {
    return log;
  },
  state() {
    return { id: peer.id, open: peer.open, disconnected: peer.disconnected, destroyed: peer.destroyed };
  },
  destroy() {
    peer.destroy();
    return true;
  },
  disconnect() {
    const from = log.length;
    peer.disconnect();
    return waitFrom(from, (x) => x.type === 'disconnected', 'disconnected');
  },
  /** reconnect(): resolves with the id of the next open, or the error that came instead. */
  async reconnect() {
    const from = log.length;
    peer.reconnect();
    const e = await waitFrom(from, (x) => x.type === 'open' || x.type === 'error', 'open after reconnect');
    return e.type === 'open' ? { id: e.id, peerId: peer.id } : { error: e.errType, message: e.message };
  },
  /** A cross-origin GET from the page (fails unless the server answers CORS). */
  async fetch(url) {
    const r = await fetch(url);
    return { status: r.status, contentType: r.headers.get('content-type'), body: await r.text() };
  },
};
`;

const HTML = `<!doctype html><meta charset="utf-8"><title>peerjs against a PeerJS server</title>
<script src="/peerjs.min.js"></script><script>${PAGE_SCRIPT}</script>`;

/** The bytes window.pj makes for a {kind:'pattern'} message. */
export function pattern(length: number, seed: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + seed + (i >> 8)) & 255;
  return b;
}

/** Static site on 127.0.0.1: the page at / and the client at /peerjs.min.js. */
export async function servePeerPage(): Promise<{ url: string; origin: string; close(): Promise<void> }> {
  const client = readFileSync(createRequire(import.meta.url).resolve('peerjs/dist/peerjs.min.js'));
  const server: Server = createServer((req, res) => {
    if (req.url === '/peerjs.min.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
      res.end(client);
    } else if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(HTML);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/`,
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The client's server options (PeerJSOption): where a Peer signals. */
export interface ServerOptions {
  host: string;
  port: number;
  path: string;
  key?: string;
}

export type Opened = { id: string; peerId: string } | { error: string; message: string };
export type Received = { kind: 'value'; value: unknown } | { kind: string; bytes: number[] };
export type Sent = { kind: 'value'; value: unknown } | { kind: 'Uint8Array' | 'ArrayBuffer'; bytes: number[] } | { kind: 'pattern'; length: number; seed: number };
export interface Live {
  width: number;
  height: number;
  frames: number;
  streamId: string;
  tracks: string[];
}
export interface PeerEvent {
  type: string;
  [k: string]: unknown;
}

/** One peer's tab, in a browser context of its own; its methods are window.pj's, run in the page. */
export class PeerTab {
  readonly pageErrors: string[] = [];
  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
  ) {
    page.on('pageerror', (e) => this.pageErrors.push(String(e)));
  }

  static async open(browser: Browser, siteUrl: string): Promise<PeerTab> {
    const context = await browser.newContext();
    const page = await context.newPage();
    const tab = new PeerTab(context, page);
    await page.goto(siteUrl);
    await page.waitForFunction('typeof window.Peer === "function" && window.pj !== undefined');
    return tab;
  }

  private run<T>(method: string, ...args: unknown[]): Promise<T> {
    return this.page.evaluate(
      ([m, a]) => (globalThis as unknown as { pj: Record<string, (...x: unknown[]) => unknown> }).pj[m as string]!(...(a as unknown[])),
      [method, args] as const,
    ) as Promise<T>;
  }

  makePeer(id: string | null, server: ServerOptions): Promise<Opened> {
    return this.run('makePeer', id, server);
  }
  connect(dst: string, options: { serialization?: string; label?: string; metadata?: unknown; reliable?: boolean }): Promise<{ connectionId: string } | { error: string; message: string }> {
    return this.run('connect', dst, options);
  }
  accepted(label: string): Promise<{ connectionId: string; peer: string; label: string; serialization: string; metadata: unknown }> {
    return this.run('accepted', label);
  }
  send(connectionId: string, values: Sent[]): Promise<true> {
    return this.run('send', connectionId, values);
  }
  received(connectionId: string, n: number): Promise<Received[]> {
    return this.run('received', connectionId, n);
  }
  receivedDigests(connectionId: string, n: number): Promise<{ kind: string; length: number; sha256: string }[]> {
    return this.run('receivedDigests', connectionId, n);
  }
  call(dst: string): Promise<{ connectionId: string; localStreamId: string } | { error: string; message: string }> {
    return this.run('call', dst);
  }
  answered(src: string): Promise<{ connectionId: string; localStreamId: string }> {
    return this.run('answered', src);
  }
  videoLive(connectionId: string): Promise<Live> {
    return this.run('videoLive', connectionId);
  }
  event(type: string, fields: Record<string, unknown> = {}): Promise<PeerEvent> {
    return this.run('event', type, fields);
  }
  events(): Promise<PeerEvent[]> {
    return this.run('events');
  }
  state(): Promise<{ id: string | null; open: boolean; disconnected: boolean; destroyed: boolean }> {
    return this.run('state');
  }
  destroy(): Promise<true> {
    return this.run('destroy');
  }
  disconnect(): Promise<PeerEvent> {
    return this.run('disconnect');
  }
  reconnect(): Promise<Opened> {
    return this.run('reconnect');
  }
  fetch(url: string): Promise<{ status: number; contentType: string | null; body: string }> {
    return this.run('fetch', url);
  }
  close(): Promise<void> {
    return this.context.close();
  }
}
