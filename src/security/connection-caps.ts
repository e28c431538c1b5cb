import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Admission, UpgradeInfo } from '../core/handshake.js';

export interface ConnectionCapsOptions {
  /** WebSocket connections on this node (handshakes in admission included). */
  maxPerNode: number;
  /** Per client address; 0: unlimited. */
  maxPerIp: number;
}

/**
 * Connection counting for the handshake gates. A handshake that passes takes a slot, held by its
 * TCP socket: the slot is freed when that socket closes, whether a later gate refused it, the
 * client gave up during admission, or the WebSocket ended. No path can leak a slot.
 */
/** The address whose slot a socket holds (present while held). */
const SLOT = Symbol('switchboard.slot');
type Holder = Socket & { [SLOT]?: string };

export class ConnectionCaps {
  total = 0;
  readonly perIp = new Map<string, number>();
  /** The 'close' listener of every admitted socket: one function, `this` is the socket. */
  private readonly release: (this: Holder) => void;

  constructor(readonly opts: ConnectionCapsOptions) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the listener's own `this` is the socket
    const caps = this;
    this.release = function (this: Holder) {
      const ip = this[SLOT];
      if (ip === undefined) return;
      this[SLOT] = undefined;
      caps.total--;
      const n = (caps.perIp.get(ip) ?? 1) - 1;
      if (n <= 0) caps.perIp.delete(ip);
      else caps.perIp.set(ip, n);
    };
  }

  admit(req: IncomingMessage, info: UpgradeInfo): Admission {
    const ip = info.remoteAddress;
    // Gone already: its 'close' has fired, so a slot taken now would never be freed.
    if (req.socket.destroyed) return { ok: false, status: 400, body: { error: 'connection closed' } };
    if (this.total >= this.opts.maxPerNode) {
      return { ok: false, status: 503, body: { error: 'server is at its connection limit; try again later or another node' } };
    }
    const mine = this.perIp.get(ip) ?? 0;
    if (this.opts.maxPerIp > 0 && mine >= this.opts.maxPerIp) {
      return { ok: false, status: 429, body: { error: 'too many connections from your address' } };
    }
    this.total++;
    this.perIp.set(ip, mine + 1);
    const socket = req.socket as Holder;
    socket[SLOT] = ip;
    socket.on('close', this.release);
    return { ok: true };
  }
}
