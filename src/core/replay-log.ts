/**
 * A resumable session's outbound log: every event handed to the session gets the next sequence
 * number and is kept, so that a client that lost its socket can say "I have everything up to N"
 * and receive the rest, in order, once. Pure data: no clock, no I/O.
 *
 * Bounded in bytes (an estimate of each entry's wire size, see `sizeOf`). While the session has a
 * socket, the oldest entries give way when the bound is reached: the client has most likely read
 * them, and if it has not, a later resume from before them fails with `seq-out-of-range` (never a
 * silent gap). While the session has no socket, nothing can be given up: an append past the bound
 * reports an overflow and the owner ends the session.
 */

export interface LogEntry<T> {
  seq: number;
  item: T;
  bytes: number;
}

export type ReplayResult<T> = { ok: true; entries: LogEntry<T>[] } | { ok: false; code: 'seq-out-of-range' };

export class ReplayLog<T> {
  /** Entries in seq order; `head` is the index of the oldest live one (a queue without shifts). */
  private entries: LogEntry<T>[] = [];
  private head = 0;
  private bytes = 0;
  /** The last sequence number handed out (0: none yet). */
  private last = 0;

  /** `startAfter`: the seq already handed out before this log took over (a stored session kept on after its store went away). */
  constructor(
    readonly maxBytes: number,
    startAfter = 0,
  ) {
    this.last = startAfter;
  }

  /** The seq of the newest entry (0 before the first). */
  get lastSeq(): number {
    return this.last;
  }

  /** The seq of the oldest entry kept (lastSeq + 1 when empty). */
  get firstSeq(): number {
    return this.head < this.entries.length ? this.entries[this.head]!.seq : this.last + 1;
  }

  get size(): number {
    return this.entries.length - this.head;
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
    const seq = ++this.last;
    this.entries.push({ seq, item, bytes });
    this.bytes += bytes;
    return seq;
  }

  /** The client has processed everything up to `seq`: forget it. */
  ackUpTo(seq: number): void {
    while (this.size > 0 && this.entries[this.head]!.seq <= seq) this.dropOldest();
  }

  /**
   * Every entry after `seq`, for a client that received up to `seq`. Fails when entries it has not
   * seen were already given up, or when it claims more than was ever sent.
   */
  after(seq: number): ReplayResult<T> {
    if (!Number.isInteger(seq) || seq < 0 || seq > this.last || seq + 1 < this.firstSeq) return { ok: false, code: 'seq-out-of-range' };
    const out: LogEntry<T>[] = [];
    for (let i = this.head; i < this.entries.length; i++) if (this.entries[i]!.seq > seq) out.push(this.entries[i]!);
    return { ok: true, entries: out };
  }

  private dropOldest(): void {
    const e = this.entries[this.head]!;
    this.entries[this.head] = undefined as unknown as LogEntry<T>;
    this.head++;
    this.bytes -= e.bytes;
    // Compact once the dead prefix is the larger part: amortised O(1) per entry.
    if (this.head > 64 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
