import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { HANG_GUARD_MS, connect } from './ws.js';

/**
 * Two native clients, at urlA and urlB (the same server, two nodes, or a proxy in front), join one
 * room and A's signal reaches B as the protocol says: from A, in that room, the data unchanged.
 */
export async function relayNative(urlA: string, urlB = urlA, guardMs = HANG_GUARD_MS): Promise<void> {
  const a = await connect(urlA);
  const b = await connect(urlB);
  try {
    const ida = (await a.next('welcome', guardMs)).peerId as string;
    const idb = (await b.next('welcome', guardMs)).peerId as string;
    const room = `relay-${randomUUID()}`;
    for (const c of [a, b]) {
      c.send({ type: 'join', room });
      await c.next('joined', guardMs);
    }
    const data = { sdp: 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n', n: 1 };
    a.send({ type: 'signal', to: idb, data });
    assert.deepEqual(await b.next('signal', guardMs), { type: 'signal', from: ida, room, data });
  } finally {
    a.ws.terminate();
    b.ws.terminate();
  }
}
