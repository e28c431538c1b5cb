import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { AccessPolicy, type Identity } from './access.js';
import { UNDELIVERED, type Backplane, type BackplaneSink, type DirectOutcome, type Envelope, type MailboxOptions, type Handoff, type JoinOutcome, type LeaveOutcome, type MemberRecord, type MemberRef, type RoomCreator, type RoomRecord, type SessionStore, type StoredSession } from './backplane.js';
import type { Clock, Timer } from './clock.js';
import { HubError } from './errors.js';
import { FailureLog } from './failure-log.js';
import { joinedData, type LifecycleSink, type LifecycleType } from './lifecycle.js';
import { randomId, type IdGenerator } from './ids.js';
import { TokenBucket } from './rate.js';
import { ReplayLog, type LogEntry } from './replay-log.js';
import { newResumeToken, ResumeTokens, type EndedHow, type ResumeError } from './resume-tokens.js';
import { Session, silentLogger, type CoreLogger } from './session.js';
import type { CloseReason, HubEvent, LeaveReason, Link, PeerInfo, RoomOptions, RoomSnapshot } from './types.js';

export interface HubConfig {
  heartbeat: { intervalMs: number; timeoutMs: number };
  rooms: {
    /** Joining a room that does not exist fails with room-not-found instead of creating it. */
    requireCreate: boolean;
    /** Server-wide ceiling on members per room. */
    maxPeers: number;
    maxRoomsPerPeer: number;
    /** Live rooms one client address may have created, cluster-wide; 0 or absent: unlimited. */
    maxPerAddress?: number;
    emptyTtlMs: number;
    idleTtlMs: number;
    sweepIntervalMs: number;
  };
  /** Joins and room creations per session: a token bucket (0 per second: unlimited). */
  rateLimits?: { joinsPerSecond: number; joinBurst: number };
  /** Session resume (docs/protocol.md, Resume); absent or windowMs 0: sessions end with their socket. */
  resume?: { windowMs: number; maxBufferBytes: number };
}

/** A resume that worked: the session, now on the new link, and what the client has not seen yet. */
export type ResumeOutcome =
  | { ok: true; session: Session; token: string; missed: LogEntry<string>[] }
  | { ok: false; error: ResumeError };

/** Hooks for metrics; the core knows nothing of Prometheus. */
export interface HubObserver {
  /** `seconds` is present for a sample of relays (1 in 16): timing every one costs more than it tells. */
  relayed(kind: 'signal' | 'broadcast', recipients: number, seconds: number | undefined): void;
  roomRemoved(reason: 'empty' | 'expired'): void;
  /** A session of `dialect` joined a room (the admin API's join rate, `switchboard_joins_total`). */
  joined?(dialect: string): void;
}

export interface HubDeps {
  backplane: Backplane;
  clock: Clock;
  config: HubConfig;
  log?: CoreLogger;
  observer?: HubObserver;
  ids?: IdGenerator;
  /** Room lifecycle events (webhooks), each reported by the node whose store operation made the change. */
  lifecycle?: LifecycleSink;
}

export interface SessionInit {
  dialect: string;
  /** Rooms, aliases and relays never cross namespaces: each dialect has its own. */
  namespace: string;
  link: Link;
  sink: (ev: HubEvent) => void;
  /** The client's address (trustProxy honoured): the rooms the session creates count against it. */
  address: string | undefined;
  log?: CoreLogger;
  /**
   * A verified identity (from a token): the hub then checks its permissions and room patterns on
   * join, createRoom and broadcast (HubError `forbidden`), and stamps it on the session's roster entries.
   */
  identity?: Identity;
  /**
   * The session survives its socket for resume.windowMs and numbers its frames (native only; the
   * dialect must send every frame after its welcome through `Hub.record`).
   */
  resumable?: boolean;
}

export interface JoinOptions {
  name?: string;
  meta?: unknown;
  /** Per-dialect defaults for rooms this join creates (e.g. mesh's 5-minute idle expiry). */
  defaults?: RoomOptions;
  /** Overrides the server's requireCreate for this join. */
  create?: boolean;
  /**
   * A room the dialect joins on the client's behalf that the client never names (call's directory):
   * an identity's room patterns and `create` permission do not apply to it; `join` still does.
   * Nor is a room it creates counted against the client's address.
   */
  internal?: boolean;
  /**
   * Whether a room this join creates counts against the client's address (rooms.maxPerAddress).
   * Default true; false for rooms that are a by-product of connecting rather than the client's
   * request, and live only while their sockets do (slam-pair's path rooms).
   */
  counted?: boolean;
}

export interface CreateRoomOptions {
  /** A fixed name; `room-exists` if taken. */
  name?: string;
  /** Generates candidate names (retried on collision); default: 128-bit random ids. */
  generate?: IdGenerator;
  options?: RoomOptions;
  /** Per-dialect defaults under `options`. */
  defaults?: RoomOptions;
  /**
   * A create without a session (over HTTP): the client address the room counts against
   * (rooms.maxPerAddress). A session's creations count against the session's own address.
   */
  address?: string;
}

interface LocalRoom {
  /** The whole roster, cluster-wide, as last seen by this node. */
  members: Map<string, MemberRecord>;
  /** Sessions of this node in the room. */
  locals: Set<Session>;
  lastTouch: number;
  /** Resolves once this node receives the room's publications. */
  watching: Promise<void>;
  /** The room's options, as the store reported them on join (used to restore it after an outage). */
  options?: Required<RoomOptions>;
  /**
   * While a resync reads this roster from the store: the members whose joined or left was heard
   * meanwhile. Publications and command replies come over different connections, so the read may
   * predate them; for these members what was heard wins over what was read.
   */
  heard?: Set<string>;
}

const closeFor: Partial<Record<LeaveReason, CloseReason>> = {
  timeout: 'timeout',
  replaced: 'replaced',
  kicked: 'kicked',
  expired: 'expired',
};

/** The link of a session between sockets: nothing to probe, nothing to close. */
const DETACHED: Link = { ping() {}, close() {} };
/** How long a stored session waits for the frames of a gap (they come in order: past this they were lost) before reading them from its log. */
const GAP_CATCH_UP_MS = 1000;

export function roomKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

function peerInfo(m: MemberRecord): PeerInfo {
  const p: PeerInfo = { peerId: m.peerId };
  if (m.identity !== undefined) p.identity = m.identity;
  if (m.name !== undefined) p.name = m.name;
  if (m.meta !== undefined) p.meta = m.meta;
  return p;
}

/**
 * The Hub decides: sessions, rooms, relays, presence and liveness. It has no sockets and no JSON;
 * dialects call it and render its events. State shared between nodes lives in the Backplane; the hub
 * keeps a local cache of rosters for rooms that have local members, which makes relay routing a
 * synchronous map lookup.
 */
export class Hub extends EventEmitter implements BackplaneSink {
  readonly sessions = new Map<string, Session>();
  private readonly local = new Map<string, LocalRoom>();
  readonly backplane: Backplane;
  private readonly clock: Clock;
  private readonly config: HubConfig;
  private readonly log: CoreLogger;
  private readonly observer: HubObserver | undefined;
  private readonly lifecycle: LifecycleSink | undefined;
  private readonly ids: IdGenerator;
  private timers: Timer[] = [];
  /** The last resync asked for (they run one after another), and the one not started yet (onResync). */
  private resyncChain: Promise<boolean> = Promise.resolve(true);
  private resyncQueued?: Promise<boolean>;
  private sweepRun: Promise<void> | undefined;
  private relays = 0;
  /** Each session's join/create bucket, made on its first join. */
  private readonly joinBuckets = new WeakMap<Session, TokenBucket>();
  /** Sessions being ended (closeSession in progress), so that a second call waits for the first. */
  private readonly ending = new WeakMap<Session, Promise<void>>();
  /** Events a dialect failed to render, ever: a relay compares it before and after its local delivery. */
  private renderFailures = 0;
  private readonly failureLog: FailureLog;
  draining = false;
  /** This node's resumable sessions by token, and why recently ended ones no longer resume. */
  private readonly resumeTokens: ResumeTokens<Session>;
  /** Where resumable sessions live when the backplane can keep them (a cluster): any node resumes them. */
  private readonly store: SessionStore | undefined;
  /** The shared store's sessions, whether or not this node keeps any (others' may be in its rooms). */
  private readonly stored: SessionStore | undefined;
  /** Per namespace, how its dialect renders a relay (a stored target's log gets the sender's rendering). */
  private readonly renderers = new Map<string, (ev: HubEvent) => string>();
  /** Resumes waiting for the store: frames for sessions not (yet) here are kept for them meanwhile. */
  private claiming = 0;
  private readonly early = new Map<string, Map<number, string>>();
  /** Aliases held by this node's sessions (`namespace\0alias`): an addressed delivery to one of them never leaves the node. */
  private readonly held = new Map<string, Session>();
  /** The owner a session claimed an alias with (claimAlias), to claim it again the same way (resync). */
  private readonly owners = new WeakMap<Session, Map<string, string>>();

  constructor(deps: HubDeps) {
    super();
    this.backplane = deps.backplane;
    this.clock = deps.clock;
    this.config = deps.config;
    this.log = deps.log ?? silentLogger;
    this.observer = deps.observer;
    this.lifecycle = deps.lifecycle;
    this.ids = deps.ids ?? (() => randomId());
    this.failureLog = new FailureLog(deps.clock);
    this.resumeTokens = new ResumeTokens(Math.max(60_000, 2 * (deps.config.resume?.windowMs ?? 0)));
    this.stored = deps.backplane.sessions;
    this.store = (deps.config.resume?.windowMs ?? 0) > 0 ? this.stored : undefined;
  }

  /** Whether sessions that ask to be resumable are (resume.windowMs > 0). */
  get resumeEnabled(): boolean {
    return (this.config.resume?.windowMs ?? 0) > 0;
  }

  get nodeId(): string {
    return this.backplane.nodeId;
  }

  /** False while the shared store is unreachable (never, in memory). */
  get healthy(): boolean {
    return this.backplane.healthy;
  }

  async start(): Promise<void> {
    await this.backplane.start(this);
    this.timers.push(this.clock.setInterval(() => this.heartbeat(), this.config.heartbeat.intervalMs));
    this.timers.push(this.clock.setInterval(() => void this.sweep(), this.config.rooms.sweepIntervalMs));
  }

  async stop(): Promise<void> {
    for (const t of this.timers) t.cancel();
    this.timers = [];
    const deadline = this.clock.now() + (this.config.resume?.windowMs ?? 0);
    for (const s of [...this.sessions.values()]) {
      // A stored session outlives its node: it waits for a resume elsewhere, still in its rooms.
      if (s.resume?.durable && !s.closed && this.healthy) {
        await this.store!.detach(s.id, this.nodeId, deadline).then(
          () => this.forget(s),
          () => this.closeSession(s, 'disconnect'),
        );
      } else await this.closeSession(s, 'disconnect');
    }
    await this.backplane.stop();
  }

  // ---- sessions -------------------------------------------------------------------------------

  openSession(init: SessionInit): Session {
    let id = this.ids();
    while (this.sessions.has(id)) id = this.ids();
    const log = (init.log ?? this.log).child({ peerId: id });
    const s = new Session(id, init.dialect, init.namespace, init.link, init.sink, this.clock.now(), log);
    if (init.identity) s.access = new AccessPolicy(init.identity);
    s.address = init.address;
    if (init.resumable && this.resumeEnabled) {
      const token = this.tokenFor(id);
      if (this.store && this.healthy) {
        // Kept in the shared store (with the store down at open: on this node only, as without one).
        s.resume = { log: new ReplayLog(0), tokens: [token], durable: true, written: 0 };
        const { maxBufferBytes, windowMs } = this.config.resume!;
        void this.store.open({ peerId: id, namespace: init.namespace, subject: init.identity?.subject ?? '', tokenHash: hashToken(token), maxBytes: maxBufferBytes, windowMs });
      } else {
        s.resume = { log: new ReplayLog(this.config.resume!.maxBufferBytes), tokens: [token] };
        this.resumeTokens.add(token, s);
      }
    }
    this.sessions.set(id, s);
    return s;
  }

  // ---- resume ---------------------------------------------------------------------------------

  /**
   * Numbers one frame of a resumable session and keeps it for a resume; returns its seq, or
   * undefined when the frame is not to be sent: the session is over, or it has no socket and its
   * buffer is full (then the session is ended: a resume could no longer be complete).
   */
  record(s: Session, text: string): number | undefined {
    const r = s.resume;
    if (!r || s.closed) return undefined;
    if (r.durable && !this.healthy) this.demote(s);
    if (r.durable) {
      // Numbered by the store; it reaches the socket from there (onFrame), in seq order.
      this.store!.append(s.id, text, this.nodeId).then(
        (out) => {
          if (out === 'overflow') {
            s.log.info({}, 'stored resume buffer overflowed while the session had no socket; ending it');
            void this.endStored(s.id, 'buffer-overflow', false);
          } else if (out === 'gone') s.log.warn({}, 'frame not stored: the session is no longer in the shared store');
        },
        (err: unknown) => {
          s.log.warn({ err: err instanceof Error ? err.message : err }, 'frame not stored; the shared store is unreachable');
          // The part of the store that keeps this session is unreachable (a Redis Cluster shard
          // down, while the rest answers): the frame, and those after it, are numbered here.
          if (s.resume !== r || !r.durable || s.closed) return;
          this.demote(s);
          const seq = r.log.append(text, text.length, r.detachedAt === undefined);
          if (seq === undefined) void this.endResumable(s, 'buffer-overflow');
          else if (r.detachedAt === undefined) s.frames?.(seq, text);
        },
      );
      return undefined;
    }
    const seq = r.log.append(text, text.length, r.detachedAt === undefined);
    if (seq === undefined) {
      s.log.info({ bufferedBytes: r.log.byteSize, max: r.log.maxBytes }, 'resume buffer overflowed while the session had no socket; ending it');
      void this.endResumable(s, 'buffer-overflow');
    }
    return seq;
  }

  /**
   * `record` for a frame the dialect builds around its own seq (a relay spliced around the client's
   * bytes): `build(seq)` makes the numbered text once, which is kept and returned for sending, so the
   * frame is not built twice. Kept counted as its unnumbered size (`prefix(seq)` is what numbering
   * added), so buffer bounds read the same either way; a resume sends the kept text as it is. Stored
   * (durable) sessions are numbered by the store: for them this renders `build(undefined)` and records it.
   */
  recordNumbered(s: Session, build: (seq: number | undefined) => string, prefix: (seq: number) => number): string | undefined {
    const r = s.resume;
    if (!r || s.closed) return undefined;
    if (r.durable) {
      this.record(s, build(undefined));
      return undefined;
    }
    const next = r.log.lastSeq + 1;
    const text = build(next);
    const seq = r.log.append(text, text.length - prefix(next), r.detachedAt === undefined);
    if (seq === undefined) {
      s.log.info({ bufferedBytes: r.log.byteSize, max: r.log.maxBytes }, 'resume buffer overflowed while the session had no socket; ending it');
      void this.endResumable(s, 'buffer-overflow');
      return undefined;
    }
    return text;
  }

  /** The client has processed every frame up to `seq` (native `received`): they need not be kept. */
  acknowledge(s: Session, seq: number): void {
    if (s.resume?.durable) this.store!.trim(s.id, seq);
    else s.resume?.log.ackUpTo(seq);
  }

  /**
   * The store went away under a stored session: it goes on numbering on this node, from the last
   * frame written, as a session of this node only (resumable here; the store's copy is dropped on resync).
   */
  private demote(s: Session): void {
    const r = s.resume!;
    r.durable = false;
    r.demoted = true;
    r.pending = undefined;
    r.log = new ReplayLog(this.config.resume!.maxBufferBytes, r.written);
    for (const t of r.tokens) this.resumeTokens.add(t, s);
    s.log.warn({ seq: r.written }, 'shared store unreachable: the session is numbered on this node from now on');
  }

  /** Lets a dialect's relays to stored sessions be rendered by the sender's node (see signal). */
  setRenderer(namespace: string, render: (ev: HubEvent) => string): void {
    this.renderers.set(namespace, render);
  }

  /** Whether room events reach stored members through the store (fanout) rather than room publications. */
  private get fans(): boolean {
    return this.stored !== undefined && this.healthy;
  }

  /** Whether a resume goes through the shared store (then use resumeAnywhere). */
  get storesSessions(): boolean {
    return this.store !== undefined;
  }

  /** A stored session's frame, from the store: written in seq order, once. */
  onFrame(peerId: string, seq: number, text: string): void {
    const s = this.sessions.get(peerId);
    if (!s || s.closed || !s.resume?.durable) {
      if (this.claiming > 0) {
        let m = this.early.get(peerId);
        if (!m) this.early.set(peerId, (m = new Map()));
        m.set(seq, text);
      }
      return;
    }
    this.writeFrame(s, seq, text);
  }

  private writeFrame(s: Session, seq: number, text: string): void {
    const r = s.resume!;
    // Without a socket, the store keeps it for the resume; a duplicate (replay overlap) is dropped.
    if (r.detachedAt !== undefined || seq <= r.written!) return;
    if (seq > r.written! + 1 || !s.frames) {
      (r.pending ??= new Map()).set(seq, text);
      // Frames come in seq order from the store; one past a gap means the ones between may be lost.
      if (seq > r.written! + 1) r.gapTimer ??= this.clock.setTimeout(() => {
        r.gapTimer = undefined;
        void this.catchUp(s);
      }, GAP_CATCH_UP_MS);
      return;
    }
    r.written = seq;
    s.frames(seq, text);
    this.flushFrames(s);
  }

  /**
   * Reads what a stored session's socket missed from its log and writes it (a delivery from the
   * store lost on the way: a Redis Cluster slot that moved had no subscriber for a moment). Frames
   * already written are skipped, so a catch-up that overlaps live delivery writes nothing twice.
   */
  async catchUp(s: Session): Promise<void> {
    const r = s.resume;
    const since = this.store?.since;
    if (!r?.durable || s.closed || r.detachedAt !== undefined || !since || r.catchingUp) return;
    let got;
    r.catchingUp = true;
    try {
      got = await since.call(this.store, s.id, r.written!);
    } catch (err) {
      s.log.warn({ err: err instanceof Error ? err.message : err }, 'catch-up from the stored log failed');
      return;
    } finally {
      r.catchingUp = false;
    }
    if (got.length) s.log.info({ after: r.written, frames: got.length }, 'caught up frames from the stored log');
    for (const e of got) if (s.resume === r && r.durable) this.writeFrame(s, e.seq, e.item);
  }

  /** BackplaneSink: deliveries from the store may have been lost; every local stored session catches up. */
  onCatchUp(): void {
    for (const s of this.sessions.values()) if (s.resume?.durable && !s.closed && s.resume.detachedAt === undefined) void this.catchUp(s);
  }

  /** A resume token whose hash the store can keep with the session of `key` (its peerId, or one of its token hashes). */
  private tokenFor(key: string): string {
    let token = newResumeToken();
    if (this.store?.sameShard) while (!this.store.sameShard(key, hashToken(token))) token = newResumeToken();
    return token;
  }

  /** Writes the frames that waited for their turn (or for the dialect's writer). */
  flushFrames(s: Session): void {
    const r = s.resume;
    const p = r?.pending;
    if (!r || !p || !s.frames) return;
    for (const seq of [...p.keys()]) if (seq <= r.written!) p.delete(seq);
    for (let next = p.get(r.written! + 1); next !== undefined; next = p.get(r.written! + 1)) {
      p.delete(++r.written!);
      s.frames(r.written!, next);
    }
    if (p.size === 0) {
      r.pending = undefined;
      r.gapTimer?.cancel();
      r.gapTimer = undefined;
    }
  }

  /**
   * The socket went without a clean close (or the heartbeat, or a drain, cut it): the session stays
   * in its rooms, the others hear nothing, frames to it are logged, for resume.windowMs. Then it ends
   * with reason `disconnect`.
   */
  detach(s: Session): void {
    const r = s.resume;
    if (!r || s.closed || r.detachedAt !== undefined) return;
    r.detachedAt = this.clock.now();
    s.link = DETACHED;
    if (r.durable) {
      // The store holds its deadline: whichever node sweeps first ends it there, once (sweepOnce).
      r.pending = undefined;
      this.store!.detach(s.id, this.nodeId, r.detachedAt + this.config.resume!.windowMs).catch((err: unknown) =>
        s.log.warn({ err: err instanceof Error ? err.message : err }, 'detach not recorded in the shared store'),
      );
      s.log.info({}, 'stored session detached; waiting for a resume on any node');
      return;
    }
    r.expiry = this.clock.setTimeout(() => {
      s.log.info({ windowMs: this.config.resume!.windowMs }, 'no resume within the window; ending the session');
      void this.endResumable(s, 'session-expired');
    }, this.config.resume!.windowMs);
    s.log.info({ bufferedFrames: r.log.size }, 'session detached; waiting for a resume');
  }

  /**
   * A new socket takes over the session `token` names, from frame `afterSeq + 1` on. A session whose
   * old socket still looks open is taken from it (that link is closed for `resumed`). `subject` is
   * the new connection's verified identity, if any: it must be the session's.
   */
  resume(token: string, afterSeq: number, link: Link, sink: (ev: HubEvent) => void, subject: string | undefined): ResumeOutcome {
    if (!this.resumeEnabled) return { ok: false, error: 'resume-disabled' };
    const s = this.resumeTokens.get(token);
    if (!s || s.closed || !s.resume) return { ok: false, error: this.resumeTokens.why(token, this.clock.now()) };
    if (s.access?.identity.subject !== subject) {
      s.log.warn({ presented: subject?.slice(0, 64) }, 'resume refused: another identity');
      return { ok: false, error: 'identity-mismatch' };
    }
    const r = s.resume;
    const replay = r.log.after(afterSeq);
    if (!replay.ok) {
      s.log.info({ afterSeq, first: r.log.firstSeq, last: r.log.lastSeq }, 'resume refused: frames after that seq are no longer kept');
      void this.endResumable(s, 'seq-out-of-range');
      return { ok: false, error: 'seq-out-of-range' };
    }
    const old = s.link;
    r.expiry?.cancel();
    r.expiry = undefined;
    r.detachedAt = undefined;
    s.link = link;
    s.sink = sink;
    s.lastSeen = this.clock.now();
    // The old socket, if the server has not noticed it is gone: closed, and its close changes nothing.
    if (old !== DETACHED) old.close('resumed');
    // The token just used stays good until the next resume: the welcome carrying the new one may
    // itself be lost with the socket.
    const fresh = newResumeToken();
    for (const t of r.tokens.filter((t) => t !== token)) this.resumeTokens.forget(t);
    r.tokens = [fresh, token];
    this.resumeTokens.add(fresh, s);
    s.log.info({ afterSeq, replayed: replay.entries.length, tookOver: old !== DETACHED }, 'session resumed');
    return { ok: true, session: s, token: fresh, missed: replay.entries };
  }

  private async endResumable(s: Session, how: EndedHow): Promise<void> {
    if (s.resume?.durable) return this.endStored(s.id, how, false);
    this.endTokens(s, how);
    await this.closeSession(s, 'disconnect');
  }

  /**
   * A resume through the shared store: any node's session, by token. A session held by another
   * node is rebuilt here (its rooms and aliases re-entered under this node), and the old node told
   * to forget it (`moved`: its socket, if still open, closes with 4004).
   */
  async resumeAnywhere(token: string, afterSeq: number, link: Link, sink: (ev: HubEvent) => void, subject: string | undefined, log: CoreLogger | undefined): Promise<ResumeOutcome> {
    const store = this.store!;
    // A session numbered on this node (the store was away when it needed it) resumes here only.
    if (this.resumeTokens.get(token)) return this.resume(token, afterSeq, link, sink, subject);
    const fresh = this.tokenFor(hashToken(token));
    this.claiming++;
    try {
      let got;
      try {
        got = await store.resume(hashToken(token), hashToken(fresh), subject ?? '', afterSeq, this.clock.now());
      } catch {
        return { ok: false, error: 'unknown-session' };
      }
      if (!got.ok) {
        if (got.peerId !== undefined && (got.error === 'seq-out-of-range' || got.error === 'session-expired')) await this.endStored(got.peerId, got.error, got.error === 'session-expired');
        return { ok: false, error: got.error };
      }
      const st = got.session;
      let s = this.sessions.get(st.peerId);
      if (s && !s.closed && s.resume?.durable) {
        const old = s.link;
        s.link = link;
        s.sink = sink;
        if (old !== DETACHED) old.close('resumed');
      } else {
        s = new Session(st.peerId, 'native', st.namespace, link, sink, this.clock.now(), (log ?? this.log).child({ peerId: st.peerId }));
        s.resume = { log: new ReplayLog(0), tokens: [], durable: true, written: 0 };
        this.sessions.set(s.id, s);
        if (st.node !== this.nodeId) this.announcePeer({ peerId: s.id, node: st.node }, { k: 'moved', peerId: s.id });
        await this.reenter(s, st);
      }
      const r = s.resume!;
      r.detachedAt = undefined;
      r.tokens = [fresh, token];
      s.lastSeen = this.clock.now();
      s.frames = undefined; // until the dialect has written its welcome and the replay
      r.written = got.missed.length ? got.missed[got.missed.length - 1]!.seq : afterSeq;
      const early = this.early.get(s.id);
      if (early) for (const [seq, text] of early) (r.pending ??= new Map()).set(seq, text);
      this.early.delete(s.id);
      s.log.info({ afterSeq, replayed: got.missed.length, from: st.node }, 'stored session resumed');
      return { ok: true, session: s, token: fresh, missed: got.missed };
    } finally {
      if (--this.claiming === 0) this.early.clear();
    }
  }

  /** A session taken over from another node: back in its rooms and aliases, as this node's. */
  private async reenter(s: Session, st: StoredSession): Promise<void> {
    const now = this.clock.now();
    for (const name of st.rooms) {
      const key = roomKey(s.namespace, name);
      const lr = this.watch(key);
      lr.locals.add(s);
      try {
        await lr.watching;
        const got = await this.backplane.getRoom(key);
        const mine = got?.members.find((m) => m.peerId === s.id);
        const out = mine && (await this.backplane.joinRoom(key, { member: { ...mine, node: this.nodeId }, create: false, defaults: this.resolveOptions(), maxCapacity: Number.MAX_SAFE_INTEGER, now }));
        if (!out || !out.ok) throw new HubError('not-in-room');
        for (const m of out.members) if (m.peerId !== s.id) lr.members.set(m.peerId, m);
        lr.options = out.room.options;
        s.addRoom(name);
        if (mine.name !== undefined) s.name = mine.name;
        this.announceRoom(key, { k: 'joined', room: key, peer: { ...mine, node: this.nodeId } }, false);
      } catch {
        lr.locals.delete(s);
        this.unwatchIfIdle(key, lr);
      }
    }
    for (const alias of st.aliases) {
      const out = await this.backplane.claimAlias(s.namespace, alias, { peerId: s.id, node: this.nodeId }, false).catch(() => undefined);
      if (out?.ok || out?.holder.peerId === s.id) this.hold(s, alias);
    }
    if (s.rooms.size !== st.rooms.length || s.aliases.size !== st.aliases.length) this.storeUpdate(s);
  }

  /** A stored session's rooms and aliases, for the node that resumes or ends it. */
  private storeUpdate(s: Session): void {
    if (s.resume?.durable && !s.closed) this.store!.update(s.id, [...s.rooms], [...s.aliases]);
  }

  /**
   * Ends a stored session cluster-wide, once: the caller whose script ended it removes it from its
   * rooms (the others hear peer-left, disconnect) and releases its aliases; the node that held it
   * forgets it. `onlyDue`: only if its deadline has passed (the sweep).
   */
  private async endStored(peerId: string, how: EndedHow, onlyDue: boolean): Promise<void> {
    let st: StoredSession | undefined;
    try {
      st = await this.stored!.end(peerId, how, this.clock.now(), onlyDue);
    } catch (err) {
      this.log.warn({ err: err instanceof Error ? err.message : err, peerId }, 'stored session not ended (shared store unreachable); the next sweep retries');
      return;
    }
    if (!st) return;
    const local = this.sessions.get(peerId);
    if (local && !local.closed) {
      local.resume!.durable = false; // already gone from the store
      await this.closeSession(local, 'disconnect');
      return;
    }
    this.log.info({ peerId, how, node: st.node }, 'stored session ended');
    const now = this.clock.now();
    for (const name of st.rooms) {
      const key = roomKey(st.namespace, name);
      const out = await this.backplane.leaveRoom(key, peerId, now).catch(() => false as const);
      if (out) this.announceRoom(key, { k: 'left', room: key, peerId, reason: 'disconnect' });
      this.peerLeft(key, peerId, 'disconnect', out);
    }
    for (const alias of st.aliases) await this.backplane.releaseAlias(st.namespace, alias, peerId).catch(() => {});
    if (st.node !== this.nodeId) this.announcePeer({ peerId, node: st.node }, { k: 'moved', peerId });
  }

  /** Drops a session from this node only: it lives on in the store (or elsewhere); rooms and aliases stay. */
  private forget(s: Session): void {
    if (s.closed) return;
    s.closed = true;
    this.sessions.delete(s.id);
    for (const room of s.rooms) {
      const key = roomKey(s.namespace, room);
      const lr = this.local.get(key);
      if (!lr) continue;
      lr.locals.delete(s);
      this.unwatchIfIdle(key, lr);
    }
    this.dropAliases(s);
    s.frames = undefined;
    s.log.info({}, 'session moved on (resumed or ended elsewhere)');
  }

  private endTokens(s: Session, how: EndedHow): void {
    const r = s.resume;
    if (!r) return;
    const now = this.clock.now();
    for (const t of r.tokens) if (this.resumeTokens.get(t) === s) this.resumeTokens.end(t, how, now);
    r.expiry?.cancel();
    r.expiry = undefined;
  }

  /** Marks the session alive (any inbound frame or pong). */
  touch(s: Session): void {
    s.lastSeen = this.clock.now();
  }

  /** Leaves every room and releases every alias. Idempotent: the first reason wins. */
  closeSession(s: Session, reason: LeaveReason): Promise<void> {
    if (s.closed) return Promise.resolve();
    // The first reason wins: a socket closed by a kick (replaced, kicked) reports its own close
    // (disconnect) while a stored session is still being ended in the shared store.
    let ending = this.ending.get(s);
    if (!ending) {
      ending = this.endSession(s, reason).finally(() => this.ending.delete(s));
      this.ending.set(s, ending);
    }
    return ending;
  }

  private async endSession(s: Session, reason: LeaveReason): Promise<void> {
    if (s.resume?.durable) {
      s.resume.durable = false;
      await this.store!.end(s.id, 'session-ended', this.clock.now(), false).catch(() => {});
    }
    this.endTokens(s, 'session-ended');
    s.closed = true;
    this.sessions.delete(s.id);
    for (const room of [...s.rooms]) await this.leaveInternal(s, room, reason);
    for (const alias of [...s.aliases]) await this.backplane.releaseAlias(s.namespace, alias, s.id);
    this.dropAliases(s);
    s.log.info({ reason }, 'session closed');
  }

  // ---- rooms ----------------------------------------------------------------------------------

  private resolveOptions(...layers: (RoomOptions | undefined)[]): Required<RoomOptions> {
    const r = this.config.rooms;
    const out: Required<RoomOptions> = { capacity: r.maxPeers, emptyTtlMs: r.emptyTtlMs, idleTtlMs: r.idleTtlMs };
    for (const l of layers) {
      if (!l) continue;
      if (l.capacity !== undefined) out.capacity = l.capacity;
      if (l.emptyTtlMs !== undefined) out.emptyTtlMs = l.emptyTtlMs;
      if (l.idleTtlMs !== undefined) out.idleTtlMs = l.idleTtlMs;
    }
    if (out.capacity <= 0 || out.capacity > r.maxPeers) out.capacity = r.maxPeers;
    return out;
  }

  /** Creates an empty room in a namespace (a session's, or one named directly, e.g. from HTTP). */
  async createRoom(scope: Session | string, opts: CreateRoomOptions = {}): Promise<string> {
    if (this.draining) throw new HubError('shutting-down');
    if (typeof scope !== 'string') this.spendJoin(scope);
    const ns = typeof scope === 'string' ? scope : scope.namespace;
    const log = typeof scope === 'string' ? this.log.child({ namespace: ns }) : scope.log;
    const access = typeof scope === 'string' ? undefined : scope.access;
    if (access && !access.allows('create')) throw new HubError('forbidden', 'Your credentials do not allow creating rooms.');
    const options = this.resolveOptions(opts.defaults, opts.options);
    const now = this.clock.now();
    const creator = this.creator(typeof scope === 'string' ? opts.address : scope.address);
    if (opts.name !== undefined) {
      if (access && !access.allowsRoom(opts.name)) throw new HubError('forbidden', 'Your credentials do not allow this room.');
      const r = await this.backplane.createRoom(roomKey(ns, opts.name), options, now, creator);
      if (r === 'quota') throw quotaError(creator!, log);
      if (r === 'exists') throw new HubError('room-exists');
      this.emitLifecycle('room.started', roomKey(ns, opts.name), {});
      log.info({ room: opts.name }, 'room created');
      return opts.name;
    }
    const gen = opts.generate ?? this.ids;
    for (let attempt = 0; attempt < 32; attempt++) {
      const name = gen();
      // A generated name outside the identity's room patterns could never be joined by it.
      if (access && !access.allowsRoom(name)) throw new HubError('forbidden', 'Your credentials do not allow rooms with generated names.');
      const r = await this.backplane.createRoom(roomKey(ns, name), options, now, creator);
      // Checked before the name: an address at its quota never drives a search for free ids.
      if (r === 'quota') throw quotaError(creator!, log);
      if (r === 'created') {
        this.emitLifecycle('room.started', roomKey(ns, name), {});
        log.info({ room: name }, 'room created');
        return name;
      }
    }
    throw new HubError('room-exists', 'Could not generate a free room id; try again.');
  }

  /** What a room made for this address counts against; undefined when nothing is counted. */
  private creator(address: string | undefined): RoomCreator | undefined {
    const max = this.config.rooms.maxPerAddress ?? 0;
    return max > 0 && address !== undefined ? { address, max } : undefined;
  }

  async join(s: Session, room: string, opts: JoinOptions = {}): Promise<{ room: string; peers: PeerInfo[] }> {
    if (this.draining) throw new HubError('shutting-down');
    this.spendJoin(s);
    if (s.rooms.has(room)) throw new HubError('already-in-room');
    if (s.rooms.size >= this.config.rooms.maxRoomsPerPeer) throw new HubError('too-many-rooms');
    const wantCreate = opts.create ?? !this.config.rooms.requireCreate;
    let create = wantCreate;
    const access = s.access;
    if (access) {
      if (!access.allows('join', opts.internal ? undefined : room)) throw new HubError('forbidden', 'Your credentials do not allow joining this room.');
      // Without `create`, a join may enter an existing room but never make one.
      if (!opts.internal && !access.allows('create')) create = false;
    }
    const key = roomKey(s.namespace, room);
    const now = this.clock.now();
    const creator = create && !opts.internal && opts.counted !== false ? this.creator(s.address) : undefined;
    const member: MemberRecord = { peerId: s.id, node: this.nodeId, joinedAt: now };
    if (s.resume?.durable) member.resumable = true;
    if (access) member.identity = access.identity.subject;
    if (opts.name !== undefined) member.name = opts.name;
    if (opts.meta !== undefined) member.meta = opts.meta;
    const lr = this.watch(key);
    // Listed as a local member before the store answers: in a cluster, a publication from another
    // node can arrive between the store admitting us and this function resuming.
    lr.locals.add(s);
    let out: JoinOutcome;
    try {
      await lr.watching;
      out = await this.backplane.joinRoom(key, {
        member,
        create,
        creator,
        defaults: this.resolveOptions(opts.defaults),
        maxCapacity: this.config.rooms.maxPeers,
        now,
      });
    } catch (err) {
      // Not subscribed, or the store is unreachable: forget the room so a later join starts afresh
      // (unless other local members still need it).
      lr.locals.delete(s);
      this.unwatchIfIdle(key, lr);
      throw err;
    }
    if (!out.ok) {
      lr.locals.delete(s);
      this.unwatchIfIdle(key, lr);
      if (out.code === 'room-not-found' && wantCreate && !create) throw new HubError('forbidden', 'Your credentials do not allow creating rooms.');
      if (out.code === 'room-quota') throw quotaError(creator!, s.log);
      throw new HubError(out.code);
    }
    if (out.created) this.emitLifecycle('room.started', key, {});
    if (out.added) this.emitLifecycle('peer.joined', key, joinedData(member));
    if (s.closed) {
      // The socket went away while we waited: undo quietly.
      lr.locals.delete(s);
      this.peerLeft(key, s.id, 'disconnect', await this.backplane.leaveRoom(key, s.id, this.clock.now()));
      this.unwatchIfIdle(key, lr);
      throw new HubError('not-in-room', 'The connection closed during the join.');
    }
    // Our own record arrives with the 'joined' publication below, which is what tells the others.
    for (const m of out.members) if (m.peerId !== s.id) lr.members.set(m.peerId, m);
    lr.options = out.room.options;
    s.addRoom(room);
    this.storeUpdate(s);
    this.announceRoom(key, { k: 'joined', room: key, peer: member });
    this.observer?.joined?.(s.dialect);
    s.log.info({ room, members: out.members.length }, 'joined room');
    return { room, peers: out.members.filter((m) => m.peerId !== s.id).map(peerInfo) };
  }

  /** Every join or creation attempt (failed ones too) spends a token; none left: rate-limited. */
  private spendJoin(s: Session): void {
    const limits = this.config.rateLimits;
    if (!limits || limits.joinsPerSecond <= 0) return;
    let bucket = this.joinBuckets.get(s);
    if (!bucket) this.joinBuckets.set(s, (bucket = new TokenBucket(this.clock, limits.joinsPerSecond, limits.joinBurst)));
    if (!bucket.take()) {
      s.log.info({}, 'join rate limit reached');
      throw new HubError('rate-limited', 'Too many joins: slow down.');
    }
  }

  async leave(s: Session, room: string, reason: LeaveReason = 'left'): Promise<void> {
    if (!s.rooms.has(room)) throw new HubError('not-in-room');
    await this.leaveInternal(s, room, reason);
  }

  private async leaveInternal(s: Session, room: string, reason: LeaveReason): Promise<void> {
    const key = roomKey(s.namespace, room);
    s.deleteRoom(room);
    this.storeUpdate(s);
    const lr = this.local.get(key);
    // The member record goes when the 'left' publication is delivered: that is what tells the others.
    lr?.locals.delete(s);
    let was: LeaveOutcome = false;
    try {
      was = await this.backplane.leaveRoom(key, s.id, this.clock.now());
    } catch (err) {
      // The store is unreachable: local members still hear it now; the store is reconciled on resync.
      s.log.warn({ err, room }, 'leave not recorded in the shared store');
      was = true;
    }
    if (was) this.announceRoom(key, { k: 'left', room: key, peerId: s.id, reason });
    this.peerLeft(key, s.id, reason, was);
    if (lr) this.unwatchIfIdle(key, lr);
    s.log.info({ room, reason }, 'left room');
  }

  private watch(key: string): LocalRoom {
    let lr = this.local.get(key);
    if (!lr) {
      lr = { members: new Map(), locals: new Set(), lastTouch: 0, watching: this.backplane.watchRoom(key) };
      lr.watching.catch(() => {}); // surfaced by the join that awaits it
      this.local.set(key, lr);
    }
    return lr;
  }

  private unwatchIfIdle(key: string, lr: LocalRoom): void {
    if (lr.locals.size === 0 && this.local.get(key) === lr) {
      this.local.delete(key);
      this.backplane.unwatchRoom(key);
    }
  }

  /** Current roster of a room this session is in (from the local cache; no round trip). */
  members(s: Session, room: string): PeerInfo[] {
    if (!s.rooms.has(room)) throw new HubError('not-in-room');
    const lr = this.local.get(roomKey(s.namespace, room));
    return lr ? [...lr.members.values()].map(peerInfo) : [];
  }

  async roomInfo(namespace: string, name: string): Promise<RoomSnapshot | undefined> {
    const got = await this.backplane.getRoom(roomKey(namespace, name));
    return got && snapshot(got.room, got.members);
  }

  async listRooms(namespace?: string): Promise<RoomRecord[]> {
    return this.backplane.listRooms(namespace);
  }

  // ---- relay ----------------------------------------------------------------------------------

  /**
   * Targeted relay: delivered only when sender and target share a room (the given one, or any).
   * Routing is synchronous (a lookup in the local roster cache). The Handoff says whether it was
   * handed on: undefined when the target is on this node (delivered already), else a promise that
   * rejects with `unavailable` when the target's node did not receive it — the caller must handle
   * it. Throws `peer-not-found`, or `unavailable` when the target is elsewhere and the store is down.
   */
  signal(s: Session, to: string, data: unknown, room?: string, raw?: string): Handoff {
    const t0 = this.sampleRelay();
    const candidates = room === undefined ? s.rooms : s.rooms.has(room) ? [room] : [];
    for (const name of candidates) {
      const key = roomKey(s.namespace, name);
      const lr = this.local.get(key);
      const target = lr?.members.get(to);
      if (!lr || !target || to === s.id) continue;
      if (target.resumable && this.stored && this.healthy) {
        const out = this.toStored(s, target, name, data, raw);
        this.activity(key, lr);
        this.observer?.relayed('signal', 1, t0 === undefined ? undefined : (performance.now() - t0) / 1000);
        return out;
      }
      const failures = this.renderFailures;
      const out = this.backplane.toPeer(target, raw === undefined ? { k: 'signal', room: key, from: s.id, to, data } : { k: 'signal', room: key, from: s.id, to, data, raw });
      if (this.renderFailures !== failures) throw undelivered();
      this.activity(key, lr);
      this.observer?.relayed('signal', 1, t0 === undefined ? undefined : (performance.now() - t0) / 1000);
      return out;
    }
    throw new HubError('peer-not-found');
  }

  /**
   * Room-wide relay to every other member (and the sender too when includeSelf). Members on this
   * node get it at once; the Handoff (a promise in a cluster) says whether the shared store took it
   * for the others: `unavailable` when not, thrown at once when the store is known down.
   */
  broadcast(s: Session, room: string, data: unknown, includeSelf = false, raw?: string): Handoff {
    const t0 = this.sampleRelay();
    if (!s.rooms.has(room)) throw new HubError('not-in-room');
    if (s.access && !s.access.allows('broadcast')) throw new HubError('forbidden', 'Your credentials do not allow broadcasting.');
    const key = roomKey(s.namespace, room);
    const lr = this.local.get(key);
    const env: Envelope = { k: 'broadcast', room: key, from: s.id, data, self: includeSelf };
    if (raw !== undefined) env.raw = raw;
    const failures = this.renderFailures;
    let out = this.backplane.toRoom(key, env);
    if (this.renderFailures !== failures) throw undelivered();
    const stored = this.fanout(key, env);
    // Both ride the same pipeline and fail together; the fan-out's reply comes last, so it speaks for both.
    if (stored) {
      out?.catch(() => {});
      out = stored;
    }
    s.log.debug({ room }, 'relayed broadcast');
    if (lr) this.activity(key, lr);
    this.observer?.relayed('broadcast', lr ? lr.members.size - (includeSelf ? 0 : 1) : 0, t0 === undefined ? undefined : (performance.now() - t0) / 1000);
    return out;
  }

  /**
   * A signal to a stored session: the sender's node renders it (the target's dialect is the sender's:
   * namespaces never mix) and appends it to the target's log in the store, which hands it to the
   * target's node. Handed on means kept: it reaches the client once, in order, wherever and whenever
   * it resumes, or the session ends.
   */
  private toStored(s: Session, target: MemberRecord, room: string, data: unknown, raw: string | undefined): Promise<void> {
    const render = this.renderers.get(s.namespace);
    if (!render) throw new HubError('internal-error', 'No renderer for relays to stored sessions.');
    const ev: HubEvent = { type: 'signal', from: s.id, room, data };
    if (raw !== undefined) ev.raw = raw;
    const text = render(ev);
    return this.stored!.append(target.peerId, text, '').then((out) => {
      if (typeof out === 'number') return;
      if (out === 'overflow') void this.endStored(target.peerId, 'buffer-overflow', false);
      throw new HubError('unavailable', out === 'overflow' ? 'Not delivered: the peer has been away too long and its buffer is full.' : UNDELIVERED.nodeGone);
    });
  }

  /** The start time of every 16th relay, for the latency histogram; undefined for the rest. */
  private sampleRelay(): number | undefined {
    return (++this.relays & 15) === 0 ? performance.now() : undefined;
  }

  /** Room activity is written through at most once a second per room and node. */
  private activity(key: string, lr: LocalRoom): void {
    const now = this.clock.now();
    if (now - lr.lastTouch < 1000) return;
    lr.lastTouch = now;
    void this.backplane.touchRoom(key, now);
  }

  // ---- identities -----------------------------------------------------------------------------

  /**
   * Claims a unique alias (username, client id…) in the session's namespace. With 'replace' a
   * previous holder is kicked (its session closed with reason `replaced`); with 'reject' the claim
   * fails with identity-taken. Re-claiming one's own alias is a no-op.
   */
  async claimAlias(s: Session, alias: string, policy: 'reject' | 'replace', owner?: string): Promise<void> {
    if (s.aliases.has(alias)) return;
    const out = await this.backplane.claimAlias(s.namespace, alias, { peerId: s.id, node: this.nodeId }, policy === 'replace', owner);
    if (!out.ok) throw new HubError('identity-taken');
    if (s.closed) {
      await this.backplane.releaseAlias(s.namespace, alias, s.id);
      return;
    }
    this.hold(s, alias, owner);
    this.storeUpdate(s);
    if (out.previous && out.previous.peerId !== s.id) {
      s.log.info({ alias, previous: out.previous.peerId }, 'identity taken over');
      this.announcePeer(out.previous, { k: 'kick', peerId: out.previous.peerId, reason: 'replaced' });
    }
  }

  async releaseAlias(s: Session, alias: string): Promise<void> {
    if (!s.aliases.has(alias)) return;
    this.unhold(s, alias);
    this.storeUpdate(s);
    await this.backplane.releaseAlias(s.namespace, alias, s.id);
  }

  private hold(s: Session, alias: string, owner?: string): void {
    s.addAlias(alias);
    this.held.set(heldKey(s.namespace, alias), s);
    if (owner === undefined) return;
    let m = this.owners.get(s);
    if (!m) this.owners.set(s, (m = new Map()));
    m.set(alias, owner);
  }

  private unhold(s: Session, alias: string): void {
    s.deleteAlias(alias);
    const k = heldKey(s.namespace, alias);
    if (this.held.get(k) === s) this.held.delete(k);
    this.owners.get(s)?.delete(alias);
  }

  private dropAliases(s: Session): void {
    for (const alias of [...s.aliases]) this.unhold(s, alias);
    s.clearAliases();
  }

  /** Aliases held in a namespace, cluster-wide (at most `max`): an inventory, e.g. a discovery listing. */
  listAliases(namespace: string, max: number): Promise<string[]> {
    return this.backplane.listAliases(namespace, max);
  }

  /**
   * Addressed delivery: `raw` (a whole frame the sender's dialect rendered) to the session holding
   * `alias` in the sender's namespace, wherever it is. A holder on this node gets it synchronously
   * ('delivered', no store round trip); otherwise the store resolves the alias and hands it on in
   * the same atomic step, in this node's order of deliveries (a promise of the outcome). Nobody
   * holds it, or its node is not receiving: with `mailbox`, it waits in the alias's mailbox for
   * the next holder (takeMail), until the sender expires it (expireMail). The receiver gets a
   * `signal` event with room '' and `raw`. Throws `unavailable` when the store is known down.
   */
  direct(s: Session, alias: string, raw: string, mailbox?: MailboxOptions): DirectOutcome | Promise<DirectOutcome> {
    const env = { k: 'direct', alias, from: s.id, raw } as const;
    this.observer?.relayed('signal', 1, undefined);
    const here = this.held.get(heldKey(s.namespace, alias));
    if (here && !here.closed && here.aliases.has(alias)) {
      this.backplane.toPeer({ peerId: here.id, node: this.nodeId }, env);
      return 'delivered';
    }
    return this.backplane.toAlias(s.namespace, alias, env, mailbox);
  }

  /** Takes the mailbox of an alias the session holds (oldest first), once: what waited for it. */
  takeMail(s: Session, alias: string): Promise<string[]> {
    if (!s.aliases.has(alias)) return Promise.resolve([]);
    return this.backplane.takeMailbox(s.namespace, alias);
  }

  /** Removes what sender `from` left in an alias's mailbox; resolves to how many entries went (0: all were taken). */
  expireMail(namespace: string, alias: string, from: string): Promise<number> {
    return this.backplane.expireMailbox(namespace, alias, from);
  }

  async resolveAlias(namespace: string, alias: string): Promise<string | undefined> {
    return (await this.backplane.resolveAlias(namespace, alias))?.peerId;
  }

  /** Forcibly removes a member from a room: it hears a self-addressed peer-left (kicked). */
  async kick(namespace: string, room: string, peerId: string): Promise<boolean> {
    const key = roomKey(namespace, room);
    const got = await this.backplane.getRoom(key);
    const m = got?.members.find((x) => x.peerId === peerId);
    if (!m) return false;
    const out = await this.backplane.leaveRoom(key, peerId, this.clock.now());
    if (!out) return false;
    this.peerLeft(key, peerId, 'kicked', out);
    this.announceRoom(key, { k: 'left', room: key, peerId, reason: 'kicked' });
    this.announcePeer(m, { k: 'removed', room: key, peerId, reason: 'kicked' });
    return true;
  }

  /**
   * An operator's disconnect (the admin API): the session this node holds is closed with `kicked`
   * (its dialect's close code) and ended, never resumable, a detached one waiting for a resume too.
   * Its rooms hear it leave (kicked). False when this node holds no such session.
   */
  async disconnect(peerId: string): Promise<boolean> {
    const s = this.sessions.get(peerId);
    if (!s || s.closed) return false;
    s.log.info({}, 'disconnected by an operator');
    // As a kick from another node does: the socket's own close, seen later, finds the session
    // already ending with `kicked` (closeSession's first reason wins).
    s.link.close('kicked');
    await this.closeSession(s, 'kicked');
    return true;
  }

  // ---- liveness and expiry --------------------------------------------------------------------

  /** One tick: probe every live session, close the ones silent for longer than the timeout. */
  heartbeat(): void {
    const now = this.clock.now();
    const { timeoutMs } = this.config.heartbeat;
    for (const s of [...this.sessions.values()]) {
      // A session waiting for a resume has no socket to probe; its window decides.
      if (!s.attached) continue;
      if (now - s.lastSeen >= timeoutMs) {
        s.log.info({ silentMs: now - s.lastSeen }, 'heartbeat timeout');
        s.link.close('timeout');
        // A resumable session waits for its client to come back; others end now.
        if (s.resume) this.detach(s);
        else void this.closeSession(s, 'timeout');
      } else {
        s.link.ping();
      }
    }
  }

  /** Resolves when the room sweep in progress (if any) has finished. */
  sweepDone(): Promise<void> {
    return this.sweepRun ?? Promise.resolve();
  }

  /** One tick of room housekeeping: empty rooms past their grace, idle rooms past their ttl. */
  sweep(): Promise<void> {
    if (this.sweepRun) return this.sweepRun;
    this.sweepRun = this.sweepOnce().finally(() => {
      this.sweepRun = undefined;
    });
    return this.sweepRun;
  }

  private async sweepOnce(): Promise<void> {
    this.resumeTokens.prune(this.clock.now());
    try {
      const swept = await this.backplane.sweep(this.clock.now());
      for (const r of swept) {
        this.observer?.roomRemoved(r.reason);
        this.log.info({ room: r.key, reason: r.reason, members: r.members.length }, 'room removed');
        for (const m of r.members) this.announcePeer(m, { k: 'removed', room: r.key, peerId: m.peerId, reason: 'expired' });
        for (const m of r.members) this.emitLifecycle('peer.left', r.key, { peerId: m.peerId, reason: 'expired' });
        this.emitLifecycle('room.finished', r.key, { reason: r.reason });
      }
    } catch (err) {
      if (this.healthy) this.log.warn({ err }, 'room sweep failed');
    }
    if (!this.store || !this.healthy) return;
    try {
      // Stored sessions past their deadline: each is ended once, by whichever node gets there first.
      for (const peerId of await this.store.due(this.clock.now())) await this.endStored(peerId, 'session-expired', true);
    } catch (err) {
      if (this.healthy) this.log.warn({ err }, 'session sweep failed');
    }
  }

  // ---- deliveries from the backplane ----------------------------------------------------------

  onPeer(peerId: string, env: Envelope): void {
    const s = this.sessions.get(peerId);
    if (!s || s.closed) return;
    switch (env.k) {
      case 'signal': {
        const room = splitKey(env.room).name;
        const ev: HubEvent = { type: 'signal', from: env.from, room, data: env.data };
        if (env.raw !== undefined) ev.raw = env.raw;
        this.deliver(s, ev);
        s.log.debug({ room, from: env.from }, 'relayed signal');
        return;
      }
      case 'removed': {
        const { name } = splitKey(env.room);
        if (!s.deleteRoom(name)) return;
        const lr = this.local.get(env.room);
        if (lr) {
          lr.locals.delete(s);
          lr.members.delete(s.id);
          this.unwatchIfIdle(env.room, lr);
        }
        s.log.info({ room: name, reason: env.reason }, 'removed from room');
        this.deliver(s, { type: 'peer-left', room: name, peerId: s.id, reason: env.reason });
        return;
      }
      case 'kick':
        s.link.close(closeFor[env.reason] ?? 'kicked');
        void this.closeSession(s, env.reason);
        return;
      case 'direct':
        this.deliver(s, { type: 'signal', from: env.from, room: '', data: undefined, raw: env.raw });
        return;
      case 'moved':
        if (s.resume?.durable) {
          const link = s.link;
          this.forget(s);
          link.close('resumed');
        }
        return;
      default:
        return;
    }
  }

  onRoom(key: string, env: Envelope): void {
    const lr = this.local.get(key);
    if (!lr) return;
    const room = splitKey(key).name;
    switch (env.k) {
      case 'joined': {
        // A re-announcement (after a store outage) of a member we know changes nothing visible.
        lr.heard?.add(env.peer.peerId);
        const known = lr.members.has(env.peer.peerId);
        lr.members.set(env.peer.peerId, env.peer);
        if (known) return;
        const skip = this.fans;
        for (const s of lr.locals) if (s.id !== env.peer.peerId && !(skip && s.resume?.durable)) this.deliver(s, { type: 'peer-joined', room, peer: peerInfo(env.peer) });
        return;
      }
      case 'left':
        lr.heard?.add(env.peerId);
        if (!lr.members.delete(env.peerId)) return;
        for (const s of lr.locals) if (s.id !== env.peerId && !(this.fans && s.resume?.durable)) this.deliver(s, { type: 'peer-left', room, peerId: env.peerId, reason: env.reason });
        return;
      case 'broadcast': {
        // One event object for every recipient: a dialect can serialise it once (see Conn.sendRaw).
        const ev: HubEvent = { type: 'broadcast', room, from: env.from, data: env.data };
        if (env.raw !== undefined) ev.raw = env.raw;
        const skip = this.fans;
        for (const s of lr.locals) if ((s.id !== env.from || env.self) && !(skip && s.resume?.durable)) this.deliver(s, ev);
        return;
      }
      default:
        return;
    }
  }

  /**
   * After a store outage: put this node's memberships and identities back, then reconcile every
   * cached roster with the store and tell local members what changed while we could not hear.
   */
  onResync(): Promise<boolean> {
    // One at a time (two would undo each other's roster reads); asked again while one waits to
    // start, that one answers; asked while one runs, one more follows it.
    if (this.resyncQueued) return this.resyncQueued;
    const next = this.resyncChain.then(() => {
      this.resyncQueued = undefined;
      return this.resync().then(
        () => true,
        (err: unknown) => {
          this.log.warn({ err }, 'resync with the shared store failed; will retry on the next reconnect');
          this.emit('resync-failed', err);
          return false;
        },
      );
    });
    this.resyncQueued = this.resyncChain = next;
    return next;
  }

  private async resync(): Promise<void> {
    this.log.info({ rooms: this.local.size, sessions: this.sessions.size }, 'resyncing with the shared store');
    const now = this.clock.now();
    // Stored sessions first: the store may have lost them, and until they are back what the rooms'
    // reconciliation below tells them would not be kept.
    for (const s of [...this.sessions.values()]) {
      if (s.resume?.demoted && this.store) {
        s.resume.demoted = false;
        await this.store.end(s.id, 'session-ended', now, false).catch(() => {});
      } else if (s.resume?.durable && this.store) {
        // The store may have lost it (a restart without persistence): put it back, numbering on.
        const { maxBufferBytes, windowMs } = this.config.resume!;
        const lost = await this.store.open({ peerId: s.id, namespace: s.namespace, subject: s.access?.identity.subject ?? '', tokenHash: hashToken(s.resume.tokens[0]!), maxBytes: maxBufferBytes, windowMs, last: s.resume.written, ifAbsent: true });
        // Without a socket, what it missed went with the store: a resume could not be complete.
        if (lost && !s.attached) await this.endStored(s.id, 'session-ended', false);
        else this.storeUpdate(s);
      }
    }
    for (const [key, lr] of [...this.local]) {
      for (const s of [...lr.locals]) {
        let mine = lr.members.get(s.id) ?? { peerId: s.id, node: this.nodeId, joinedAt: now };
        if (mine.resumable && !s.resume?.durable) {
          const { resumable: _, ...rest } = mine;
          mine = rest;
        }
        await this.backplane.joinRoom(key, {
          member: mine,
          create: true,
          defaults: lr.options ?? this.resolveOptions(),
          maxCapacity: Number.MAX_SAFE_INTEGER,
          now,
        });
        this.announceRoom(key, { k: 'joined', room: key, peer: mine }, false);
      }
      const heard = (lr.heard = new Set());
      let fresh;
      try {
        fresh = await this.backplane.getRoom(key);
      } finally {
        delete lr.heard;
      }
      if (!fresh || this.local.get(key) !== lr) continue;
      const room = splitKey(key).name;
      const next = new Map(fresh.members.map((m) => [m.peerId, m]));
      for (const [id] of lr.members) {
        if (next.has(id) || heard.has(id)) continue;
        lr.members.delete(id);
        for (const s of lr.locals) this.deliver(s, { type: 'peer-left', room, peerId: id, reason: 'disconnect' });
      }
      for (const [id, m] of next) {
        if (lr.members.has(id) || heard.has(id)) continue;
        lr.members.set(id, m);
        for (const s of lr.locals) if (s.id !== id) this.deliver(s, { type: 'peer-joined', room, peer: peerInfo(m) });
      }
    }
    for (const s of [...this.sessions.values()]) {
      for (const alias of [...s.aliases]) {
        const out = await this.backplane.claimAlias(s.namespace, alias, { peerId: s.id, node: this.nodeId }, false, this.owners.get(s)?.get(alias));
        if (!out.ok && out.holder.peerId !== s.id) {
          // Someone else took the identity while we were cut off: theirs is the live claim.
          this.unhold(s, alias);
          s.link.close('replaced');
          void this.closeSession(s, 'replaced');
          break;
        }
      }
    }
    this.log.info({}, 'resync done');
    this.emit('resynced');
  }

  /*
   * Announcements nobody waits for (joined, left, removed, kick): one that cannot be handed on is
   * logged, never thrown, and what it leaves behind is mended elsewhere. After a store outage the
   * resync re-announces this node's memberships and reconciles every cached roster; the members
   * of a node that died are removed by the presence sweep (docs/operations.md).
   */
  private announceRoom(key: string, env: Envelope, fan = true): void {
    try {
      this.backplane.toRoom(key, env)?.catch((err: unknown) => this.notAnnounced(err, env));
    } catch (err) {
      this.notAnnounced(err, env);
    }
    if (fan) this.fanout(key, env)?.catch((err: unknown) => this.notAnnounced(err, env));
  }

  announced(key: string, env: Envelope): void {
    if (env.k === 'left') this.emitLifecycle('peer.left', key, { peerId: env.peerId, reason: env.reason });
    this.fanout(key, env)?.catch((err: unknown) => this.notAnnounced(err, env));
  }

  roomGone(key: string): void {
    this.emitLifecycle('room.finished', key, { reason: 'empty' });
  }

  /** A leave's lifecycle events: peer.left when it removed the member, room.finished when the room went with it. */
  private peerLeft(key: string, peerId: string, reason: LeaveReason, out: LeaveOutcome): void {
    if (!out) return;
    this.emitLifecycle('peer.left', key, { peerId, reason });
    if (out === 'room-removed') this.emitLifecycle('room.finished', key, { reason: 'empty' });
  }

  private emitLifecycle(type: LifecycleType, key: string, data: Record<string, unknown>): void {
    try {
      this.lifecycle?.event(type, key, data);
    } catch (err) {
      this.log.warn({ err, type, room: key }, 'lifecycle event not reported');
    }
  }

  /**
   * A room event for the room's stored members, wherever they are (or whether they have a socket):
   * the publishing node renders it once and the store appends it to each of their logs, in the
   * publisher's order (so a member sees a peer's join before its signals, a sender's relays in the
   * order sent). Room publications then skip stored members (onRoom). Undefined: nothing to do.
   */
  private fanout(key: string, env: Envelope): Promise<void> | undefined {
    if (!this.stored || !this.healthy) return undefined;
    const { namespace, name } = splitKey(key);
    const render = this.renderers.get(namespace);
    if (!render) return undefined;
    let ev: HubEvent;
    let except: string;
    switch (env.k) {
      case 'broadcast':
        ev = { type: 'broadcast', room: name, from: env.from, data: env.data };
        if (env.raw !== undefined) ev.raw = env.raw;
        except = env.self ? '' : env.from;
        break;
      case 'joined':
        ev = { type: 'peer-joined', room: name, peer: peerInfo(env.peer) };
        except = env.peer.peerId;
        break;
      case 'left':
        ev = { type: 'peer-left', room: name, peerId: env.peerId, reason: env.reason };
        except = env.peerId;
        break;
      default:
        return undefined;
    }
    return this.stored.fanout(key, render(ev), except).then((over) => {
      for (const id of over) void this.endStored(id, 'buffer-overflow', false);
    });
  }

  private announcePeer(target: MemberRef, env: Envelope): void {
    try {
      this.backplane.toPeer(target, env)?.catch((err: unknown) => this.notAnnounced(err, env));
    } catch (err) {
      this.notAnnounced(err, env);
    }
  }

  private notAnnounced(err: unknown, env: Envelope): void {
    this.log.warn({ err: err instanceof Error ? err.message : err, kind: env.k, room: 'room' in env ? env.room : undefined, peerId: 'peerId' in env ? env.peerId : undefined }, 'announcement not handed on');
  }

  /**
   * A dialect that cannot render an event (a bug, or a payload it cannot serialise) loses that one
   * event. Where the delivery is local, the relay that caused it tells its sender (see signal and
   * broadcast); across nodes nobody is left to tell. A client may repeat the failure at will, so
   * the log line is rate-bound.
   */
  private deliver(s: Session, ev: HubEvent): void {
    try {
      s.sink(ev);
    } catch (err) {
      this.renderFailures++;
      this.failureLog.error(s.log, { err, event: ev.type }, 'dialect failed to render an event');
    }
  }

  // ---- introspection --------------------------------------------------------------------------

  stats(): { sessionsByDialect: Map<string, number>; localRooms: number } {
    const byDialect = new Map<string, number>();
    for (const s of this.sessions.values()) byDialect.set(s.dialect, (byDialect.get(s.dialect) ?? 0) + 1);
    return { sessionsByDialect: byDialect, localRooms: this.local.size };
  }
}

function heldKey(namespace: string, alias: string): string {
  return `${namespace}\u0000${alias}`;
}

/** Tokens are kept in the shared store only as hashes. */
function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

function quotaError(creator: RoomCreator, log: CoreLogger): HubError {
  log.info({ address: creator.address, max: creator.max }, 'room quota of the address reached');
  return new HubError('room-quota', `Too many open rooms created from your address (at most ${creator.max}); try again once some have closed.`);
}

/** A local relay that a recipient's dialect failed to render (the others, if any, got it). */
function undelivered(): HubError {
  return new HubError('internal-error', 'The server could not deliver this message to a recipient.');
}

function snapshot(room: RoomRecord, members: MemberRecord[]): RoomSnapshot {
  const { namespace, name } = splitKey(room.key);
  return { name, namespace, createdAt: room.createdAt, lastActivity: room.lastActivity, options: room.options, members: members.map(peerInfo) };
}

export type { MemberRef };
