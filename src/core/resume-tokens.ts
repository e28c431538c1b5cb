import { randomBytes } from 'node:crypto';

/**
 * Why a resume was refused; the client then has a fresh session and rejoins its rooms. The wire
 * names of native `welcome.resumeError` (docs/protocol.md, Resume).
 */
export const RESUME_ERRORS = {
  'resume-disabled': 'The server does not keep sessions for resuming (resume.windowMs is 0).',
  'unknown-session': 'No session is known by this token: it was never issued, was already replaced by a newer one, or ended long ago.',
  'session-expired': 'The session waited resume.windowMs for a new socket and was ended; the others heard peer-left.',
  'session-ended': 'The session was ended on purpose (a clean close, a kick, a replacement, a policy close) and cannot be resumed.',
  'buffer-overflow': 'More was sent to the session while it had no socket than resume.maxBufferBytes holds; it was ended.',
  'seq-out-of-range': 'The server no longer holds every frame after the given seq (or seq is larger than any it sent); the session was ended.',
  'identity-mismatch': 'The session belongs to another identity than this connection\'s token.',
  'invalid-resume': 'The resume request is malformed: resume must be a token and seq a non-negative integer.',
} as const;

export type ResumeError = keyof typeof RESUME_ERRORS;

/** Why an ended session's tokens no longer work, remembered for a while so the client hears why. */
export type EndedHow = Extract<ResumeError, 'session-expired' | 'session-ended' | 'buffer-overflow' | 'seq-out-of-range'>;

/** 144 random bits, URL-safe: unguessable, and fits a query string as is. */
export function newResumeToken(): string {
  return randomBytes(18).toString('base64url');
}

/**
 * The resume tokens of one node's sessions, and for a while the reasons of those that ended. Keys
 * are the tokens themselves: they never leave this process (a shared store would keep hashes).
 */
export class ResumeTokens<S> {
  private readonly live = new Map<string, S>();
  private readonly ended = new Map<string, { how: EndedHow; until: number }>();

  constructor(private readonly rememberMs: number) {}

  get size(): number {
    return this.live.size;
  }

  add(token: string, session: S): void {
    this.live.set(token, session);
  }

  get(token: string): S | undefined {
    return this.live.get(token);
  }

  /** The token's session is gone; resumes with it hear `how` for a while, then `unknown-session`. */
  end(token: string, how: EndedHow, now: number): void {
    this.live.delete(token);
    this.ended.set(token, { how, until: now + this.rememberMs });
  }

  /** A token that was replaced by a newer one: just unknown from now on. */
  forget(token: string): void {
    this.live.delete(token);
  }

  /** Why a token that is not live fails. */
  why(token: string, now: number): ResumeError {
    const e = this.ended.get(token);
    return e && e.until > now ? e.how : 'unknown-session';
  }

  /** Drops remembered reasons past their time (called from the hub's sweep). */
  prune(now: number): void {
    for (const [t, e] of this.ended) if (e.until <= now) this.ended.delete(t);
  }
}
