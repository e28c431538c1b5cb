import { readFileSync } from 'node:fs';
import { Type, type Static, type TSchema, type TObject } from '@sinclair/typebox';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import { ConfigError } from './config-error.js';
import { PERMISSIONS } from './core/access.js';
import { DIALECTS } from './dialects/registry.js';

export { ConfigError } from './config-error.js';

/**
 * One typed configuration object, validated at start.
 * Precedence: defaults < config file (JSON) < environment < command-line flags.
 * Every leaf key has a derived env name (SWITCHBOARD_ + path in SNAKE_CASE) and flag (--path-in-kebab-case);
 * the README's configuration table is generated from this schema (npm run docs:config).
 */

const Ms = (def: number, description: string) => Type.Integer({ minimum: 0, default: def, description });
const Count = (def: number, description: string, minimum = 1) => Type.Integer({ minimum, default: def, description });

const IceServer = Type.Object(
  {
    urls: Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })]),
    username: Type.Optional(Type.String()),
    credential: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

/** The configuration sections the dialects declare (`Dialect.options`, typed through `DialectWith`). */
type DeclaredOptions = NonNullable<(typeof DIALECTS)[number]['options']>;
type DialectSections = {
  [O in DeclaredOptions as string extends O['key'] ? never : O['key']]: O['schema'];
};

const dialectSections = Object.fromEntries(DIALECTS.flatMap((d) => (d.options ? [[d.options.key, d.options.schema]] : []))) as DialectSections;

/** The identity rules of the dialects that have one, in words: `native replace, vc allow, …`. */
const identityDefaults = DIALECTS.flatMap((d) => (d.identity ? [`${d.name} ${d.identity.default}`] : [])).join(', ');
const cannotAllow = DIALECTS.filter((d) => d.identity && !d.identity.supports.includes('allow')).map((d) => d.name);

export const ConfigSchema = Type.Object(
  {
    host: Type.String({ default: '0.0.0.0', description: 'Address to listen on. Env `HOST` is honoured too.' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8765, description: 'TCP port (0: any free port). Env `PORT` is honoured too.' }),
    logLevel: Type.Union(
      ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info', description: 'Log level. Env `LOG_LEVEL`, `VC_SERVER_LOG_LEVEL`, `VC_LOG_LEVEL` are honoured too; `warning` means `warn`.' },
    ),
    drainTimeoutMs: Ms(10_000, 'On SIGTERM/SIGINT, the window over which remaining connections are closed (1001), each at its own moment (native clients are told theirs in `goaway`); the process exits by this + 5 s whatever happens (docs/operations.md).'),
    iceServers: Type.Array(IceServer, { default: [], description: 'STUN/TURN servers sent to native clients in `welcome` (JSON array of RTCIceServer).' }),
    listeners: Type.Array(
      Type.Object(
        {
          port: Type.Integer({ minimum: 0, maximum: 65535 }),
          host: Type.Optional(Type.String()),
          dialect: Type.Optional(Type.String({ description: 'Serve only this dialect, on every path.' })),
        },
        { additionalProperties: false },
      ),
      { default: [], description: 'Extra listeners besides host:port, e.g. `[{"port":8000},{"port":8080}]` for clients that hard-code those ports. `dialect` pins a listener to one dialect.' },
    ),
    routes: Type.Array(
      Type.Object({ path: Type.String({ pattern: '^/' }), dialect: Type.String() }, { additionalProperties: false }),
      { default: [], description: 'Extra WebSocket paths pinned to a dialect, e.g. `[{"path":"/signaling","dialect":"slam-pair"}]`; `:name` segments allowed.' },
    ),
    redis: Type.Object(
      {
        url: Type.String({ default: '', description: 'Redis URL (`redis://[:password@]host:port[/db]`) turning on the many-node backplane; empty: one node, all in memory.' }),
        cluster: Type.Boolean({ default: false, description: 'Run the backplane on a Redis Cluster (Redis ≥ 7): `redis.url` is then a seed node. Keys are hash-tagged into 16 slot buckets, so each room\'s atomic scripts stay on one shard; delivery is over sharded pub/sub (`SPUBLISH`). See docs/operations.md, "Redis Cluster".' }),
        nodes: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'More seed nodes of the Redis Cluster besides `redis.url` (`redis://host:port` each), e.g. `["redis://10.0.0.2:6379"]`; any one reachable is enough. Only with `redis.cluster`.' }),
        prefix: Type.String({ default: 'sb:', description: 'Prefix of every Redis key and channel (several clusters can share one Redis). With `redis.cluster` it must not contain `{` or `}` (they would change the hash tag).' }),
        presenceTtlMs: Count(10_000, 'A node whose presence is not refreshed for this long is dead: its peers are removed from every room (refreshed every quarter of it).', 1000),
      },
      { default: {}, additionalProperties: false },
    ),
    connections: Type.Object(
      {
        maxPerNode: Count(0, 'WebSocket connections this node accepts before refusing handshakes with HTTP 503. 0: derived from the file-descriptor soft limit (limit minus max(64, 5%)); a larger value is lowered to that too.', 0),
        maxPerIp: Count(1_000, 'WebSocket connections from one client address before refusing handshakes with HTTP 429; 0: unlimited. Behind a proxy, set `trustProxy` or every client shares the proxy\'s address.', 0),
        handshakeTimeoutMs: Count(10_000, 'A TCP connection that has not completed its HTTP request or WebSocket upgrade (admission included) within this long is dropped.'),
      },
      { default: {}, additionalProperties: false },
    ),
    rateLimits: Type.Object(
      {
        messagesPerSecond: Count(50, 'Inbound frames per connection per second (token bucket refill); frames over it get the dialect\'s `rate-limited` error and are dropped. 0: unlimited.', 0),
        messageBurst: Count(200, 'Token bucket size for inbound frames: how many may arrive at once.'),
        httpCreatesPerSecond: Count(5, 'Rooms created over HTTP (`POST /room`, `POST /api/room`) per client address per second; past it HTTP 429. 0: unlimited.', 0),
        httpCreateBurst: Count(50, 'Burst of `rateLimits.httpCreatesPerSecond`.'),
        joinsPerSecond: Count(5, 'Room joins and creations per connection per second; over it they fail with `rate-limited`. 0: unlimited.', 0),
        joinBurst: Count(20, 'Token bucket size for joins and creations.'),
        closeAfter: Count(50, 'A connection that keeps sending while rate-limited is closed (native 4008, policy violation) after about this many rate-limited frames within `rateLimits.closeWindowMs`.'),
        closeWindowMs: Count(10_000, 'The window of `rateLimits.closeAfter`.'),
      },
      { default: {}, additionalProperties: false },
    ),
    tls: Type.Object(
      {
        cert: Type.String({ default: '', description: 'PEM certificate (chain) file: when set with `tls.key`, every listener serves https and wss directly.' }),
        key: Type.String({ default: '', description: 'PEM private key file for `tls.cert`.' }),
      },
      { default: {}, additionalProperties: false },
    ),
    trustProxy: Type.Boolean({ default: false, description: 'Take the client address (per-IP limits, logs) from the proxy header `proxyHeader`: its right-most entry that is not a trusted proxy. Only turn on behind a proxy that sets that header.' }),
    proxyHeader: Type.Union([Type.Literal('x-forwarded-for'), Type.Literal('forwarded')], { default: 'x-forwarded-for', description: 'Which header `trustProxy` reads: `x-forwarded-for` or `forwarded` (RFC 7239). Only the one your proxy appends to is safe.' }),
    trustedProxies: Type.Array(Type.String(), { default: [], description: 'Proxy addresses or CIDR ranges (e.g. `["10.0.0.0/8"]`). With `trustProxy`: headers are read only from these peers (empty: from any peer), and these entries are skipped from the right of the header.' }),
    allowedOrigins: Type.Array(Type.String(), { default: [], description: 'Browser origins allowed to open WebSockets, e.g. `["https://app.example.com","https://*.example.com"]`; a handshake with another `Origin` gets HTTP 403. Empty: any. Requests without `Origin` (non-browser clients) are always allowed.' }),
    auth: Type.Object(
      {
        secret: Type.String({ default: '', description: 'Shared secret (at least 32 bytes) for HS256/384/512 signed tokens (JWT). Setting it, `auth.publicKeyFile`, `auth.jwksUrl` or `auth.webhookUrl` turns authentication on: every WebSocket handshake then needs a valid token (see docs/authentication.md).' }),
        publicKeyFile: Type.String({ default: '', description: 'PEM file with the public key (SPKI or X.509 certificate) that verifies RS*/PS*/ES*/EdDSA signed tokens.' }),
        jwksUrl: Type.String({ default: '', description: 'URL of a JSON Web Key Set that verifies RS*/PS*/ES*/EdDSA signed tokens (keys picked by `kid`, cached, refetched on an unknown `kid`). Wins over `auth.publicKeyFile`.' }),
        issuer: Type.String({ default: '', description: 'Required `iss` claim of tokens; empty: not checked.' }),
        audience: Type.String({ default: '', description: 'Required `aud` claim of tokens; empty: not checked.' }),
        clockToleranceSeconds: Count(5, 'Leeway for `exp` and `nbf` against clock skew between the token issuer and this server.', 0),
        claimPrefix: Type.String({ default: '', description: 'Prefix of the `rooms` and `permissions` claims, for issuers that namespace custom claims (e.g. `https://example.com/`).' }),
        defaultPermissions: Type.Array(Type.Union(PERMISSIONS.map((p) => Type.Literal(p))), {
          default: ['join', 'create', 'broadcast'],
          description: 'Permissions of a token that has no `permissions` claim.',
        }),
        webhookUrl: Type.String({ default: '', description: 'Auth webhook: every handshake (after token checks) is POSTed here as JSON and the reply allows or denies it, and may add metadata and ICE servers.' }),
        webhookTimeoutMs: Count(2_000, 'How long the auth webhook may take to answer; then `auth.webhookFailure` applies.'),
        webhookFailure: Type.Union([Type.Literal('deny'), Type.Literal('allow')], {
          default: 'deny',
          description: 'When the webhook times out, fails or answers garbage: `deny` (HTTP 503 `auth-unavailable`) or `allow` (the token alone decides).',
        }),
        maxSessionMs: Ms(86_400_000, 'With authentication on, how long a connection whose token has no `exp` (or that no token identified) lives: it is closed as if its token expired this long after it was presented (native close 4005, after `token-expiring`). 0: unbounded.'),
        expiryWarningMs: Ms(60_000, 'How long before its token expires a native connection gets `token-expiring` (at once, if less remains), so it can send `refresh-token`. 0: no warning.'),
      },
      { default: {}, additionalProperties: false },
    ),
    identity: Type.Object(
      {
        policy: Type.Union([Type.Literal('dialect'), Type.Literal('reject'), Type.Literal('replace'), Type.Literal('allow')], {
          default: 'dialect',
          description: `Duplicate identities (a second connection with the same identity): \`reject\` the newcomer, \`replace\` (close) the old session, \`allow\` both; \`dialect\`: each dialect's default (${identityDefaults}). ${cannotAllow.join(' and ')} cannot \`allow\`.`,
        }),
        dialects: Type.Record(Type.String(), Type.Union([Type.Literal('reject'), Type.Literal('replace'), Type.Literal('allow')]), {
          default: {},
          description: 'Per-dialect overrides of `identity.policy`, e.g. `{"call":"replace","native":"reject"}`.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    turn: Type.Object(
      {
        secret: Type.String({ default: '', description: 'TURN REST shared secret (coturn `use-auth-secret` / `static-auth-secret`): every native client gets its own ephemeral TURN credentials for `turn.urls`.' }),
        urls: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'TURN server URLs the ephemeral credentials are for, e.g. `["turn:turn.example.org:3478","turns:turn.example.org:5349"]`.' }),
        ttlSeconds: Count(86_400, 'Lifetime of ephemeral TURN credentials; native clients get fresh ones (`ice-servers`) at 80% of it.', 60),
      },
      { default: {}, additionalProperties: false },
    ),
    resume: Type.Object(
      {
        windowMs: Ms(30_000, 'How long a native session outlives a socket that dropped without a clean close (or that the heartbeat or a drain cut): the others see no `peer-left`, frames to it are kept, and the client can resume it with `/v1?resume=<token>&seq=<n>` (docs/protocol.md, Resume). 0 turns resume off: a session ends with its socket.'),
        maxBufferBytes: Count(262_144, 'Frames kept per resumable session for a resume, in bytes. With a socket, the oldest give way (a resume from before them fails with `seq-out-of-range`); without one, overflowing ends the session (`buffer-overflow`). Clients trim it with `received`.', 1024),
      },
      { default: {}, additionalProperties: false },
    ),
    admin: Type.Object(
      {
        token: Type.String({ default: '', description: 'Bearer token of the dashboard (`/dashboard`) and the admin API (`/admin/v1/`): requests then need `Authorization: Bearer <token>` (or, with `auth` on, a JWT with the `admin` permission). Empty, and with `auth` off: they answer only to loopback clients, never through a proxy (docs/operations.md).' }),
      },
      { default: {}, additionalProperties: false },
    ),
    webhooks: Type.Object(
      {
        url: Type.String({ default: '', description: 'Lifecycle webhooks (`room.started`, `room.finished`, `peer.joined`, `peer.left`) are POSTed here, signed per Standard Webhooks, each once per cluster and in order per room (docs/operations.md). Empty: off.' }),
        secret: Type.String({ default: '', description: 'Signing secret of `webhooks.url`: `whsec_` then base64 of 24 to 64 random bytes (Standard Webhooks). Required with `webhooks.url`.' }),
        timeoutMs: Count(5_000, 'How long one webhook delivery may take before it counts as failed and is retried.'),
        maxAttempts: Count(6, 'Attempts per event (the first and its retries, with exponential backoff from 1 s, the same `webhook-id` each time); then it is dropped, counted and logged.'),
        maxQueue: Count(10_000, 'Events waiting for delivery, cluster-wide; past it new events are dropped, counted and logged.'),
      },
      { default: {}, additionalProperties: false },
    ),
    heartbeat: Type.Object(
      {
        intervalMs: Count(20_000, 'How often every connection is probed (WebSocket ping; vc also gets its JSON ping).'),
        timeoutMs: Count(60_000, 'A connection silent (no frame, no pong) this long is closed; its rooms hear reason `timeout`.'),
      },
      { default: {}, additionalProperties: false },
    ),
    rooms: Type.Object(
      {
        requireCreate: Type.Boolean({ default: false, description: 'Joining a room that does not exist fails (`room-not-found`) instead of creating it.' }),
        maxPeers: Count(100, 'Server-wide maximum members per room; a room\'s own capacity can only be lower.'),
        maxRoomsPerPeer: Count(16, 'Rooms one connection may be in at once.'),
        maxPerAddress: Count(100, 'Live rooms one client address (see `trustProxy`) may have created, counted cluster-wide until each room is removed; past it creating one more fails (native `room-quota`, flyx HTTP 429). 0: unlimited.', 0),
        emptyTtlMs: Ms(30_000, 'Grace period before an empty room is removed.'),
        idleTtlMs: Ms(0, 'Rooms with no activity for this long expire (members hear `peer-left` reason `expired`); 0 disables.'),
        sweepIntervalMs: Count(1_000, 'How often empty and idle rooms are looked for (the precision of both TTLs).'),
      },
      { default: {}, additionalProperties: false },
    ),
    limits: Type.Object(
      {
        maxMessageBytes: Count(65_536, 'Largest message handled; larger ones get error `message-too-large` and are dropped.'),
        maxFrameBytes: Count(1_048_576, 'Largest WebSocket frame accepted at all; larger ones close the connection with 1009.'),
        maxNameLength: Count(64, 'Longest peer display name, in characters.'),
        maxMetaBytes: Count(2_048, 'Largest peer `meta` object, serialised.'),
        maxJsonDepth: Count(64, 'Deepest nesting of arrays and objects in a message; each array or object counts one level (`{"type":"x"}` is 1). A deeper message is dropped unparsed and answered with the dialect\'s error for a malformed message (native `invalid-message`, vc `invalid-json`; see docs/security.md).'),
        maxBufferedBytes: Count(4_194_304, 'Outbound bytes queued for one socket before it counts as a slow consumer and is closed.'),
      },
      { default: {}, additionalProperties: false },
    ),
    ...dialectSections,
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;

export interface ConfigLeaf {
  path: string[];
  key: string;
  env: string;
  flag: string;
  schema: TSchema;
}

const snake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
const kebab = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

/** Every configurable leaf, with its env var and flag names. */
export function configLeaves(schema: TObject = ConfigSchema, prefix: string[] = []): ConfigLeaf[] {
  const out: ConfigLeaf[] = [];
  for (const [name, sub] of Object.entries(schema.properties)) {
    const path = [...prefix, name];
    if ((sub as TSchema).type === 'object' && (sub as TObject).properties) {
      out.push(...configLeaves(sub as TObject, path));
    } else {
      out.push({
        path,
        key: path.join('.'),
        env: `SWITCHBOARD_${path.map(snake).join('_')}`,
        flag: `--${path.map(kebab).join('-')}`,
        schema: sub as TSchema,
      });
    }
  }
  return out;
}

function coerce(leaf: ConfigLeaf, raw: string, source: string): unknown {
  const t = leaf.schema.type;
  if (t === 'integer' || t === 'number') {
    if (!/^-?\d+(\.\d+)?$/.test(raw.trim())) throw new ConfigError(leaf.key, `expected a number, got ${JSON.stringify(raw)} (from ${source})`);
    return Number(raw);
  }
  if (t === 'boolean') {
    const v = raw.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(v)) return true;
    if (['false', '0', 'no', 'off'].includes(v)) return false;
    throw new ConfigError(leaf.key, `expected true or false, got ${JSON.stringify(raw)} (from ${source})`);
  }
  if (t === 'array' || t === 'object') {
    try {
      return JSON.parse(raw);
    } catch {
      throw new ConfigError(leaf.key, `expected JSON, got ${JSON.stringify(raw)} (from ${source})`);
    }
  }
  if (leaf.key === 'logLevel') {
    const v = raw.trim().toLowerCase();
    return v === 'warning' ? 'warn' : v;
  }
  return raw;
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const p of path.slice(0, -1)) {
    if (typeof cur[p] !== 'object' || cur[p] === null) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)) {
      out[k] = merge(b as Record<string, unknown>, v as Record<string, unknown>);
    } else {
      out[k] = v;
    }
  }
  return out;
}

export interface ConfigSources {
  /** Parsed flags: leaf key → raw string (see parseFlags). */
  flags?: Record<string, string>;
  env?: Record<string, string | undefined>;
  /** A config file path (JSON); flags `--config`, env SWITCHBOARD_CONFIG. */
  file?: string;
  /** Already-typed overrides (library use), applied last. */
  overrides?: DeepPartial<Config>;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** Builds and validates the configuration; throws ConfigError naming the offending key. */
export function loadConfig(src: ConfigSources = {}): Config {
  const leaves = configLeaves();
  let layered: Record<string, unknown> = {};
  const env = src.env ?? {};
  const file = src.file ?? env.SWITCHBOARD_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError('config', `cannot read ${file}: ${(err as Error).message}`);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError('config', `${file} must hold a JSON object`);
    layered = merge(layered, parsed as Record<string, unknown>);
  }
  const fromEnv: Record<string, unknown> = {};
  const aliases: Record<string, string[]> = {
    port: ['PORT'],
    host: ['HOST'],
    logLevel: ['VC_LOG_LEVEL', 'VC_SERVER_LOG_LEVEL', 'LOG_LEVEL'],
  };
  for (const leaf of leaves) {
    // Lowest to highest priority: legacy names first, the SWITCHBOARD_ name wins.
    for (const name of [...(aliases[leaf.key] ?? []), leaf.env]) {
      const raw = env[name];
      if (raw !== undefined && raw !== '') setPath(fromEnv, leaf.path, coerce(leaf, raw, `env ${name}`));
    }
  }
  layered = merge(layered, fromEnv);
  const fromFlags: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(src.flags ?? {})) {
    const leaf = leaves.find((l) => l.key === key);
    if (!leaf) throw new ConfigError(key, 'unknown setting');
    setPath(fromFlags, leaf.path, coerce(leaf, raw, `flag ${leaf.flag}`));
  }
  layered = merge(layered, fromFlags);
  if (src.overrides) layered = merge(layered, src.overrides as Record<string, unknown>);
  return validateConfig(layered);
}

/**
 * The schema as the input is checked against before defaults are filled: every setting that has a
 * default is optional, nothing else changes. Checking first matters: filling defaults into a value
 * of the wrong type (an object where a list belongs) would silently replace it with the default.
 */
function optionalDefaults(schema: TObject): TObject {
  const props: Record<string, TSchema> = {};
  for (const [name, sub] of Object.entries(schema.properties)) {
    const inner = (sub as TSchema).type === 'object' && (sub as TObject).properties ? optionalDefaults(sub as TObject) : (sub as TSchema);
    props[name] = (sub as { default?: unknown }).default !== undefined ? Type.Optional(inner) : inner;
  }
  return Type.Object(props, { additionalProperties: schema.additionalProperties });
}

const InputSchema = optionalDefaults(ConfigSchema);

/** A schema error in a user's words: the allowed values of an enumeration, an unknown key named. */
function describe(error: ValueError): string {
  const choices = (error.schema as { anyOf?: { const?: unknown }[] }).anyOf;
  if (choices?.length && choices.every((c) => c.const !== undefined)) {
    return `expected one of ${choices.map((c) => JSON.stringify(c.const)).join(', ')}, got ${JSON.stringify(error.value)}`;
  }
  if (error.type === ValueErrorType.ObjectAdditionalProperties) return 'unknown setting';
  if (error.type === ValueErrorType.Array) return `expected a list (JSON array), got ${kind(error.value)}`;
  if (error.type === ValueErrorType.Object) return `expected an object, got ${kind(error.value)}`;
  return error.message;
}

function kind(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

/** The dotted key of an error's path; for an unknown key, that key itself. */
function keyOf(error: ValueError): string {
  return error.path.replace(/^\//, '').replace(/\//g, '.') || 'config';
}

/** The first unknown key under `value` (TypeBox reports the object holding it, not the key). */
function unknownKey(schema: TObject, value: unknown, prefix: string[] = []): string | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  for (const [k, v] of Object.entries(value)) {
    const sub = schema.properties[k] as TSchema | undefined;
    if (!sub) return schema.additionalProperties === false ? [...prefix, k].join('.') : undefined;
    if (sub.type === 'object' && (sub as TObject).properties) {
      const found = unknownKey(sub as TObject, v, [...prefix, k]);
      if (found) return found;
    }
  }
  return undefined;
}

/** Checks types, ranges and unknown keys, then fills defaults; the first problem is reported by key. */
export function validateConfig(input: unknown): Config {
  const raw = input ?? {};
  const unknown = unknownKey(ConfigSchema, raw);
  if (unknown) throw new ConfigError(unknown, 'unknown setting');
  const first = Value.Errors(InputSchema, raw).First();
  if (first) throw new ConfigError(keyOf(first), describe(first));
  const withDefaults = Value.Default(ConfigSchema, Value.Clone(raw));
  const after = Value.Errors(ConfigSchema, withDefaults).First();
  if (after) throw new ConfigError(keyOf(after), describe(after));
  const cfg = withDefaults as Config;
  if (cfg.heartbeat.timeoutMs <= cfg.heartbeat.intervalMs) {
    throw new ConfigError('heartbeat.timeoutMs', `must be greater than heartbeat.intervalMs (${cfg.heartbeat.intervalMs})`);
  }
  if (cfg.limits.maxMessageBytes > cfg.limits.maxFrameBytes) {
    throw new ConfigError('limits.maxMessageBytes', `must not exceed limits.maxFrameBytes (${cfg.limits.maxFrameBytes})`);
  }
  if (cfg.redis.cluster && cfg.redis.url === '') throw new ConfigError('redis.url', 'redis.cluster needs redis.url: a seed node of the Redis Cluster');
  if (!cfg.redis.cluster && cfg.redis.nodes.length) throw new ConfigError('redis.nodes', 'lists Redis Cluster seed nodes: set redis.cluster too (one Redis takes only redis.url)');
  if (cfg.redis.cluster && /[{}]/.test(cfg.redis.prefix)) throw new ConfigError('redis.prefix', 'must not contain { or } with redis.cluster: they would change the keys\' hash tags');
  validateSecurity(cfg);
  if ((cfg.tls.cert === '') !== (cfg.tls.key === '')) {
    throw new ConfigError(cfg.tls.cert ? 'tls.key' : 'tls.cert', 'tls.cert and tls.key must be set together');
  }
  return cfg;
}

/** Authentication, identity and TURN settings that the schema alone cannot check. */
function validateSecurity(cfg: Config): void {
  if (cfg.auth.secret !== '' && Buffer.byteLength(cfg.auth.secret) < 32) {
    throw new ConfigError('auth.secret', 'must be at least 32 bytes (256 bits): a short HMAC secret can be brute-forced from one token');
  }
  for (const key of ['jwksUrl', 'webhookUrl'] as const) {
    const v = cfg.auth[key];
    if (v !== '' && !/^https?:\/\/[^\s]+$/i.test(v)) throw new ConfigError(`auth.${key}`, `expected an http(s) URL, got ${JSON.stringify(v)}`);
  }
  for (const [dialect, policy] of Object.entries(cfg.identity.dialects)) {
    const d = DIALECTS.find((x) => x.name === dialect)?.identity;
    if (d && !d.supports.includes(policy)) {
      throw new ConfigError(`identity.dialects.${dialect}`, `${dialect} addresses peers by identity, so it cannot "${policy}" duplicates (use ${d.supports.join(' or ')})`);
    }
  }
  if (cfg.webhooks.url !== '' && !/^https?:\/\/[^\s]+$/i.test(cfg.webhooks.url)) {
    throw new ConfigError('webhooks.url', `expected an http(s) URL, got ${JSON.stringify(cfg.webhooks.url)}`);
  }
  if (cfg.webhooks.url !== '' || cfg.webhooks.secret !== '') {
    const m = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(cfg.webhooks.secret);
    const bytes = m ? Buffer.from(m[1]!, 'base64').length : 0;
    if (!m || bytes < 24 || bytes > 64) {
      throw new ConfigError('webhooks.secret', cfg.webhooks.secret === '' ? 'required with webhooks.url: `whsec_` then base64 of 24 to 64 random bytes' : 'must be `whsec_` then base64 of 24 to 64 random bytes (Standard Webhooks)');
    }
    if (cfg.webhooks.url === '') throw new ConfigError('webhooks.url', 'webhooks.secret is set but webhooks.url is empty');
  }
  if ((cfg.turn.secret === '') !== (cfg.turn.urls.length === 0)) {
    throw new ConfigError(cfg.turn.secret ? 'turn.urls' : 'turn.secret', 'turn.secret and turn.urls must be set together');
  }
}

export function defaultConfig(): Config {
  return validateConfig({});
}

/** Markdown table of every setting: key, flag, env, default, meaning. */
export function configTable(): string {
  const rows = configLeaves().map((l) => {
    const def = JSON.stringify((l.schema as { default?: unknown }).default);
    return `| \`${l.key}\` | \`${l.flag}\` | \`${l.env}\` | \`${def}\` | ${(l.schema as { description?: string }).description ?? ''} |`;
  });
  return ['| key | flag | env | default | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}
