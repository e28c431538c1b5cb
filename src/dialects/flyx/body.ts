import type { HttpRequest } from '../../core/handshake.js';

/** Room options are a few small fields; anything bigger is a mistake or abuse. */
export const MAX_BODY_BYTES = 16 * 1024;

export type BodyResult = { ok: true; value: unknown } | { ok: false; status: number; error: string };

/** Reads an optional JSON request body with a size cap (413 past it). An empty body is `undefined`. */
export async function readJsonBody(req: HttpRequest): Promise<BodyResult> {
  const body = await req.body(MAX_BODY_BYTES);
  if (!body.ok) return body;
  if (body.text.trim() === '') return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(body.text) as unknown };
  } catch {
    return { ok: false, status: 400, error: 'Request body is not valid JSON' };
  }
}
