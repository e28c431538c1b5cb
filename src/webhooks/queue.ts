import type { QueuedEvent } from './events.js';

/**
 * Where events wait for delivery. An event leaves the queue only once it was delivered or given up
 * (remove), so a delivering node that dies leaves it for the next one. `lead` elects the one node
 * that delivers; in memory that is always this one.
 */
export interface WebhookQueue {
  /** Whether the queue outlives this node (Redis): then what is left at stop is not lost. */
  readonly shared: boolean;
  /** Events waiting, as this node last saw it. */
  readonly size: number;
  start(): Promise<void>;
  /** Appends after everything queued before (the caller's order is kept); 'full' at maxQueue (nothing kept). Rejects when the store is unreachable. */
  push(e: QueuedEvent): Promise<'queued' | 'full'>;
  /** The oldest waiting events, at most `max`, oldest first. */
  peek(max: number): Promise<QueuedEvent[]>;
  remove(e: QueuedEvent): Promise<void>;
  /** Takes or keeps the lead; true while this node is the one that delivers. */
  lead(): Promise<boolean>;
  /** Gives up the lead and lets go of the store; resolves with the events left in this node's keeping (memory). */
  close(): Promise<number>;
}

/** One node, one process: an array, always led by this node. */
export class MemoryQueue implements WebhookQueue {
  readonly shared = false;
  private items: QueuedEvent[] = [];

  constructor(private readonly max: number) {}

  get size(): number {
    return this.items.length;
  }

  async start(): Promise<void> {}

  async push(e: QueuedEvent): Promise<'queued' | 'full'> {
    if (this.items.length >= this.max) return 'full';
    this.items.push(e);
    return 'queued';
  }

  async peek(max: number): Promise<QueuedEvent[]> {
    return this.items.slice(0, max);
  }

  async remove(e: QueuedEvent): Promise<void> {
    const i = this.items.indexOf(e);
    if (i >= 0) this.items.splice(i, 1);
  }

  async lead(): Promise<boolean> {
    return true;
  }

  async close(): Promise<number> {
    const left = this.items.length;
    this.items = [];
    return left;
  }
}
