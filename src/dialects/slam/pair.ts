import type { HubEvent } from '../../core/types.js';
import type { Conn, Dialect, DialectContext, DialectHandler } from '../dialect.js';
import { NOT_A_FRAME, RELAY_TYPES, clip, closeReasonFor, has, hubErrorText, isFrame, rejectText, sendError, slamCloseCodes, type Frame } from './common.js';

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

/**
 * The VI-SLAM Android app never registers and never addresses anyone: every socket on a path is
 * paired with the others on that path. The handler joins the path's room at connect time, because
 * the answering side stays silent until the offer reaches it. On catch-all paths this handler also
 * serves every socket that has not spoken yet; when first-frame detection hands the socket to
 * another dialect, `closed()` is called and it leaves without a word.
 */
function acceptPair(conn: Conn, ctx: DialectContext): DialectHandler {
  const { hub } = ctx;
  const room = conn.info.path;
  const session = hub.openSession({ dialect: NAME, namespace: NAMESPACE, link: conn.link, sink, log: conn.log, identity: conn.info.identity, address: conn.info.remoteAddress });
  conn.attach(session);

  let inRoom = false;
  let committed = false;
  /** Set when this socket is leaving (closed, or handed to another dialect): nothing more is sent. */
  let leaving = false;
  let entering: Promise<{ code: string; message: string } | undefined> = enter();

  const error = (code: string, message: string) => sendError(conn, ctx, NAME, code, message);

  /** Joins the path's room; on failure the socket keeps working and the reason is returned. */
  async function enter(): Promise<{ code: string; message: string } | undefined> {
    try {
      await hub.join(session, room, { defaults: PAIR_ROOM_DEFAULTS, create: true, counted: false });
      inRoom = true;
      return undefined;
    } catch (err) {
      const e = hubErrorText(err, conn, { room });
      if (!session.closed) conn.log.warn({ room, code: e.code }, 'could not join the pairing room');
      return e.code === 'room-full' ? { code: e.code, message: `Pairing path is full: ${clip(room)}` } : e;
    }
  }

  function sink(ev: HubEvent): void {
    if (leaving) return;
    if (ev.type === 'broadcast') {
      // The partner's frame object, exactly as it sent it.
      if (isFrame(ev.data)) conn.send(ev.data);
      return;
    }
    if (ev.type === 'peer-left' && ev.peerId === session.id) {
      inRoom = false;
      conn.log.info({ room, reason: ev.reason }, 'removed from the pairing room; closing');
      conn.link.close(closeReasonFor(ev.reason));
      void hub.closeSession(session, ev.reason);
    }
    // Joins and leaves are not told: the app reports any frame type it does not know as an error.
  }

  /** A forward the hub could not hand on once Redis answered, in the seed's words. */
  function undelivered(err: unknown): void {
    const e = hubErrorText(err, conn, { room });
    error(e.code, e.message);
  }

  async function forward(m: Frame): Promise<void> {
    if (leaving || session.closed) return;
    if (!inRoom) {
      // A seat may have freed since connect (the room was full): try again before giving up.
      entering = enter();
      const failed = await entering;
      if (failed) return error(failed.code, failed.message);
    }
    try {
      hub.broadcast(session, room, m, false)?.catch(undelivered);
    } catch (err) {
      const e = hubErrorText(err, conn, { room });
      error(e.code, e.message);
    }
  }

  return {
    message(msg: unknown): void | Promise<void> {
      if (!committed) {
        // First-frame detection re-labelled the connection, which dropped its session: put it back
        // so heartbeats and logs still see it.
        committed = true;
        conn.attach(session);
      }
      if (!isFrame(msg)) return error('invalid-message', NOT_A_FRAME);
      if (!RELAY_TYPES.has(msg.type)) return error('unknown-type', `Unknown message type: ${clip(msg.type)}`);
      const field = msg.type === 'ice_candidate' ? 'candidate' : 'sdp';
      if (!has(msg, field)) return error('invalid-message', `Missing ${field}`);
      return entering.then(() => forward(msg));
    },
    reject(code, detail) {
      error(code, rejectText(code, detail));
    },
    async closed() {
      leaving = true;
      await entering;
      await hub.closeSession(session, 'disconnect');
    },
  };
}

/** The Android pairing variant of slam: bare negotiation frames forwarded, unchanged, to the path's other sockets. */
export const slamPairDialect: Dialect = {
  name: NAME,
  types: RELAY_TYPES,
  closeCodes: slamCloseCodes,
  accept: acceptPair,
  detect: detectPair,
  // A catch-all socket that has not spoken yet is a pairing socket: it must receive its partner's frames.
  catchAllFallback: true,
};
