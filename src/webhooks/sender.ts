import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Clock } from '../core/clock.js';

/** What one POST came to: the receiver's status, or why there was none. */
export type AttemptResult = { status: number } | { error: string };

/**
 * POSTs webhook bodies to one URL over kept-alive connections. Each attempt is bounded by
 * `timeoutMs` on the injected clock (a test drives it; a hung receiver is aborted, never waited for).
 */
export class Sender {
  private readonly url: URL;
  private readonly agent: HttpAgent;
  private readonly inflight = new Set<AbortController>();

  constructor(
    url: string,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
  ) {
    this.url = new URL(url);
    this.agent = this.url.protocol === 'https:' ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  }

  post(headers: Record<string, string>, body: string): Promise<AttemptResult> {
    const ac = new AbortController();
    this.inflight.add(ac);
    const timer = this.clock.setTimeout(() => ac.abort(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    const request = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<AttemptResult>((resolve) => {
      const req = request(this.url, { method: 'POST', agent: this.agent, signal: ac.signal, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res: IncomingMessage) => {
        // The answer's body means nothing to us; it is read (so the connection can be reused) and dropped.
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
        res.on('error', () => resolve({ status: res.statusCode ?? 0 }));
      });
      req.on('error', (err) => resolve({ error: ac.signal.aborted ? String((ac.signal.reason as Error | undefined)?.message ?? 'aborted') : err.message }));
      req.end(body);
    }).finally(() => {
      timer.cancel();
      this.inflight.delete(ac);
    });
  }

  /** Abandons every attempt in flight (each resolves with an error) and closes the connections. */
  close(): void {
    for (const ac of this.inflight) ac.abort(new Error('abandoned: shutting down'));
    this.agent.destroy();
  }
}
