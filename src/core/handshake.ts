import type { Identity } from './access.js';

/**
 * What a handshake (a WebSocket upgrade or an HTTP request) tells the server, and what the server
 * answers before a dialect sees a frame. Plain types, below both the dialects (which read them) and
 * the security and server layers (which fill them in), so neither imports the other for them.
 */

/** Request headers, lower-cased names (Node's `IncomingHttpHeaders` fits). */
export type Headers = Readonly<Record<string, string | string[] | undefined>>;

/** An RTCIceServer entry as clients receive it. */
export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

/** What the auth webhook added to a connection it allowed. */
export interface AuthGrant {
  /** Shown to the client (native `welcome.metadata`). */
  metadata?: Record<string, unknown>;
  /** Extra ICE servers for this client (native `welcome` and `ice-servers`). */
  iceServers?: IceServer[];
}

/** What the upgrade request told us. */
export interface UpgradeInfo {
  path: string;
  /** Values of `:name` segments in the route pattern that matched (e.g. `/ws/:room`). */
  params: Record<string, string>;
  query: URLSearchParams;
  headers: Headers;
  /** The client's address (trustProxy honoured). */
  remoteAddress: string;
  /** The dialect serving the path (`auto` on catch-all paths, before the first frame decides). */
  dialect?: string;
  /** The room the path names, by the dialect's own rule (`Dialect.roomFromPath`): the auth gate checks the token allows it. */
  room?: string;
  /** Set by the auth gate: the verified identity (token claims), when authentication is on. */
  identity?: Identity;
  /** Set by the auth gate: what the auth webhook granted. */
  grant?: AuthGrant;
}

/** Pre-upgrade decision: accept, or refuse with an HTTP status and JSON (or text) body. */
export type Admission = { ok: true } | { ok: false; status: number; body: unknown };

/** An HTTP request as a dialect's route sees it. */
export interface HttpRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Headers;
  /** The client's address (trustProxy honoured). */
  readonly remoteAddress: string;
  /** Reads the body as text, at most `maxBytes`: larger is refused (413), unreadable 400. */
  body(maxBytes: number): Promise<{ ok: true; text: string } | { ok: false; status: number; error: string }>;
}

/** A route's answer. */
export interface HttpResponse {
  status: number;
  /** A string goes out as text (`type`, default text/plain); anything else as JSON. */
  body: unknown;
  type?: string;
  headers?: Record<string, string>;
  /** Close the connection after answering (e.g. a body too large to read). */
  close?: boolean;
}
