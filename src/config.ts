import { readFileSync } from 'node:fs';
import { Type, type Static, type TSchema, type TObject } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

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

export const ConfigSchema = Type.Object(
  {
    host: Type.String({ default: '0.0.0.0', description: 'Address to listen on. Env `HOST` is honoured too.' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8765, description: 'TCP port (0: any free port). Env `PORT` is honoured too.' }),
    logLevel: Type.Union(
      ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info', description: 'Log level. Env `LOG_LEVEL`, `VC_SERVER_LOG_LEVEL`, `VC_LOG_LEVEL` are honoured too; `warning` means `warn`.' },
    ),
    drainTimeoutMs: Ms(10_000, 'On SIGTERM/SIGINT, how long to wait for clients to leave before closing them (1001).'),
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
        prefix: Type.String({ default: 'sb:', description: 'Prefix of every Redis key and channel (several clusters can share one Redis).' }),
        presenceTtlMs: Count(10_000, 'A node whose presence is not refreshed for this long is dead: its peers are removed from every room (refreshed every quarter of it).', 1000),
      },
      { default: {} },
    ),
    call: Type.Object(
      {
        ringTimeoutMs: Count(30_000, 'call dialect: an unanswered call stops ringing after this long (caller hears `call_rejected`, reason `timeout`).'),
      },
      { default: {} },
    ),
    heartbeat: Type.Object(
      {
        intervalMs: Count(20_000, 'How often every connection is probed (WebSocket ping; vc also gets its JSON ping).'),
        timeoutMs: Count(60_000, 'A connection silent (no frame, no pong) this long is closed; its rooms hear reason `timeout`.'),
      },
      { default: {} },
    ),
    rooms: Type.Object(
      {
        requireCreate: Type.Boolean({ default: false, description: 'Joining a room that does not exist fails (`room-not-found`) instead of creating it.' }),
        maxPeers: Count(100, 'Server-wide maximum members per room; a room\'s own capacity can only be lower.'),
        maxRoomsPerPeer: Count(16, 'Rooms one connection may be in at once.'),
        emptyTtlMs: Ms(30_000, 'Grace period before an empty room is removed.'),
        idleTtlMs: Ms(0, 'Rooms with no activity for this long expire (members hear `peer-left` reason `expired`); 0 disables.'),
        sweepIntervalMs: Count(1_000, 'How often empty and idle rooms are looked for (the precision of both TTLs).'),
      },
      { default: {} },
    ),
    limits: Type.Object(
      {
        maxMessageBytes: Count(65_536, 'Largest message handled; larger ones get error `message-too-large` and are dropped.'),
        maxFrameBytes: Count(1_048_576, 'Largest WebSocket frame accepted at all; larger ones close the connection with 1009.'),
        maxNameLength: Count(64, 'Longest peer display name, in characters.'),
        maxMetaBytes: Count(2_048, 'Largest peer `meta` object, serialised.'),
        maxBufferedBytes: Count(4_194_304, 'Outbound bytes queued for one socket before it counts as a slow consumer and is closed.'),
      },
      { default: {} },
    ),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`invalid configuration: ${key}: ${message}`);
    this.name = 'ConfigError';
  }
}

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

/** Fills defaults and checks types and ranges; the first problem is reported by key. */
export function validateConfig(input: unknown): Config {
  const withDefaults = Value.Default(ConfigSchema, Value.Clone(input ?? {}));
  const first = Value.Errors(ConfigSchema, withDefaults).First();
  if (first) {
    const key = first.path.replace(/^\//, '').replace(/\//g, '.') || 'config';
    throw new ConfigError(key, first.message);
  }
  const cfg = withDefaults as Config;
  if (cfg.heartbeat.timeoutMs <= cfg.heartbeat.intervalMs) {
    throw new ConfigError('heartbeat.timeoutMs', `must be greater than heartbeat.intervalMs (${cfg.heartbeat.intervalMs})`);
  }
  if (cfg.limits.maxMessageBytes > cfg.limits.maxFrameBytes) {
    throw new ConfigError('limits.maxMessageBytes', `must not exceed limits.maxFrameBytes (${cfg.limits.maxFrameBytes})`);
  }
  return cfg;
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
