/**
 * A resumable session's outbound log: every event handed to the session gets the next sequence
 * number and is kept, so that a client that lost its socket can say "I have everything up to N"
 * and receive the rest, in order, once. Pure data: no clock, no I/O.
 *
 * Bounded in bytes (each entry's size as the caller measures it: a frame's text length). While the
 * session has a socket, the oldest entries give way when the bound is reached: the client has most
 * likely read them, and if it has not, a later resume from before them fails with
 * `seq-out-of-range` (never a silent gap). While the session has no socket, nothing can be given
 * up: an append past the bound reports an overflow and the owner ends the session.
 *
 * It is on the relay path of every resumable session, so an entry costs no object of its own: items
 * and sizes sit in two arrays (a queue with a moving head), and an entry's seq is its position.
 */

export interface LogEntry<T> {
  seq: number;
  item: T;
  bytes: number;
}

export type ReplayResult<T> = { ok: true; entries: LogEntry<T>[] } | { ok: false; code: 'seq-out-of-range' };

export class ReplayLog<T> {
  private items: (T | undefined)[] = [];
  private sizes: number[] = [];
  /** Index of the oldest live entry in the arrays. */
  private head = 0;
  /** The seq of items[0]. */
  private base = 1;
  private bytes = 0;

  /** `startAfter`: the seq already handed out before this log took over (a stored session kept on after its store went away). */
  constructor(
    readonly maxBytes: number,
    startAfter = 0,
  ) {
    this.base = startAfter + 1;
  }

  /** The seq of the newest entry (0 before the first). */
  get lastSeq(): number {
    return this.base + this.items.length - 1;
  }

  /** The seq of the oldest entry kept (lastSeq + 1 when empty). */
  get firstSeq(): number {
    return this.base + this.head;
  }

  get size(): number {
    return this.items.length - this.head;
  }

  get byteSize(): number {
    return this.bytes;
  }

  /**
   * Numbers and keeps one item. With `mayEvict` (the session has a socket) the oldest entries make
   * room; without it, an append that does not fit returns undefined and keeps nothing.
   */
  append(item: T, bytes: number, mayEvict: boolean): number | undefined {
    if (this.bytes + bytes > this.maxBytes) {
      if (!mayEvict) return undefined;
      while (this.size > 0 && this.bytes + bytes > this.maxBytes) this.dropOldest();
    }
    this.items.push(item);
    this.sizes.push(bytes);
    this.bytes += bytes;
    return this.lastSeq;
  }

  /** The client has processed everything up to `seq`: forget it. */
  ackUpTo(seq: number): void {
    while (this.size > 0 && this.firstSeq <= seq) this.dropOldest();
  }

  /**
   * Every entry after `seq`, for a client that received up to `seq`. Fails when entries it has not
   * seen were already given up, or when it claims more than was ever sent.
   */
  after(seq: number): ReplayResult<T> {
    if (!Number.isInteger(seq) || seq < 0 || seq > this.lastSeq || seq + 1 < this.firstSeq) return { ok: false, code: 'seq-out-of-range' };
    const out: LogEntry<T>[] = [];
    for (let i = seq + 1 - this.base; i < this.items.length; i++) out.push({ seq: this.base + i, item: this.items[i] as T, bytes: this.sizes[i]! });
    return { ok: true, entries: out };
  }

  private dropOldest(): void {
    this.bytes -= this.sizes[this.head]!;
    this.items[this.head] = undefined;
    this.head++;
    // Compact once the dead prefix is the larger part: amortised O(1) per entry.
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.base += this.head;
      this.head = 0;
    }
  }
}
