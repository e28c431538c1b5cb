/**
 * Realistic signaling payloads: SDP offers/answers of 3–6 KB and ICE candidates of about 200 B.
 * Generated once per worker from a seed (deterministic, so every target sees the same bytes) and
 * reused; only the marker at the front of each message changes.
 */

/** A small deterministic PRNG (mulberry32), so payloads are the same in every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hex(rand: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(rand() * 16).toString(16);
  return s;
}

const CODECS = ['opus/48000/2', 'VP8/90000', 'VP9/90000', 'H264/90000', 'AV1/90000', 'red/90000', 'ulpfec/90000', 'rtx/90000'];

/** An SDP of about `bytes` characters (ASCII), shaped like a browser's (sections, rtpmaps, fingerprints). */
export function sdp(rand: () => number, kind: 'offer' | 'answer', bytes: number): string {
  const lines = [
    'v=0',
    `o=- ${Math.floor(rand() * 1e15)} 2 IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    'a=group:BUNDLE 0 1 2',
    'a=extmap-allow-mixed',
    'a=msid-semantic: WMS',
  ];
  let mid = 0;
  while (lines.join('\r\n').length < bytes - 200) {
    const media = mid % 3 === 0 ? 'audio' : mid % 3 === 1 ? 'video' : 'application';
    lines.push(`m=${media} 9 UDP/TLS/RTP/SAVPF 96 97 98 99 100 101 102`, 'c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0');
    lines.push(`a=ice-ufrag:${hex(rand, 4)}`, `a=ice-pwd:${hex(rand, 24)}`, 'a=ice-options:trickle');
    lines.push(`a=fingerprint:sha-256 ${Array.from({ length: 32 }, () => hex(rand, 2).toUpperCase()).join(':')}`);
    lines.push(`a=setup:${kind === 'offer' ? 'actpass' : 'active'}`, `a=mid:${mid}`, 'a=sendrecv', 'a=rtcp-mux');
    for (let pt = 96; pt < 103 && lines.join('\r\n').length < bytes - 100; pt++) {
      lines.push(`a=rtpmap:${pt} ${CODECS[Math.floor(rand() * CODECS.length)]}`, `a=rtcp-fb:${pt} nack pli`, `a=fmtp:${pt} level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=${hex(rand, 6)}`);
    }
    lines.push(`a=ssrc:${Math.floor(rand() * 4e9)} cname:${hex(rand, 16)}`);
    mid++;
  }
  let out = lines.join('\r\n') + '\r\n';
  while (out.length < bytes) out += `a=x-pad:${hex(rand, Math.min(60, Math.max(1, bytes - out.length - 10)))}\r\n`;
  return out.slice(0, bytes);
}

/** An ICE candidate as RTCIceCandidateInit, about 200 bytes once serialised (documentation addresses). */
export function candidate(rand: () => number): { candidate: string; sdpMid: string; sdpMLineIndex: number; usernameFragment: string } {
  const ufrag = hex(rand, 4);
  const port = 40000 + Math.floor(rand() * 20000);
  return {
    candidate: `candidate:${Math.floor(rand() * 4e9)} 1 udp 2122260223 192.0.2.${1 + Math.floor(rand() * 250)} ${port} typ host generation 0 ufrag ${ufrag} network-id 1`,
    sdpMid: String(Math.floor(rand() * 3)),
    sdpMLineIndex: 0,
    usernameFragment: ufrag,
  };
}

export type Kind = 'offer' | 'answer' | 'candidate';

/**
 * One negotiation, as the closed loop replays it: the offer goes A→B, the answer B→A, then each side
 * trickles eight candidates. Two 3–6 KB messages and sixteen ~200 B ones: a realistic mix.
 */
export const SCRIPT: readonly { kind: Kind; fromA: boolean }[] = [
  { kind: 'offer', fromA: true },
  { kind: 'answer', fromA: false },
  ...Array.from({ length: 8 }, () => ({ kind: 'candidate' as const, fromA: true })),
  ...Array.from({ length: 8 }, () => ({ kind: 'candidate' as const, fromA: false })),
];

/**
 * The JSON text of each payload body (without its marker), by kind: a few variants each.
 * A message's data is `{"b":[<tag>,<seq>,<sentAtUs>],` + body + `}`; see marker.ts.
 */
export interface PayloadBank {
  offer: string[];
  answer: string[];
  candidate: string[];
}

export function payloadBank(seed: number, variants = 8): PayloadBank {
  const rand = prng(seed);
  const size = () => 3000 + Math.floor(rand() * 3001);
  const body = (o: object) => JSON.stringify(o).slice(1, -1);
  return {
    offer: Array.from({ length: variants }, () => body({ kind: 'offer', sdp: { type: 'offer', sdp: sdp(rand, 'offer', size()) } })),
    answer: Array.from({ length: variants }, () => body({ kind: 'answer', sdp: { type: 'answer', sdp: sdp(rand, 'answer', size()) } })),
    candidate: Array.from({ length: variants }, () => body({ kind: 'candidate', candidate: candidate(rand) })),
  };
}
