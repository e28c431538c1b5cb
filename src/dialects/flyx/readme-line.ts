import { HubError, type ErrorCode } from '../../core/errors.js';
import { frameTypeOf, memberText } from '../../core/json-span.js';
import type { HubEvent, LeaveReason, PeerInfo } from '../../core/types.js';
import type { Conn, DialectContext, DialectHandler } from '../dialect.js';
import { FlyxRoomLine, type FlyxShape } from './room-line.js';
import { findRole, README_NAMESPACE, roleOf } from './rooms.js';

export const NAME = 'flyx';
export const SENDER = 'sender';
export const RECEIVER = 'receiver';
export const INVALID_ID = 'Invalid room id: room ids are 6 letters or digits';
const RELAYED = new Set(['offer', 'answer', 'ice_candidate']);
/** Why a join made on connect failed, in the original server's words (its handshake refusals'). */
const JOIN_REFUSALS: Record<string, string> = { 'room-not-found': 'No room found', 'room-full': 'Room is full', 'shutting-down': 'Server is shutting down', 'rate-limited': 'Too many requests, slow down' };

/** What one client asks the server to pass on: the frame's type and its `data`, minus forged ids. */
interface Relay {
  type: string;
  data: Record<string, unknown>;
}

type Parsed = { kind: 'relay'; relay: Relay; to: string | undefined; forged: boolean } | { kind: 'disconnect' } | { kind: 'join' } | { kind: 'error'; code: string; message: string };

function bad(code: string, message: string): Parsed {
  return { kind: 'error', code, message };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates one inbound frame of the README shape. */
function parseFrame(msg: unknown): Parsed {
  if (!isObject(msg) || typeof msg.type !== 'string') return bad('invalid-message', 'Message must be a JSON object with a string "type"');
  const type = msg.type;
  if (type === 'disconnect') return { kind: 'disconnect' };
  if (type === 'join') return { kind: 'join' };
  if (!RELAYED.has(type)) return bad('unknown-type', `Unknown message type: ${type.slice(0, 64)}`);
  if (!isObject(msg.data)) return bad('invalid-message', `${type} requires a "data" object`);
  const data = { ...msg.data };
  delete data.client_id;
  const field = type === 'ice_candidate' ? 'candidate' : 'sdp';
  const value = data[field];
  if (!(typeof value === 'string' && value.length > 0) && !isObject(value)) {
    return bad('invalid-message', `${type} requires data.${field} (a non-empty string or an object)`);
  }
  if (data.to !== undefined && (typeof data.to !== 'string' || data.to.length === 0)) return bad('invalid-message', 'data.to must be a client_id string');
  return { kind: 'relay', relay: { type, data }, to: data.to as string | undefined, forged: 'client_id' in msg.data };
}

/** A relay as it travelled through the hub; anything else is not ours and is dropped. */
function asRelay(data: unknown): Relay | undefined {
  if (!isObject(data) || typeof data.type !== 'string' || !RELAYED.has(data.type) || !isObject(data.data)) return undefined;
  return { type: data.type, data: data.data };
}

/** The README shape's `accept`: one FlyxLine per connection. */
export function acceptReadme(conn: Conn, ctx: DialectContext): DialectHandler {
  return new FlyxLine(conn, ctx);
}

const SHAPE: FlyxShape = { name: NAME, namespace: README_NAMESPACE, param: 'room', leader: SENDER, follower: RECEIVER };

/**
 * One connection of the README shape (`/ws/:room`): the room's sender (its first member) or one of
 * its receivers. Errors are `error` frames.
 */
export class FlyxLine extends FlyxRoomLine {
  /** Who this receiver's sender is, so that only its departure is announced (receivers never hear of each other). */
  private senderId: string | undefined;

  constructor(conn: Conn, ctx: DialectContext) {
    super(conn, ctx, SHAPE);
  }

  protected invalidRoom(): void {
    this.error('invalid-message', INVALID_ID);
  }

  protected joined(peers: PeerInfo[]): void {
    this.joinFrame(this.session.id, this.role!);
    if (this.role === SENDER) for (const p of peers) if (roleOf(p) === RECEIVER) this.joinFrame(p.peerId, RECEIVER);
    this.senderId = findRole(peers, SENDER)?.peerId;
  }

  protected refused(code: string, err: unknown): string {
    if (!(err instanceof HubError)) this.conn.log.error({ err }, 'join failed');
    this.error(code, JOIN_REFUSALS[code] ?? 'Could not join the room');
    return (JOIN_REFUSALS[code] ?? 'join failed').toLowerCase();
  }

  private error(code: string, message: string): void {
    this.ctx.countError(NAME, code);
    this.conn.send({ type: 'error', data: { message } });
  }

  /** A relay the hub could not hand on once Redis answered (the peer's node is gone, or Redis is). */
  private undelivered(err: unknown): void {
    if (err instanceof HubError) return this.error(err.code, err.message);
    this.conn.log.error({ err }, 'relay failed');
    this.error('internal-error', 'Internal server error');
  }

  private joinFrame(peerId: string, role: string): void {
    this.conn.send({ type: 'join', data: { client_id: peerId, role } });
  }

  protected render(ev: HubEvent): void {
    switch (ev.type) {
      case 'peer-joined':
        return this.onJoined(ev.peer);
      case 'peer-left':
        return ev.peerId === this.session.id ? this.onRemoved(ev.reason) : this.onLeft(ev.peerId);
      case 'signal':
      case 'broadcast': {
        // Built by the sender's side around the client's own bytes (relayText): it goes out as it is.
        if (ev.raw !== undefined) return this.conn.sendRaw(frameTypeOf(ev.raw), ev.raw);
        const relay = asRelay(ev.data);
        if (!relay) return this.conn.log.warn({ from: ev.from }, 'dropped a relay that is not a flyx frame');
        // The originator is the hub's word, never the client's: data.client_id cannot be forged.
        this.conn.send({ type: relay.type, data: { ...relay.data, client_id: ev.from } });
        return;
      }
    }
  }

  private onJoined(peer: PeerInfo): void {
    const r = roleOf(peer);
    if (this.role === SENDER && r === RECEIVER) this.joinFrame(peer.peerId, RECEIVER);
    else if (this.role === RECEIVER && r === SENDER) this.senderId = peer.peerId;
  }

  private onLeft(peerId: string): void {
    // The sender's other side is every receiver; a receiver's other side is only the sender.
    if (this.role !== SENDER && peerId !== this.senderId) return;
    if (peerId === this.senderId) this.senderId = undefined;
    this.conn.send({ type: 'disconnect', data: { client_id: peerId } });
  }

  private onRemoved(reason: LeaveReason): void {
    this.error(reason === 'expired' ? 'room-expired' : 'kicked', reason === 'expired' ? 'Room expired' : 'You were removed from the room');
    this.closeRemoved(reason);
  }

  reject(code: ErrorCode, detail: string): void {
    this.error(code, code === 'invalid-json' ? 'Malformed JSON' : code === 'rate-limited' ? 'Too many messages, slow down' : detail);
  }

  protected handle(msg: unknown, text: string): void | Promise<void> {
    const p = parseFrame(msg);
    switch (p.kind) {
      case 'error':
        return this.error(p.code, p.message);
      case 'join':
        // Joining happens on connect; asking again just repeats who you are.
        return this.joinFrame(this.session.id, this.role!);
      case 'disconnect':
        return this.ctx.hub.closeSession(this.session, 'left').then(() => this.conn.close(1000, 'disconnected'));
      case 'relay':
        try {
          return this.route(p.relay, p.to, p.forged ? undefined : relayText(p.relay.type, text, this.session.id));
        } catch (err) {
          if (err instanceof HubError) return this.error(err.code, err.code === 'not-in-room' ? 'You are no longer in the room' : err.message);
          throw err;
        }
    }
  }

  /** `raw`: the frame the receiver gets, built once around the client's bytes (undefined: rendered from `relay` there). */
  private route(relay: Relay, to: string | undefined, raw: string | undefined): void {
    if (this.role === SENDER) return this.fromSender(relay, to, raw);
    const { hub } = this.ctx;
    const sender = findRole(hub.members(this.session, this.room!), SENDER);
    if (!sender) return this.error('peer-not-found', 'No sender in this room');
    if (to !== undefined && to !== sender.peerId) return this.error('forbidden', 'Receivers can only signal the sender');
    hub.signal(this.session, sender.peerId, relay, this.room, raw)?.catch((err: unknown) => this.undelivered(err));
  }

  private fromSender(relay: Relay, to: string | undefined, raw: string | undefined): void {
    const { hub } = this.ctx;
    const room = this.room!;
    if (to === undefined) {
      if (hub.members(this.session, room).length < 2) return this.error('peer-not-found', 'No receivers in this room');
      return void hub.broadcast(this.session, room, relay, false, raw)?.catch((err: unknown) => this.undelivered(err));
    }
    try {
      hub.signal(this.session, to, relay, room, raw)?.catch((err: unknown) => this.undelivered(err));
    } catch (err) {
      if (err instanceof HubError && err.code === 'peer-not-found') return this.error('peer-not-found', `No receiver ${to.slice(0, 64)} in this room`);
      throw err;
    }
  }
}

/**
 * The relayed frame as the receiver gets it, built around the client's own `data` text with the
 * server's `client_id` as its last member: only for a `data` without a client_id of its own (which
 * is rebuilt without it instead). `type` is one of RELAYED.
 */
function relayText(type: string, text: string, from: string): string | undefined {
  const data = memberText(text, 'data');
  if (data === undefined) return undefined;
  return `{"type":"${type}","data":${data.slice(0, data.lastIndexOf('}'))},"client_id":${JSON.stringify(from)}}}`;
}

