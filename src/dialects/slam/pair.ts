import type { ErrorCode } from '../../core/errors.js';
import type { Session } from '../../core/session.js';
import type { HubEvent } from '../../core/types.js';
import type { Conn, Dialect, DialectContext, DialectHandler } from '../dialect.js';
import { NOT_A_FRAME, RELAY_TYPES, clip, closeReasonFor, has, hubErrorText, isFrame, rejectText, sendError, slamCloseCodes, type Frame } from './common.js';
import { frameTypeOf } from '../../core/json-span.js';

const NAME = 'slam-pair';
const NAMESPACE = 'slam-pair';

/**
 * A pairing room is only a mailbox for the sockets on one path: it exists while they do (removed
 * as soon as it is empty) and never idles out, since its sockets' liveness is the heartbeat's job.
 * It is not counted against the client's address (rooms.maxPerAddress): every socket on a catch-all
 * path sits in one until its first frame, so it is a by-product of connecting, and bounded by the
 * connection caps already.
 */
const PAIR_ROOM_DEFAULTS = { emptyTtlMs: 0, idleTtlMs: 0 };

/**
 * The Android app's frames: a bare `offer`/`answer`/`ice_candidate` that addresses nobody (no
 * slam `target_id`, no call-style `target_username`).
 */
export function detectPair(msg: unknown): boolean {
  return isFrame(msg) && RELAY_TYPES.has(msg.type) && !has(msg, 'target_id') && !has(msg, 'target_username');
}

type Refusal = { code: string; message: string };

/**
 * The VI-SLAM Android app never registers and never addresses anyone: every socket on a path is
 * paired with the others on that path. A line joins the path's room at connect time, because the
 * answering side stays silent until the offer reaches it. On catch-all paths this line also serves
 * every socket that has not spoken yet; when first-frame detection hands the socket to another
 * dialect, `closed()` is called and it leaves without a word. A class rather than a closure per
 * handler, like the native dialect's: such idle sockets are the most numerous, and each then costs
 * one object, not a set of function objects.
 */
class PairLine implements DialectHandler {
  private readonly session: Session;
  private readonly room: string;
  private inRoom = false;
  private committed = false;
  /** Set when this socket is leaving (closed, or handed to another dialect): nothing more is sent. */
  private leaving = false;
  /** The latest attempt to join the path's room: frames wait for it. */
  private entering: Promise<Refusal | undefined>;

  constructor(
    private readonly conn: Conn,
    private readonly ctx: DialectContext,
  ) {
    const info = conn.info;
    this.room = info.path;
    this.session = ctx.hub.openSession({ dialect: NAME, namespace: NAMESPACE, link: conn.link, sink: (ev) => this.sink(ev), log: conn.log, identity: info.identity, address: info.remoteAddress });
    conn.attach(this.session);
    this.entering = this.enter();
  }

  private error(code: string, message: string): void {
    sendError(this.conn, this.ctx, NAME, code, message);
  }

  /** Joins the path's room; on failure the socket keeps working and the reason is returned. */
  private async enter(): Promise<Refusal | undefined> {
    const room = this.room;
    try {
      await this.ctx.hub.join(this.session, room, { defaults: PAIR_ROOM_DEFAULTS, create: true, counted: false });
      this.inRoom = true;
      return undefined;
    } catch (err) {
      const e = hubErrorText(err, this.conn, { room });
      if (!this.session.closed) this.conn.log.warn({ room, code: e.code }, 'could not join the pairing room');
      return e.code === 'room-full' ? { code: e.code, message: `Pairing path is full: ${clip(room)}` } : e;
    }
  }

  private sink(ev: HubEvent): void {
    if (this.leaving) return;
    if (ev.type === 'broadcast') {
      // The partner's frame, exactly as it sent it: its own text, byte for byte.
      if (ev.raw !== undefined) return this.conn.sendRaw(frameTypeOf(ev.raw), ev.raw);
      if (isFrame(ev.data)) this.conn.send(ev.data);
      return;
    }
    if (ev.type === 'peer-left' && ev.peerId === this.session.id) {
      this.inRoom = false;
      this.conn.log.info({ room: this.room, reason: ev.reason }, 'removed from the pairing room; closing');
      this.conn.link.close(closeReasonFor(ev.reason));
      void this.ctx.hub.closeSession(this.session, ev.reason);
    }
    // Joins and leaves are not told: the app reports any frame type it does not know as an error.
  }

  /** A forward the hub refused, or could not hand on once Redis answered, in the seed's words. */
  private undelivered(err: unknown): void {
    const e = hubErrorText(err, this.conn, { room: this.room });
    this.error(e.code, e.message);
  }

  private async forward(m: Frame, text: string): Promise<void> {
    if (this.leaving || this.session.closed) return;
    if (!this.inRoom) {
      // A seat may have freed since connect (the room was full): try again before giving up.
      const failed = await (this.entering = this.enter());
      if (failed) return this.error(failed.code, failed.message);
    }
    try {
      this.ctx.hub.broadcast(this.session, this.room, m, false, text)?.catch((err: unknown) => this.undelivered(err));
    } catch (err) {
      this.undelivered(err);
    }
  }

  message(msg: unknown, text: string): void | Promise<void> {
    if (!this.committed) {
      // First-frame detection re-labelled the connection, which dropped its session: put it back
      // so heartbeats and logs still see it.
      this.committed = true;
      this.conn.attach(this.session);
    }
    if (!isFrame(msg)) return this.error('invalid-message', NOT_A_FRAME);
    if (!RELAY_TYPES.has(msg.type)) return this.error('unknown-type', `Unknown message type: ${clip(msg.type)}`);
    const field = msg.type === 'ice_candidate' ? 'candidate' : 'sdp';
    if (!has(msg, field)) return this.error('invalid-message', `Missing ${field}`);
    return this.entering.then(() => this.forward(msg, text));
  }

  reject(code: ErrorCode, detail: string): void {
    this.error(code, rejectText(code, detail));
  }

  async closed(): Promise<void> {
    this.leaving = true;
    await this.entering;
    await this.ctx.hub.closeSession(this.session, 'disconnect');
  }
}

/** The Android pairing variant of slam: bare negotiation frames forwarded, unchanged, to the path's other sockets. */
export const slamPairDialect: Dialect = {
  name: NAME,
  types: RELAY_TYPES,
  closeCodes: slamCloseCodes,
  accept: (conn: Conn, ctx: DialectContext): DialectHandler => new PairLine(conn, ctx),
  detect: detectPair,
  // A catch-all socket that has not spoken yet is a pairing socket: it must receive its partner's frames.
  catchAllFallback: true,
};