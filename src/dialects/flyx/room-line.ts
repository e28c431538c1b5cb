import { HubError, type ErrorCode } from '../../core/errors.js';
import type { Session } from '../../core/session.js';
import type { HubEvent, LeaveReason, PeerInfo } from '../../core/types.js';
import type { Conn, DialectContext, DialectHandler } from '../dialect.js';
import { roomIdOf } from './ids.js';
import { enterRoom } from './rooms.js';

/** What tells the two flyx shapes apart where their connections are alike. */
export interface FlyxShape {
  /** The dialect's name (sessions, metrics). */
  name: string;
  namespace: string;
  /** The route's `:param` that names the room. */
  param: string;
  /** The role of the first member (one per room), and of everyone after it. */
  leader: string;
  follower: string;
}

/**
 * What a connection of either flyx shape does the same way: it joins the room its path names on
 * connect (the first member takes the leader role), frames that arrive meanwhile wait for that join,
 * none is handled once its session is over, and a member the hub removes is closed. A class rather
 * than a closure per handler, as the native dialect's NativeLine: an idle connection costs its
 * fields, not a dozen functions. Each shape says the rest in its own words (readme-line.ts, cli-line.ts).
 */
export abstract class FlyxRoomLine implements DialectHandler {
  protected readonly room: string | undefined;
  protected readonly session: Session;
  /** Set once the join made on connect succeeded. */
  protected role: string | undefined;
  /** The join made on connect: false when it was refused (the connection is closed). */
  private readonly ready: Promise<boolean>;

  constructor(
    protected readonly conn: Conn,
    protected readonly ctx: DialectContext,
    private readonly shape: FlyxShape,
  ) {
    this.room = roomIdOf(conn.info, shape.param);
    this.session = ctx.hub.openSession({ dialect: shape.name, namespace: shape.namespace, link: conn.link, sink: (ev) => this.render(ev), log: conn.log, identity: conn.info.identity, address: conn.info.remoteAddress });
    conn.attach(this.session);
    // Started before a subclass's own fields are set (they are defined when super() returns): what
    // enter() calls before its first await (invalidRoom) may use only this class's fields.
    this.ready = this.enter();
  }

  /** The path names no room: say so in the shape's words (the connection is closed after). */
  protected abstract invalidRoom(): void;
  /** Joined as `this.role`; `peers` are the other members. */
  protected abstract joined(peers: PeerInfo[]): void;
  /** The join was refused (`code`: the hub's, else internal-error): say so; returns the close reason. */
  protected abstract refused(code: string, err: unknown): string;
  protected abstract render(ev: HubEvent): void;
  /** One inbound frame, parsed (`text`: as the client sent it, for forwarding its bytes). */
  protected abstract handle(msg: unknown, text: string): void | Promise<void>;
  abstract reject(code: ErrorCode, detail: string): void;

  private async enter(): Promise<boolean> {
    const { conn, room, session, shape } = this;
    if (room === undefined) {
      this.invalidRoom();
      conn.close(1008, 'invalid room id');
      return false;
    }
    try {
      const got = await enterRoom(this.ctx.hub, session, room, shape.leader, shape.follower);
      this.role = got.role;
      this.joined(got.peers);
      return true;
    } catch (err) {
      // The room vanished or filled up between the handshake and the join.
      if (!session.closed) {
        const code = err instanceof HubError ? err.code : 'internal-error';
        conn.close(code === 'shutting-down' ? 1001 : 1008, this.refused(code, err));
        void this.ctx.hub.closeSession(session, 'disconnect');
      }
      return false;
    }
  }

  /** The hub took this member out of its room (idle expiry, or a kick). */
  protected closeRemoved(reason: LeaveReason): void {
    if (reason === 'expired') this.conn.close(4004, 'room expired');
    else this.conn.close(4003, 'removed from the room');
  }

  message(msg: unknown, text: string): void | Promise<void> {
    if (this.session.closed) return;
    if (this.role === undefined) return this.ready.then((ok) => (ok && !this.session.closed ? this.handle(msg, text) : undefined));
    return this.handle(msg, text);
  }

  closed(): Promise<void> {
    return this.ctx.hub.closeSession(this.session, 'disconnect');
  }
}
