/**
 * Every load-generator message carries a marker at the front of its payload:
 * `{"b":[<tag>,<seq>,<sentAtUs>], …rest of the payload… }`. The receiver finds it in the raw frame
 * with one Buffer.indexOf and reads three integers, instead of JSON-parsing 3–6 KB per message, so
 * the client spends its CPU on sending and receiving rather than on parsing (the client is
 * usually the bottleneck on a 2-core machine). Correct routing is still checked by a full parse of
 * every n-th frame (see relay.ts).
 *
 * Every server under test keeps the payload's members in order (JSON.parse/stringify preserve it),
 * and none of the payload text contains `{"b":[`, so the first occurrence is the marker.
 */

const MARK = Buffer.from('{"b":[');

export interface Marker {
  /** Which stream the message belongs to (a pair, a room's broadcast number). */
  tag: number;
  seq: number;
  /** Sender's clock, integer microseconds. */
  sentAt: number;
}

export function markerText(tag: number, seq: number, sentAt: number): string {
  return `{"b":[${tag},${seq},${sentAt}],`;
}

/** Reads the marker from a raw frame; undefined when there is none. */
export function readMarker(buf: Buffer): Marker | undefined {
  const at = buf.indexOf(MARK);
  if (at < 0) return undefined;
  let i = at + MARK.length;
  const out = [0, 0, 0];
  for (let k = 0; k < 3; k++) {
    let n = 0;
    let digits = 0;
    let neg = false;
    if (buf[i] === 0x2d) {
      neg = true;
      i++;
    }
    for (let c = buf[i]; c !== undefined && c >= 0x30 && c <= 0x39; c = buf[++i]) {
      n = n * 10 + (c - 0x30);
      digits++;
    }
    if (digits === 0) return undefined;
    out[k] = neg ? -n : n;
    const sep = buf[i++];
    if (sep !== (k < 2 ? 0x2c : 0x5d)) return undefined;
  }
  return { tag: out[0]!, seq: out[1]!, sentAt: out[2]! };
}
