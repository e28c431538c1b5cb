/**
 * Switchboard's client SDK: one module for browsers and Node ≥ 20 (given a WebSocket
 * implementation such as `ws`). It speaks the native protocol at /v1 (docs/protocol.md) and hides a
 * dropped socket from the app: it reconnects with backoff and jitter, resumes the session (same
 * peerId, every missed frame once and in order), re-sends requests the server never got, and, when
 * the session could not be resumed, says so and rejoins its rooms. See docs/client.md.
 */
import { Emitter } from './emitter.js';
import { SwitchboardError } from './errors.js';
import { Room, type JoinOptions, type PeerInfo } from './room.js';

export { SwitchboardError } from './errors.js';
export { Emitter, type Listener } from './emitter.js';
export { Room, type JoinOptions, type PeerInfo, type RoomEvents } from './room.js';
export { Call, CallPeer, type CallOptions, type CallEvents, type CallPeerEvents } from './call.js';

/** What the SDK needs of a WebSocket: the browser's, or `ws`'s (both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
/** A WebSocket class: the browser's `WebSocket`, or `ws`'s default export in Node (instances must fit WebSocketLike). */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => object;

/** The SDK's own timers (backoff, acks, request timeouts): injectable so tests drive time. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export type TokenProvider = () => string | Promise<string>;

export interface ReconnectOptions {
  /** Delay before the first reconnect attempt after a drop (default 250 ms). */
  initialDelayMs?: number;
  /** The cap on the delay (default 10 s). */
  maxDelayMs?: number;
  /** Each failed attempt multiplies the delay by this (default 2). */
  factor?: number;
  /** Each delay is drawn uniformly within ±jitter of itself (default 0.5: ±50%). */
  jitter?: number;
}

export interface ConnectOptions {
  /** The /v1 endpoint, e.g. `wss://signal.example.org/v1`. */
  url: string;
  /** A token (JWT) when the server requires one, or a provider asked on every (re)connect and on `token-expiring`. */
  token?: string | TokenProvider;
  /** Default: globalThis.WebSocket. In Node 20 pass `ws`'s export. */
  WebSocket?: WebSocketConstructor;
  reconnect?: ReconnectOptions;
  /** Acknowledge (`received`) after this many frames (default 32)… */
  ackEvery?: number;
  /** …or this long after the first unacknowledged frame (default 1000 ms). */
  ackIntervalMs?: number;
  /** A request with no reply in this time rejects with `timeout` (default 15 s). */
  requestTimeoutMs?: number;
  /** Default: the global setTimeout/clearTimeout. */
  timers?: Timers;
  /** Default: Math.random (the backoff's jitter). */
  random?: () => number;
}

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface SwitchboardEvents {
  state: ConnectionState;
  /** The socket dropped and the session was taken back: same peerId, nothing lost. `replayed`: frames the server re-sent. */
  resumed: { replayed: number };
  /** The session could not be resumed (`code` is the server's resumeError); a new one started and the SDK rejoins its rooms. */
  'session-lost': { code: string; previousPeerId: string };
  /** After `session-lost`: the rooms rejoined, and those that could not be (with the error). */
  rejoined: { rooms: string[]; failed: { room: string; error: SwitchboardError }[] };
  signal: { from: string; room: string; data: unknown };
  broadcast: { from: string; room: string; data: unknown };
  'peer-joined': { room: string; peer: PeerInfo };
  'peer-left': { room: string; peerId: string; reason: string };
  'ice-servers': RTCIceServer[];
  'token-expiring': { expiresAt: number };
  /** The server is draining; the SDK moves to another node when `reconnectMs` comes. */
  goaway: { reason: string; reconnectMs: number };
  /** An error not tied to a request (e.g. `rate-limited`, a failed token refresh). */
  error: SwitchboardError;
  /** The connection closed for good (the app's close(), or a close after which the SDK does not reconnect). */
  closed: { code: number; reason: string };
}

type Frame = Record<string, unknown> & { type?: unknown };

interface Pending {
  frame: Frame;
  resolve(f: Frame): void;
  reject(e: SwitchboardError): void;
  timer: unknown;
  /** The socket generation it was last sent on; 0: not sent yet. */
  sentOn: number;
  /** A `join` that is being re-sent: `already-in-room` then means it had been done. */
  resent?: boolean;
}

/** Close codes after which the SDK does not reconnect (4005 only without a token provider). */
const FINAL_CLOSES = new Set([4001, 4003, 4004, 4008]);

const defaultTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof globalThis.setTimeout>),
};

/** Opens a connection; resolves on its first `welcome`, rejects with SwitchboardError('connect-failed') if that does not come. */
export async function connect(options: ConnectOptions): Promise<Switchboard> {
  const sb = new Switchboard(options);
  await sb._start();
  return sb;
}

export class Switchboard extends Emitter<SwitchboardEvents> {
  /** This session's peer id (it changes only after `session-lost`). */
  peerId = '';
  /** ICE servers for RTCPeerConnection: from `welcome`, then each `ice-servers` refresh. */
  iceServers: RTCIceServer[] = [];
  state: ConnectionState = 'connecting';
  /** The server's `welcome` frame of the current socket. */
  welcome: Frame | undefined;

  private readonly opts: Required<Omit<ConnectOptions, 'token' | 'reconnect'>> & { reconnect: Required<ReconnectOptions> };
  private readonly token: string | TokenProvider | undefined;
  private ws: WebSocketLike | undefined;
  /** Socket generation: +1 for each socket opened. */
  private gen = 0;
  private welcomed = false;
  private resumeToken: string | undefined;
  private lastSeq = 0;
  private ackedSeq = 0;
  private ackTimer: unknown;
  private reconnectTimer: unknown;
  private attempt = 0;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly rooms = new Map<string, Room>();
  private closedByApp = false;
  private goawayPending = false;
  /** After a resume: the id of the ping whose pong marks the end of the replay, and frames counted until then. */
  private probe: { id: number; gen: number; replayed: number } | undefined;
  private startWaiter: { resolve(): void; reject(e: SwitchboardError): void } | undefined;

  /** @internal use connect() */
  constructor(options: ConnectOptions) {
    super();
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WS) throw new SwitchboardError('connect-failed', 'No WebSocket implementation: pass options.WebSocket (in Node: the `ws` package).');
    this.token = options.token;
    this.opts = {
      url: options.url,
      WebSocket: WS,
      reconnect: { initialDelayMs: 250, maxDelayMs: 10_000, factor: 2, jitter: 0.5, ...options.reconnect },
      ackEvery: options.ackEvery ?? 32,
      ackIntervalMs: options.ackIntervalMs ?? 1000,
      requestTimeoutMs: options.requestTimeoutMs ?? 15_000,
      timers: options.timers ?? defaultTimers,
      random: options.random ?? Math.random,
    };
  }

  /** @internal */
  _start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.startWaiter = { resolve, reject };
      void this.open();
    });
  }

  // ---- requests -------------------------------------------------------------------------------

  /** Joins a room; resolves with the Room (its roster kept up to date). */
  async join(room: string, options: JoinOptions = {}): Promise<Room> {
    const frame: Frame = { type: 'join', room };
    if (options.name !== undefined) frame.name = options.name;
    if (options.meta !== undefined) frame.meta = options.meta;
    const reply = await this.request(frame);
    return this.adoptRoom(room, options, reply);
  }

  /** Leaves a room. */
  async leave(room: string): Promise<void> {
    await this.request({ type: 'leave', room });
    this.dropRoom(room, 'left');
  }

  /** Sends `data` to one peer (that shares `room`, or any room, with you); resolves once the server handed it on. */
  async signal(to: string, data: unknown, room?: string): Promise<void> {
    const frame: Frame = { type: 'signal', to, data };
    if (room !== undefined) frame.room = room;
    await this.request(frame);
  }

  /** Sends `data` to every other member of `room`; resolves once handed on. */
  async broadcast(room: string, data: unknown): Promise<void> {
    await this.request({ type: 'broadcast', room, data });
  }

  /** Creates a room with a generated id; resolves with the id (join it to enter). */
  async createRoom(options: { capacity?: number; emptyTtlMs?: number; idleTtlMs?: number } = {}): Promise<string> {
    const reply = await this.request({ type: 'create-room', options });
    return reply.room as string;
  }

  /** A round trip to the server, in milliseconds. */
  async ping(): Promise<number> {
    const t0 = now();
    await this.request({ type: 'ping' });
    return now() - t0;
  }

  /** The rooms this connection is in. */
  get joinedRooms(): ReadonlyMap<string, Room> {
    return this.rooms;
  }

  /** Closes cleanly: the server ends the session at once (the rooms hear `peer-left`); no reconnect. */
  close(): void {
    if (this.state === 'closed') return;
    this.closedByApp = true;
    const ws = this.ws;
    this.ws = undefined;
    if (ws && (ws.readyState === 0 || ws.readyState === 1)) ws.close(1000, 'client closed');
    this.finish(1000, 'client closed');
  }

  private request(frame: Frame, resent = false): Promise<Frame> {
    if (this.state === 'closed') return Promise.reject(new SwitchboardError('closed', 'The connection is closed.'));
    return new Promise<Frame>((resolve, reject) => {
      const id = this.nextId++;
      frame.id = id;
      const p: Pending = { frame, resolve, reject, sentOn: 0, resent, timer: undefined };
      p.timer = this.opts.timers.setTimeout(() => {
        this.pending.delete(id);
        reject(new SwitchboardError('timeout', `No reply to ${String(frame.type)} within ${this.opts.requestTimeoutMs} ms.`));
      }, this.opts.requestTimeoutMs);
      this.pending.set(id, p);
      if (this.state === 'open') this.sendPending(p);
    });
  }

  private sendPending(p: Pending): void {
    p.sentOn = this.gen;
    this.send(p.frame);
  }

  private send(frame: Frame): void {
    const ws = this.ws;
    if (ws && ws.readyState === 1) ws.send(JSON.stringify(frame));
  }

  // ---- the socket -----------------------------------------------------------------------------

  private async open(): Promise<void> {
    this.reconnectTimer = undefined;
    let token: string | undefined;
    try {
      token = typeof this.token === 'function' ? await this.token() : this.token;
    } catch (err) {
      return this.socketFailed(1006, `token provider failed: ${(err as Error)?.message ?? String(err)}`);
    }
    if (this.closedByApp) return;
    const url = new URL(this.opts.url);
    if (this.resumeToken) {
      url.searchParams.set('resume', this.resumeToken);
      url.searchParams.set('seq', String(this.lastSeq));
    }
    if (token) url.searchParams.set('token', token);
    let ws: WebSocketLike;
    try {
      ws = new this.opts.WebSocket(url.toString()) as WebSocketLike;
    } catch (err) {
      return this.socketFailed(1006, (err as Error)?.message ?? String(err));
    }
    const gen = ++this.gen;
    this.ws = ws;
    this.welcomed = false;
    ws.onmessage = (ev) => {
      if (this.ws === ws) this.onFrame(ev.data, gen);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.onSocketClosed(ev.code, ev.reason);
    };
    ws.onerror = () => {};
  }

  private onFrame(data: unknown, gen: number): void {
    if (typeof data !== 'string') return;
    let f: Frame;
    try {
      f = JSON.parse(data) as Frame;
    } catch {
      return;
    }
    if (!f || typeof f !== 'object') return;
    if (f.type === 'welcome') return this.onWelcome(f, gen);
    if (typeof f.seq === 'number') {
      // A replayed frame we already had (never doubled), then acks by count or interval.
      if (f.seq <= this.lastSeq) return;
      this.lastSeq = f.seq;
      if (this.probe && f.re !== this.probe.id) this.probe.replayed++;
      this.scheduleAck();
    }
    this.dispatch(f);
  }

  private onWelcome(w: Frame, gen: number): void {
    this.welcome = w;
    this.welcomed = true;
    this.attempt = 0;
    const resume = w.resume as { token?: string } | undefined;
    const hadSession = this.peerId !== '';
    const previousPeerId = this.peerId;
    const resumed = w.resumed === true;
    this.resumeToken = resume?.token;
    if (Array.isArray(w.iceServers)) this.iceServers = w.iceServers as RTCIceServer[];
    this.peerId = w.peerId as string;
    if (!hadSession) {
      this.lastSeq = 0;
      this.ackedSeq = 0;
      this.setState('open');
      const waiter = this.startWaiter;
      this.startWaiter = undefined;
      waiter?.resolve();
      this.flush(() => true);
      return;
    }
    if (resumed) {
      this.setState('open');
      // The pong to this ping comes after every replayed frame: a request still unanswered then was
      // never received by the server, and is sent again.
      const id = this.nextId++;
      this.probe = { id, gen, replayed: 0 };
      this.send({ type: 'ping', id });
      this.flush((p) => p.sentOn === 0);
      return;
    }
    // A new session: the old one is gone (resumeError says why). Rejoin every room, then send what waits.
    this.lastSeq = 0;
    this.ackedSeq = 0;
    this.probe = undefined;
    const code = typeof w.resumeError === 'string' ? w.resumeError : 'resume-disabled';
    this.setState('open');
    this.emit('session-lost', { code, previousPeerId });
    void this.rejoin();
  }

  private async rejoin(): Promise<void> {
    const rooms = [...this.rooms.values()];
    const waiting = [...this.pending.values()];
    const joins = rooms.map((room) => {
      const frame: Frame = { type: 'join', room: room.name };
      if (room.options.name !== undefined) frame.name = room.options.name;
      if (room.options.meta !== undefined) frame.meta = room.options.meta;
      return this.request(frame, true).then(
        (reply) => ({ room, reply }),
        (error: SwitchboardError) => ({ room, error }),
      );
    });
    // The joins went first; the server handles frames in order, so what waited can follow at once.
    for (const p of waiting) if (this.pending.get(p.frame.id as number) === p) this.sendPending(p);
    const results = await Promise.all(joins);
    const ok: string[] = [];
    const failed: { room: string; error: SwitchboardError }[] = [];
    for (const r of results) {
      if ('reply' in r) {
        r.room._rejoined(peersOf(r.reply));
        ok.push(r.room.name);
      } else {
        failed.push({ room: r.room.name, error: r.error });
        this.dropRoom(r.room.name, 'rejoin-failed');
      }
    }
    this.emit('rejoined', { rooms: ok, failed });
  }

  /** Sends the pending requests that match (in the order they were made). */
  private flush(which: (p: Pending) => boolean): void {
    for (const p of [...this.pending.values()]) if (which(p)) this.sendPending(p);
  }

  private onSocketClosed(code: number, reason: string): void {
    this.cancelAck();
    if (this.closedByApp || this.state === 'closed') return;
    if (!this.peerId) {
      // The first connection never got its welcome.
      this.finish(code, reason, new SwitchboardError('connect-failed', `Could not connect to ${this.opts.url} (close ${code}${reason ? `: ${reason}` : ''}).`));
      return;
    }
    if (FINAL_CLOSES.has(code) || (code === 4005 && typeof this.token !== 'function')) {
      this.finish(code, reason);
      return;
    }
    this.socketFailed(code, reason);
  }

  /** Schedules the next attempt: at once after a drain's 1001, else after the backoff. */
  private socketFailed(code: number, reason: string): void {
    if (this.closedByApp || this.state === 'closed') return;
    if (!this.peerId) {
      this.finish(code, reason, new SwitchboardError('connect-failed', `Could not connect to ${this.opts.url}: ${reason}`));
      return;
    }
    this.probe = undefined;
    this.setState('reconnecting');
    let delay: number;
    if (this.goawayPending && code === 1001) {
      delay = 0;
    } else {
      const r = this.opts.reconnect;
      const base = Math.min(r.maxDelayMs, r.initialDelayMs * r.factor ** this.attempt);
      delay = Math.max(0, Math.round(base * (1 - r.jitter + 2 * r.jitter * this.opts.random())));
      this.attempt++;
    }
    this.goawayPending = false;
    if (delay === 0) void this.open();
    else this.reconnectTimer = this.opts.timers.setTimeout(() => void this.open(), delay);
  }

  private finish(code: number, reason: string, startError?: SwitchboardError): void {
    if (this.state === 'closed') return;
    this.cancelAck();
    if (this.reconnectTimer !== undefined) this.opts.timers.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const err = new SwitchboardError('closed', `The connection closed (${code}${reason ? ` ${reason}` : ''}).`);
    for (const [id, p] of this.pending) {
      this.opts.timers.clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(err);
    }
    this.setState('closed');
    const waiter = this.startWaiter;
    this.startWaiter = undefined;
    if (waiter) waiter.reject(startError ?? new SwitchboardError('connect-failed', `Could not connect (close ${code}).`));
    for (const room of this.rooms.values()) room._closed('closed');
    this.rooms.clear();
    this.emit('closed', { code, reason });
  }

  private setState(s: ConnectionState): void {
    if (this.state === s) return;
    this.state = s;
    this.emit('state', s);
  }

  // ---- acks -----------------------------------------------------------------------------------

  private scheduleAck(): void {
    if (this.lastSeq - this.ackedSeq >= this.opts.ackEvery) return this.sendAck();
    if (this.ackTimer === undefined) this.ackTimer = this.opts.timers.setTimeout(() => this.sendAck(), this.opts.ackIntervalMs);
  }

  private sendAck(): void {
    this.cancelAck();
    if (this.lastSeq <= this.ackedSeq || !this.ws || this.ws.readyState !== 1) return;
    this.ackedSeq = this.lastSeq;
    this.send({ type: 'received', seq: this.lastSeq });
  }

  private cancelAck(): void {
    if (this.ackTimer !== undefined) this.opts.timers.clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
  }

  // ---- what the server sends ------------------------------------------------------------------

  private dispatch(f: Frame): void {
    if (f.re !== undefined) {
      const id = f.re as number;
      if (this.probe && id === this.probe.id) return this.endReplay();
      const p = this.pending.get(id);
      if (p) {
        this.pending.delete(id);
        this.opts.timers.clearTimeout(p.timer);
        if (f.type !== 'error') return p.resolve(f);
        if (p.resent && p.frame.type === 'join' && f.code === 'already-in-room') return p.resolve({ type: 'joined', room: p.frame.room, peers: undefined });
        return p.reject(new SwitchboardError(String(f.code), String(f.message ?? f.code), f));
      }
      if (f.type !== 'error') return;
    }
    switch (f.type) {
      case 'signal':
      case 'broadcast': {
        const ev = { from: f.from as string, room: f.room as string, data: f.data };
        const room = this.rooms.get(ev.room);
        if (f.type === 'signal' && isCallSignal(f.data)) return room?._callSignal(ev.from, f.data);
        this.emit(f.type, ev);
        room?._relay(f.type, ev);
        return;
      }
      case 'peer-joined': {
        const ev = { room: f.room as string, peer: f.peer as PeerInfo };
        this.rooms.get(ev.room)?._peerJoined(ev.peer);
        return this.emit('peer-joined', ev);
      }
      case 'peer-left': {
        const ev = { room: f.room as string, peerId: f.peerId as string, reason: f.reason as string };
        if (ev.peerId === this.peerId) this.dropRoom(ev.room, ev.reason);
        else this.rooms.get(ev.room)?._peerLeft(ev.peerId, ev.reason);
        return this.emit('peer-left', ev);
      }
      case 'ice-servers':
        this.iceServers = (f.iceServers as RTCIceServer[]) ?? [];
        return this.emit('ice-servers', this.iceServers);
      case 'goaway':
        this.goawayPending = true;
        return this.emit('goaway', { reason: String(f.reason ?? ''), reconnectMs: Number(f.reconnectMs ?? 0) });
      case 'token-expiring':
        this.emit('token-expiring', { expiresAt: f.expiresAt as number });
        if (typeof this.token === 'function') void this.refreshToken(this.token);
        return;
      case 'error':
        return this.emit('error', new SwitchboardError(String(f.code), String(f.message ?? f.code), f));
    }
  }

  private endReplay(): void {
    const probe = this.probe!;
    this.probe = undefined;
    for (const p of [...this.pending.values()]) {
      if (p.sentOn !== 0 && p.sentOn < probe.gen) {
        if (p.frame.type === 'join') p.resent = true;
        this.sendPending(p);
      }
    }
    this.emit('resumed', { replayed: probe.replayed });
  }

  private async refreshToken(provider: TokenProvider): Promise<void> {
    try {
      const token = await provider();
      await this.request({ type: 'refresh-token', token });
    } catch (err) {
      const e = err instanceof SwitchboardError ? err : new SwitchboardError('token-refresh-failed', (err as Error)?.message ?? String(err));
      if (this.state !== 'closed') this.emit('error', e);
    }
  }

  // ---- rooms ----------------------------------------------------------------------------------

  private adoptRoom(name: string, options: JoinOptions, reply: Frame): Room {
    let room = this.rooms.get(name);
    if (!room) {
      room = new Room(this, name, options);
      this.rooms.set(name, room);
    }
    const peers = peersOf(reply);
    if (peers) room._setPeers(peers);
    return room;
  }

  private dropRoom(name: string, reason: string): void {
    const room = this.rooms.get(name);
    if (!room) return;
    this.rooms.delete(name);
    room._closed(reason);
  }
}

function peersOf(reply: Frame): PeerInfo[] | undefined {
  return Array.isArray(reply.peers) ? (reply.peers as PeerInfo[]) : undefined;
}

function isCallSignal(data: unknown): data is { sbcall: 1 } {
  return typeof data === 'object' && data !== null && (data as { sbcall?: unknown }).sbcall === 1;
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}
