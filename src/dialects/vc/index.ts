import { displayName } from '../../core/access.js';
import { identityPolicyFor } from '../identity.js';
import { HubError } from '../../core/errors.js';
import type { HubEvent } from '../../core/types.js';
import { type Conn, type Dialect, type DialectContext, type DialectHandler, type OutFrame, seedCloseCodes } from '../dialect.js';
import { VC_ERRORS, checkEnvelope, serverOnlyError, text, toVcPeer, unknownTypeError, type VcError, type VcFrame, type VcServerFrame } from './wire.js';

const NAME = 'vc';
/** vc rooms never meet other dialects' rooms. */
const NAMESPACE = 'vc';
/** Longest room name, as in the native protocol. */
const MAX_ROOM_LENGTH = 128;

/**
 * vc-server's protocol at `/ws` (desktop vc-client): one room per connection, rooms made by the
 * first join and gone when empty, any frame with `to` relayed whole with a server-set `from`.
 * See docs/dialects/vc.md.
 */
export const vcDialect: Dialect = {
  name: NAME,
  types: new Set(['join', 'leave', 'pong', 'offer', 'answer', 'ice', 'broadcast']),
  // timeout stays 1001 (going away), as the original closed silent peers.
  closeCodes: seedCloseCodes({ replaced: [1008, 'replaced'], expired: [1000, 'room expired'] }),
  paths: () => ['/ws'],
  // vc names were never unique; peers are addressed by server-made peer ids, so duplicates are harmless.
  identity: { default: 'allow', supports: ['reject', 'replace', 'allow'] },

  accept(conn: Conn, ctx: DialectContext): DialectHandler {
    const { hub, config, clock } = ctx;
    const session = hub.openSession({ dialect: NAME, namespace: NAMESPACE, link: conn.link, sink: render, log: conn.log, identity: conn.info.identity, address: conn.info.remoteAddress });
    conn.attach(session);
    /** The one room this connection is in (vc has no multi-room). */
    let myRoom: string | undefined;
    const identity = conn.info.identity;
    /** Duplicate identities: a token's subject, or (without a token) the join name. Default: allowed. */
    const policy = identityPolicyFor(config.identity, NAME);

    /** Every frame the server originates goes through here (relays do not): its type is one of VC_SERVER_TYPES. */
    function say(frame: VcServerFrame): void {
      conn.send(frame);
    }

    function error(e: VcError, extra: Record<string, unknown> = {}): void {
      ctx.countError(NAME, e.metric);
      say({ type: 'error', error: e.wire, ...extra });
    }

    /**
     * Hub refusals in vc's words. `peer-not-found` and `not-in-room` are vc's own; the ones the
     * original could not meet (room-full, shutting-down, room-quota) keep the core's name, which is
     * vc's style; room-quota adds the limit as `detail`.
     */
    function fail(err: unknown, extra: Record<string, unknown> = {}): void {
      if (err instanceof HubError && err.code === 'room-quota') extra = { ...extra, detail: `at most ${config.rooms.maxPerAddress} open rooms created from one address` };
      if (err instanceof HubError) return error({ wire: err.code, metric: err.code }, extra);
      conn.log.error({ err }, 'vc request failed');
      error({ wire: 'internal-error', metric: 'internal-error' });
    }

    function render(ev: HubEvent): void {
      switch (ev.type) {
        case 'peer-joined':
          return say({ type: 'peer-joined', peer: toVcPeer(ev.peer) });
        case 'peer-left':
          if (ev.peerId === session.id) return removed(ev.room, ev.reason);
          return say({ type: 'peer-left', peer_id: ev.peerId, reason: ev.reason });
        case 'signal':
        case 'broadcast':
          return relayed(ev.data, ev.from);
      }
    }

    /** The hub took us out of the room (idle expiry, kick): the client hears it as a `left`. */
    function removed(room: string, reason: string): void {
      if (room !== myRoom) return;
      myRoom = undefined;
      say({ type: 'left', room, reason });
    }

    /** A relayed frame is the sender's frame, whole; `from` is always the hub's word for the sender. */
    function relayed(data: unknown, from: string): void {
      if (typeof data !== 'object' || data === null) return;
      conn.send({ ...(data as OutFrame), from });
    }

    async function join(m: VcFrame): Promise<void> {
      const room = text(m.room);
      if (!room) return error(VC_ERRORS.joinRoom);
      // Room names are keys in the shared store: bounded like the native protocol's.
      if (room.length > MAX_ROOM_LENGTH) return error(VC_ERRORS.badRoom, { detail: `room longer than ${MAX_ROOM_LENGTH} characters` });
      // A token's name is the name: a client cannot present itself as someone else.
      const name = (identity ? displayName(identity) : text(m.name)).slice(0, config.limits.maxNameLength);
      if (room === myRoom) return rejoin(room);
      if (!(await holdIdentity(name))) return;
      if (myRoom !== undefined) {
        const old = myRoom;
        myRoom = undefined;
        await hub.leave(session, old, 'switched-room').catch((err: unknown) => conn.log.debug({ err, room: old }, 'leaving the old room failed'));
      }
      try {
        // vc rooms are made by the first join and vanish when the last member goes, whatever the
        // server-wide requireCreate and empty-room grace say.
        const r = await hub.join(session, room, { name, create: true, defaults: { emptyTtlMs: 0 } });
        myRoom = room;
        say({ type: 'joined', room, peers: r.peers.map(toVcPeer) });
      } catch (err) {
        fail(err);
      }
    }

    /**
     * Under `reject` or `replace`, the identity is a hub alias: a token's subject, else the join
     * name (an empty name is anonymous). False when refused (the client has been told).
     */
    async function holdIdentity(name: string): Promise<boolean> {
      if (policy === 'allow') return true;
      const alias = identity ? `sub:${identity.subject}` : name ? `name:${name}` : undefined;
      try {
        if (alias !== undefined) await hub.claimAlias(session, alias, policy);
        // A renamed client gives its previous name back.
        for (const a of [...session.aliases]) if (a !== alias) await hub.releaseAlias(session, a);
        return true;
      } catch (err) {
        fail(err);
        return false;
      }
    }

    /** Joining the room one is in answers with the roster again and changes nothing. */
    function rejoin(room: string): void {
      try {
        const peers = hub.members(session, room).filter((p) => p.peerId !== session.id);
        say({ type: 'joined', room, peers: peers.map(toVcPeer) });
      } catch (err) {
        fail(err);
      }
    }

    async function leave(): Promise<void> {
      if (myRoom === undefined) return error(VC_ERRORS.notInRoom);
      const room = myRoom;
      myRoom = undefined;
      try {
        await hub.leave(session, room, 'left');
        say({ type: 'left', room });
      } catch (err) {
        fail(err);
      }
    }

    function relay(m: VcFrame): void {
      const forged = serverOnlyError(m.type);
      if (forged) return error(forged);
      const to = typeof m.to === 'string' ? m.to.trim() : '';
      if (!to) return error(VC_ERRORS.badTo);
      try {
        // Only within the shared room: the original relayed to any peer on the server.
        hub.signal(session, to, { ...m, from: session.id }, myRoom)?.catch((err: unknown) => fail(err, { to }));
      } catch (err) {
        fail(err, { to });
      }
    }

    function broadcast(m: VcFrame): void {
      if (myRoom === undefined) return error(VC_ERRORS.notInRoom);
      try {
        hub.broadcast(session, myRoom, { ...m, from: session.id }, true)?.catch((err: unknown) => fail(err));
      } catch (err) {
        fail(err);
      }
    }

    say({ type: 'welcome', peer_id: session.id });

    return {
      message(msg: unknown): void | Promise<void> {
        const checked = checkEnvelope(msg);
        if (!checked.ok) return error(checked.error);
        const f = checked.frame;
        switch (f.type) {
          case 'pong':
            // Liveness is refreshed by the connection layer on every frame; nothing to answer.
            return;
          case 'join':
            return join(f);
          case 'leave':
            return leave();
        }
        // join, leave and pong were handled above even with a `to`, as in the original.
        if ('to' in f) return relay(f);
        if (f.type === 'broadcast') return broadcast(f);
        return error(unknownTypeError(f.type));
      },
      reject(code, detail) {
        // Over the rate limit: the core's code, which is vc's style (as for room-full).
        if (code === 'rate-limited') return error({ wire: code, metric: code });
        // vc clients know one word for a frame the server cannot read: `invalid-json`. A binary frame
        // (which dropped the original's connection) and an oversized one get it too; `detail` says which.
        error({ wire: VC_ERRORS.invalidJson.wire, metric: code }, { detail });
      },
      closed() {
        return hub.closeSession(session, 'disconnect');
      },
      heartbeat() {
        say({ type: 'ping', ts: Math.floor(clock.now() / 1000) });
      },
    };
  },
};
