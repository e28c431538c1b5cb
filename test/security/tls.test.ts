import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import { SwitchboardServer } from '../../src/server/server.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect } from '../helpers/ws.js';

/** `openssl` makes the self-signed certificate; without it these tests are skipped, loudly. */
function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const openssl = hasOpenssl();
if (!openssl) console.log('# SKIPPING TLS tests: `openssl` is not on PATH (install the Debian package `openssl`)');

function httpsGet(url: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('TLS: tls.cert / tls.key serve https and wss on every listener', { skip: !openssl && 'openssl missing (apt package `openssl`)' }, () => {
  let dir: string;
  let cert: string;
  let key: string;
  let ca: Buffer;
  let srv: TestServer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sb-tls-'));
    cert = join(dir, 'cert.pem');
    key = join(dir, 'key.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert,
    ], { stdio: 'ignore' });
    ca = readFileSync(cert);
    srv = await startServer({ tls: { cert, key }, listeners: [{ port: 0 }] });
  });
  after(async () => {
    await srv?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('wss on the main listener and on an extra one; the certificate verifies against itself', async () => {
    for (const { port } of srv.server.addresses()) {
      const c = await connect(`wss://127.0.0.1:${port}/v1`, { ca });
      assert.equal((await c.next('welcome')).type, 'welcome');
      await c.close();
      const vc = await connect(`wss://127.0.0.1:${port}/ws`, { ca });
      assert.equal((await vc.next('welcome')).type, 'welcome');
      await vc.close();
    }
  });

  test('https routes; plain ws and http on the TLS port get nowhere', async () => {
    const r = await httpsGet(`https://127.0.0.1:${srv.port}/health`, ca);
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as { ok: boolean }).ok, true);
    await assert.rejects(connect(`ws://127.0.0.1:${srv.port}/v1`));
    await assert.rejects(fetch(`http://127.0.0.1:${srv.port}/health`));
    // An untrusted certificate is refused by a verifying client (it is self-signed).
    await assert.rejects(connect(`wss://127.0.0.1:${srv.port}/v1`));
  });

  test('misconfiguration stops the server at start, naming the key', () => {
    assert.throws(() => loadConfig({ overrides: { tls: { cert } } }), (e: Error) => e instanceof ConfigError && e.message.includes('tls.key'));
    const cfg = loadConfig({ overrides: { tls: { cert, key: join(dir, 'missing.pem') } } });
    assert.throws(() => new SwitchboardServer(cfg), (e: Error) => e instanceof ConfigError && e.message.includes('tls.key'));
  });
});
