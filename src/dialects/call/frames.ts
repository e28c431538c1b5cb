/**
 * The call dialect's words: inbound frame shapes, the error texts its clients see, and the
 * envelopes one call session sends another through the hub. Pure functions, no state.
 */

/** Error texts. The first five are the original server's, word for word: clients may match on them. */
export const TEXT = {
  required: 'Username and user_id required',
  taken: 'Username already taken',
  notRegistered: 'Not registered',
  notFound: 'User not found or offline',
  invalidJson: 'Invalid JSON',
  notObject: 'Message must be a JSON object with a string "type"',
  notStrings: 'username and user_id must be strings',
  idTaken: 'User ID already in use',
  inCall: 'You are already in a call',
  renameInCall: 'Cannot change username or user_id during a call',
  callSelf: 'You cannot call yourself',
  lobbyFull: 'Server is full, try again later',
  removed: 'You were removed from the online list; register again',
  notYourToken: 'username and user_id must be the ones your token names',
  forbidden: 'Your token does not allow registering',
  rateLimited: 'Too many requests, slow down',
  unavailable: 'Service temporarily unavailable, try again shortly',
  internal: 'Internal server error',
} as const;

export const dynamicText = {
  tooLong: (field: string, max: number) => `${field} too long (max ${max} characters)`,
  fieldRequired: (field: string) => `${field} required`,
  dataRequired: (type: string) => `${type} requires data`,
  noIncoming: (caller: string) => `No incoming call from ${clip(caller)}`,
  noCall: (user: string) => `No call with ${clip(user)}`,
  unknownType: (type: string) => `Unknown message type: ${clip(type)}`,
};

/** Keeps client-supplied text in error messages short. */
function clip(s: string): string {
  return s.length > 64 ? `${s.slice(0, 64)}…` : s;
}

export type RelayType = 'offer' | 'answer' | 'ice_candidate';
export const RELAY_TYPES: ReadonlySet<string> = new Set<RelayType>(['offer', 'answer', 'ice_candidate']);
export const CALL_TYPES: ReadonlySet<string> = new Set(['call_request', 'call_accepted', 'call_rejected', 'call_ended']);
export const INBOUND_TYPES: ReadonlySet<string> = new Set(['register', ...CALL_TYPES, ...RELAY_TYPES]);

export type Obj = Record<string, unknown>;

export function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** First-frame detection on shared paths (slam is asked first and claims `register` with `client_id`). */
export function detectCall(msg: unknown): boolean {
  if (!isObject(msg) || typeof msg.type !== 'string') return false;
  if (msg.type === 'register') return 'username' in msg;
  if (CALL_TYPES.has(msg.type)) return true;
  return RELAY_TYPES.has(msg.type) && 'target_username' in msg;
}

/** Why a ringing caller hears `call_rejected`. */
export type RejectReason = 'rejected' | 'busy' | 'timeout' | 'offline';
/** Why `call_ended` was sent. */
export type EndReason = 'hangup' | 'timeout' | 'disconnected';

/**
 * What one call session sends another through `hub.signal`. The sender's username travels with it,
 * set by the server (never by a client), so the receiver needs no directory lookup.
 */
export type Envelope =
  | { k: 'relay'; type: RelayType; from: string; data: unknown }
  | { k: 'ring'; from: string; userId: string }
  | { k: 'accept'; from: string }
  | { k: 'reject'; from: string }
  | { k: 'busy'; from: string }
  | { k: 'end'; from: string; reason: EndReason };

const ENVELOPE_KINDS = new Set(['relay', 'ring', 'accept', 'reject', 'busy', 'end']);

export function isEnvelope(v: unknown): v is Envelope {
  return isObject(v) && typeof v.k === 'string' && ENVELOPE_KINDS.has(v.k) && typeof v.from === 'string';
}

/** A validated `register`, or the error text to answer with. */
export function parseRegister(m: Obj, maxName: number, maxId: number): { username: string; userId: string } | string {
  const { username, user_id: userId } = m;
  if (username === undefined || username === null || username === '' || userId === undefined || userId === null || userId === '') {
    return TEXT.required;
  }
  if (typeof username !== 'string' || typeof userId !== 'string') return TEXT.notStrings;
  if (username.length > maxName) return dynamicText.tooLong('username', maxName);
  if (userId.length > maxId) return dynamicText.tooLong('user_id', maxId);
  return { username, userId };
}

/** A non-empty string field (a username a frame names), or the error text to answer with. */
export function stringField(m: Obj, field: string): string | { error: string } {
  const v = m[field];
  return typeof v === 'string' && v.length > 0 ? v : { error: dynamicText.fieldRequired(field) };
}
