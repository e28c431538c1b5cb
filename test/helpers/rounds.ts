import assert from 'node:assert/strict';
import type { Frame, TestClient } from './ws.js';

/**
 * Round trips that prove "nothing more arrived": the server answers in order, so once the answer
 * to a probe is in, every frame sent to the client before it has arrived too.
 */

/** slam (and any catch-all dialect): bad JSON is answered with `Invalid JSON`. */
export async function slamSettle(c: TestClient): Promise<void> {
  c.send('{not json');
  await c.next((f) => f.type === 'error' && f.message === 'Invalid JSON');
}

/** slam: proves nothing else reached `c`. */
export async function slamNothingMore(c: TestClient): Promise<void> {
  await slamSettle(c);
  assert.deepEqual(c.take(), []);
}

/** call: an unknown type is answered with an error; returns every frame that arrived before it. */
export async function callQuiet(c: TestClient): Promise<Frame[]> {
  c.send({ type: 'round_trip' });
  await c.next((f) => f.type === 'error' && f.message === 'Unknown message type: round_trip');
  return c.take();
}
