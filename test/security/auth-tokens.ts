import { SignJWT, type JWTPayload } from 'jose';
import WebSocket from 'ws';
import { connect, type TestClient } from '../helpers/ws.js';

/** A 32-byte HS256 secret (the server refuses shorter ones). */
export const SECRET = 'test-secret-0123456789-abcdefghij-klmnop';

export interface SignOptions {
  secret?: string;
  /** "now" for iat, in ms (the test server's ManualClock). */
  now: number;
  /** Lifetime in seconds (default 3600); negative: already expired. */
  ttl?: number;
  issuer?: string;
  audience?: string;
}

/** An HS256 token with the given claims, issued at `now` (the test server's clock). */
export function sign(claims: JWTPayload, opts: SignOptions): Promise<string> {
  const iat = Math.floor(opts.now / 1000);
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt(iat).setExpirationTime(iat + (opts.ttl ?? 3600));
  if (opts.issuer) jwt = jwt.setIssuer(opts.issuer);
  if (opts.audience) jwt = jwt.setAudience(opts.audience);
  return jwt.sign(new TextEncoder().encode(opts.secret ?? SECRET));
}

/** Opens a WebSocket with extra options or subprotocols; resolves once open. */
export function open(url: string, protocols?: string[], opts: WebSocket.ClientOptions = {}): Promise<TestClient> {
  return connect(url, opts, protocols);
}

/** A handshake expected to be refused: its status, JSON body and content type. */
export async function refusal(url: string, protocols?: string[], opts: WebSocket.ClientOptions = {}): Promise<{ status: number; body: Record<string, unknown>; type: string }> {
  try {
    const c = await open(url, protocols, opts);
    c.ws.terminate();
  } catch (err) {
    const e = err as Error & { status?: number; body?: string; type?: string };
    if (e.status === undefined) throw err;
    return { status: e.status, body: JSON.parse(e.body ?? 'null') as Record<string, unknown>, type: e.type ?? '' };
  }
  throw new Error(`expected ${url} to be refused, but it connected`);
}

/** GET as JSON: status, body, headers. */
export async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(url, { headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}
