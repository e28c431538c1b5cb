import { displayName } from '../../core/access.js';
import { isHubError, type ErrorCode } from '../../core/errors.js';
import { frameTypeOf, memberText } from '../../core/json-span.js';
import type { Session } from '../../core/session.js';
import type { HubEvent, PeerInfo } from '../../core/types.js';
import type { Conn, DialectContext, DialectHandler } from '../dialect.js';
import { TEXT, dynamicText, isEnvelope, isObject, parseRegister, stringField, type EndReason, type Envelope, type Obj, type RejectReason, type RelayType } from './frames.js';
import { LOBBY, LOBBY_DEFAULTS, NAMESPACE, alias, userIdOf, type Call, type CallSettings, type Registration } from './lobby.js';

/**
 * One connection of the call dialect: its registration and its call, nothing shared. A class
 * rather than a closure per handler, like the native dialect's: an idle connection then costs one
 * object, not a dozen function objects.
 */
export class CallLine implements DialectHandler {
  private readonly session: Session;
  private me: Registration | undefined;
  private call: Call | undefined;
  /** Who my last ring or call was with: hanging up on them again is harmless, not an error. */
  private lastPartner: string | undefined;
  private gone = false;

  constructor(
    private readonly conn: Conn,
    private readonly ctx: DialectContext,
    private readonly settings: CallSettings,
  ) {
    const info = conn.info;
    this.session = ctx.hub.openSession({ dialect: 'call', namespace: NAMESPACE, link: conn.link, sink: (ev) => this.onEvent(ev), log: conn.log, identity: info.identity, address: info.remoteAddress });
    conn.attach(this.session);
  }

  private error(code: string, message: string): void {
    this.ctx.countError('call', code);
    this.conn.send({ type: 'error', message });
  }

  private internal(err: unknown): void {
    if (this.gone) return;
    // The shared store (Redis) is unreachable: not a server fault, and the client may retry.
    if (isHubError(err) && err.code === 'unavailable') return this.error(err.code, TEXT.unavailable);
    this.conn.log.error({ err }, 'call request failed');
    this.error('internal-error', TEXT.internal);
  }

  // ---- directory ------------------------------------------------------------------------------

  private sendOnlineUsers(): void {
    const session = this.session;
    if (!session.rooms.has(LOBBY)) return;
    const users = this.ctx.hub.members(session, LOBBY).map((p: PeerInfo) => ({ username: p.name ?? '', user_id: userIdOf(p.meta) }));
    this.conn.send({ type: 'online_users', users, timestamp: new Date(this.ctx.clock.now()).toISOString() });
  }

  /** Claims an alias this session does not hold yet; false when another session holds it. */
  private async claim(a: string, fresh: string[], how: 'reject' | 'replace' = 'reject'): Promise<boolean> {
    if (this.session.aliases.has(a)) return true;
    try {
      await this.ctx.hub.claimAlias(this.session, a, how);
    } catch (err) {
      if (isHubError(err) && err.code === 'identity-taken') return false;
      throw err;
    }
    fresh.push(a);
    return true;
  }

  private release(aliases: readonly string[]): void {
    for (const a of aliases) this.ctx.hub.releaseAlias(this.session, a).catch((err: unknown) => this.conn.log.warn({ err, alias: a }, 'alias release failed'));
  }

  /** A token binds the registration: `user_id` is its `sub`, `username` its `name` (or `sub`). */
  private async register(m: Obj): Promise<void> {
    const want = parseRegister(m, this.ctx.config.limits.maxNameLength, this.settings.maxUserIdLength);
    if (typeof want === 'string') return this.error('invalid-message', want);
    const identity = this.conn.info.identity;
    if (identity && (want.username !== displayName(identity) || want.userId !== identity.subject)) return this.error('forbidden', TEXT.notYourToken);
    const me = this.me;
    if (me && me.username === want.username && me.userId === want.userId) {
      this.conn.send({ type: 'registered', username: me.username, user_id: me.userId });
      return this.sendOnlineUsers();
    }
    if (this.call) return this.error('invalid-message', TEXT.renameInCall);
    const fresh: string[] = [];
    const policy = this.settings.policy;
    try {
      if (!(await this.claim(alias.user(want.username), fresh, policy))) return this.error('identity-taken', TEXT.taken);
      if (!(await this.claim(alias.id(want.userId), fresh, policy))) {
        this.release(fresh);
        return this.error('identity-taken', TEXT.idTaken);
      }
      // A ring may have reached the old name while we waited.
      if (this.call) {
        this.release(fresh);
        return this.error('invalid-message', TEXT.renameInCall);
      }
      await this.switchRegistration(want);
    } catch (err) {
      this.release(fresh);
      if (isHubError(err) && err.code === 'room-full') return this.error('room-full', TEXT.lobbyFull);
      if (isHubError(err) && err.code === 'forbidden') return this.error('forbidden', TEXT.forbidden);
      if (isHubError(err) && err.code === 'rate-limited') return this.error('rate-limited', TEXT.rateLimited);
      return this.internal(err);
    }
    this.conn.send({ type: 'registered', username: want.username, user_id: want.userId });
    this.sendOnlineUsers();
  }

  /** Leaves the online list under the old name (freeing it), then joins under the new one. */
  private async switchRegistration(want: Registration): Promise<void> {
    const { hub } = this.ctx;
    const session = this.session;
    const old = this.me;
    if (old) {
      this.me = undefined;
      if (session.rooms.has(LOBBY)) await hub.leave(session, LOBBY, 'left');
      const stale = [alias.user(old.username), alias.id(old.userId)].filter((a) => a !== alias.user(want.username) && a !== alias.id(want.userId));
      this.release(stale);
    }
    // The lobby is the directory, not a room the client names: token room patterns do not apply.
    await hub.join(session, LOBBY, { name: want.username, meta: { user_id: want.userId }, defaults: LOBBY_DEFAULTS, create: true, internal: true });
    this.me = want;
  }

  /** The hub removed us from the online list (kicked, or the room expired): we are unregistered. */
  private removedFromLobby(): void {
    if (this.call) this.partnerGone(this.call);
    const me = this.me;
    if (me) this.release([alias.user(me.username), alias.id(me.userId)]);
    this.me = undefined;
    this.error('not-in-room', TEXT.removed);
  }

  // ---- calls ----------------------------------------------------------------------------------

  /** Sends an envelope to another call session in the lobby; false when it is not there. */
  private tell(peerId: string, env: Envelope): boolean {
    try {
      this.ctx.hub.signal(this.session, peerId, env, LOBBY)?.catch((err: unknown) => this.undelivered(peerId, env, err));
      return true;
    } catch (err) {
      if (isHubError(err)) return false;
      throw err;
    }
  }

  /**
   * An envelope the hub could not hand on once Redis answered (the other side's node is gone, or
   * Redis is): as when it cannot be sent at all, a ring or an accept that did not arrive ends the
   * call on this side, and the client is told.
   */
  private undelivered(peerId: string, env: Envelope, err: unknown): void {
    if (this.gone) return;
    if (!isHubError(err)) return this.internal(err);
    const c = this.call;
    if (c && c.peerId === peerId && (env.k === 'ring' || env.k === 'accept')) this.finish(c);
    this.error(err.code, TEXT.unavailable);
  }

  private finish(c: Call): void {
    c.timer?.cancel();
    c.timer = undefined;
    if (this.call === c) this.call = undefined;
    this.lastPartner = c.username;
    this.release(c.holds);
  }

  private rejected(c: Call, reason: RejectReason): void {
    this.finish(c);
    this.conn.send({ type: 'call_rejected', rejecter_username: c.username, reason });
  }

  private ended(c: Call, reason: EndReason): void {
    this.finish(c);
    this.conn.send({ type: 'call_ended', from_username: c.username, reason });
  }

  /** A ringing caller hears `call_rejected` (its UI waits for accepted/rejected); anyone else `call_ended`. */
  private partnerGone(c: Call): void {
    if (c.role === 'caller' && c.phase === 'ringing') this.rejected(c, 'offline');
    else this.ended(c, 'disconnected');
  }

  private ringTimedOut(c: Call, self: Registration): void {
    if (this.call !== c || c.phase !== 'ringing') return;
    this.tell(c.peerId, { k: 'end', from: self.username, reason: 'timeout' });
    this.rejected(c, 'timeout');
  }

  private async callRequest(m: Obj, self: Registration): Promise<void> {
    const target = stringField(m, 'target_username');
    if (typeof target !== 'string') return this.error('invalid-message', target.error);
    if (target === self.username) return this.error('invalid-message', TEXT.callSelf);
    if (this.call) return this.error('busy', TEXT.inCall);
    const peerId = await this.ctx.hub.resolveAlias(NAMESPACE, alias.user(target));
    if (peerId === undefined) return this.error('peer-not-found', TEXT.notFound);
    const holds: string[] = [];
    // Someone ringing us holds our busy alias: then we are the busy one.
    if (!(await this.claim(alias.busy(self.username), holds))) return this.error('busy', TEXT.inCall);
    if (!(await this.claim(alias.busy(target), holds))) {
      this.release(holds);
      this.conn.send({ type: 'call_rejected', rejecter_username: target, reason: 'busy' });
      return;
    }
    // While we waited we may have been removed from the online list, or rung.
    if (this.gone || this.call || this.me !== self) {
      this.release(holds);
      if (!this.gone) this.error(this.call ? 'busy' : 'not-registered', this.call ? TEXT.inCall : TEXT.notRegistered);
      return;
    }
    const c: Call = { peerId, username: target, role: 'caller', phase: 'ringing', timer: undefined, holds };
    this.call = c;
    if (!this.tell(peerId, { k: 'ring', from: self.username, userId: self.userId })) {
      this.finish(c);
      return this.error('peer-not-found', TEXT.notFound);
    }
    if (this.call === c) c.timer = this.ctx.clock.setTimeout(() => this.ringTimedOut(c, self), this.settings.ringTimeoutMs);
  }

  /** `call_accepted` / `call_rejected` from the callee, naming the caller. */
  private answerCall(m: Obj, self: Registration, accept: boolean): void {
    const caller = stringField(m, 'caller_username');
    if (typeof caller !== 'string') return this.error('invalid-message', caller.error);
    const c = this.call;
    if (!c || c.role !== 'callee' || c.phase !== 'ringing' || c.username !== caller) return this.error('call-state', dynamicText.noIncoming(caller));
    if (accept) {
      c.phase = 'active';
      if (!this.tell(c.peerId, { k: 'accept', from: self.username })) {
        this.finish(c);
        this.error('peer-not-found', TEXT.notFound);
      }
      return;
    }
    this.finish(c);
    this.tell(c.peerId, { k: 'reject', from: self.username });
  }

  private endCall(m: Obj, self: Registration): void {
    const target = stringField(m, 'target_username');
    if (typeof target !== 'string') return this.error('invalid-message', target.error);
    const c = this.call;
    // Both sides hanging up at once, or a client that answers call_ended with call_ended.
    if (!c && target === this.lastPartner) return void this.conn.log.debug({ target }, 'call already ended');
    if (!c || c.username !== target) return this.error('call-state', dynamicText.noCall(target));
    this.finish(c);
    this.tell(c.peerId, { k: 'end', from: self.username, reason: 'hangup' });
  }

  /** offer / answer / ice_candidate: to any registered user, whether or not a call is up. */
  private async relay(type: RelayType, m: Obj, self: Registration, text: string): Promise<void> {
    const target = stringField(m, 'target_username');
    if (typeof target !== 'string') return this.error('invalid-message', target.error);
    if (m.data === undefined) return this.error('invalid-message', dynamicText.dataRequired(type));
    const peerId = await this.ctx.hub.resolveAlias(NAMESPACE, alias.user(target));
    if (peerId === undefined) return this.error('peer-not-found', TEXT.notFound);
    const env: Envelope = { k: 'relay', type, from: self.username, data: m.data };
    try {
      this.ctx.hub.signal(this.session, peerId, env, LOBBY, relayText(type, self.username, text))?.catch((err: unknown) => this.undelivered(peerId, env, err));
    } catch (err) {
      // The target's side failed to render it (the hub logged why); otherwise the target is not online.
      if (isHubError(err) && err.code === 'internal-error') return this.error(err.code, err.message);
      if (isHubError(err)) return this.error('peer-not-found', TEXT.notFound);
      throw err;
    }
  }

  // ---- hub events -----------------------------------------------------------------------------

  private onEvent(ev: HubEvent): void {
    if (this.gone) return;
    switch (ev.type) {
      case 'peer-joined':
        if (ev.room === LOBBY) this.sendOnlineUsers();
        return;
      case 'peer-left':
        if (ev.room !== LOBBY) return;
        if (ev.peerId === this.session.id) return this.removedFromLobby();
        if (this.call && this.call.peerId === ev.peerId) this.partnerGone(this.call);
        return this.sendOnlineUsers();
      case 'signal':
        // A relay arrives rendered by the sender (`raw`, see relay()): it goes out as it is.
        if (ev.raw !== undefined) return this.conn.sendRaw(frameTypeOf(ev.raw), ev.raw);
        return this.onEnvelope(ev.from, ev.data);
      default:
        return;
    }
  }

  private onEnvelope(from: string, env: unknown): void {
    if (!isEnvelope(env)) return void this.conn.log.warn({ from }, 'unexpected signal in the call namespace');
    const c = this.call && this.call.peerId === from ? this.call : undefined;
    const ringingCaller = c?.role === 'caller' && c.phase === 'ringing' ? c : undefined;
    switch (env.k) {
      case 'relay':
        return this.conn.send({ type: env.type, from_username: env.from, data: env.data });
      case 'ring':
        return this.onRing(from, env);
      case 'busy':
        if (ringingCaller) this.rejected(ringingCaller, 'busy');
        return;
      case 'accept':
        if (!ringingCaller || !this.me) {
          // The ring is over (timed out or cancelled): the accepter must not think it is in a call.
          if (this.me) this.tell(from, { k: 'end', from: this.me.username, reason: 'timeout' });
          return;
        }
        ringingCaller.timer?.cancel();
        ringingCaller.timer = undefined;
        ringingCaller.phase = 'active';
        return this.conn.send({ type: 'call_accepted', accepter_username: ringingCaller.username });
      case 'reject':
        if (ringingCaller) this.rejected(ringingCaller, 'rejected');
        return;
      case 'end':
        if (c) this.ended(c, env.reason);
        return;
    }
  }

  private onRing(from: string, env: Extract<Envelope, { k: 'ring' }>): void {
    if (this.call || !this.me) {
      // Only reachable if the caller's busy claim and our state disagree: still answer, never hang.
      this.tell(from, { k: 'busy', from: this.me?.username ?? '' });
      return;
    }
    this.call = { peerId: from, username: env.from, role: 'callee', phase: 'ringing', timer: undefined, holds: [] };
    this.conn.send({ type: 'incoming_call', caller_username: env.from, caller_id: env.userId });
  }

  // ---- the connection -------------------------------------------------------------------------

  message(msg: unknown, text: string): void | Promise<void> {
    if (!isObject(msg) || typeof msg.type !== 'string') return this.error('invalid-message', TEXT.notObject);
    try {
      return this.dispatch(msg as Obj & { type: string }, text)?.catch((err: unknown) => this.internal(err));
    } catch (err) {
      this.internal(err);
    }
  }

  reject(code: ErrorCode, detail: string): void {
    this.error(code, code === 'invalid-json' ? TEXT.invalidJson : code === 'rate-limited' ? TEXT.rateLimited : detail);
  }

  /** Closing the session releases every alias (our busy holds too) and tells the lobby we left. */
  closed(): Promise<void> {
    this.gone = true;
    this.call?.timer?.cancel();
    this.call = undefined;
    return this.ctx.hub.closeSession(this.session, 'disconnect');
  }

  private dispatch(m: Obj & { type: string }, text: string): void | Promise<void> {
    if (m.type === 'register') return this.register(m);
    const known = m.type === 'call_request' || m.type === 'call_accepted' || m.type === 'call_rejected' || m.type === 'call_ended';
    const relayType = m.type === 'offer' || m.type === 'answer' || m.type === 'ice_candidate' ? (m.type as RelayType) : undefined;
    if (!known && !relayType) return this.error('unknown-type', dynamicText.unknownType(m.type));
    const me = this.me;
    if (!me) return this.error('not-registered', TEXT.notRegistered);
    if (relayType) return this.relay(relayType, m, me, text);
    switch (m.type) {
      case 'call_request':
        return this.callRequest(m, me);
      case 'call_accepted':
        return this.answerCall(m, me, true);
      case 'call_rejected':
        return this.answerCall(m, me, false);
      default:
        return this.endCall(m, me);
    }
  }
}

/**
 * The frame a relay arrives as, rendered once by the sender around the client's own `data` text
 * (located with json-span: the value JSON.parse kept), so it is never re-serialised: `type` and
 * `from_username` are the server's. It travels as the hub's `raw` (the call namespace's convention:
 * a whole frame; undefined when `data` cannot be located, and the envelope is rendered instead).
 */
function relayText(type: RelayType, from: string, text: string): string | undefined {
  const data = memberText(text, 'data');
  return data && `{"type":"${type}","from_username":${JSON.stringify(from)},"data":${data}}`;
}

