/**
 * The mesh protocol's inbound frames, validated into typed requests. Pure functions: no hub, no
 * socket. Error texts are the ones the client sees in `{"type":"error","message":…}`.
 */

export type MeshRequest =
  | { type: 'create' }
  | { type: 'join'; roomId: string }
  | { type: 'leave' }
  | { type: 'signal'; payload: unknown; targetId: string | undefined };

/** `code` is the metrics label (the core's error vocabulary); `message` is what the client reads. */
export interface MeshError {
  code: 'invalid-message' | 'unknown-type';
  message: string;
}

export type Parsed = { ok: true; req: MeshRequest } | { ok: false; error: MeshError };

export const MESH_TYPES: ReadonlySet<string> = new Set(['create', 'join', 'leave', 'signal']);

/** Room ids are four digits; anything else cannot name a room. */
export const ROOM_ID = /^[1-9][0-9]{3}$/;

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Unity's JsonUtility writes an unset string field as "" (never omits it), so "" and null mean
 * "absent" for optional strings.
 */
function absent(v: unknown): boolean {
  return v === undefined || v === null || v === '';
}

const invalid = (message: string): Parsed => ({ ok: false, error: { code: 'invalid-message', message } });

/** True when a catch-all connection's first frame is ours (see dialects.md, "Sharing one port"). */
export function isMeshFrame(msg: unknown): boolean {
  if (!isObject(msg)) return false;
  return msg.type === 'create' || msg.type === 'signal' || (msg.type === 'join' && 'roomId' in msg);
}

function parseJoin(m: Obj): Parsed {
  const r = m.roomId;
  if (absent(r)) return invalid('join requires roomId');
  // A Unity client may hold the id as an int; the room is the same.
  if (typeof r === 'number' && Number.isInteger(r)) return { ok: true, req: { type: 'join', roomId: String(r) } };
  if (typeof r !== 'string') return invalid('roomId must be a string');
  return { ok: true, req: { type: 'join', roomId: r } };
}

function parseSignal(m: Obj): Parsed {
  if (m.payload === undefined) return invalid('signal requires payload');
  const t = m.targetId;
  if (!absent(t) && typeof t !== 'string') return invalid('targetId must be a string');
  return { ok: true, req: { type: 'signal', payload: m.payload, targetId: absent(t) ? undefined : (t as string) } };
}

export function parseFrame(msg: unknown): Parsed {
  if (!isObject(msg) || typeof msg.type !== 'string') return invalid('Message must be a JSON object with a string "type"');
  switch (msg.type) {
    case 'create':
      return { ok: true, req: { type: 'create' } };
    case 'leave':
      return { ok: true, req: { type: 'leave' } };
    case 'join':
      return parseJoin(msg);
    case 'signal':
      return parseSignal(msg);
    default:
      return { ok: false, error: { code: 'unknown-type', message: `Unknown message type: ${msg.type.slice(0, 64)}` } };
  }
}
