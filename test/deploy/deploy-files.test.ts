// The deploy files users look for (docs/deploy.md), checked without the platforms themselves:
// Docker, Render and Heroku do not run here. What each check proves is said beside it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { needProgram } from '../helpers/programs.js';

const yamlSkip = needProgram('python3', ['-c', 'import yaml'], 'python3-yaml', 'the YAML parse of the compose and render files');
const systemdSkip = needProgram('systemd-analyze', ['--version'], 'systemd', 'systemd-analyze verify of the unit');

/** A YAML file parsed by PyYAML's safe loader (anchors and merge keys resolved), as JSON. */
function parseYaml(file: string): unknown {
  const r = spawnSync('python3', ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${file} does not parse as YAML: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

type Service = {
  image?: string;
  build?: { context: string };
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
  volumes?: string[];
  stop_grace_period?: string;
};

describe('deploy/compose/docker-compose.yml', { skip: yamlSkip }, () => {
  test('parses as YAML: Redis, three nodes on it checked on /ready, nginx in front once they are healthy', () => {
    const compose = parseYaml('deploy/compose/docker-compose.yml') as { services: Record<string, Service> };
    const s = compose.services;
    assert.deepEqual(Object.keys(s).sort(), ['lb', 'redis', 'switchboard-1', 'switchboard-2', 'switchboard-3']);
    for (const name of ['switchboard-1', 'switchboard-2', 'switchboard-3']) {
      const node = s[name]!;
      assert.equal(node.build?.context, '../..', `${name} builds the repository's Dockerfile`);
      assert.ok(existsSync(join('deploy/compose', node.build!.context, 'Dockerfile')));
      assert.equal(node.environment?.SWITCHBOARD_REDIS_URL, 'redis://redis:6379');
      assert.ok(node.healthcheck?.test.join(' ').includes('http://127.0.0.1:8765/ready'), `${name} is healthy when ready`);
      assert.deepEqual(node.depends_on, { redis: { condition: 'service_healthy' } });
      assert.equal(node.ports, undefined, 'only the load balancer is published');
    }
    assert.deepEqual(s.lb!.ports, ['8080:80']);
    assert.deepEqual(s.lb!.volumes, ['./nginx.conf:/etc/nginx/conf.d/default.conf:ro']);
    assert.ok(existsSync('deploy/compose/nginx.conf'));
    assert.deepEqual(Object.keys(s.lb!.depends_on ?? {}).sort(), ['switchboard-1', 'switchboard-2', 'switchboard-3']);
    for (const dep of Object.values(s.lb!.depends_on!)) assert.equal(dep.condition, 'service_healthy');
  });

  test('the nodes get the time to drain: stop_grace_period covers drainTimeoutMs (10 s) + the 5 s exit deadline', () => {
    const s = (parseYaml('deploy/compose/docker-compose.yml') as { services: Record<string, Service> }).services;
    for (const name of ['switchboard-1', 'switchboard-2', 'switchboard-3']) assert.ok(Number.parseInt(s[name]!.stop_grace_period!, 10) >= 15);
  });
});

test('render.yaml parses as YAML: a web service, /health checked, PORT left to Render', { skip: yamlSkip }, () => {
  const render = parseYaml('render.yaml') as { services: { type: string; runtime: string; startCommand: string; buildCommand: string; healthCheckPath: string; envVars: { key: string }[] }[] };
  assert.equal(render.services.length, 1);
  const web = render.services[0]!;
  assert.equal(web.type, 'web');
  assert.equal(web.runtime, 'node');
  assert.equal(web.healthCheckPath, '/health');
  assert.equal(web.startCommand, 'node bin/switchboard.js');
  assert.match(web.buildCommand, /^npm ci\b/);
  assert.ok(!web.envVars.some((e) => e.key === 'PORT' || e.key === 'SWITCHBOARD_PORT'), 'Render sets PORT; the server reads it');
});

test('Procfile: one web: process running the CLI', () => {
  const lines = readFileSync('Procfile', 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#'));
  assert.deepEqual(lines, ['web: node bin/switchboard.js']);
  assert.ok(existsSync('bin/switchboard.js'));
});

describe('deploy/systemd/switchboard.service', () => {
  const unit = readFileSync('deploy/systemd/switchboard.service', 'utf8');
  /** Every `Key=value` of the [Service] section. */
  const service = new Map<string, string[]>();
  for (const l of (unit.split(/^\[Service\]$/m)[1] ?? '').split(/^\[/m)[0]!.split('\n')) {
    const m = /^(\w+)=(.*)$/.exec(l);
    if (m) service.set(m[1]!, [...(service.get(m[1]!) ?? []), m[2]!]);
  }
  const one = (k: string) => service.get(k)?.at(-1);

  test('a non-root User=, Restart=on-failure, LimitNOFILE raised, SIGTERM with time to drain, sandboxing on', () => {
    assert.ok(one('User') && one('User') !== 'root' && one('User') !== '0');
    assert.equal(one('Restart'), 'on-failure');
    assert.ok(Number(one('LimitNOFILE')) >= 65536);
    assert.equal(one('KillSignal'), 'SIGTERM');
    assert.ok(Number.parseInt(one('TimeoutStopSec')!, 10) >= 15);
    for (const [k, v] of Object.entries({ NoNewPrivileges: 'yes', ProtectSystem: 'strict', ProtectHome: 'yes', PrivateTmp: 'yes', PrivateDevices: 'yes', RestrictNamespaces: 'yes', CapabilityBoundingSet: '' })) {
      assert.equal(one(k), v, `${k}=${v}`);
    }
    assert.equal(one('MemoryDenyWriteExecute'), undefined, "V8's JIT needs writable executable memory");
    assert.match(one('ExecStart')!, /^\/usr\/bin\/node \/opt\/switchboard\/bin\/switchboard\.js$/);
  });

  test('systemd-analyze verify finds nothing to say (unknown keys and bad values included)', { skip: systemdSkip }, () => {
    // verify needs ExecStart's program to exist: this machine's node stands in for /usr/bin/node.
    const dir = mkdtempSync(join(tmpdir(), 'sb-unit-'));
    try {
      const file = join(dir, 'switchboard.service');
      writeFileSync(file, unit.replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `));
      const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      // It reports unknown keys and unparsable values on stderr and still exits 0.
      assert.equal(r.stderr.trim(), '');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Dockerfile and .dockerignore (Docker does not run here: what is checked is the file itself)', () => {
  const text = readFileSync('Dockerfile', 'utf8').replace(/\\\n/g, ' ');
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const stages = lines.reduce<string[][]>((acc, l) => (l.startsWith('FROM ') ? [...acc, [l]] : (acc.at(-1)?.push(l), acc)), []);
  const ignored = readFileSync('.dockerignore', 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

  test('two stages; the runtime one runs as a non-root USER, checks /health with node (no curl), exec-form CMD', () => {
    assert.equal(stages.length, 2);
    const runtime = stages[1]!;
    assert.match(runtime[0]!, /^FROM node:\d+-\S+-slim$/);
    const user = runtime.find((l) => l.startsWith('USER '));
    assert.ok(user && !/^USER (root|0)(:|$)/.test(user), user);
    const health = runtime.find((l) => l.startsWith('HEALTHCHECK '));
    assert.match(health ?? '', /CMD \["node", "-e", ".*fetch\(.*\/health/);
    const cmd = runtime.filter((l) => l.startsWith('CMD ')).at(-1)!;
    // Exec form (a JSON array): node is PID 1 and gets SIGTERM itself, not a shell in front of it.
    assert.deepEqual(JSON.parse(cmd.slice(4)), ['node', 'bin/switchboard.js']);
    assert.equal(runtime.find((l) => l.startsWith('ENTRYPOINT ')), undefined);
  });

  test('every file it copies from the context exists and is not excluded by .dockerignore', () => {
    const copies = lines.filter((l) => l.startsWith('COPY ') && !l.includes('--from='));
    assert.ok(copies.length > 0);
    for (const c of copies) {
      const parts = c.split(/\s+/).slice(1).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(0, -1)) {
        assert.ok(existsSync(src), `${src} (${c}) exists`);
        assert.ok(!ignored.some((i) => i === src || i === `**/${src}`), `${src} is not in .dockerignore`);
      }
    }
    for (const must of ['**/node_modules', 'dist', '.git', '.cache']) assert.ok(ignored.includes(must), `.dockerignore leaves out ${must}`);
  });
});
