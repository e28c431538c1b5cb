import type { IncomingMessage } from 'node:http';

/** Room options are a few small fields; anything bigger is a mistake or abuse. */
export const MAX_BODY_BYTES = 16 * 1024;
/** Past this much discarded body the client is cut off instead of read to the end. */
const MAX_DRAIN_BYTES = 1024 * 1024;

export type BodyResult = { ok: true; value: unknown } | { ok: false; status: number; error: string };

const tooLarge: BodyResult = { ok: false, status: 413, error: `Request body is larger than ${MAX_BODY_BYTES} bytes` };

/**
 * Reads an optional JSON request body with a size cap. An empty body is `undefined`. An oversized
 * body is drained (so the client reads our 413 instead of a reset), up to a hard limit.
 */
export function readJsonBody(req: IncomingMessage): Promise<BodyResult> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_DRAIN_BYTES) return Promise.resolve(tooLarge);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      else if (size > MAX_DRAIN_BYTES) {
        req.destroy();
        resolve(tooLarge);
      }
    });
    req.on('error', () => resolve({ ok: false, status: 400, error: 'Request body could not be read' }));
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) return resolve(tooLarge);
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return resolve({ ok: true, value: undefined });
      try {
        resolve({ ok: true, value: JSON.parse(text) as unknown });
      } catch {
        resolve({ ok: false, status: 400, error: 'Request body is not valid JSON' });
      }
    });
  });
}
