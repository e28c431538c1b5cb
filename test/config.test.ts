import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, configLeaves, configTable, defaultConfig, loadConfig } from '../src/config.js';
import { parseArgs } from '../src/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'sb-config-'));

function file(obj: unknown): string {
  const p = join(tmp, `c${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(p, typeof obj === 'string' ? obj : JSON.stringify(obj));
  return p;
}

function configError(fn: () => unknown, key: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.equal(e.key, key);
    assert.match(e.message, new RegExp(`invalid configuration: ${key.replace(/\./g, '\\.')}`));
    return true;
  });
}

test('defaults: in memory on 0.0.0.0:8765', () => {
  const c = defaultConfig();
  assert.equal(c.host, '0.0.0.0');
  assert.equal(c.port, 8765);
  assert.equal(c.logLevel, 'info');
  assert.deepEqual(c.heartbeat, { intervalMs: 20000, timeoutMs: 60000 });
  assert.deepEqual(c.listeners, []);
});

test('precedence: defaults < file < env < flags', () => {
  const f = file({ port: 1000, host: '10.0.0.1', rooms: { maxPeers: 7, emptyTtlMs: 5 } });
  assert.equal(loadConfig({ file: f }).port, 1000);
  assert.equal(loadConfig({ file: f }).rooms.emptyTtlMs, 5);
  assert.equal(loadConfig({ file: f }).rooms.maxRoomsPerPeer, 16, 'unset nested keys keep their defaults');
  const env = { SWITCHBOARD_PORT: '2000', SWITCHBOARD_ROOMS_MAX_PEERS: '9' };
  const c = loadConfig({ file: f, env });
  assert.equal(c.port, 2000);
  assert.equal(c.rooms.maxPeers, 9);
  assert.equal(c.host, '10.0.0.1');
  const d = loadConfig({ file: f, env, flags: { port: '3000' } });
  assert.equal(d.port, 3000);
  assert.equal(d.rooms.maxPeers, 9);
  assert.equal(loadConfig({ env: { SWITCHBOARD_CONFIG: f } }).port, 1000, 'SWITCHBOARD_CONFIG names the file');
});

test('PORT and HOST are honoured; SWITCHBOARD_* wins over them', () => {
  assert.equal(loadConfig({ env: { PORT: '4000', HOST: '127.0.0.1' } }).port, 4000);
  assert.equal(loadConfig({ env: { PORT: '4000', HOST: '127.0.0.1' } }).host, '127.0.0.1');
  assert.equal(loadConfig({ env: { PORT: '4000', SWITCHBOARD_PORT: '5000' } }).port, 5000);
});

test('log level: SWITCHBOARD_LOG_LEVEL > LOG_LEVEL > VC_SERVER_LOG_LEVEL > VC_LOG_LEVEL; case and "warning" tolerated', () => {
  assert.equal(loadConfig({ env: { VC_LOG_LEVEL: 'warning' } }).logLevel, 'warn');
  assert.equal(loadConfig({ env: { VC_LOG_LEVEL: 'warning', VC_SERVER_LOG_LEVEL: 'ERROR' } }).logLevel, 'error');
  assert.equal(loadConfig({ env: { VC_SERVER_LOG_LEVEL: 'error', LOG_LEVEL: 'DEBUG' } }).logLevel, 'debug');
  assert.equal(loadConfig({ env: { LOG_LEVEL: 'debug', SWITCHBOARD_LOG_LEVEL: 'trace' } }).logLevel, 'trace');
  assert.equal(loadConfig({ env: { LOG_LEVEL: 'debug' }, flags: { logLevel: 'silent' } }).logLevel, 'silent');
});

test('JSON-valued settings come from env and flags', () => {
  const c = loadConfig({ env: { SWITCHBOARD_ICE_SERVERS: '[{"urls":"stun:a.example:3478"}]' }, flags: { listeners: '[{"port":8000},{"port":8080,"dialect":"mesh"}]' } });
  assert.deepEqual(c.iceServers, [{ urls: 'stun:a.example:3478' }]);
  assert.deepEqual(c.listeners, [{ port: 8000 }, { port: 8080, dialect: 'mesh' }]);
});

test('invalid values are reported by key', () => {
  configError(() => loadConfig({ flags: { port: 'abc' } }), 'port');
  configError(() => loadConfig({ env: { SWITCHBOARD_PORT: '70000' } }), 'port');
  configError(() => loadConfig({ env: { SWITCHBOARD_LOG_LEVEL: 'loud' } }), 'logLevel');
  configError(() => loadConfig({ env: { SWITCHBOARD_ROOMS_REQUIRE_CREATE: 'maybe' } }), 'rooms.requireCreate');
  configError(() => loadConfig({ env: { SWITCHBOARD_ICE_SERVERS: '[{' } }), 'iceServers');
  configError(() => loadConfig({ env: { SWITCHBOARD_ICE_SERVERS: '[{"url":"x"}]' } }), 'iceServers.0.urls');
  configError(() => loadConfig({ file: file({ rooms: { maxPeers: 0 } }) }), 'rooms.maxPeers');
  configError(() => loadConfig({ file: file({ nope: 1 }) }), 'nope');
  configError(() => loadConfig({ file: file('{oops') }), 'config');
  configError(() => loadConfig({ file: join(tmp, 'missing.json') }), 'config');
  configError(() => loadConfig({ flags: { heartbeat: '1' } }), 'heartbeat');
  configError(() => loadConfig({ flags: { 'heartbeat.timeoutMs': '1000', 'heartbeat.intervalMs': '2000' } }), 'heartbeat.timeoutMs');
});

test('every leaf has a flag and an env name derived from its path', () => {
  const leaves = configLeaves();
  const hb = leaves.find((l) => l.key === 'heartbeat.intervalMs')!;
  assert.equal(hb.flag, '--heartbeat-interval-ms');
  assert.equal(hb.env, 'SWITCHBOARD_HEARTBEAT_INTERVAL_MS');
  assert.equal(new Set(leaves.map((l) => l.flag)).size, leaves.length);
  for (const l of leaves) assert.ok(configTable().includes(`\`${l.env}\``));
});

test('CLI flags: --port N, --port=N, short forms, --config, unknown flags refused', () => {
  const a = parseArgs(['--port', '1', '-H', '127.0.0.1', '--rooms-max-peers=5', '-l', 'debug', '-c', 'x.json']);
  assert.deepEqual(a.flags, { port: '1', host: '127.0.0.1', 'rooms.maxPeers': '5', logLevel: 'debug' });
  assert.equal(a.file, 'x.json');
  assert.equal(parseArgs(['--help']).help, true);
  assert.equal(parseArgs(['-v']).version, true);
  configError(() => parseArgs(['--bogus']), '--bogus');
  configError(() => parseArgs(['--port']), 'port');
});

test('a value of the wrong shape is refused, never replaced by the default', () => {
  configError(() => loadConfig({ flags: { listeners: '{"port":8000}' } }), 'listeners');
  configError(() => loadConfig({ env: { SWITCHBOARD_ICE_SERVERS: '{"urls":"stun:a.example:3478"}' } }), 'iceServers');
  configError(() => loadConfig({ file: file({ listeners: { port: 8000 } }) }), 'listeners');
  configError(() => loadConfig({ file: file({ rooms: 5 }) }), 'rooms');
  assert.match(String(captured(() => loadConfig({ flags: { listeners: '{"port":8000}' } }))), /expected a list \(JSON array\), got an object/);
});

test('unknown keys are refused at every depth, named by their full key', () => {
  configError(() => loadConfig({ file: file({ rooms: { maxpeers: 5 } }) }), 'rooms.maxpeers');
  configError(() => loadConfig({ file: file({ redis: { url: '', host: 'x' } }) }), 'redis.host');
  configError(() => loadConfig({ file: file({ listeners: [{ port: 8000, prot: 1 }] }) }), 'listeners.0.prot');
  configError(() => loadConfig({ overrides: { limits: { maxMesageBytes: 1 } } as never }), 'limits.maxMesageBytes');
});

test('an invalid choice names the allowed values', () => {
  const e = captured(() => loadConfig({ env: { SWITCHBOARD_LOG_LEVEL: 'loud' } }));
  assert.match(String(e), /logLevel: expected one of "trace", "debug", "info", "warn", "error", "fatal", "silent", got "loud"/);
  assert.match(String(captured(() => loadConfig({ flags: { proxyHeader: 'x-real-ip' } }))), /expected one of "x-forwarded-for", "forwarded"/);
  assert.match(String(captured(() => loadConfig({ file: file({ identity: { dialects: { call: 'share' } } }) }))), /identity\.dialects\.call: expected one of "reject", "replace", "allow"/);
});

test('CLI: a boolean flag is a switch (--x / --no-x) and never swallows the next flag', () => {
  assert.deepEqual(parseArgs(['--trust-proxy', '--port', '8766']).flags, { trustProxy: 'true', port: '8766' });
  assert.deepEqual(parseArgs(['--rooms-require-create', '--no-rooms-require-create']).flags, { 'rooms.requireCreate': 'false' });
  assert.equal(loadConfig({ flags: parseArgs(['--trust-proxy', '--port', '8766']).flags }).trustProxy, true);
  configError(() => parseArgs(['--trust-proxy=yes']), 'trustProxy');
  configError(() => parseArgs(['--port', '--host', '127.0.0.1']), 'port');
  configError(() => parseArgs(['-p']), 'port');
  configError(() => parseArgs(['-c']), 'config');
  configError(() => parseArgs(['8766']), '8766');
});

function captured(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

test('redis.cluster: a seed URL is required, redis.nodes only with it, and no braces in the prefix', () => {
  const c = loadConfig({ env: { SWITCHBOARD_REDIS_URL: 'redis://10.0.0.1:6379', SWITCHBOARD_REDIS_CLUSTER: 'true', SWITCHBOARD_REDIS_NODES: '["redis://10.0.0.2:6379"]' } });
  assert.equal(c.redis.cluster, true);
  assert.deepEqual(c.redis.nodes, ['redis://10.0.0.2:6379']);
  assert.equal(loadConfig({ flags: { 'redis.url': 'redis://a:1', 'redis.cluster': 'true' } }).redis.cluster, true);
  configError(() => loadConfig({ env: { SWITCHBOARD_REDIS_CLUSTER: 'true' } }), 'redis.url');
  configError(() => loadConfig({ env: { SWITCHBOARD_REDIS_URL: 'redis://a:1', SWITCHBOARD_REDIS_NODES: '["redis://b:1"]' } }), 'redis.nodes');
  configError(() => loadConfig({ env: { SWITCHBOARD_REDIS_URL: 'redis://a:1', SWITCHBOARD_REDIS_CLUSTER: 'true', SWITCHBOARD_REDIS_PREFIX: 'sb{x}:' } }), 'redis.prefix');
});
