import { markerText, readMarker } from '../marker.js';
import { payloadBank } from '../payloads.js';
import { bounded, Client, connectClient, nativeWire, roomFrames } from '../protocol.js';
import { Failure, MeasureWindow, settleWithin, type LoadDriver, type StartMode, type Totals, type WindowResult } from './driver.js';
import { closeAll, leadingSeq } from './relay.js';
import { microClock } from './samples.js';

type Frame = { type?: string; peers?: { peerId: string }[]; peer?: { peerId: string }; from?: string };

/** Tracks who a member knows in its room (from `joined` and `peer-joined`). */
class Member {
  readonly known = new Set<string>();
  joinedAt = -1;
  fullAt = -1;
  constructor(readonly c: Client) {}

  /** Applies a roster frame; true when it was one. */
  roster(f: Frame): boolean {
    if (f.type === 'joined') {
      for (const p of f.peers ?? []) this.known.add(p.peerId);
      return true;
    }
    if (f.type === 'peer-joined' && f.peer) {
      this.known.add(f.peer.peerId);
      return true;
    }
    return false;
  }
}

function parse(buf: Buffer): Frame {
  return JSON.parse(buf.toString()) as Frame;
}

export interface StormOptions {
  base: string;
  clients: number;
  roomSize: number;
  /** Room-name prefix, unique per run and worker. */
  name: string;
  concurrency?: number;
  clock?: () => number;
  /** Fails the storm with a progress report after this long (real time). */
  timeoutMs?: number;
}

export interface StormResult {
  clients: number;
  /** From the storm's start, per client, microseconds: the `joined` reply. */
  joinedUs: Float64Array;
  /** From the storm's start, per client: the moment it knew every other member of its room. */
  rosterUs: Float64Array;
}

/**
 * K clients connect and join rooms of `roomSize` at once (handshakes bounded by `concurrency`).
 * Each client's roster is complete when it knows all `roomSize − 1` others, from its `joined` reply
 * and the `peer-joined` events after it.
 */
export class StormDriver {
  private readonly fail = new Failure();
  private readonly members: Member[] = [];
  private readonly clock: () => number;

  constructor(private readonly opts: StormOptions) {
    this.clock = opts.clock ?? microClock;
    if (opts.clients % opts.roomSize !== 0) throw new Error(`join storm: ${opts.clients} clients do not fill rooms of ${opts.roomSize}`);
  }

  get failed(): Promise<never> {
    return this.fail.promise;
  }

  async run(): Promise<StormResult> {
    const { clients, roomSize, name, base } = this.opts;
    const t0 = this.clock();
    let full = 0;
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    const indexes = Array.from({ length: clients }, (_, i) => i);
    const connecting = bounded(indexes, this.opts.concurrency ?? 64, async (i) => {
      const c = await connectClient(base, nativeWire, `${name}-${i}`);
      const m = new Member(c);
      this.members.push(m);
      c.onLost = (why) => this.fail.fail(why);
      c.onFrame = (buf) => {
        const f = parse(buf);
        if (f.type === 'error') return this.fail.fail(`join refused: ${buf.toString()}`);
        if (!m.roster(f)) return;
        const now = this.clock() - t0;
        if (f.type === 'joined') m.joinedAt = now;
        if (m.fullAt < 0 && m.joinedAt >= 0 && m.known.size >= roomSize - 1) {
          m.fullAt = now;
          if (++full === clients) done();
        }
      };
      c.send(roomFrames.join(`${name}-r${Math.floor(i / roomSize)}`));
    }).catch((err: Error) => this.fail.fail(err.message));
    const guard = setTimeout(() => {
      const joined = this.members.filter((m) => m.joinedAt >= 0).length;
      this.fail.fail(
        `join storm incomplete after ${this.opts.timeoutMs} ms: ${this.members.length} of ${clients} connected, ${joined} joined, ${full} know their whole room of ${roomSize}`,
      );
    }, this.opts.timeoutMs ?? 60_000);
    try {
      await Promise.race([Promise.all([connecting, all]), this.fail.promise]);
    } finally {
      clearTimeout(guard);
    }
    return {
      clients,
      joinedUs: Float64Array.from(this.members, (m) => m.joinedAt),
      rosterUs: Float64Array.from(this.members, (m) => m.fullAt),
    };
  }

  async close(): Promise<void> {
    await closeAll(this.members.map((m) => m.c));
  }
}

export interface FanoutOptions {
  base: string;
  members: number;
  /** Broadcasts in flight; one completes when every other member has it. */
  window: number;
  name: string;
  /** This room's tag (unique across workers). */
  tag: number;
  clock?: () => number;
  verifyEvery?: number;
  seed?: number;
  /** Stop broadcasting after this many broadcasts (bench:instructions); undefined: until stop(). */
  maxBroadcasts?: number;
  /**
   * Native members acknowledge (`received`) every this many numbered frames, as the client SDK
   * does; undefined: never (a resumable session's replay buffer then sits at its bound).
   */
  ackEvery?: number;
}

/**
 * One room of `members`; members take turns broadcasting a ~200 B message, closed loop. Latency is
 * per delivery (send → each receipt). In the window, `sent` counts broadcasts, `received` deliveries.
 */
export class FanoutDriver implements LoadDriver {
  private readonly fail = new Failure();
  private readonly members: Member[] = [];
  private readonly clock: () => number;
  private readonly bodies: string[];
  private readonly pending = new Map<number, { from: string; left: number }>();
  private seq = 0;
  private turn = 0;
  private running = false;
  private sentBroadcasts = 0;
  private delivered = 0;
  private readonly win = new MeasureWindow();
  private idleWaiter: (() => void) | undefined;
  /** Numbered frames each member received since it last acknowledged (opts.ackEvery). */
  private readonly unacked = new Map<Member, number>();

  constructor(private readonly opts: FanoutOptions) {
    this.clock = opts.clock ?? microClock;
    this.bodies = payloadBank(opts.seed ?? 2).candidate;
  }

  get failed(): Promise<never> {
    return this.fail.promise;
  }

  private get room(): string {
    return `${this.opts.name}-${this.opts.tag}`;
  }

  async connect(): Promise<void> {
    const ids = Array.from({ length: this.opts.members }, (_, i) => `${this.opts.name}-${i}`);
    const clients = await bounded(ids, 16, (id) => connectClient(this.opts.base, nativeWire, id)).catch((err: Error) => {
      this.fail.fail(err.message);
      throw err;
    });
    let full = 0;
    const need = this.opts.members - 1;
    let ready!: () => void;
    const allFull = new Promise<void>((resolve) => (ready = resolve));
    for (const c of clients) {
      const m = new Member(c);
      this.members.push(m);
      c.onLost = (why) => this.fail.fail(why);
      c.onFrame = (buf) => {
        const f = parse(buf);
        if (f.type === 'error') return this.fail.fail(`join refused: ${buf.toString()}`);
        if (m.roster(f) && m.fullAt < 0 && m.known.size >= need) {
          m.fullAt = 0;
          if (++full === this.members.length) ready();
        }
      };
    }
    for (const m of this.members) m.c.send(roomFrames.join(this.room));
    await Promise.race([allFull, this.fail.promise]);
    for (const m of this.members) m.c.onFrame = (buf) => this.onFrame(m, buf);
  }

  start(_mode: StartMode): void {
    this.running = true;
    for (let i = 0; i < this.opts.window && this.mayBroadcast(); i++) this.broadcast();
  }

  private mayBroadcast(): boolean {
    return this.running && (this.opts.maxBroadcasts === undefined || this.sentBroadcasts < this.opts.maxBroadcasts);
  }

  /** Resolves once opts.maxBroadcasts broadcasts were sent and every member has each of them. */
  finished(): Promise<void> {
    if (this.pending.size === 0 && !this.mayBroadcast()) return Promise.resolve();
    return Promise.race([new Promise<void>((resolve) => (this.idleWaiter = resolve)), this.fail.promise]);
  }

  private broadcast(): void {
    const m = this.members[this.turn]!;
    this.turn = (this.turn + 1) % this.members.length;
    const seq = this.seq++;
    const data = markerText(this.opts.tag, seq, this.clock()) + this.bodies[seq % this.bodies.length] + '}';
    const frame = roomFrames.broadcast(this.room, data);
    this.pending.set(seq, { from: m.c.id, left: this.members.length - 1 });
    m.c.send(frame);
    this.sentBroadcasts++;
    this.win.sent(frame.length);
  }

  private onFrame(m: Member, buf: Buffer): void {
    const mk = readMarker(buf);
    if (!mk) {
      const text = buf.toString();
      if (text.includes('"type":"error"')) this.fail.fail(`the target answered with an error: ${text.slice(0, 300)}`);
      return;
    }
    const now = this.clock();
    const p = this.pending.get(mk.seq);
    if (mk.tag !== this.opts.tag || !p) return this.fail.fail(`unexpected delivery: room ${mk.tag} broadcast ${mk.seq}`);
    this.delivered++;
    if (this.opts.ackEvery !== undefined) this.ack(m, buf);
    if (this.delivered % (this.opts.verifyEvery ?? 64) === 0) {
      const f = parse(buf);
      if (f.type !== 'broadcast' || f.from !== p.from) this.fail.fail(`wrong sender: expected ${p.from}: ${buf.toString().slice(0, 200)}`);
      if (f.from === m.c.id) this.fail.fail('a broadcast came back to its sender');
    }
    this.win.received(buf.length, now - mk.sentAt);
    if (--p.left === 0) {
      this.pending.delete(mk.seq);
      if (this.mayBroadcast()) this.broadcast();
      else if (this.pending.size === 0) this.idleWaiter?.();
    }
  }

  private ack(m: Member, buf: Buffer): void {
    const n = (this.unacked.get(m) ?? 0) + 1;
    if (n < this.opts.ackEvery!) return void this.unacked.set(m, n);
    this.unacked.set(m, 0);
    const seq = leadingSeq(buf);
    if (seq !== undefined) m.c.send(`{"type":"received","seq":${seq}}`);
  }

  beginMeasure(): void {
    this.win.begin();
  }

  endMeasure(): WindowResult {
    return this.win.end();
  }

  async stop(timeoutMs: number): Promise<Totals> {
    this.running = false;
    if (this.pending.size > 0) await settleWithin(new Promise<void>((resolve) => (this.idleWaiter = resolve)), timeoutMs);
    const expected = this.sentBroadcasts * (this.members.length - 1);
    return { sent: expected, received: this.delivered, lost: expected - this.delivered };
  }

  async close(): Promise<void> {
    this.running = false;
    await closeAll(this.members.map((m) => m.c));
  }
}
