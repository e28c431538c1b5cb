import assert from 'node:assert/strict';
import { connect, type Frame, type TestClient } from '../helpers/ws.js';

/** Clock jumps of a minute must not look like silence to the server-wide WebSocket heartbeat. */
export const CALM = { heartbeat: { intervalMs: 3_600_000, timeoutMs: 7_200_000 } };

/** How the PeerJS tests reach a server: its `ws(path)` base. */
export interface Reach {
  ws(path?: string): string;
}

export interface PeerOpts {
  token?: string;
  key?: string;
  /** The mount point (peerjs.path), normalised as the client does: `/myapp/`. */
  path?: string;
}

/** The URL the peerjs 1.5.5 client opens: `{path}peerjs?key=&id=&token=&version=1.5.5`. */
export function peerUrl(srv: Reach, id: string, o: PeerOpts = {}): string {
  const q = new URLSearchParams({ key: o.key ?? 'peerjs', id, token: o.token ?? `tok-${id}`, version: '1.5.5' });
  return srv.ws(`${o.path ?? '/'}peerjs?${q}`);
}

/** A PeerJS client whose id the server registered (its first frame is OPEN). */
export async function openPeer(srv: Reach, id: string, o: PeerOpts = {}): Promise<TestClient> {
  const c = await connect(peerUrl(srv, id, o));
  assert.deepEqual(await c.next(), { type: 'OPEN' });
  return c;
}

/** A client whose connection the server refuses in PeerJS words: the one frame it got, and the close. */
export async function refusedPeer(url: string): Promise<{ frame: Frame; code: number }> {
  const c = await connect(url);
  const frame = await c.next();
  const { code } = await c.closedWithin();
  return { frame, code };
}

let marks = 0;

/**
 * Proves everything `from` sent `to` before now has arrived: a CANDIDATE marker goes the same way,
 * in order, and is consumed. Returns the frames `to` got before it.
 */
export async function mark(from: TestClient, to: TestClient, toId: string): Promise<Frame[]> {
  const m = `mark-${++marks}`;
  from.send({ type: 'CANDIDATE', dst: toId, payload: { mark: m } });
  await to.next((f) => f.type === 'CANDIDATE' && (f.payload as { mark?: string } | undefined)?.mark === m);
  return to.take();
}

/** A PeerJS OFFER payload as the 1.5.5 client sends it for a data connection. */
export function offerPayload(n = 1): Record<string, unknown> {
  return { sdp: { type: 'offer', sdp: `v=0\r\no=- ${n} 2 IN IP4 127.0.0.1\r\n` }, type: 'data', connectionId: `dc_${n}`, label: 'bin', reliable: true, serialization: 'binary' };
}
