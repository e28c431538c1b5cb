import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import { until } from '../helpers/wait.js';

export const SECRET = `whsec_${Buffer.from('switchboard-webhook-test-secret-0123456789').toString('base64')}`;

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** The parsed body. */
  event: { type: string; timestamp: string; data: Record<string, unknown> };
}

/** How the receiver answers one request: a status, or 'hang' (never, until told or closed). */
export type Answer = number | 'hang';

/**
 * A local webhook receiver on 127.0.0.1, port 0: keeps every request in arrival order and answers
 * each as `answer` says (default 200). Hung requests are answered by `release` or dropped on close.
 */
export class Receiver {
  readonly got: Received[] = [];
  answer: (r: Received, n: number) => Answer = () => 200;
  private readonly hung: ServerResponse[] = [];
  private constructor(private readonly server: Server) {}

  static async start(): Promise<Receiver> {
    const server = createServer();
    const rx = new Receiver(server);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const r: Received = { headers: req.headers, body, event: JSON.parse(body) as Received['event'] };
        rx.got.push(r);
        const a = rx.answer(r, rx.got.length);
        if (a === 'hang') rx.hung.push(res);
        else res.writeHead(a).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return rx;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  get types(): string[] {
    return this.got.map((r) => r.event.type);
  }

  /** Answers every hung request with `status`. */
  release(status = 200): void {
    for (const res of this.hung.splice(0)) if (!res.destroyed) res.writeHead(status).end();
  }

  waitFor(n: number, what = `${n} webhook requests`): Promise<void> {
    return until(() => this.got.length >= n, what);
  }

  async close(): Promise<void> {
    for (const res of this.hung.splice(0)) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Verifies one request with the reference Standard Webhooks verifier; throws when it does not verify. */
export function verify(r: Received, body = r.body): unknown {
  return new Webhook(SECRET).verify(body, { 'webhook-id': String(r.headers['webhook-id']), 'webhook-timestamp': String(r.headers['webhook-timestamp']), 'webhook-signature': String(r.headers['webhook-signature']) });
}

/** A logger whose lines the test can read (JSON objects), at warn and above unless told. */
export function capturingLogger(level = 'warn'): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level }, dest), lines };
}

/** One sample of a metric (the first line that starts with `name`), NaN when absent. */
export async function metric(http: (p: string) => string, name: string): Promise<number> {
  const text = await (await fetch(http('/metrics'))).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.split(' ').pop()) : NaN;
}
