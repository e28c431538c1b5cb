import { frameTypeOf, memberText } from '../../core/json-span.js';
import { createHash } from 'node:crypto';
import { isHubError, type ErrorCode } from '../../core/errors.js';
import type { DirectOutcome } from '../../core/backplane.js';
import type { Timer } from '../../core/clock.js';
import type { Session } from '../../core/session.js';
import type { HubEvent } from '../../core/types.js';
import type { Conn, DialectContext, DialectHandler } from '../dialect.js';
import type { MailExpiry } from './expiry.js';
import { NAMESPACE } from './settings.js';
import { OPEN, QUEUED, RELAYED, TEXT, dynamicText, errorFrame, idTakenFrame, isObject, relayText, validId } from './wire.js';

/** What every PeerJS connection of one server shares. */
export interface PeerjsShared {
  key: string;
  maxIdLength: number;
  aliveTimeoutMs: number;
  expiry: MailExpiry;
}

/**
 * One PeerJS connection: `?key=&id=&token=` registers the id (a hub alias, cluster-wide, owned by
 * the token — or, with authentication on, by the token's subject), then relays go to whoever holds
 * their `dst`, anywhere, or wait in its mailbox. A class rather than a closure per handler: an idle
 * connection costs one object.
 */
export class PeerjsLine implements DialectHandler {
  private session: Session | undefined;
  private readonly id: string = '';
  /** Set while the id is being claimed: frames wait for it (false: refused, the socket is closing). */
  private ready: Promise<boolean> | undefined;
  /** Relays that arrive before OPEN and the mailbox are written wait here, in order. */
  private early: string[] | undefined = [];
  private lastFrame: number;
  private alive: Timer | undefined;
  private gone = false;

  constructor(
    private readonly conn: Conn,
    private readonly ctx: DialectContext,
    private readonly v: PeerjsShared,
  ) {
    this.lastFrame = ctx.clock.now();
    const q = conn.info.query;
    const id = q.get('id');
    const token = q.get('token');
    const key = q.get('key');
    const identity = conn.info.identity;
    const refusal = !id || !token || !key ? (['missing-parameters', TEXT.missing] as const)
      : key !== v.key ? (['invalid-key', TEXT.invalidKey] as const)
      : !validId(id, v.maxIdLength) ? (['invalid-id', dynamicText.badId(v.maxIdLength)] as const)
      : identity && identity.subject !== id ? (['forbidden', TEXT.notYourId] as const)
      : undefined;
    if (refusal || !id || !token) {
      const [code, msg] = refusal ?? ['missing-parameters', TEXT.missing];
      this.refuse(code, msg);
      return;
    }
    this.id = id;
    this.session = ctx.hub.openSession({ dialect: 'peerjs', namespace: NAMESPACE, link: conn.link, sink: (ev) => this.onEvent(ev), log: conn.log, identity, address: conn.info.remoteAddress });
    conn.attach(this.session);
    // The id belongs to whoever knows its token (with a verified identity: to that subject), kept only as a hash.
    this.ready = this.register(ownerOf(identity ? `sub:${identity.subject}` : `token:${token}`));
  }

  /** An ERROR the client aborts on, then the close. */
  private refuse(code: string, msg: string): void {
    this.gone = true;
    this.ctx.countError('peerjs', code);
    this.conn.send(errorFrame(msg));
    this.conn.link.close('policy');
  }

  /**
   * Claims the id. The same owner takes it over from an older socket (closed as `replaced`) and
   * hears OPEN; another owner hears ID-TAKEN. Then what waited in the mailbox, then what arrived
   * meanwhile.
   */
  private async register(owner: string): Promise<boolean> {
    const { hub } = this.ctx;
    const s = this.session!;
    try {
      await hub.claimAlias(s, this.id, 'replace', owner);
    } catch (err) {
      this.ready = undefined;
      if (s.closed || this.gone) return false;
      if (isHubError(err) && err.code === 'identity-taken') {
        this.gone = true;
        this.ctx.countError('peerjs', 'id-taken');
        this.conn.send(idTakenFrame());
        this.conn.link.close('policy');
        return false;
      }
      if (!isHubError(err) || err.code !== 'unavailable') this.conn.log.error({ err }, 'id claim failed');
      this.refuse(isHubError(err) ? err.code : 'internal-error', isHubError(err) && err.code === 'unavailable' ? TEXT.unavailable : TEXT.internal);
      return false;
    }
    this.ready = undefined;
    if (s.closed || this.gone) return false;
    this.conn.sendRaw('OPEN', OPEN);
    let mail: string[] = [];
    try {
      mail = await hub.takeMail(s, this.id);
    } catch (err) {
      this.conn.log.warn({ err: err instanceof Error ? err.message : err }, 'mailbox not taken (shared store unreachable); its senders will hear EXPIRE');
    }
    const early = this.early ?? [];
    this.early = undefined;
    if (!s.closed) for (const text of [...mail, ...early]) this.conn.sendRaw(frameTypeOf(text), text);
    this.armAlive(this.v.aliveTimeoutMs);
    return true;
  }

  /** Only addressed deliveries reach a PeerJS session (it is in no room). */
  private onEvent(ev: HubEvent): void {
    if (ev.type !== 'signal' || ev.room !== '' || ev.raw === undefined || this.gone) return;
    if (this.early) this.early.push(ev.raw);
    else this.conn.sendRaw(frameTypeOf(ev.raw), ev.raw);
  }

  // ---- liveness ---------------------------------------------------------------------------------

  /** One timer per connection, re-armed for what is left when it fires early: no timer work per frame. */
  private armAlive(ms: number): void {
    this.alive = this.ctx.clock.setTimeout(() => this.checkAlive(), ms);
  }

  private checkAlive(): void {
    this.alive = undefined;
    if (this.gone) return;
    const silent = this.ctx.clock.now() - this.lastFrame;
    if (silent < this.v.aliveTimeoutMs) return this.armAlive(this.v.aliveTimeoutMs - silent);
    this.conn.log.info({ silentMs: silent }, 'peerjs client silent past peerjs.aliveTimeoutMs; closing');
    this.gone = true;
    this.conn.link.close('timeout');
    if (this.session) void this.ctx.hub.closeSession(this.session, 'timeout');
  }

  // ---- frames -----------------------------------------------------------------------------------

  message(msg: unknown, text: string): void | Promise<void> {
    this.lastFrame = this.ctx.clock.now();
    const waiting = this.ready;
    return waiting ? waiting.then((ok) => (ok ? this.handle(msg, text) : undefined)) : this.handle(msg, text);
  }

  private handle(msg: unknown, text: string): void {
    if (this.gone || !this.session) return;
    if (!isObject(msg) || typeof msg.type !== 'string') return this.violation('invalid-message', TEXT.notObject);
    const type = msg.type;
    if (type === 'HEARTBEAT') return;
    if (!RELAYED.has(type)) {
      // Ignored, as `peer` does (counted by type "other" in switchboard_frames_in_total).
      this.conn.log.debug({ type: type.slice(0, 64) }, 'unknown PeerJS message type ignored');
      return;
    }
    const dst = msg.dst;
    if (dst === undefined && type === 'LEAVE') {
      // `peer` forgets the sender; we also close its socket, which a client sending this is done with.
      this.gone = true;
      this.conn.log.info({}, 'LEAVE without dst: removing the client');
      this.conn.close(1000, 'left');
      void this.ctx.hub.closeSession(this.session, 'left');
      return;
    }
    if (typeof dst !== 'string' || dst === '') return this.violation('invalid-message', dynamicText.noDst(type));
    if (dst.length > this.v.maxIdLength) return this.violation('invalid-message', dynamicText.longDst(type, this.v.maxIdLength));
    this.relay(type, dst, relayText(type, this.id, dst, memberText(text, 'payload')));
  }

  /**
   * To whoever holds `dst`, anywhere. Not connected: OFFER/ANSWER/CANDIDATE wait in its mailbox
   * (EXPIRE to us if it does not come in time), LEAVE/EXPIRE are dropped, as in `peer`.
   */
  private relay(type: string, dst: string, text: string): void {
    const s = this.session!;
    const { expiry } = this.v;
    const queued = QUEUED.has(type);
    const box = queued ? expiry.mailbox(this.id, dst) : undefined;
    const settle = (out: DirectOutcome): void => {
      // Not kept (a full mailbox, or a sender waiting on too many ids already): dropped, and EXPIREd all the same.
      const dropped = out === 'full' || (out === 'absent' && queued);
      if (out === 'queued' || dropped) expiry.waiting(s, this.id, dst, dropped, box === undefined);
      if (dropped) this.ctx.countError('peerjs', 'mailbox-full');
    };
    const failed = (err: unknown): void => {
      // The store is unreachable: nothing could be handed on. The sender hears EXPIRE for it, once.
      if (!isHubError(err)) this.conn.log.error({ err }, 'relay failed');
      this.ctx.countError('peerjs', isHubError(err) ? err.code : 'internal-error');
      if (queued) expiry.waiting(s, this.id, dst, true, box === undefined);
    };
    let out: DirectOutcome | Promise<DirectOutcome>;
    try {
      out = this.ctx.hub.direct(s, dst, text, box);
    } catch (err) {
      return failed(err);
    }
    if (typeof out === 'string') settle(out);
    else out.then(settle, failed);
  }

  /** Garbage a real client never sends: ERROR in words (the client aborts on it), then the close. */
  private violation(code: string, msg: string): void {
    this.refuse(code, msg);
  }

  /** Refused before parsing: a burst over the rate limit is dropped silently (a CANDIDATE burst must not abort the Peer); the rest is garbage. */
  reject(code: ErrorCode, detail: string): void {
    this.lastFrame = this.ctx.clock.now();
    if (this.gone) return;
    if (code === 'rate-limited') {
      this.ctx.countError('peerjs', code);
      this.conn.log.debug({}, 'frame over the rate limit dropped');
      return;
    }
    this.violation(code, `Invalid message: ${detail.charAt(0).toLowerCase()}${detail.slice(1)}`);
  }

  closed(): void | Promise<void> {
    this.gone = true;
    this.alive?.cancel();
    this.alive = undefined;
    this.early = undefined;
    if (this.session) return this.ctx.hub.closeSession(this.session, 'disconnect');
  }
}

function ownerOf(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}
