/**
 * Time, injected. Every timer in Switchboard (heartbeats, idle timeouts, room expiry, grace periods)
 * goes through a Clock so tests drive time exactly instead of sleeping.
 */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): Timer;
  setInterval(fn: () => void, ms: number): Timer;
}

/**
 * The longest delay Node's timers take (2^31-1 ms, about 24.8 days). A longer one is silently set to
 * 1 ms, which would turn a 30-day token lifetime or a long TURN refresh period into "now".
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timeout that may be longer than Node's limit: chained timers, each within it. */
function longTimeout(fn: () => void, ms: number): Timer {
  const due = Date.now() + ms;
  let h: NodeJS.Timeout;
  const step = (): void => {
    const left = due - Date.now();
    h = left > MAX_TIMER_MS ? setTimeout(step, MAX_TIMER_MS) : setTimeout(fn, Math.max(0, left));
    h.unref?.();
  };
  step();
  return { cancel: () => clearTimeout(h) };
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    if (ms > MAX_TIMER_MS) return longTimeout(fn, ms);
    const h = setTimeout(fn, ms);
    h.unref?.();
    return { cancel: () => clearTimeout(h) };
  },
  setInterval(fn, ms) {
    if (ms > MAX_TIMER_MS) {
      let t: Timer;
      const tick = (): void => {
        t = longTimeout(tick, ms);
        fn();
      };
      t = longTimeout(tick, ms);
      return { cancel: () => t.cancel() };
    }
    const h = setInterval(fn, ms);
    h.unref?.();
    return { cancel: () => clearInterval(h) };
  },
};

interface Scheduled {
  at: number;
  seq: number;
  every: number;
  fn: () => void;
  live: boolean;
}

/** A clock that only moves when told to. Timers fire in due order during advance(). */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: Scheduled[] = [];

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.add(fn, ms, 0);
  }

  setInterval(fn: () => void, ms: number): Timer {
    return this.add(fn, ms, Math.max(1, ms));
  }

  /** Number of live timers: lets tests check that nothing was leaked. */
  get pending(): number {
    return this.timers.filter((s) => s.live).length;
  }

  /** Moves time forward by ms, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = this.nextDue(end);
      if (!next) break;
      this.t = next.at;
      if (next.every > 0) next.at += next.every;
      else next.live = false;
      next.fn();
    }
    this.t = end;
    this.timers = this.timers.filter((s) => s.live);
  }

  private nextDue(end: number): Scheduled | undefined {
    let best: Scheduled | undefined;
    for (const s of this.timers) {
      if (!s.live || s.at > end) continue;
      if (!best || s.at < best.at || (s.at === best.at && s.seq < best.seq)) best = s;
    }
    return best;
  }

  private add(fn: () => void, ms: number, every: number): Timer {
    const s: Scheduled = { at: this.t + Math.max(0, ms), seq: this.seq++, every, fn, live: true };
    this.timers.push(s);
    return { cancel: () => { s.live = false; } };
  }
}
