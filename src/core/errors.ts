/**
 * The core's typed error codes. Every dialect maps these to its own shape and wording; the native
 * protocol sends them as they are. The set is stable: codes are added, never renamed or removed.
 */
export const ERROR_CODES = {
  'invalid-json': 'The frame is not valid JSON.',
  'invalid-message': 'The message does not match the protocol schema.',
  'unknown-type': 'The message type is not part of the protocol.',
  'message-too-large': 'The message is larger than the server accepts.',
  'not-in-room': 'You are not a member of that room.',
  'already-in-room': 'You are already a member of that room.',
  'too-many-rooms': 'You are in as many rooms as one connection may be.',
  'room-full': 'The room is at capacity.',
  'room-not-found': 'No such room.',
  'room-exists': 'A room with that id already exists.',
  'room-quota': 'Your address has created as many open rooms as it may.',
  'peer-not-found': 'No peer with that id shares a room with you.',
  'identity-taken': 'That identity is already in use by another connection.',
  forbidden: 'Your credentials do not allow this.',
  unauthorized: 'The token is not valid: it could not be verified, or it has expired.',
  'shutting-down': 'The server is draining and accepts no new work.',
  unavailable: 'The shared room store is unreachable; try again shortly.',
  'rate-limited': 'Too many requests: slow down.',
  'internal-error': 'The server failed to handle the message.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class HubError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string = ERROR_CODES[code],
  ) {
    super(message);
    this.name = 'HubError';
  }
}

export function isHubError(e: unknown): e is HubError {
  return e instanceof HubError;
}
