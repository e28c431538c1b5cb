import { randomFillSync } from 'node:crypto';

/**
 * Random bytes are drawn from the CSPRNG 4 KiB at a time and handed out in order, each byte once:
 * one `randomFillSync` per 256 peer ids instead of one call per id (a join storm spent 2.5 % of
 * its CPU there). The bytes are the same cryptographic randomness, just fetched in bulk.
 */
const POOL = Buffer.alloc(4096);
let offset = POOL.length;

/** Url-safe random id. 16 bytes (128 bits) by default: unguessable and collision-free in practice. */
export function randomId(bytes = 16): string {
  if (bytes > POOL.length) return randomFillSync(Buffer.alloc(bytes)).toString('base64url');
  if (offset + bytes > POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const id = POOL.toString('base64url', offset, offset + bytes);
  offset += bytes;
  return id;
}

export type IdGenerator = () => string;
