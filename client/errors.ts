/**
 * The one error type the SDK rejects with. `code` is the server's error code (`room-full`,
 * `peer-not-found`, `forbidden`, … see docs/protocol.md, "Error codes") or one of the SDK's own:
 * `timeout` (no reply within requestTimeoutMs), `closed` (the connection closed for good before a
 * reply), `connect-failed` (the first connection could not be made).
 */
export class SwitchboardError extends Error {
  override readonly name = 'SwitchboardError';
  constructor(
    readonly code: string,
    message: string,
    /** The server's `error` frame, when there was one. */
    readonly frame?: Record<string, unknown>,
  ) {
    super(message);
  }
}
