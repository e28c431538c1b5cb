
/**
 * The PeerJS server protocol's words (as `peer` 1.x and the `peerjs` client speak them): message
 * types, the texts of the errors the server sends, and the frames it writes. Pure functions, no
 * state. See docs/dialects/peerjs.md.
 */

/** Client → server types the server acts on (anything else is ignored, as `peer` does). */
export const RELAYED = new Set(['OFFER', 'ANSWER', 'CANDIDATE', 'LEAVE', 'EXPIRE']);
export const INBOUND_TYPES: ReadonlySet<string> = new Set(['HEARTBEAT', ...RELAYED]);
/** Relayed types that are kept for an id that is not connected (LEAVE and EXPIRE are not, as in `peer`). */
export const QUEUED = new Set(['OFFER', 'ANSWER', 'CANDIDATE']);

/** Error texts. The first three are `peer`'s own, word for word: apps may match on them. */
export const TEXT = {
  missing: 'No id, token, or key supplied to websocket server',
  invalidKey: 'Invalid key provided',
  idTaken: 'ID is taken',
  notObject: 'Invalid message: a PeerJS message is a JSON object with a string "type"',
  notYourId: 'The id must be the subject ("sub") of your token',
  unavailable: 'The server could not register this id: its shared store is unreachable; try again shortly',
  internal: 'Internal server error',
} as const;

export const dynamicText = {
  badId: (max: number) => `Invalid id: 1 to ${max} characters, no control characters`,
  noDst: (type: string) => `Invalid message: ${type} needs "dst", the id of the peer it is for`,
  longDst: (type: string, max: number) => `Invalid message: the "dst" of ${type} is longer than ${max} characters`,
};

/** What the server sends on its own. */
export const OPEN = '{"type":"OPEN"}';

export function errorFrame(msg: string): { type: 'ERROR'; payload: { msg: string } } {
  return { type: 'ERROR', payload: { msg } };
}

export function idTakenFrame(): { type: 'ID-TAKEN'; payload: { msg: string } } {
  return { type: 'ID-TAKEN', payload: { msg: TEXT.idTaken } };
}

/** `{"type":"EXPIRE","src":<unreachable>,"dst":<you>}`: what was queued for `unreachable` was never taken. */
export function expireText(unreachable: string, you: string): string {
  return `{"type":"EXPIRE","src":${JSON.stringify(unreachable)},"dst":${JSON.stringify(you)}}`;
}

/**
 * A relayed frame: `type`, `src` and `dst` written by the server (the sender's registered id, the
 * destination it named), then the client's own `payload` text, byte for byte, when it sent one.
 * Nothing else of the client's frame (a forged `src`, extra fields) is copied. `type` is one of
 * RELAYED; `payload` is one complete JSON value (a member of a document JSON.parse accepted), so
 * it cannot close the object early or add keys.
 */
export function relayText(type: string, src: string, dst: string, payload: string | undefined): string {
  const head = `{"type":"${type}","src":${JSON.stringify(src)},"dst":${JSON.stringify(dst)}`;
  return payload === undefined ? `${head}}` : `${head},"payload":${payload}}`;
}



/** Ids as this server takes them: 1 to `max` characters, no control characters (the client allows fewer still). */
export function validId(id: string, max: number): boolean {
  // eslint-disable-next-line no-control-regex
  return id.length > 0 && id.length <= max && !/[\u0000-\u001f\u007f]/.test(id);
}

export type Obj = Record<string, unknown>;

export function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
