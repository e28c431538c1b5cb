import wrtc from '@roamhq/wrtc';

/**
 * A real WebRTC peer (libwebrtc via @roamhq/wrtc) for end-to-end tests: two of them exchange
 * offer/answer/ICE through a dialect's signaling and open a data channel.
 */
export type SignalKind = 'offer' | 'answer' | 'ice';

/** How a peer talks to the signaling server, in one dialect's words. */
export interface SignalingPort {
  /** description: {type, sdp}; ice: RTCIceCandidateInit ({candidate, sdpMid, sdpMLineIndex}). */
  send(kind: SignalKind, payload: Record<string, unknown>): void;
  /** Called with every offer/answer/ice the dialect delivers to this peer. */
  onSignal(handler: (kind: SignalKind, payload: Record<string, unknown>) => void): void;
}

export interface PeerPair {
  /** Text received on the answerer's side of the data channel. */
  received: string;
  close(): void;
}

/**
 * Runs a full negotiation: `offerer` creates a data channel and an offer; `answerer` answers; both
 * trickle ICE through the ports. Resolves when a message crosses the data channel.
 */
export async function connectDataChannel(offerer: SignalingPort, answerer: SignalingPort, guardMs = 15_000): Promise<PeerPair> {
  const a = new wrtc.RTCPeerConnection({ iceServers: [] });
  const b = new wrtc.RTCPeerConnection({ iceServers: [] });
  const close = () => {
    a.close();
    b.close();
  };
  const wire = (pc: InstanceType<typeof wrtc.RTCPeerConnection>, port: SignalingPort, isOfferer: boolean) => {
    pc.onicecandidate = (e: { candidate: { toJSON(): Record<string, unknown> } | null }) => {
      if (e.candidate) port.send('ice', e.candidate.toJSON());
    };
    port.onSignal((kind, payload) => {
      void (async () => {
        if (kind === 'ice') await pc.addIceCandidate(payload);
        else if (kind === 'offer' && !isOfferer) {
          await pc.setRemoteDescription(payload);
          const answer = await pc.createAnswer();
          await pc.setLocalDescription(answer);
          port.send('answer', { type: answer.type, sdp: answer.sdp });
        } else if (kind === 'answer' && isOfferer) await pc.setRemoteDescription(payload);
      })().catch(() => {});
    });
  };
  wire(a, offerer, true);
  wire(b, answerer, false);
  const received = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('data channel did not open in time')), guardMs);
    b.ondatachannel = (e: { channel: { onmessage: (m: { data: string }) => void } }) => {
      e.channel.onmessage = (m) => {
        clearTimeout(timer);
        resolve(String(m.data));
      };
    };
  });
  const dc = a.createDataChannel('switchboard-test');
  dc.onopen = () => dc.send('hello through switchboard');
  const offer = await a.createOffer();
  await a.setLocalDescription(offer);
  offerer.send('offer', { type: offer.type, sdp: offer.sdp });
  try {
    return { received: await received, close };
  } catch (err) {
    close();
    throw err;
  }
}
