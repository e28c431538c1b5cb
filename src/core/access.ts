/**
 * Who a session is and what it may do, as the core sees it: no tokens, no HTTP. The auth gate
 * (src/security/auth.ts) turns a verified token into an Identity; the hub checks the session's
 * AccessPolicy at its choke points (join, createRoom, broadcast), so every dialect gets the same rules.
 */

export const PERMISSIONS = ['join', 'create', 'broadcast', 'admin'] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** A verified identity: the token's claims, already checked. Plain data (it is logged and sent to the auth webhook). */
export interface Identity {
  /** The token's `sub`: the stable identity (native `identity`, slam `client_id`, call `user_id`). */
  subject: string;
  /** The token's `name`: display name (native and vc `name`, call `username`); falls back to `subject`. */
  name?: string;
  /** Glob patterns (`*`, `?`) of the rooms this identity may join and create; absent: any room. */
  rooms?: string[];
  permissions: Permission[];
  /** When the token expires (ms since the epoch), if it says. */
  expiresAt?: number;
}

/** The display name an identity shows (and, in call, the username it must register). */
export function displayName(id: Identity): string {
  return id.name ?? id.subject;
}

/** Duplicate-identity policies: refuse the newcomer, close the old session, or let several devices in. */
export type IdentityPolicy = 'reject' | 'replace' | 'allow';

/**
 * Glob match: `*` is any run of characters (including none), `?` exactly one; everything else is
 * literal. The classic two-pointer walk with one backtrack point: O(pattern × text) at worst, so
 * no pattern can make matching blow up the way a backtracking regular expression can.
 */
export function globMatch(pattern: string, text: string): boolean {
  const p = Array.from(pattern);
  const t = Array.from(text);
  let i = 0;
  let j = 0;
  let star = -1;
  let mark = 0;
  while (j < t.length) {
    if (i < p.length && (p[i] === '?' || (p[i] !== '*' && p[i] === t[j]))) {
      i++;
      j++;
    } else if (i < p.length && p[i] === '*') {
      star = i++;
      mark = j;
    } else if (star >= 0) {
      i = star + 1;
      j = ++mark;
    } else {
      return false;
    }
  }
  while (i < p.length && p[i] === '*') i++;
  return i === p.length;
}

/** What an identity may do; one per session (the hub asks it on join, createRoom, broadcast). */
export class AccessPolicy {
  private readonly rooms: readonly string[] | undefined;
  private readonly perms: ReadonlySet<Permission>;

  constructor(readonly identity: Identity) {
    this.rooms = identity.rooms;
    this.perms = new Set(identity.permissions);
  }

  get admin(): boolean {
    return this.perms.has('admin');
  }

  /** Whether the room name matches one of the identity's room patterns (admins: every room). */
  allowsRoom(room: string): boolean {
    if (this.admin || this.rooms === undefined) return true;
    return this.rooms.some((r) => globMatch(r, room));
  }

  /** Whether the identity holds a permission (admin holds them all), for `room` when given. */
  allows(perm: Permission, room?: string): boolean {
    if (!this.admin && !this.perms.has(perm)) return false;
    return room === undefined || this.allowsRoom(room);
  }
}

/** Per-dialect identity-policy settings (config `identity`). */
export interface IdentityPolicyConfig {
  /** `dialect`: each dialect's documented default; otherwise this policy wherever the dialect supports it. */
  policy: 'dialect' | IdentityPolicy;
  /** Per-dialect overrides, by dialect name. */
  dialects: Record<string, IdentityPolicy>;
}

/** What a dialect with identities does with a duplicate by default, and which policies its protocol can carry (`Dialect.identity`). */
export interface IdentityRule {
  readonly default: IdentityPolicy;
  readonly supports: readonly IdentityPolicy[];
}

/**
 * The policy a dialect applies to duplicate identities: its own override, else the server-wide
 * policy where the dialect supports it, else the dialect's default (`allow` for a dialect without a
 * rule, which has no identities to collide).
 */
export function policyFor(cfg: IdentityPolicyConfig, dialect: string, rule: IdentityRule | undefined): IdentityPolicy {
  const own = cfg.dialects[dialect];
  if (own !== undefined) return own;
  if (!rule) return cfg.policy === 'dialect' ? 'allow' : cfg.policy;
  if (cfg.policy !== 'dialect' && rule.supports.includes(cfg.policy)) return cfg.policy;
  return rule.default;
}
