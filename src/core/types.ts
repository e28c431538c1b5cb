/** Why a peer left a room. Self-addressed `peer-left` (peerId = you) means you were removed. */
export type LeaveReason = 'left' | 'disconnect' | 'timeout' | 'kicked' | 'expired' | 'switched-room' | 'replaced';

/**
 * Why the server closes a connection; each dialect maps these to its own close code and text.
 * `resumed`: a newer socket resumed the session (native only).
 */
export type CloseReason = 'timeout' | 'replaced' | 'shutdown' | 'expired' | 'slow-consumer' | 'kicked' | 'policy' | 'resumed' | 'token-expired';

/** What a room member looks like to the others. */
export interface PeerInfo {
  peerId: string;
  /** The verified identity (token subject) behind the peer, when it has one; never client-chosen. */
  identity?: string;
  name?: string;
  meta?: unknown;
}

/** Per-room options. Missing values fall back to the server's (or the dialect's) defaults. */
export interface RoomOptions {
  /** Maximum members; 0 means the server-wide maximum. */
  capacity?: number;
  /** How long an empty room is kept before removal (0: removed at once). */
  emptyTtlMs?: number;
  /** Room is expired (members removed with reason `expired`) after this long without activity; 0: never. */
  idleTtlMs?: number;
}

/** Events the hub hands to a session; its dialect renders them in its own words. */
export type HubEvent =
  | { type: 'peer-joined'; room: string; peer: PeerInfo }
  | { type: 'peer-left'; room: string; peerId: string; reason: LeaveReason }
  /**
   * A relay to this session. With `room` '' it is an addressed delivery (Hub.direct): `raw` is then
   * the whole frame as the sender's dialect rendered it (the same dialect: namespaces never mix).
   */
  | { type: 'signal'; from: string; room: string; data: unknown; raw?: string }
  | { type: 'broadcast'; room: string; from: string; data: unknown; raw?: string };

/** The transport under a session, as the core sees it: no sockets, no frames. */
export interface Link {
  /** Liveness probe (a WebSocket ping frame, plus whatever the dialect sends on a heartbeat). */
  ping(): void;
  /** Close the transport for a reason; the dialect picks the close code. */
  close(reason: CloseReason): void;
}

export interface RoomSnapshot {
  name: string;
  namespace: string;
  createdAt: number;
  lastActivity: number;
  options: Required<RoomOptions>;
  members: PeerInfo[];
}
