import { Type, type TObject, type TSchema } from '@sinclair/typebox';
import { ERROR_CODES } from '../../core/errors.js';
import { RESUME_ERRORS } from '../../core/resume-tokens.js';

/**
 * The native protocol v1, as schemas. These are the runtime validators AND the source the
 * spec (docs/protocol.md) is checked against by test/docs/protocol-doc.test.ts: every message here
 * must be documented there with an example that validates, and nothing else may be.
 */

export const PROTOCOL_VERSION = 1;

export interface SchemaLimits {
  maxNameLength: number;
}

const Id = Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Integer()], { description: 'Request id, echoed as `re` in the reply.' });
const RoomName = Type.String({ minLength: 1, maxLength: 128, pattern: '^[^\\u0000-\\u001f]+$', description: 'Room name: 1–128 characters, no control characters.' });
const PeerId = Type.String({ minLength: 1, maxLength: 64 });
const Meta = Type.Record(Type.String(), Type.Unknown(), { description: 'Free-form JSON object shown to other members.' });
const LeaveReason = Type.Union(['left', 'disconnect', 'timeout', 'kicked', 'expired', 'replaced'].map((r) => Type.Literal(r)));
const RoomOptions = Type.Object(
  {
    capacity: Type.Optional(Type.Integer({ minimum: 1, description: 'Maximum members (capped by the server maximum).' })),
    emptyTtlMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400_000, description: 'How long the room lives while empty.' })),
    idleTtlMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 604_800_000, description: 'Expire after this long without activity (0: never).' })),
  },
  { additionalProperties: false },
);

const msg = <P extends Record<string, TSchema>>(type: string, props: P, description: string) =>
  Type.Object({ type: Type.Literal(type), ...props }, { description });

/** Client → server. Unknown extra fields are ignored (forward compatibility). */
export function clientSchemas(limits: SchemaLimits): Record<string, TObject> {
  const Name = Type.String({ maxLength: limits.maxNameLength, description: 'Display name shown to other members.' });
  return {
    join: msg('join', { id: Type.Optional(Id), room: RoomName, name: Type.Optional(Name), meta: Type.Optional(Meta) }, 'Join (and, unless the server requires creation first, create) a room.'),
    leave: msg('leave', { id: Type.Optional(Id), room: RoomName }, 'Leave a room.'),
    signal: msg('signal', { id: Type.Optional(Id), to: PeerId, room: Type.Optional(RoomName), data: Type.Unknown() }, 'Targeted relay to one peer that shares a room with you.'),
    broadcast: msg('broadcast', { id: Type.Optional(Id), room: RoomName, data: Type.Unknown() }, 'Relay to every other member of a room.'),
    'create-room': msg('create-room', { id: Type.Optional(Id), options: Type.Optional(RoomOptions) }, 'Create a room with an unguessable generated id.'),
    ping: msg('ping', { id: Type.Optional(Id), ts: Type.Optional(Type.Number()) }, 'Application-level round trip.'),
    received: msg(
      'received',
      { seq: Type.Integer({ minimum: 0, description: 'The `seq` of the last frame you have processed.' }) },
      'You have processed every frame up to `seq`: the server need not keep them for a resume. No reply.',
    ),
    'refresh-token': msg(
      'refresh-token',
      { id: Type.Optional(Id), token: Type.String({ minLength: 1, maxLength: 16_384, description: 'A new token (JWT) for the same identity.' }) },
      'Replace the connection\'s token before it expires.',
    ),
  };
}

const Re = Type.Optional(Type.Union([Type.String(), Type.Integer()], { description: 'The `id` of the request this answers.' }));
const Peer = Type.Object({
  peerId: PeerId,
  identity: Type.Optional(Type.String({ description: 'The verified identity (token `sub`) behind the peer; only when it connected with a token.' })),
  name: Type.Optional(Type.String()),
  meta: Type.Optional(Meta),
});
const IceServer = Type.Object({
  urls: Type.Union([Type.String(), Type.Array(Type.String())]),
  username: Type.Optional(Type.String()),
  credential: Type.Optional(Type.String()),
});
const Identity = Type.Object(
  {
    subject: Type.String({ description: 'The token `sub`: your identity, shown to others as `identity`.' }),
    name: Type.String({ description: 'The name others see (the token `name`, else `subject`).' }),
    rooms: Type.Optional(Type.Array(Type.String(), { description: 'Room patterns you may join; absent: any.' })),
    permissions: Type.Array(Type.Union(['join', 'create', 'broadcast', 'admin'].map((p) => Type.Literal(p)))),
  },
  { description: 'Present when you connected with a token.' },
);

/** Server → client. */
export const serverSchemas: Record<string, TObject> = {
  welcome: msg(
    'welcome',
    {
      peerId: PeerId,
      version: Type.String(),
      protocol: Type.Literal(PROTOCOL_VERSION),
      heartbeat: Type.Object({ intervalMs: Type.Integer(), timeoutMs: Type.Integer() }),
      iceServers: Type.Array(IceServer),
      identity: Type.Optional(Identity),
      resume: Type.Optional(
        Type.Object(
          {
            token: Type.String({ description: 'Secret naming this session: resume it with `/v1?resume=<token>&seq=<last seq received>`. Keep it private.' }),
            windowMs: Type.Integer({ description: 'How long the session waits for a new socket after this one drops.' }),
          },
          { description: 'Present when the server keeps sessions for resuming (resume.windowMs > 0).' },
        ),
      ),
      resumed: Type.Optional(Type.Boolean({ description: 'Present when you asked to resume: true, this is your old session (same peerId) and the frames you missed follow; false, a fresh one.' })),
      resumeError: Type.Optional(Type.Union(Object.keys(RESUME_ERRORS).map((c) => Type.Literal(c)), { description: 'Why the resume failed (with `resumed: false`): rejoin your rooms.' })),
      metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'What the auth webhook attached to this connection.' })),
      limits: Type.Object({
        maxMessageBytes: Type.Integer(),
        maxFrameBytes: Type.Integer(),
        maxNameLength: Type.Integer(),
        maxMetaBytes: Type.Integer(),
        maxJsonDepth: Type.Integer({ description: 'Deepest nesting of arrays and objects in a message; deeper ones get `invalid-message`.' }),
        maxRoomsPerPeer: Type.Integer(),
        maxPeersPerRoom: Type.Integer(),
      }),
    },
    'Sent once, on connect.',
  ),
  joined: msg('joined', { re: Re, room: RoomName, peers: Type.Array(Peer) }, 'You joined; `peers` are the other members.'),
  left: msg('left', { re: Re, room: RoomName }, 'You left the room.'),
  'peer-joined': msg('peer-joined', { room: RoomName, peer: Peer }, 'Someone joined a room you are in.'),
  'peer-left': msg('peer-left', { room: RoomName, peerId: PeerId, reason: LeaveReason }, 'Someone left a room you are in; when `peerId` is yours, you were removed.'),
  signal: msg('signal', { room: RoomName, from: PeerId, data: Type.Unknown() }, 'A targeted relay addressed to you.'),
  broadcast: msg('broadcast', { room: RoomName, from: PeerId, data: Type.Unknown() }, 'A room-wide relay.'),
  'room-created': msg('room-created', { re: Re, room: RoomName }, 'The room you asked for exists now.'),
  ack: msg('ack', { re: Type.Union([Type.String(), Type.Integer()]) }, 'A `signal` or `broadcast` that carried an `id` was accepted.'),
  pong: msg('pong', { re: Re, ts: Type.Number() }, 'Answer to `ping`: your `ts`, or the server time in ms.'),
  error: msg(
    'error',
    { re: Re, code: Type.Union(Object.keys(ERROR_CODES).map((c) => Type.Literal(c))), message: Type.String() },
    'A request failed, or a frame could not be handled. The connection stays open.',
  ),
  'ice-servers': msg(
    'ice-servers',
    { iceServers: Type.Array(IceServer) },
    'Fresh ICE servers (new ephemeral TURN credentials), sent before the previous ones expire; use them for new peer connections and ICE restarts.',
  ),
  'token-expiring': msg(
    'token-expiring',
    { expiresAt: Type.Integer({ description: 'When the server closes the connection (4005), in ms since the epoch, unless a `refresh-token` comes first.' }) },
    'Your token is about to expire: send `refresh-token`.',
  ),
  'token-refreshed': msg(
    'token-refreshed',
    { re: Re, expiresAt: Type.Optional(Type.Integer({ description: 'The new moment of expiry (ms since the epoch); absent: the connection no longer expires.' })) },
    'The refreshed token is the connection\'s now.',
  ),
  goaway: msg('goaway', { reason: Type.Literal('shutdown'), reconnectMs: Type.Integer() }, 'The server is draining: reconnect (elsewhere) within `reconnectMs`; the socket is closed with 1001 after it.'),
};

/**
 * Every server frame after `welcome` carries `seq` while the session is resumable (1, 2, … for
 * the session's life, across resumes; see Resume in docs/protocol.md).
 */
const Seq = Type.Integer({ minimum: 1, description: 'This frame\'s number in the session (after welcome, when resume is on).' });
for (const [type, schema] of Object.entries(serverSchemas)) {
  if (type !== 'welcome') serverSchemas[type] = Type.Object({ ...schema.properties, seq: Type.Optional(Seq) }, { description: schema.description });
}

/** Close codes the server uses on /v1; documented in docs/protocol.md. */
export const NATIVE_CLOSE_CODES = {
  1001: 'going away: server shutdown after `goaway`, or drain timeout',
  1009: 'frame larger than limits.maxFrameBytes',
  4000: 'heartbeat timeout: no frame or pong within heartbeat.timeoutMs',
  4001: 'session replaced by a newer connection with the same identity',
  4002: 'slow consumer: outbound queue over limits.maxBufferedBytes',
  4003: 'removed by an operator (kicked)',
  4004: 'a newer connection resumed this session (see Resume); the session goes on there',
  4005: 'token expired: the token (or auth.maxSessionMs) ran out without a refresh-token',
  4008: 'policy violation (frame flood), or identity taken (identity policy reject)',
} as const;
