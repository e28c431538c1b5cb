import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import type { HttpResponse } from '../core/handshake.js';

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

/**
 * Refuses a WebSocket upgrade with a plain HTTP response (the socket is not a WebSocket yet).
 * A string body goes out as text/plain, anything else as JSON.
 */
export function refuseUpgrade(socket: Duplex, status: number, body: unknown): void {
  if (!socket.writable) return void socket.destroy();
  const isText = typeof body === 'string';
  const text = isText ? body : JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      `Connection: close\r\nContent-Type: ${isText ? 'text/plain' : 'application/json'}; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}

export function remoteAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/** Past this much discarded body the client is cut off instead of read to the end. */
const MAX_DRAIN_BYTES = 1024 * 1024;

/**
 * Reads a request body of at most `maxBytes`. An oversized body is drained (so the client reads the
 * 413 instead of a reset), up to a hard limit past which the request is cut.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<{ ok: true; text: string } | { ok: false; status: number; error: string }> {
  const tooLarge = { ok: false as const, status: 413, error: `Request body is larger than ${maxBytes} bytes` };
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > Math.max(maxBytes, MAX_DRAIN_BYTES)) return Promise.resolve(tooLarge);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
      else if (size > Math.max(maxBytes, MAX_DRAIN_BYTES)) {
        req.destroy();
        resolve(tooLarge);
      }
    });
    req.on('error', () => resolve({ ok: false, status: 400, error: 'Request body could not be read' }));
    req.on('end', () => resolve(size > maxBytes ? tooLarge : { ok: true, text: Buffer.concat(chunks).toString('utf8') }));
  });
}

/** Writes a route's answer: a string as text (its `type`, default text/plain), anything else as JSON. */
export function sendResponse(res: ServerResponse, r: HttpResponse, head = false): void {
  const isText = typeof r.body === 'string';
  const text = isText ? (r.body as string) : JSON.stringify(r.body);
  const headers: Record<string, string | number> = {
    'cache-control': 'no-store',
    ...r.headers,
    'content-type': isText ? (r.type ?? 'text/plain; charset=utf-8') : 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  };
  if (r.close) headers.connection = 'close';
  res.writeHead(r.status, headers);
  res.end(head ? undefined : text);
}
