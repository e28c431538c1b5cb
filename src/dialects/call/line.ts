import { displayName } from '../../core/access.js';
import { identityPolicyFor } from '../identity.js';
import type { Timer } from '../../core/clock.js';
import { isHubError } from '../../core/errors.js';
import type { HubEvent, PeerInfo, RoomOptions } from '../../core/types.js';
import type { Conn, DialectContext, DialectHandler } from '../dialect.js';
import {
  TEXT,
  dynamicText,
  isEnvelope,
  isObject,
  parseRegister,
  stringField,
  type EndReason,
  type Envelope,
  type Obj,
  type RejectReason,
  type RelayType,
} from './frames.js';

/** Rooms and aliases of this dialect never mix with another's. */
export const NAMESPACE = 'call';
/** Every registered user is a member of this one hub room: it is the online list. */
export const LOBBY = 'lobby';
/** The directory must not expire for lack of relays, whatever the server-wide idle TTL says. */
const LOBBY_DEFAULTS: RoomOptions = { idleTtlMs: 0 };

export interface CallOptions {
  /** How long a call may ring unanswered before both sides are told it timed out. */
  ringTimeoutMs: number;
  /** Longest accepted `user_id`, in characters. */
  maxUserIdLength: number;
}

/**
 * Hub aliases this dialect claims. `user:` and `id:` make usernames and user ids unique;
 * `busy:` marks a user as ringing or in a call. The caller's session claims `busy:` for both
 * parties, so one atomic claim decides a race, and a caller's disconnect frees both at once.
 */
const alias = {
  user: (username: string) => `user:${username}`,
  id: (userId: string) => `id:${userId}`,
  busy: (username: string) => `busy:${username}`,
};

interface Registration {
  username: string;
  userId: string;
}

/** This connection's side of a call. `holds` are the busy aliases it must release at the end. */
interface Call {
  peerId: string;
  username: string;
  role: 'caller' | 'callee';
  phase: 'ringing' | 'active';
  timer: Timer | undefined;
  holds: string[];
}

function userIdOf(meta: unknown): string {
  return isObject(meta) && typeof meta.user_id === 'string' ? meta.user_id : '';
}

/** One connection of the call dialect: its registration and its call, nothing shared. */
export function acceptCall(conn: Conn, ctx: DialectContext, opts: CallOptions): DialectHandler {
  const { hub } = ctx;
  const session = hub.openSession({ dialect: 'call', namespace: NAMESPACE, link: conn.link, sink: onEvent, log: conn.log, identity: conn.info.identity, address: conn.info.remoteAddress });
  conn.attach(session);
  /** A token binds the registration: `user_id` is its `sub`, `username` its `name` (or `sub`). */
  const identity = conn.info.identity;
  /** What a second registration of a username or user_id meets: refused (default) or takes over. */
  const policy = identityPolicyFor(ctx.config.identity, 'call') === 'replace' ? 'replace' : 'reject';
  let me: Registration | undefined;
  let call: Call | undefined;
  /** Who my last ring or call was with: hanging up on them again is harmless, not an error. */
  let lastPartner: string | undefined;
  let gone = false;

  function error(code: string, message: string): void {
    ctx.countError('call', code);
    conn.send({ type: 'error', message });
  }

  function internal(err: unknown): void {
    if (gone) return;
    // The shared store (Redis) is unreachable: not a server fault, and the client may retry.
    if (isHubError(err) && err.code === 'unavailable') return error(err.code, TEXT.unavailable);
    conn.log.error({ err }, 'call request failed');
    error('internal-error', TEXT.internal);
  }

  // ---- directory ------------------------------------------------------------------------------

  function sendOnlineUsers(): void {
    if (!session.rooms.has(LOBBY)) return;
    const users = hub.members(session, LOBBY).map((p: PeerInfo) => ({ username: p.name ?? '', user_id: userIdOf(p.meta) }));
    conn.send({ type: 'online_users', users, timestamp: new Date(ctx.clock.now()).toISOString() });
  }

  /** Claims an alias this session does not hold yet; false when another session holds it. */
  async function claim(a: string, fresh: string[], how: 'reject' | 'replace' = 'reject'): Promise<boolean> {
    if (session.aliases.has(a)) return true;
    try {
      await hub.claimAlias(session, a, how);
    } catch (err) {
      if (isHubError(err) && err.code === 'identity-taken') return false;
      throw err;
    }
    fresh.push(a);
    return true;
  }

  function release(aliases: readonly string[]): void {
    for (const a of aliases) hub.releaseAlias(session, a).catch((err: unknown) => conn.log.warn({ err, alias: a }, 'alias release failed'));
  }

  async function register(m: Obj): Promise<void> {
    const want = parseRegister(m, ctx.config.limits.maxNameLength, opts.maxUserIdLength);
    if (typeof want === 'string') return error('invalid-message', want);
    if (identity && (want.username !== displayName(identity) || want.userId !== identity.subject)) return error('forbidden', TEXT.notYourToken);
    if (me && me.username === want.username && me.userId === want.userId) {
      conn.send({ type: 'registered', username: me.username, user_id: me.userId });
      return sendOnlineUsers();
    }
    if (call) return error('invalid-message', TEXT.renameInCall);
    const fresh: string[] = [];
    try {
      if (!(await claim(alias.user(want.username), fresh, policy))) return error('identity-taken', TEXT.taken);
      if (!(await claim(alias.id(want.userId), fresh, policy))) {
        release(fresh);
        return error('identity-taken', TEXT.idTaken);
      }
      // A ring may have reached the old name while we waited.
      if (call) {
        release(fresh);
        return error('invalid-message', TEXT.renameInCall);
      }
      await switchRegistration(want);
    } catch (err) {
      release(fresh);
      if (isHubError(err) && err.code === 'room-full') return error('room-full', TEXT.lobbyFull);
      if (isHubError(err) && err.code === 'forbidden') return error('forbidden', TEXT.forbidden);
      if (isHubError(err) && err.code === 'rate-limited') return error('rate-limited', TEXT.rateLimited);
      return internal(err);
    }
    conn.send({ type: 'registered', username: want.username, user_id: want.userId });
    sendOnlineUsers();
  }

  /** Leaves the online list under the old name (freeing it), then joins under the new one. */
  async function switchRegistration(want: Registration): Promise<void> {
    const old = me;
    if (old) {
      me = undefined;
      if (session.rooms.has(LOBBY)) await hub.leave(session, LOBBY, 'left');
      const stale = [alias.user(old.username), alias.id(old.userId)].filter((a) => a !== alias.user(want.username) && a !== alias.id(want.userId));
      release(stale);
    }
    // The lobby is the directory, not a room the client names: token room patterns do not apply.
    await hub.join(session, LOBBY, { name: want.username, meta: { user_id: want.userId }, defaults: LOBBY_DEFAULTS, create: true, internal: true });
    me = want;
  }

  /** The hub removed us from the online list (kicked, or the room expired): we are unregistered. */
  function removedFromLobby(): void {
    if (call) partnerGone(call);
    if (me) release([alias.user(me.username), alias.id(me.userId)]);
    me = undefined;
    error('not-in-room', TEXT.removed);
  }

  // ---- calls ----------------------------------------------------------------------------------

  /** Sends an envelope to another call session in the lobby; false when it is not there. */
  function tell(peerId: string, env: Envelope): boolean {
    try {
      hub.signal(session, peerId, env, LOBBY)?.catch((err: unknown) => undelivered(peerId, env, err));
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
  function undelivered(peerId: string, env: Envelope, err: unknown): void {
    if (gone) return;
    if (!isHubError(err)) return internal(err);
    const c = call;
    if (c && c.peerId === peerId && (env.k === 'ring' || env.k === 'accept')) finish(c);
    error(err.code, TEXT.unavailable);
  }

  function finish(c: Call): void {
    c.timer?.cancel();
    c.timer = undefined;
    if (call === c) call = undefined;
    lastPartner = c.username;
    release(c.holds);
  }

  function rejected(c: Call, reason: RejectReason): void {
    finish(c);
    conn.send({ type: 'call_rejected', rejecter_username: c.username, reason });
  }

  function ended(c: Call, reason: EndReason): void {
    finish(c);
    conn.send({ type: 'call_ended', from_username: c.username, reason });
  }

  /** A ringing caller hears `call_rejected` (its UI waits for accepted/rejected); anyone else `call_ended`. */
  function partnerGone(c: Call): void {
    if (c.role === 'caller' && c.phase === 'ringing') rejected(c, 'offline');
    else ended(c, 'disconnected');
  }

  function ringTimedOut(c: Call, self: Registration): void {
    if (call !== c || c.phase !== 'ringing') return;
    tell(c.peerId, { k: 'end', from: self.username, reason: 'timeout' });
    rejected(c, 'timeout');
  }

  async function callRequest(m: Obj, self: Registration): Promise<void> {
    const target = stringField(m, 'target_username');
    if (typeof target !== 'string') return error('invalid-message', target.error);
    if (target === self.username) return error('invalid-message', TEXT.callSelf);
    if (call) return error('busy', TEXT.inCall);
    const peerId = await hub.resolveAlias(NAMESPACE, alias.user(target));
    if (peerId === undefined) return error('peer-not-found', TEXT.notFound);
    const holds: string[] = [];
    // Someone ringing us holds our busy alias: then we are the busy one.
    if (!(await claim(alias.busy(self.username), holds))) return error('busy', TEXT.inCall);
    if (!(await claim(alias.busy(target), holds))) {
      release(holds);
      conn.send({ type: 'call_rejected', rejecter_username: target, reason: 'busy' });
      return;
    }
    // While we waited we may have been removed from the online list, or rung.
    if (gone || call || me !== self) {
      release(holds);
      if (!gone) error(call ? 'busy' : 'not-registered', call ? TEXT.inCall : TEXT.notRegistered);
      return;
    }
    const c: Call = { peerId, username: target, role: 'caller', phase: 'ringing', timer: undefined, holds };
    call = c;
    if (!tell(peerId, { k: 'ring', from: self.username, userId: self.userId })) {
      finish(c);
      return error('peer-not-found', TEXT.notFound);
    }
    if (call === c) c.timer = ctx.clock.setTimeout(() => ringTimedOut(c, self), opts.ringTimeoutMs);
  }

  /** `call_accepted` / `call_rejected` from the callee, naming the caller. */
  function answerCall(m: Obj, self: Registration, accept: boolean): void {
    const caller = stringField(m, 'caller_username');
    if (typeof caller !== 'string') return error('invalid-message', caller.error);
    const c = call;
    if (!c || c.role !== 'callee' || c.phase !== 'ringing' || c.username !== caller) return error('call-state', dynamicText.noIncoming(caller));
    if (accept) {
      c.phase = 'active';
      if (!tell(c.peerId, { k: 'accept', from: self.username })) {
        finish(c);
        error('peer-not-found', TEXT.notFound);
      }
      return;
    }
    finish(c);
    tell(c.peerId, { k: 'reject', from: self.username });
  }

  function endCall(m: Obj, self: Registration): void {
    const target = stringField(m, 'target_username');
    if (typeof target !== 'string') return error('invalid-message', target.error);
    const c = call;
    // Both sides hanging up at once, or a client that answers call_ended with call_ended.
    if (!c && target === lastPartner) return void conn.log.debug({ target }, 'call already ended');
    if (!c || c.username !== target) return error('call-state', dynamicText.noCall(target));
    finish(c);
    tell(c.peerId, { k: 'end', from: self.username, reason: 'hangup' });
  }

  /** offer / answer / ice_candidate: to any registered user, whether or not a call is up. */
  async function relay(type: RelayType, m: Obj, self: Registration): Promise<void> {
    const target = stringField(m, 'target_username');
    if (typeof target !== 'string') return error('invalid-message', target.error);
    if (m.data === undefined) return error('invalid-message', dynamicText.dataRequired(type));
    const peerId = await hub.resolveAlias(NAMESPACE, alias.user(target));
    if (peerId === undefined) return error('peer-not-found', TEXT.notFound);
    const env: Envelope = { k: 'relay', type, from: self.username, data: m.data };
    try {
      hub.signal(session, peerId, env, LOBBY)?.catch((err: unknown) => undelivered(peerId, env, err));
    } catch (err) {
      // The target's side failed to render it (the hub logged why); otherwise the target is not online.
      if (isHubError(err) && err.code === 'internal-error') return error(err.code, err.message);
      if (isHubError(err)) return error('peer-not-found', TEXT.notFound);
      throw err;
    }
  }

  // ---- hub events -----------------------------------------------------------------------------

  function onEnvelope(from: string, env: unknown): void {
    if (!isEnvelope(env)) return void conn.log.warn({ from }, 'unexpected signal in the call namespace');
    const c = call && call.peerId === from ? call : undefined;
    const ringingCaller = c?.role === 'caller' && c.phase === 'ringing' ? c : undefined;
    switch (env.k) {
      case 'relay':
        return conn.send({ type: env.type, from_username: env.from, data: env.data });
      case 'ring':
        return onRing(from, env);
      case 'busy':
        if (ringingCaller) rejected(ringingCaller, 'busy');
        return;
      case 'accept':
        if (!ringingCaller || !me) {
          // The ring is over (timed out or cancelled): the accepter must not think it is in a call.
          if (me) tell(from, { k: 'end', from: me.username, reason: 'timeout' });
          return;
        }
        ringingCaller.timer?.cancel();
        ringingCaller.timer = undefined;
        ringingCaller.phase = 'active';
        return conn.send({ type: 'call_accepted', accepter_username: ringingCaller.username });
      case 'reject':
        if (ringingCaller) rejected(ringingCaller, 'rejected');
        return;
      case 'end':
        if (c) ended(c, env.reason);
        return;
    }
  }

  function onRing(from: string, env: Extract<Envelope, { k: 'ring' }>): void {
    if (call || !me) {
      // Only reachable if the caller's busy claim and our state disagree: still answer, never hang.
      tell(from, { k: 'busy', from: me?.username ?? '' });
      return;
    }
    call = { peerId: from, username: env.from, role: 'callee', phase: 'ringing', timer: undefined, holds: [] };
    conn.send({ type: 'incoming_call', caller_username: env.from, caller_id: env.userId });
  }

  function onEvent(ev: HubEvent): void {
    if (gone) return;
    switch (ev.type) {
      case 'peer-joined':
        if (ev.room === LOBBY) sendOnlineUsers();
        return;
      case 'peer-left':
        if (ev.room !== LOBBY) return;
        if (ev.peerId === session.id) return removedFromLobby();
        if (call && call.peerId === ev.peerId) partnerGone(call);
        return sendOnlineUsers();
      case 'signal':
        return onEnvelope(ev.from, ev.data);
      default:
        return;
    }
  }

  // ---- frames ---------------------------------------------------------------------------------

  function dispatch(m: Obj & { type: string }): void | Promise<void> {
    if (m.type === 'register') return register(m);
    const known = m.type === 'call_request' || m.type === 'call_accepted' || m.type === 'call_rejected' || m.type === 'call_ended';
    const relayType = m.type === 'offer' || m.type === 'answer' || m.type === 'ice_candidate' ? (m.type as RelayType) : undefined;
    if (!known && !relayType) return error('unknown-type', dynamicText.unknownType(m.type));
    if (!me) return error('not-registered', TEXT.notRegistered);
    if (relayType) return relay(relayType, m, me);
    switch (m.type) {
      case 'call_request':
        return callRequest(m, me);
      case 'call_accepted':
        return answerCall(m, me, true);
      case 'call_rejected':
        return answerCall(m, me, false);
      default:
        return endCall(m, me);
    }
  }

  return {
    message(msg: unknown): void | Promise<void> {
      if (!isObject(msg) || typeof msg.type !== 'string') return error('invalid-message', TEXT.notObject);
      try {
        const r = dispatch(msg as Obj & { type: string });
        return r?.catch(internal);
      } catch (err) {
        internal(err);
      }
    },
    reject(code, detail) {
      error(code, code === 'invalid-json' ? TEXT.invalidJson : code === 'rate-limited' ? TEXT.rateLimited : detail);
    },
    closed() {
      gone = true;
      if (call) call.timer?.cancel();
      call = undefined;
      // Closing the session releases every alias (our busy holds too) and tells the lobby we left.
      return hub.closeSession(session, 'disconnect');
    },
  };
}
