import { createHmac } from 'node:crypto';
import { randomId } from '../core/ids.js';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): the secret is `whsec_` followed by
 * base64 of the key bytes; a signature is `v1,` + base64 HMAC-SHA256 of `<id>.<timestamp>.<body>`.
 */
export function secretKey(secret: string): Buffer {
  const m = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(secret);
  if (!m) throw new Error('webhooks.secret must be `whsec_` then base64');
  return Buffer.from(m[1]!, 'base64');
}

/** The `webhook-signature` header value for one attempt (`timestamp`: unix seconds of that attempt). */
export function sign(key: Buffer, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** A `webhook-id`: drawn once per event and kept for each of its retries (receivers deduplicate by it). */
export function messageId(): string {
  return `msg_${randomId(16)}`;
}
