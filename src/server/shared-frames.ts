import type WebSocket from 'ws';
// A namespace import: ws's ES module entry has `Sender` only as a named export (its typings omit it).
import * as wsModule from 'ws';

/**
 * One WebSocket frame for every local recipient of the same text (a room broadcast, a roster
 * change told to every member): built once, and the same buffers written to each socket, instead of
 * `ws.send` framing the text and encoding it to UTF-8 again for every recipient. socket.io's
 * adapter does the same with `ws`'s own framing (its static `Sender.frame`, and a socket's
 * `_sender.sendFrame`).
 *
 * Why this is safe: a server never masks its frames (RFC 6455 §5.1), so an uncompressed text frame
 * is a pure function of the text — the same bytes for every socket. What is skipped:
 * - a socket that negotiated an extension (permessage-deflate): its frames are compressed per
 *   socket, and while one is being compressed ws queues later sends; a frame written past that
 *   queue would overtake it. Such a socket always gets `ws.send`.
 * - everything, when ws's internals are not what this expects (`detect` finds out once, per server).
 * - a text sent once: the frame is only built when the same text is sent a second time in a row, so
 *   a lone relay or reply costs one string comparison more than `ws.send`, not an extra copy.
 * Without an extension, ws's sender never queues a text send (only a Blob's, and nothing here sends
 * Blobs), so a frame written straight to `sendFrame` leaves in order with the socket's other frames.
 *
 * Frames numbered per recipient (resume's `seq`) differ per socket and share nothing: only equal
 * texts share a frame, and the comparison is by value, so two texts can only share bytes if they
 * are the same bytes.
 */
export class SharedFrames {
  /** The text written last through `send`, and its frame once it was sent a second time. */
  private text: string | undefined;
  private frame: FrameList | undefined;

  private constructor(private readonly framer: Framer) {}

  /**
   * The shared path, if this build of ws frames as expected (checked on two sample texts);
   * undefined: every socket uses `ws.send`. `sender` is ws's Sender class (tests pass others).
   */
  static detect(sender: unknown = (wsModule as unknown as { Sender?: unknown }).Sender): SharedFrames | undefined {
    const frame = (sender as Partial<Framer> | undefined)?.frame;
    if (typeof frame !== 'function') return undefined;
    const framer: Framer = { frame: (data, options) => frame.call(sender, data, options) };
    try {
      for (const [length, header] of PROBES) {
        const data = Buffer.alloc(length, 0x78);
        const list = framer.frame(data, TEXT);
        if (!Array.isArray(list) || list.length !== 2 || list[1] !== data || !Buffer.isBuffer(list[0]) || !list[0].equals(Buffer.from(header))) return undefined;
      }
    } catch {
      return undefined;
    }
    return new SharedFrames(framer);
  }

  /** Whether `ws` may take shared frames: no extension negotiated, and the sender ws 8 has. */
  fits(ws: WebSocket): boolean {
    const w = ws as unknown as SocketInternals;
    const ext = w._extensions;
    return typeof w._sender?.sendFrame === 'function' && typeof ext === 'object' && ext !== null && Object.keys(ext).length === 0;
  }

  /** Sends `text` on an open socket that `fits`. */
  send(ws: WebSocket, text: string): void {
    if (text !== this.text) {
      this.text = text;
      this.frame = undefined;
      ws.send(text);
      return;
    }
    const frame = (this.frame ??= this.framer.frame(Buffer.from(text), TEXT));
    (ws as unknown as { _sender: Sending })._sender.sendFrame(frame);
  }
}

/** A frame as ws writes it: its header, then its payload. */
type FrameList = (Buffer | string)[];

interface FrameOptions {
  fin: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
  rsv1: boolean;
}

/** ws's `Sender.frame` (lib/sender.js). */
interface Framer {
  frame(data: Buffer, options: FrameOptions): FrameList;
}

interface Sending {
  sendFrame(list: FrameList, cb?: () => void): void;
}

/** The parts of a ws socket the shared path reads (lib/websocket.js). */
interface SocketInternals {
  _extensions?: unknown;
  _sender?: Partial<Sending> | null;
}

/** A final, unmasked, uncompressed text frame. */
const TEXT: FrameOptions = { fin: true, opcode: 0x01, mask: false, readOnly: false, rsv1: false };

/** Payload lengths and the headers RFC 6455 gives them: a 7-bit length, and a 16-bit one. */
const PROBES: [number, number[]][] = [
  [5, [0x81, 5]],
  [300, [0x81, 126, 0x01, 0x2c]],
];
