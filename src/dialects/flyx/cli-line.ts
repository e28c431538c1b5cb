import { HubError, type ErrorCode } from '../../core/errors.js';
import { frameTypeOf, memberText } from '../../core/json-span.js';
import type { HubEvent, PeerInfo } from '../../core/types.js';
import type { Conn, DialectContext, DialectHandler } from '../dialect.js';
import { FlyxRoomLine, type FlyxShape } from './room-line.js';
import { CLI_NAMESPACE, findRole, roleOf } from './rooms.js';

export const NAME = 'flyx-cli';
export const MASTER = 'master';
export const SLAVE = 'slave';

/**
 * The only frames the Flyx CLI survives: it crashes on any other `type`. Every outbound frame goes
 * through `cliFrame`, so nothing else can ever be sent.
 */
export const CLI_FRAME_TYPES: ReadonlySet<string> = new Set(['offer', 'answer', 'icecandidate', 'slavejoined']);

type CliFrame = { type: 'offer' | 'answer'; sdp: string } | { type: 'icecandidate'; candidate: string };

/** A relayable frame, rebuilt from its known fields only; or why it is not one. */
function cliFrame(msg: unknown): CliFrame | { drop: string; code: string } {
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return { code: 'invalid-message', drop: 'not a JSON object' };
  const m = msg as Record<string, unknown>;
  switch (m.type) {
    case 'offer':
    case 'answer':
      if (typeof m.sdp !== 'string' || m.sdp.length === 0) return { code: 'invalid-message', drop: `${m.type} without an sdp string` };
      return { type: m.type, sdp: m.sdp };
    case 'icecandidate':
      // The CLI sends the RTCIceCandidateInit as a JSON *string*; it is passed on untouched.
      if (typeof m.candidate !== 'string' || m.candidate.length === 0) return { code: 'invalid-message', drop: 'icecandidate without a candidate string' };
      return { type: 'icecandidate', candidate: m.candidate };
    default:
      return { code: 'unknown-type', drop: typeof m.type === 'string' ? `unknown type ${m.type.slice(0, 64)}` : 'no string "type"' };
  }
}

function isDrop(f: ReturnType<typeof cliFrame>): f is { drop: string; code: string } {
  return 'drop' in f;
}

/** The CLI shape's `accept`: one FlyxCliLine per connection. */
export function acceptCli(conn: Conn, ctx: DialectContext): DialectHandler {
  return new FlyxCliLine(conn, ctx);
}

const SHAPE: FlyxShape = { name: NAME, namespace: CLI_NAMESPACE, param: 'id', leader: MASTER, follower: SLAVE };

/**
 * One connection of the real CLI's shape (`/api/room/:id`): the room's master (its first member)
 * or one of its slaves. Nothing but CLI_FRAME_TYPES is ever sent: bad input is dropped, not answered.
 */
export class FlyxCliLine extends FlyxRoomLine {
  constructor(conn: Conn, ctx: DialectContext) {
    super(conn, ctx, SHAPE);
  }

  protected invalidRoom(): void {
    this.drop('invalid-message', 'no room id in the path');
  }

  /** A master that arrives after its slaves hears of each, as if they had just joined. */
  protected joined(peers: PeerInfo[]): void {
    if (this.role === MASTER) for (const p of peers) if (roleOf(p) === SLAVE) this.send({ type: 'slavejoined' });
  }

  protected refused(code: string): string {
    this.drop(code, 'could not join the room');
    return code === 'room-full' ? 'room is full' : 'could not find the room';
  }

  /** Bad input is logged and counted, never answered: an error frame would crash the CLI. */
  private drop(code: string, detail: string): void {
    this.ctx.countError(NAME, code);
    this.conn.log.warn({ code, detail }, 'dropped a frame (the Flyx CLI cannot take error frames)');
  }

  /** A relay the hub could not hand on once Redis answered: dropped like bad input (logged, counted). */
  private undelivered(err: unknown): void {
    if (err instanceof HubError) return this.drop(err.code, err.message);
    this.conn.log.error({ err }, 'relay failed');
  }

  private send(frame: CliFrame | { type: 'slavejoined' }): void {
    if (CLI_FRAME_TYPES.has(frame.type)) this.conn.send(frame);
  }

  protected render(ev: HubEvent): void {
    switch (ev.type) {
      case 'peer-joined':
        return this.onJoined(ev.peer);
      case 'peer-left':
        // Nobody is told of a departure (the CLI has no frame for it); a removed member is closed.
        if (ev.peerId === this.session.id) this.closeRemoved(ev.reason);
        return;
      case 'signal':
      case 'broadcast': {
        // Built by the sender's side from a frame cliFrame accepted (cliText): it goes out as it is.
        if (ev.raw !== undefined) return this.conn.sendRaw(frameTypeOf(ev.raw), ev.raw);
        const f = cliFrame(ev.data);
        if (isDrop(f)) return this.drop('internal-error', `relay from ${ev.from}: ${f.drop}`);
        return this.send(f);
      }
    }
  }

  private onJoined(peer: PeerInfo): void {
    if (this.role === MASTER && roleOf(peer) === SLAVE) this.send({ type: 'slavejoined' });
  }

  reject(code: ErrorCode, detail: string): void {
    this.drop(code, detail);
  }

  protected handle(msg: unknown, text: string): void {
    const f = cliFrame(msg);
    if (isDrop(f)) return this.drop(f.code, f.drop);
    const { hub } = this.ctx;
    const raw = cliText(f, text);
    try {
      if (this.role === MASTER) return void hub.broadcast(this.session, this.room!, f, false, raw)?.catch((err: unknown) => this.undelivered(err));
      const master = findRole(hub.members(this.session, this.room!), MASTER);
      if (!master) return this.drop('peer-not-found', `${f.type} from a slave while the room has no master`);
      hub.signal(this.session, master.peerId, f, this.room, raw)?.catch((err: unknown) => this.undelivered(err));
    } catch (err) {
      if (err instanceof HubError) return this.drop(err.code, err.message);
      throw err;
    }
  }
}

/**
 * cliFrame's frame as text, around the client's own bytes of its one string field (the value
 * JSON.parse kept): the CLI's SDP is never re-serialised. Only ever built from a frame cliFrame accepted.
 */
function cliText(f: CliFrame, text: string): string | undefined {
  const field = f.type === 'icecandidate' ? 'candidate' : 'sdp';
  const value = memberText(text, field);
  return value && `{"type":"${f.type}","${field}":${value}}`;
}

