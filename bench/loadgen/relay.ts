import { readMarker, markerText } from '../marker.js';
import { payloadBank, SCRIPT, type PayloadBank } from '../payloads.js';
import { bounded, Client, connectClient, roomFrames, wireFor, type Protocol, type Wire } from '../protocol.js';
import { Failure, MeasureWindow, settleWithin, type LoadDriver, type StartMode, type Totals, type WindowResult } from './driver.js';
import { microClock } from './samples.js';

export interface RelayOptions {
  /** ws://127.0.0.1:PORT */
  base: string;
  /** Where the second member of each pair connects (cluster: another node); default `base`. */
  baseB?: string;
  protocol: Protocol;
  pairs: number;
  /** Closed loop: messages in flight per pair (a receipt releases the next send). */
  window: number;
  /** Tag of this driver's first pair; tags must be unique across the workers of one run. */
  tagBase: number;
  /** Prefix for client-chosen ids and room names (unique per run). */
  name: string;
  /** Integer microseconds; sender and receiver of a pair share it (same thread). */
  clock?: () => number;
  /** Stop sending after this many messages (tests); undefined: until stop(). */
  maxSends?: number;
  /** Fully parse every n-th delivery and check the stated sender (1: every one). */
  verifyEvery?: number;
  seed?: number;
  connectConcurrency?: number;
  /** Keep every (tag, seq, sentAt, receivedAt) — for tests. */
  recordRaw?: boolean;
}

interface Pair {
  tag: number;
  a: Client;
  b: Client;
  /** Position in SCRIPT of the next message. */
  pos: number;
  seq: number;
  /** Frames each side received since it last acknowledged (native `received`), a then b. */
  unacked: [number, number];
}

/**
 * Native clients acknowledge what they processed every this many frames, as the client SDK does by
 * default (its `ackEvery`): the server then keeps little for a resume, as it would in production.
 */
export const ACK_EVERY = 32;

/** The seq a Switchboard native frame starts with (`{"seq":N,…`); undefined for any other frame. */
export function leadingSeq(buf: Buffer): number | undefined {
  if (buf.length < 9 || buf[0] !== 0x7b || buf[2] !== 0x73 || buf[3] !== 0x65 || buf[4] !== 0x71) return undefined;
  let n = 0;
  let i = 7;
  for (; i < buf.length && buf[i]! >= 0x30 && buf[i]! <= 0x39; i++) n = n * 10 + buf[i]! - 0x30;
  return i > 7 ? n : undefined;
}

export interface RawReceipt {
  tag: number;
  seq: number;
  sentAt: number;
  receivedAt: number;
  /** Which side received it. */
  toA: boolean;
}

/**
 * N pairs exchanging a negotiation's worth of signaling (SDP offer/answer, trickled candidates) over
 * the server under test. Closed loop: each pair keeps `window` messages in flight, and each receipt
 * sends the pair's next message. Open loop: a 1 ms timer sends at a fixed rate, round-robin over the
 * pairs. Latency is the receiver's clock minus the sender's timestamp in the message, in one thread.
 */
export class RelayDriver implements LoadDriver {
  readonly pairs: Pair[] = [];
  readonly raw: RawReceipt[] = [];
  sent = 0;
  received = 0;
  private readonly wire: Wire;
  private readonly clock: () => number;
  private readonly bank: PayloadBank;
  private readonly fail = new Failure();
  private mode: StartMode | undefined;
  private stopping = false;
  private readonly win = new MeasureWindow();
  private timer: NodeJS.Timeout | undefined;
  private rr = 0;
  private idleWaiters: (() => void)[] = [];
  private countWaiters: { n: number; resolve: () => void }[] = [];

  constructor(private readonly opts: RelayOptions) {
    this.wire = wireFor(opts.protocol);
    this.clock = opts.clock ?? microClock;
    this.bank = payloadBank(opts.seed ?? 1);
  }

  get failed(): Promise<never> {
    return this.fail.promise;
  }

  get inFlight(): number {
    return this.sent - this.received;
  }

  async connect(): Promise<void> {
    const { pairs, base, name } = this.opts;
    const ids = Array.from({ length: pairs * 2 }, (_, i) => `${name}-${this.opts.tagBase + (i >> 1)}-${i & 1 ? 'b' : 'a'}`);
    const clients = await bounded(ids, this.opts.connectConcurrency ?? 64, (id, i) => connectClient(i & 1 ? (this.opts.baseB ?? base) : base, this.wire, id)).catch((err: Error) => {
      this.fail.fail(err.message);
      throw err;
    });
    for (let p = 0; p < pairs; p++) {
      const pair: Pair = { tag: this.opts.tagBase + p, a: clients[2 * p]!, b: clients[2 * p + 1]!, pos: 0, seq: 0, unacked: [0, 0] };
      this.pairs.push(pair);
      for (const c of [pair.a, pair.b]) c.onLost = (why) => this.fail.fail(`${why} (pair ${pair.tag})`);
    }
    if (this.wire.rooms) await Promise.all(this.pairs.map((p) => this.joinPair(p)));
    for (const p of this.pairs) {
      p.a.onFrame = (buf) => this.onFrame(p, true, buf);
      p.b.onFrame = (buf) => this.onFrame(p, false, buf);
    }
  }

  /**
   * Both members of a pair join their own room (relays need a shared room), and the first has heard
   * the second arrive: across nodes its node learns of the join a moment after the joiner does, and a
   * signal sent before that would be refused (peer-not-found), as it would for any client that does
   * not wait for `peer-joined`.
   */
  private async joinPair(p: Pair): Promise<void> {
    const room = `${this.opts.name}-${p.tag}`;
    const frames = (c: Client, want: string) =>
      new Promise<void>((resolve) => {
        c.onFrame = (buf) => {
          const f = JSON.parse(buf.toString()) as { type?: string };
          if (f.type === want) resolve();
          else if (f.type === 'error') this.fail.fail(`join refused: ${buf.toString()}`);
        };
      });
    const aJoined = frames(p.a, 'joined');
    p.a.send(roomFrames.join(room));
    await aJoined;
    const aHears = frames(p.a, 'peer-joined');
    const bJoined = frames(p.b, 'joined');
    p.b.send(roomFrames.join(room));
    await Promise.all([aHears, bJoined]);
  }

  start(mode: StartMode): void {
    this.mode = mode;
    this.stopping = false;
    if (mode.mode === 'closed') {
      for (let w = 0; w < this.opts.window; w++) for (const p of this.pairs) if (this.mayS()) this.sendNext(p);
    } else {
      const t0 = performance.now();
      let due = 0;
      const cap = Math.max(1, Math.ceil(mode.perSecond / 100));
      this.timer = setInterval(() => {
        const target = Math.floor((mode.perSecond * (performance.now() - t0)) / 1000);
        let n = target - due;
        if (n > cap) {
          this.win.behind(n - cap);
          n = cap;
        }
        due = target;
        for (let i = 0; i < n && this.mayS(); i++) {
          this.sendNext(this.pairs[this.rr]!);
          this.rr = (this.rr + 1) % this.pairs.length;
        }
      }, 1);
    }
  }

  private mayS(): boolean {
    return !this.stopping && (this.opts.maxSends === undefined || this.sent < this.opts.maxSends);
  }

  private sendNext(p: Pair): void {
    const step = SCRIPT[p.pos % SCRIPT.length]!;
    p.pos++;
    const variants = this.bank[step.kind];
    const seq = p.seq++;
    const from = step.fromA ? p.a : p.b;
    const to = step.fromA ? p.b : p.a;
    const data = markerText(p.tag, seq, this.clock()) + variants[seq % variants.length] + '}';
    const frame = this.wire.signal(to.id, step.kind, data);
    from.send(frame);
    this.sent++;
    this.win.sent(frame.length);
  }

  private onFrame(p: Pair, toA: boolean, buf: Buffer): void {
    const m = readMarker(buf);
    if (!m) return this.otherFrame(buf);
    const now = this.clock();
    if (m.tag !== p.tag) return this.fail.fail(`misrouted: pair ${p.tag} received a message of pair ${m.tag}`);
    this.received++;
    if (this.wire.protocol === 'native' && ++p.unacked[toA ? 0 : 1] >= ACK_EVERY) {
      const seq = leadingSeq(buf);
      p.unacked[toA ? 0 : 1] = 0;
      if (seq !== undefined) (toA ? p.a : p.b).send(`{"type":"received","seq":${seq}}`);
    }
    const every = this.opts.verifyEvery ?? 64;
    if (this.received % every === 0) this.verify(p, toA, buf);
    this.win.received(buf.length, now - m.sentAt);
    if (this.opts.recordRaw) this.raw.push({ tag: m.tag, seq: m.seq, sentAt: m.sentAt, receivedAt: now, toA });
    if (this.countWaiters.length) {
      this.countWaiters = this.countWaiters.filter((w) => (this.received >= w.n ? (w.resolve(), false) : true));
    }
    if (this.mode?.mode === 'closed' && this.mayS()) this.sendNext(p);
    if (this.inFlight === 0 && (this.stopping || !this.mayS())) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** A full parse: the server must say the message came from the other member of the pair. */
  private verify(p: Pair, toA: boolean, buf: Buffer): void {
    const f = JSON.parse(buf.toString()) as Record<string, unknown>;
    const from = this.wire.deliveredFrom(f);
    const expected = toA ? p.b.id : p.a.id;
    if (from !== expected) this.fail.fail(`wrong sender: expected ${expected}, the server said ${String(from)}: ${buf.toString().slice(0, 200)}`);
  }

  private otherFrame(buf: Buffer): void {
    const text = buf.toString();
    if (/"type":\s*"(error|ERROR|EXPIRE|LEAVE)"/.test(text)) this.fail.fail(`the target answered with an error: ${text.slice(0, 300)}`);
  }

  /** Resolves once `n` messages have arrived in all (tests wait on this instead of sleeping). */
  receivedAtLeast(n: number): Promise<void> {
    if (this.received >= n) return Promise.resolve();
    return new Promise((resolve) => this.countWaiters.push({ n, resolve }));
  }

  /** Resolves when nothing is in flight and no more will be sent (maxSends reached, or stopping). */
  idle(): Promise<void> {
    if (this.inFlight === 0 && (this.stopping || !this.mayS())) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  beginMeasure(): void {
    this.win.begin();
  }

  endMeasure(): WindowResult {
    return this.win.end();
  }

  async stop(timeoutMs: number): Promise<Totals> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await settleWithin(this.idle(), timeoutMs);
    const totals = { sent: this.sent, received: this.received, lost: this.sent - this.received };
    this.sent = this.received = 0;
    return totals;
  }

  async close(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await closeAll(this.pairs.flatMap((p) => [p.a, p.b]));
  }
}

/** Closes sockets and waits for their close events (terminating stragglers after 2 s). */
export async function closeAll(clients: Client[]): Promise<void> {
  await Promise.all(
    clients.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.ws.readyState === c.ws.CLOSED) return resolve();
          const t = setTimeout(() => {
            c.terminate();
            resolve();
          }, 2000);
          c.ws.once('close', () => {
            clearTimeout(t);
            resolve();
          });
          c.close();
        }),
    ),
  );
}
