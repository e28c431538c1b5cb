import { displayName, policyFor, type IdentityRule } from '../../core/access.js';
import { HubError, type ErrorCode } from '../../core/errors.js';
import { frameTypeOf } from '../../core/json-span.js';
import type { Session } from '../../core/session.js';
import type { HubEvent } from '../../core/types.js';
import type { Conn, DialectContext, DialectHandler, OutFrame } from '../dialect.js';
import { VC_ERRORS, checkEnvelope, serverOnlyError, text, toVcPeer, unknownTypeError, type VcError, type VcFrame, type VcServerFrame } from './wire.js';

export const NAME = 'vc';
/** vc rooms never meet other dialects' rooms. */
const NAMESPACE = 'vc';
/** vc names were never unique; peers are addressed by server-made peer ids, so duplicates are harmless. */
export const IDENTITY: IdentityRule = { default: 'allow', supports: ['reject', 'replace', 'allow'] };
/** Longest room name, as in the native protocol. */
const MAX_ROOM_LENGTH = 128;

/**
 * One vc connection: a session in at most one room. A class rather than a closure per handler, as
 * the native dialect's NativeLine: an idle connection costs its fields, not a dozen functions.
 */
export class VcLine implements DialectHandler {
  private readonly session: Session;
  /** The one room this connection is in (vc has no multi-room). */
  private myRoom: string | undefined;

  constructor(
    private readonly conn: Conn,
    private readonly ctx: DialectContext,
  ) {
    this.session = ctx.hub.openSession({ dialect: NAME, namespace: NAMESPACE, link: conn.link, sink: (ev) => this.render(ev), log: conn.log, identity: conn.info.identity, address: conn.info.remoteAddress });
    conn.attach(this.session);
    this.say({ type: 'welcome', peer_id: this.session.id });
  }

  /** Every frame the server originates goes through here (relays do not): its type is one of VC_SERVER_TYPES. */
  private say(frame: VcServerFrame): void {
    this.conn.send(frame);
  }

  private error(e: VcError, extra: Record<string, unknown> = {}): void {
    this.ctx.countError(NAME, e.metric);
    this.say({ type: 'error', error: e.wire, ...extra });
  }

  /**
   * Hub refusals in vc's words. `peer-not-found` and `not-in-room` are vc's own; the ones the
   * original could not meet (room-full, shutting-down, room-quota) keep the core's name, which is
   * vc's style; room-quota adds the limit as `detail`.
   */
  private fail(err: unknown, extra: Record<string, unknown> = {}): void {
    if (err instanceof HubError && err.code === 'room-quota') extra = { ...extra, detail: `at most ${this.ctx.config.rooms.maxPerAddress} open rooms created from one address` };
    if (err instanceof HubError) return this.error({ wire: err.code, metric: err.code }, extra);
    this.conn.log.error({ err }, 'vc request failed');
    this.error({ wire: 'internal-error', metric: 'internal-error' });
  }

  private render(ev: HubEvent): void {
    switch (ev.type) {
      case 'peer-joined':
        return this.say({ type: 'peer-joined', peer: toVcPeer(ev.peer) });
      case 'peer-left':
        if (ev.peerId === this.session.id) return this.removed(ev.room, ev.reason);
        return this.say({ type: 'peer-left', peer_id: ev.peerId, reason: ev.reason });
      case 'signal':
        return ev.raw === undefined ? this.relayed(ev.data, ev.from) : this.conn.sendRaw(frameTypeOf(ev.raw), withFrom(ev.raw, ev.from));
      case 'broadcast': {
        if (ev.raw === undefined) return this.relayed(ev.data, ev.from);
        // One text for every local recipient of the broadcast.
        let text = broadcastTexts.get(ev);
        if (text === undefined) broadcastTexts.set(ev, (text = withFrom(ev.raw, ev.from)));
        return this.conn.sendRaw(frameTypeOf(ev.raw), text);
      }
    }
  }

  /** The hub took us out of the room (idle expiry, kick): the client hears it as a `left`. */
  private removed(room: string, reason: string): void {
    if (room !== this.myRoom) return;
    this.myRoom = undefined;
    this.say({ type: 'left', room, reason });
  }

  /** A relayed frame is the sender's frame, whole; `from` is always the hub's word for the sender. */
  private relayed(data: unknown, from: string): void {
    if (typeof data !== 'object' || data === null) return;
    this.conn.send({ ...(data as OutFrame), from });
  }

  message(msg: unknown, text: string): void | Promise<void> {
    const checked = checkEnvelope(msg);
    if (!checked.ok) return this.error(checked.error);
    const f = checked.frame;
    switch (f.type) {
      case 'pong':
        // Liveness is refreshed by the connection layer on every frame; nothing to answer.
        return;
      case 'join':
        return this.join(f);
      case 'leave':
        return this.leave();
    }
    // join, leave and pong were handled above even with a `to`, as in the original.
    if ('to' in f) return this.relay(f, text);
    if (f.type === 'broadcast') return this.broadcast(f, text);
    return this.error(unknownTypeError(f.type));
  }

  reject(code: ErrorCode, detail: string): void {
    // Over the rate limit: the core's code, which is vc's style (as for room-full).
    if (code === 'rate-limited') return this.error({ wire: code, metric: code });
    // vc clients know one word for a frame the server cannot read: `invalid-json`. A binary frame
    // (which dropped the original's connection) and an oversized one get it too; `detail` says which.
    this.error({ wire: VC_ERRORS.invalidJson.wire, metric: code }, { detail });
  }

  closed(): Promise<void> {
    return this.ctx.hub.closeSession(this.session, 'disconnect');
  }

  heartbeat(): void {
    this.say({ type: 'ping', ts: Math.floor(this.ctx.clock.now() / 1000) });
  }

  private async join(m: VcFrame): Promise<void> {
    const { hub, config } = this.ctx;
    const session = this.session;
    const identity = this.conn.info.identity;
    const room = text(m.room);
    if (!room) return this.error(VC_ERRORS.joinRoom);
    // Room names are keys in the shared store: bounded like the native protocol's.
    if (room.length > MAX_ROOM_LENGTH) return this.error(VC_ERRORS.badRoom, { detail: `room longer than ${MAX_ROOM_LENGTH} characters` });
    // A token's name is the name: a client cannot present itself as someone else.
    const name = (identity ? displayName(identity) : text(m.name)).slice(0, config.limits.maxNameLength);
    if (room === this.myRoom) return this.rejoin(room);
    if (!(await this.holdIdentity(name))) return;
    if (this.myRoom !== undefined) {
      const old = this.myRoom;
      this.myRoom = undefined;
      await hub.leave(session, old, 'switched-room').catch((err: unknown) => this.conn.log.debug({ err, room: old }, 'leaving the old room failed'));
    }
    try {
      // vc rooms are made by the first join and vanish when the last member goes, whatever the
      // server-wide requireCreate and empty-room grace say.
      const r = await hub.join(session, room, { name, create: true, defaults: { emptyTtlMs: 0 } });
      this.myRoom = room;
      this.say({ type: 'joined', room, peers: r.peers.map(toVcPeer) });
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * Duplicate identities: under `reject` or `replace` (default: allowed), the identity is a hub
   * alias: a token's subject, else the join name (an empty name is anonymous). False when refused
   * (the client has been told).
   */
  private async holdIdentity(name: string): Promise<boolean> {
    const policy = policyFor(this.ctx.config.identity, NAME, IDENTITY);
    if (policy === 'allow') return true;
    const { hub } = this.ctx;
    const session = this.session;
    const identity = this.conn.info.identity;
    const alias = identity ? `sub:${identity.subject}` : name ? `name:${name}` : undefined;
    try {
      if (alias !== undefined) await hub.claimAlias(session, alias, policy);
      // A renamed client gives its previous name back.
      for (const a of [...session.aliases]) if (a !== alias) await hub.releaseAlias(session, a);
      return true;
    } catch (err) {
      this.fail(err);
      return false;
    }
  }

  /** Joining the room one is in answers with the roster again and changes nothing. */
  private rejoin(room: string): void {
    try {
      const peers = this.ctx.hub.members(this.session, room).filter((p) => p.peerId !== this.session.id);
      this.say({ type: 'joined', room, peers: peers.map(toVcPeer) });
    } catch (err) {
      this.fail(err);
    }
  }

  private async leave(): Promise<void> {
    if (this.myRoom === undefined) return this.error(VC_ERRORS.notInRoom);
    const room = this.myRoom;
    this.myRoom = undefined;
    try {
      await this.ctx.hub.leave(this.session, room, 'left');
      this.say({ type: 'left', room });
    } catch (err) {
      this.fail(err);
    }
  }

  private relay(m: VcFrame, text: string): void {
    const forged = serverOnlyError(m.type);
    if (forged) return this.error(forged);
    const to = typeof m.to === 'string' ? m.to.trim() : '';
    if (!to) return this.error(VC_ERRORS.badTo);
    try {
      // Only within the shared room: the original relayed to any peer on the server.
      const [data, raw] = this.forwarded(m, text);
      this.ctx.hub.signal(this.session, to, data, this.myRoom, raw)?.catch((err: unknown) => this.fail(err, { to }));
    } catch (err) {
      this.fail(err, { to });
    }
  }

  private broadcast(m: VcFrame, text: string): void {
    if (this.myRoom === undefined) return this.error(VC_ERRORS.notInRoom);
    try {
      const [data, raw] = this.forwarded(m, text);
      this.ctx.hub.broadcast(this.session, this.myRoom, data, true, raw)?.catch((err: unknown) => this.fail(err));
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * What a relay carries: the client's own text (`raw`), which receivers forward with the server's
   * `from` spliced in, never re-serialised. A frame that names a `from` of its own is the one case
   * where the client's bytes cannot go as they are: it is rebuilt with the server's `from`.
   */
  private forwarded(m: VcFrame, text: string): [unknown, string | undefined] {
    return 'from' in m ? [{ ...m, from: this.session.id }, undefined] : [m, text];
  }
}

/** Broadcast texts, built once per event for all its local recipients (events are per delivery). */
const broadcastTexts = new WeakMap<object, string>();

/**
 * The relayed frame: the sender's JSON text with `"from":<sender>` as its last member. The text
 * passed JSON.parse as an object without `from`, so it ends with `}` (then perhaps whitespace) and
 * has at least one member (`type`).
 */
function withFrom(raw: string, from: string): string {
  return `${raw.slice(0, raw.lastIndexOf('}'))},"from":${JSON.stringify(from)}}`;
}

