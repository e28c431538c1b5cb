import WebSocket from 'ws';

/** How long a helper waits before calling a hang a failure (never a timing check). */
export const HANG_GUARD_MS = 15_000;

export type Frame = { type?: string; [k: string]: unknown };

/**
 * A test WebSocket client that queues every inbound frame, so a test can await the next one (or
 * the next matching one) in order. Nothing here sleeps: waits end when a frame arrives, or fail
 * after a guard timeout that only catches hangs.
 */
export class TestClient {
  readonly frames: Frame[] = [];
  readonly raw: string[] = [];
  private waiters: { pred: (f: Frame) => boolean; resolve: (f: Frame) => void; reject: (e: Error) => void }[] = [];
  closeCode: number | undefined;
  closeReason: string | undefined;
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? '<binary>' : data.toString();
      this.raw.push(text);
      let f: Frame;
      try {
        f = JSON.parse(text) as Frame;
      } catch {
        f = { type: '<non-json>', text };
      }
      // A resumable native session numbers every frame (`seq`). Kept readable as `f.seq` but not
      // enumerable, so a test comparing a frame's content need not know its number; the resume
      // tests read it explicitly.
      if (f && typeof f === 'object' && typeof f.seq === 'number') Object.defineProperty(f, 'seq', { value: f.seq, enumerable: false });
      const i = this.waiters.findIndex((w) => w.pred(f));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(f);
      else this.frames.push(f);
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        for (const w of this.waiters.splice(0)) w.reject(new Error(`socket closed (${code} ${this.closeReason}) while waiting for a frame`));
        resolve({ code, reason: this.closeReason });
      });
    });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /**
   * The next frame (in arrival order) that matches; earlier non-matching frames stay queued. The
   * guard only turns a hang into a failure: 15 s by default, as a CI machine's two cores run three
   * test files, their servers and their redis-servers at once.
   */
  next(pred: string | ((f: Frame) => boolean) = () => true, guardMs = HANG_GUARD_MS): Promise<Frame> {
    const p = typeof pred === 'string' ? (f: Frame) => f.type === pred : pred;
    const i = this.frames.findIndex(p);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]!);
    if (this.closeCode !== undefined) return Promise.reject(new Error(`socket already closed (${this.closeCode})`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== wrapped);
        reject(new Error(`no frame matching ${typeof pred === 'string' ? pred : 'predicate'} within ${guardMs} ms; queued: ${JSON.stringify(this.frames)}`));
      }, guardMs);
      const wrapped = (f: Frame) => {
        clearTimeout(timer);
        resolve(f);
      };
      this.waiters.push({ pred: p, resolve: wrapped, reject: (e) => (clearTimeout(timer), reject(e)) });
    });
  }

  /** Takes every queued frame (those received and not yet consumed). */
  take(): Frame[] {
    return this.frames.splice(0);
  }

  /** The close the server sends; the guard only turns a hang into a failure. */
  closedWithin(guardMs = HANG_GUARD_MS): Promise<{ code: number; reason: string }> {
    let timer: NodeJS.Timeout | undefined;
    const guard = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the server did not close the socket')), guardMs);
    });
    return Promise.race([this.closed, guard]).finally(() => clearTimeout(timer));
  }

  close(code?: number): Promise<{ code: number; reason: string }> {
    this.ws.close(code);
    return this.closed;
  }
}

/** Opens a WebSocket (with subprotocols, if given); a refused handshake rejects with its status, body and content type. */
export function connect(url: string, opts: WebSocket.ClientOptions = {}, protocols?: string[]): Promise<TestClient> {
  return new Promise((resolve, reject) => {
    const ws = protocols ? new WebSocket(url, protocols, opts) : new WebSocket(url, opts);
    const c = new TestClient(ws);
    ws.once('open', () => resolve(c));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${body}`), { status: res.statusCode, body, type: res.headers['content-type'] })));
    });
  });
}

/** Opens a WebSocket expecting the handshake to be refused; resolves with status and body. */
export function refused(url: string): Promise<{ status: number; body: string }> {
  return connect(url).then(
    (c) => {
      c.ws.terminate();
      throw new Error(`expected ${url} to be refused, but it connected`);
    },
    (err: Error & { status?: number; body?: string }) => {
      if (err.status === undefined) throw err;
      return { status: err.status, body: err.body ?? '' };
    },
  );
}
