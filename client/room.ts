import { Emitter } from './emitter.js';
import { Call, type CallOptions } from './call.js';
import type { Switchboard } from './switchboard.js';

/** A member of a room as the server describes it (`identity` is the verified token subject). */
export interface PeerInfo {
  peerId: string;
  name?: string;
  identity?: string;
  meta?: Record<string, unknown>;
}

export interface JoinOptions {
  /** The name others see (with a token, the token's `name` wins). */
  name?: string;
  /** Any JSON object the others see (up to the server's limits.maxMetaBytes). */
  meta?: Record<string, unknown>;
}

export interface RoomEvents {
  'peer-joined': { room: string; peer: PeerInfo };
  /** `reason`: the server's (`left`, `disconnect`, …), or `session-lost` when this client's own session was lost and rejoined. */
  'peer-left': { room: string; peerId: string; reason: string };
  signal: { from: string; room: string; data: unknown };
  broadcast: { from: string; room: string; data: unknown };
  /** This client is no longer in the room: `left` (leave()), `kicked`, `expired`, `rejoin-failed`, `closed`. */
  closed: { reason: string };
}

type CallSignalHandler = (from: string, data: Record<string, unknown>) => void;

/** A room this connection is in. Obtained from `sb.join()`. */
export class Room extends Emitter<RoomEvents> {
  /** The other members (not you), kept up to date. */
  readonly peers = new Map<string, PeerInfo>();
  /** False once this client left or was removed. */
  joined = true;
  private readonly callHandlers = new Set<CallSignalHandler>();

  /** @internal */
  constructor(
    readonly sb: Switchboard,
    readonly name: string,
    /** @internal the join's name and meta, used again when the SDK rejoins */
    readonly options: JoinOptions,
  ) {
    super();
  }

  signal(peerId: string, data: unknown): Promise<void> {
    return this.sb.signal(peerId, data, this.name);
  }

  broadcast(data: unknown): Promise<void> {
    return this.sb.broadcast(this.name, data);
  }

  leave(): Promise<void> {
    return this.sb.leave(this.name);
  }

  /** A mesh call with every member of this room (Perfect Negotiation; see docs/client.md). */
  call(options: CallOptions = {}): Call {
    return new Call(this, options);
  }

  /** @internal the call helper's signals ({sbcall: 1, …}); the `signal` event never carries them */
  _onCallSignal(fn: CallSignalHandler): () => void {
    this.callHandlers.add(fn);
    return () => this.callHandlers.delete(fn);
  }

  /** @internal */
  _callSignal(from: string, data: Record<string, unknown>): void {
    for (const fn of [...this.callHandlers]) fn(from, data);
  }

  /** @internal */
  _relay(type: 'signal' | 'broadcast', ev: { from: string; room: string; data: unknown }): void {
    this.emit(type, ev);
  }

  /** @internal */
  _setPeers(peers: PeerInfo[]): void {
    this.peers.clear();
    for (const p of peers) this.peers.set(p.peerId, p);
  }

  /** @internal */
  _peerJoined(peer: PeerInfo): void {
    this.peers.set(peer.peerId, peer);
    this.emit('peer-joined', { room: this.name, peer });
  }

  /** @internal */
  _peerLeft(peerId: string, reason: string): void {
    if (!this.peers.delete(peerId)) return;
    this.emit('peer-left', { room: this.name, peerId, reason });
  }

  /**
   * @internal After session-lost: this client is a new peer to the others, so every old member is
   * gone as far as this client's peer connections go, and the new roster joins.
   */
  _rejoined(peers: PeerInfo[] | undefined): void {
    for (const peerId of [...this.peers.keys()]) this._peerLeft(peerId, 'session-lost');
    for (const p of peers ?? []) this._peerJoined(p);
  }

  /** @internal */
  _closed(reason: string): void {
    if (!this.joined) return;
    this.joined = false;
    for (const peerId of [...this.peers.keys()]) this._peerLeft(peerId, reason);
    this.emit('closed', { reason });
  }
}
