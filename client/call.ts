/**
 * The mesh-call helper: one RTCPeerConnection per room member, negotiated with "Perfect
 * Negotiation" (https://w3c.github.io/webrtc-pc/#perfect-negotiation-example): either side may
 * offer whenever `negotiationneeded` fires, and when two offers cross (glare) the polite peer (the
 * one with the greater peerId) rolls its own back and answers, the impolite one ignores the offer it
 * got. Trickle ICE; an ICE restart when the connection fails. Its signals travel as
 * `{sbcall: 1, description}` / `{sbcall: 1, candidate}` and never reach the app's `signal` events.
 */
import { Emitter } from './emitter.js';
import type { Room } from './room.js';

type PCConstructor = new (configuration?: RTCConfiguration) => RTCPeerConnection;
type MediaStreamConstructor = new (tracks?: MediaStreamTrack[]) => MediaStream;

export interface CallOptions {
  /** Local media to send to every peer (or later: call.setStream()). */
  stream?: MediaStream;
  /** Data channels opened with every peer: negotiated (no in-band setup), id = index in this list. Every member must pass the same list. */
  channels?: string[];
  /** Default: globalThis.RTCPeerConnection (in Node: @roamhq/wrtc's). */
  RTCPeerConnection?: PCConstructor;
  /** Default: globalThis.MediaStream (for `remoteStream`; in Node: @roamhq/wrtc's). */
  MediaStream?: MediaStreamConstructor;
  /** Passed to every RTCPeerConnection; `iceServers` defaults to the connection's (kept fresh). */
  configuration?: RTCConfiguration;
}

export interface CallEvents {
  /** A peer connection for a room member (existing ones, then each who joins). */
  peer: CallPeer;
  /** A member left: its peer connection is closed. */
  'peer-left': string;
  track: { peer: CallPeer; track: MediaStreamTrack; streams: readonly MediaStream[] };
  /** A negotiation step failed (logged here rather than thrown: the call goes on). */
  error: { peer: CallPeer; error: unknown };
}

export interface CallPeerEvents {
  state: RTCPeerConnectionState;
  track: { track: MediaStreamTrack; streams: readonly MediaStream[] };
}

/** A mesh call in a room: see Room.call(). */
export class Call extends Emitter<CallEvents> {
  readonly peers = new Map<string, CallPeer>();
  stream: MediaStream | undefined;
  private readonly PC: PCConstructor;
  private readonly offs: (() => void)[] = [];
  private closed = false;

  /** @internal use room.call() */
  constructor(
    readonly room: Room,
    private readonly options: CallOptions,
  ) {
    super();
    const PC = options.RTCPeerConnection ?? (globalThis as { RTCPeerConnection?: PCConstructor }).RTCPeerConnection;
    if (!PC) throw new Error('No RTCPeerConnection: pass options.RTCPeerConnection (in Node: @roamhq/wrtc).');
    this.PC = PC;
    this.stream = options.stream;
    const sb = room.sb;
    this.offs.push(
      room.on('peer-joined', ({ peer }) => this.ensure(peer.peerId)),
      room.on('peer-left', ({ peerId }) => this.drop(peerId)),
      room.on('closed', () => this.close()),
      room._onCallSignal((from, data) => this.ensure(from)?._signal(data)),
      sb.on('ice-servers', () => {
        for (const p of this.peers.values()) p.pc.setConfiguration(this.configuration());
      }),
    );
    // The members already there: after the caller had a chance to add its 'peer' listener.
    queueMicrotask(() => {
      for (const peerId of room.peers.keys()) this.ensure(peerId);
    });
  }

  /** Sends this stream's tracks to every peer (replacing the tracks sent so far), or none (null). */
  setStream(stream: MediaStream | null): void {
    this.stream = stream ?? undefined;
    for (const p of this.peers.values()) p._sendStream(this.stream);
  }

  /** Closes every peer connection and stops following the room. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const off of this.offs.splice(0)) off();
    for (const peerId of [...this.peers.keys()]) this.drop(peerId);
  }

  /** @internal */
  configuration(): RTCConfiguration {
    const c = this.options.configuration ?? {};
    return { ...c, iceServers: c.iceServers ?? this.room.sb.iceServers };
  }

  private ensure(peerId: string): CallPeer | undefined {
    if (this.closed || peerId === this.room.sb.peerId) return undefined;
    let p = this.peers.get(peerId);
    if (p) return p;
    p = new CallPeer(this, peerId, new this.PC(this.configuration()), this.options);
    this.peers.set(peerId, p);
    p._start(this.options.channels ?? [], this.stream);
    this.emit('peer', p);
    return p;
  }

  private drop(peerId: string): void {
    const p = this.peers.get(peerId);
    if (!p) return;
    this.peers.delete(peerId);
    p.close();
    this.emit('peer-left', peerId);
  }

  /** @internal */
  _track(peer: CallPeer, track: MediaStreamTrack, streams: readonly MediaStream[]): void {
    this.emit('track', { peer, track, streams });
  }

  /** @internal */
  _error(peer: CallPeer, error: unknown): void {
    this.emit('error', { peer, error });
  }
}

/** One peer connection of a Call. */
export class CallPeer extends Emitter<CallPeerEvents> {
  /** Polite: this side's peerId is the greater; it yields when offers cross. */
  readonly polite: boolean;
  /** Every track this peer sends, in one stream. */
  remoteStream: MediaStream;
  private readonly channels = new Map<string, RTCDataChannel>();
  private makingOffer = false;
  private offering: Promise<void> = Promise.resolve();
  private ignoreOffer = false;
  private settingRemoteAnswer = false;
  /** Incoming signals are handled one at a time, in order. */
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  /** @internal */
  constructor(
    private readonly call: Call,
    readonly peerId: string,
    readonly pc: RTCPeerConnection,
    options: CallOptions,
  ) {
    super();
    this.polite = call.room.sb.peerId > peerId;
    const MS = options.MediaStream ?? (globalThis as { MediaStream?: MediaStreamConstructor }).MediaStream;
    this.remoteStream = MS ? new MS() : (undefined as unknown as MediaStream);
  }

  /** The negotiated data channel with this label (one of CallOptions.channels). */
  channel(label: string): RTCDataChannel | undefined {
    return this.channels.get(label);
  }

  get connectionState(): RTCPeerConnectionState {
    return this.pc.connectionState;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pc.close();
  }

  /** @internal */
  _start(channels: string[], stream: MediaStream | undefined): void {
    const pc = this.pc;
    pc.onnegotiationneeded = () => {
      this.offering = this.negotiate();
    };
    pc.onicecandidate = (e) => {
      if (e.candidate) this.send({ candidate: candidateJSON(e.candidate) });
    };
    pc.onconnectionstatechange = () => {
      const state = pc.connectionState;
      if (state === 'failed' && !this.closed) {
        if (typeof pc.restartIce === 'function') pc.restartIce();
        else this.offering = this.negotiate(true);
      }
      this.emit('state', state);
    };
    pc.ontrack = (e) => {
      if (!this.remoteStream && e.streams[0]) this.remoteStream = e.streams[0];
      else if (this.remoteStream && !this.remoteStream.getTracks().includes(e.track)) this.remoteStream.addTrack(e.track);
      this.emit('track', { track: e.track, streams: e.streams });
      this.call._track(this, e.track, e.streams);
    };
    channels.forEach((label, id) => this.channels.set(label, pc.createDataChannel(label, { negotiated: true, id })));
    this._sendStream(stream);
  }

  /** @internal */
  _sendStream(stream: MediaStream | undefined): void {
    if (this.closed) return;
    const tracks = stream?.getTracks() ?? [];
    const senders = this.pc.getSenders();
    const used = new Set<RTCRtpSender>();
    for (const track of tracks) {
      if (senders.some((s) => s.track === track)) {
        used.add(senders.find((s) => s.track === track)!);
        continue;
      }
      // Reuse a sender of the same kind (no renegotiation), else add the track.
      const free = senders.find((s) => !used.has(s) && (s.track?.kind ?? this.kindOf(s)) === track.kind && !tracks.includes(s.track!));
      if (free) {
        used.add(free);
        void free.replaceTrack(track).catch((error: unknown) => this.call._error(this, error));
      } else {
        used.add(this.pc.addTrack(track, stream!));
      }
    }
    for (const s of senders) if (!used.has(s) && s.track) void s.replaceTrack(null).catch(() => {});
  }

  /** The media kind of a sender whose track was taken away: its transceiver's receiver says. */
  private kindOf(s: RTCRtpSender): string | undefined {
    return this.pc.getTransceivers().find((t) => t.sender === s)?.receiver.track?.kind;
  }

  /** @internal a {sbcall, description | candidate} from this peer */
  _signal(data: Record<string, unknown>): void {
    this.chain = this.chain
      .then(() => this.handle(data))
      .catch((error: unknown) => {
        if (!this.closed) this.call._error(this, error);
      });
  }

  private async negotiate(iceRestart = false): Promise<void> {
    const pc = this.pc;
    // The first offer is the impolite side's: both sides create their connection at once, so the
    // polite one waits for that offer instead of crossing it. Perfect Negotiation would settle the
    // glare, but Chromium sometimes never gathers a candidate again after the polite side rolls its
    // first offer back (its connection stays `new`). Once described, either side offers as needed.
    if (this.polite && !iceRestart && !pc.remoteDescription) return;
    try {
      this.makingOffer = true;
      const offer = await pc.createOffer(iceRestart ? { iceRestart } : undefined);
      if (pc.signalingState !== 'stable' || this.closed) return; // an offer came in meanwhile
      await pc.setLocalDescription(offer);
      this.send({ description: descriptionJSON(pc.localDescription!) });
    } catch (error) {
      if (!this.closed) this.call._error(this, error);
    } finally {
      this.makingOffer = false;
    }
  }

  private async handle(data: Record<string, unknown>): Promise<void> {
    if (this.closed) return;
    const pc = this.pc;
    const description = data.description as RTCSessionDescriptionInit | undefined;
    if (description) {
      const readyForOffer = !this.makingOffer && (pc.signalingState === 'stable' || this.settingRemoteAnswer);
      const collision = description.type === 'offer' && !readyForOffer;
      this.ignoreOffer = !this.polite && collision;
      if (this.ignoreOffer) return;
      if (collision) {
        // Polite and our own offer is out: let it finish, then take it back (explicitly: not every
        // implementation rolls back implicitly in setRemoteDescription).
        await this.offering;
        if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' });
      }
      this.settingRemoteAnswer = description.type === 'answer';
      try {
        await pc.setRemoteDescription(description);
      } finally {
        this.settingRemoteAnswer = false;
      }
      if (description.type === 'offer') {
        const answer = await pc.createAnswer();
        await pc.setLocalDescription(answer);
        this.send({ description: descriptionJSON(pc.localDescription!) });
      }
      return;
    }
    const candidate = data.candidate as RTCIceCandidateInit | undefined;
    if (candidate) {
      try {
        await pc.addIceCandidate(candidate);
      } catch (err) {
        if (!this.ignoreOffer) throw err; // candidates of an offer we ignored fail; that is expected
      }
    }
  }

  private send(payload: Record<string, unknown>): void {
    if (this.closed) return;
    this.call.room.signal(this.peerId, { sbcall: 1, ...payload }).catch((error: unknown) => {
      // The peer left (peer-not-found) or the connection closed: the peer-left will clean up.
      if (!this.closed) this.call._error(this, error);
    });
  }
}

function descriptionJSON(d: RTCSessionDescriptionInit): RTCSessionDescriptionInit {
  return { type: d.type, sdp: d.sdp };
}

function candidateJSON(c: RTCIceCandidate): RTCIceCandidateInit {
  if (typeof c.toJSON === 'function') return c.toJSON();
  return { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex, usernameFragment: c.usernameFragment };
}

