import { randomBytes } from 'node:crypto';

/** Url-safe random id. 16 bytes (128 bits) by default: unguessable and collision-free in practice. */
export function randomId(bytes = 16): string {
  return randomBytes(bytes).toString('base64url');
}

export type IdGenerator = () => string;
