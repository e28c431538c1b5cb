import { performance } from 'node:perf_hooks';
import type { Clock, Timer } from '../core/clock.js';
import type { LifecycleSink, LifecycleType } from '../core/lifecycle.js';
import { silentLogger, type CoreLogger } from '../core/session.js';
import { eventBody, type QueuedEvent } from './events.js';
import type { WebhookQueue } from './queue.js';
import { Sender } from './sender.js';
import { messageId, secretKey, sign } from './signing.js';

/**
 * Why an event was not delivered: the queue was at maxQueue, every attempt failed, the receiver
 * answered 410 Gone, the shared store was unreachable when it was to be queued, or the node stopped
 * with it still in its (memory) queue.
 */
export type DropReason = 'queue-full' | 'attempts' | 'gone' | 'store-down' | 'shutdown';

/** Metrics hooks (observability/metrics.ts). */
export interface WebhookObserver {
  webhookDelivered(): void;
  webhookAttemptFailed(): void;
  webhookDropped(reason: DropReason, n: number): void;
  /** One attempt's duration, answered or not. */
  webhookAttempt(seconds: number): void;
}

export interface WebhooksOptions {
  url: string;
  secret: string;
  timeoutMs: number;
  maxAttempts: number;
  queue: WebhookQueue;
  clock: Clock;
  /** `Switchboard/<version>` in the user-agent. */
  version: string;
  log?: CoreLogger;
  observer?: WebhookObserver;
  /** How often the lead is taken or renewed and the queue looked at (events other nodes queued). */
  tickMs?: number;
  /** Rooms delivered in parallel (each room's events one after the other). */
  parallel?: number;
  random?: () => number;
}

/** Retry delays: 1 s doubling per attempt, up to 50 % jitter on top (so failed receivers are not hit in lockstep), at most 5 minutes. */
export function retryDelay(failedAttempts: number, random: () => number = Math.random): number {
  const base = 1000 * 2 ** Math.min(failedAttempts - 1, 20);
  return Math.min(MAX_RETRY_DELAY_MS, Math.round(base * (1 + 0.5 * random())));
}

export const MAX_RETRY_DELAY_MS = 300_000;
/** How many waiting events the leader looks at to find the next one of each room. */
const WINDOW = 200;
/** Drops of one reason are logged at most this often (with how many there were since). */
const DROP_LOG_INTERVAL_MS = 10_000;

/**
 * Lifecycle webhooks: the hub's LifecycleSink. Each event is queued (memory, or one Redis list for
 * the cluster) by the node that produced it, and delivered by the queue's leader: signed per
 * Standard Webhooks, retried with backoff on the injected clock, the same webhook-id every time,
 * each room's events one after the other, up to `parallel` rooms at once (docs/operations.md, "Webhooks").
 */
export class Webhooks implements LifecycleSink {
  private readonly queue: WebhookQueue;
  private readonly sender: Sender;
  private readonly key: Buffer;
  private readonly clock: Clock;
  private readonly log: CoreLogger;
  private readonly observer: WebhookObserver | undefined;
  private readonly userAgent: string;
  private readonly parallel: number;
  private readonly random: () => number;
  private timer: Timer | undefined;
  private leading = false;
  private stopping = false;
  private stopped = false;
  /** Deliveries in flight, by room. */
  private readonly inflight = new Map<string, Promise<void>>();
  private pumping = false;
  private again = false;
  /** Retry waits, resolved early on stop. */
  private readonly sleeping = new Set<() => void>();
  private readonly dropLog = new Map<DropReason, { at: number; since: number }>();

  constructor(private readonly opts: WebhooksOptions) {
    this.queue = opts.queue;
    this.clock = opts.clock;
    this.log = (opts.log ?? silentLogger).child({ webhooks: opts.url });
    this.observer = opts.observer;
    this.key = secretKey(opts.secret);
    this.sender = new Sender(opts.url, opts.clock, opts.timeoutMs);
    this.userAgent = `Switchboard/${opts.version} (webhooks)`;
    this.parallel = opts.parallel ?? 8;
    this.random = opts.random ?? Math.random;
  }

  /** Events waiting, as this node sees it (the gauge). */
  get queued(): number {
    return this.queue.size;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  async start(): Promise<void> {
    await this.queue.start();
    this.timer = this.clock.setInterval(() => void this.tick(), this.opts.tickMs ?? 1000);
    await this.tick();
  }

  /** Called by the hub right after the store change: queued at once, so one node's events keep the store's order. */
  event(type: LifecycleType, roomKey: string, data: Record<string, unknown>): void {
    const e: QueuedEvent = { id: messageId(), room: roomKey, type, body: eventBody(type, roomKey, data, this.clock.now()) };
    if (this.stopped) return this.drop('shutdown', e, 'the node has stopped delivering');
    let pushed: Promise<'queued' | 'full'>;
    try {
      pushed = this.queue.push(e);
    } catch (err) {
      return this.drop('store-down', e, (err as Error).message);
    }
    pushed.then(
      (r) => (r === 'full' ? this.drop('queue-full', e, 'the webhook queue is full') : void this.pump()),
      (err: unknown) => this.drop('store-down', e, err instanceof Error ? err.message : String(err)),
    );
  }

  private async tick(): Promise<void> {
    if (this.stopping) return;
    let now: boolean;
    try {
      now = await this.queue.lead();
    } catch (err) {
      now = false;
      if (this.leading) this.log.warn({ err: (err as Error).message }, 'webhook delivery paused: the shared store is unreachable');
    }
    if (now !== this.leading) this.log.info({}, now ? 'this node delivers webhooks now' : 'another node delivers webhooks now');
    this.leading = now && !this.stopping;
    void this.pump();
  }

  /** Starts the next event of every room that has none in flight, up to `parallel` rooms. */
  private async pump(): Promise<void> {
    if (!this.leading || this.stopping) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.again = false;
        if (this.inflight.size >= this.parallel) break;
        const waiting = await this.queue.peek(WINDOW);
        const busy = new Set(this.inflight.keys());
        for (const e of waiting) {
          if (this.inflight.size >= this.parallel || !this.leading || this.stopping) break;
          // A room's first waiting event is its next one: the ones after it wait their turn.
          if (busy.has(e.room)) continue;
          busy.add(e.room);
          const run = this.deliver(e).finally(() => {
            this.inflight.delete(e.room);
            void this.pump();
          });
          this.inflight.set(e.room, run);
        }
      } while (this.again);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'webhook queue not read (shared store unreachable?); retrying on the next tick');
    } finally {
      this.pumping = false;
    }
  }

  /** Every attempt of one event, until delivered, given up, or this node stops leading (it stays queued). */
  private async deliver(e: QueuedEvent): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if (!this.leading || this.stopping) return;
      const ts = Math.floor(this.clock.now() / 1000);
      const t0 = performance.now();
      const res = await this.sender.post(
        {
          'content-type': 'application/json',
          'user-agent': this.userAgent,
          'webhook-id': e.id,
          'webhook-timestamp': String(ts),
          'webhook-signature': sign(this.key, e.id, ts, e.body),
        },
        e.body,
      );
      this.observer?.webhookAttempt((performance.now() - t0) / 1000);
      if (this.stopping && 'error' in res) return; // abandoned by the drain: left queued
      if ('status' in res && res.status >= 200 && res.status < 300) {
        this.observer?.webhookDelivered();
        this.log.debug({ id: e.id, type: e.type, room: e.room, attempt }, 'webhook delivered');
        return this.done(e);
      }
      this.observer?.webhookAttemptFailed();
      const last = 'status' in res ? res.status : res.error;
      const gone = 'status' in res && res.status === 410;
      if (gone || attempt >= this.opts.maxAttempts) {
        this.observer?.webhookDropped(gone ? 'gone' : 'attempts', 1);
        this.log.warn({ id: e.id, type: e.type, room: e.room, attempts: attempt, last }, gone ? 'webhook dropped: the receiver answered 410 Gone' : 'webhook dropped after its last attempt');
        return this.done(e);
      }
      this.log.debug({ id: e.id, type: e.type, room: e.room, attempt, last }, 'webhook attempt failed; retrying');
      await this.sleep(retryDelay(attempt, this.random));
    }
  }

  private async done(e: QueuedEvent): Promise<void> {
    await this.queue.remove(e).catch((err: unknown) => this.log.warn({ id: e.id, err: (err as Error).message }, 'webhook not removed from the queue: it will be delivered again'));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        t.cancel();
        this.sleeping.delete(wake);
        resolve();
      };
      const t = this.clock.setTimeout(wake, ms);
      this.sleeping.add(wake);
    });
  }

  /** Counted always; logged at most once per interval per reason, with how many since. */
  private drop(reason: DropReason, e: QueuedEvent, why: string): void {
    this.observer?.webhookDropped(reason, 1);
    const now = this.clock.now();
    const d = this.dropLog.get(reason);
    if (d && now - d.at < DROP_LOG_INTERVAL_MS) {
      d.since++;
      return;
    }
    this.log.warn({ reason, id: e.id, type: e.type, room: e.room, why, droppedSinceLastLine: d?.since ?? 0 }, 'webhook event dropped');
    this.dropLog.set(reason, { at: now, since: 0 });
  }

  /**
   * Stops delivering: in-flight deliveries get `graceMs` (injected clock) to finish, then are
   * abandoned. A shared queue keeps what is left for the next leader; a memory one's is counted
   * as dropped (shutdown) and logged.
   */
  async stop(graceMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.timer?.cancel();
    for (const wake of [...this.sleeping]) wake();
    const pending = [...this.inflight.values()];
    if (pending.length && graceMs > 0) {
      let t: Timer | undefined;
      await Promise.race([Promise.allSettled(pending), new Promise<void>((r) => (t = this.clock.setTimeout(r, graceMs)))]);
      t?.cancel();
    }
    this.sender.close();
    await Promise.allSettled([...this.inflight.values()]);
    this.leading = false;
    this.stopped = true;
    const left = await this.queue.close();
    if (left > 0) {
      this.observer?.webhookDropped('shutdown', left);
      this.log.warn({ dropped: left }, 'webhook events not delivered before the stop were dropped (memory queue)');
    }
  }
}
