import { Worker } from 'node:worker_threads';
import type { Task } from './worker.js';

const WORKER_URL = new URL('./worker.js', import.meta.url);

/**
 * The main thread's handle on N load-generator workers. Every call goes to all workers and
 * resolves with their answers in order; any worker's failure (its own report, an exception, an
 * exit) rejects `failed` and every pending call, so a dead target stops the run at once.
 */
export class WorkerPool {
  private readonly workers: Worker[];
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private closing = false;
  private rejectFailed!: (e: Error) => void;
  readonly failed: Promise<never>;
  error: Error | undefined;

  constructor(tasks: Task[]) {
    this.failed = new Promise<never>((_, reject) => (this.rejectFailed = reject));
    this.failed.catch(() => {});
    this.workers = tasks.map((t, i) => {
      const w = new Worker(WORKER_URL, { workerData: t });
      w.on('message', (m: { id?: number; ok?: boolean; value?: unknown; error?: string; fail?: string }) => {
        if (m.fail !== undefined) return this.fail(new Error(m.fail));
        const p = this.pending.get(m.id!);
        if (!p) return;
        this.pending.delete(m.id!);
        if (m.ok) p.resolve(m.value);
        else p.reject(new Error(m.error));
      });
      w.on('error', (err) => this.fail(new Error(`load-generator worker ${i} crashed: ${err.message}`)));
      w.on('exit', (code) => {
        if (!this.closing) this.fail(new Error(`load-generator worker ${i} exited (${code})`));
      });
      return w;
    });
  }

  get size(): number {
    return this.workers.length;
  }

  private fail(err: Error): void {
    if (this.error) return;
    this.error = err;
    this.rejectFailed(err);
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  /** Sends one command to every worker (args by worker index, or one for all). */
  call<T>(cmd: string, arg?: unknown | ((i: number) => unknown)): Promise<T[]> {
    if (this.error) return Promise.reject(this.error);
    return Promise.all(
      this.workers.map(
        (w, i) =>
          new Promise<T>((resolve, reject) => {
            const id = this.nextId++;
            this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
            w.postMessage({ id, cmd, arg: typeof arg === 'function' ? (arg as (i: number) => unknown)(i) : arg });
          }),
      ),
    );
  }

  /** Asks the workers to close their sockets (bounded), then ends them. */
  async close(): Promise<void> {
    if (!this.error) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([this.call('close').catch(() => {}), new Promise((r) => (t = setTimeout(r, 5000)))]);
      clearTimeout(t);
    }
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
