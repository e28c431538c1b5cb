import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { startServer, type TestServer } from '../helpers/server.js';
import { chromiumSkip, launchChromium, servePage } from './chromium.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw GET (the path goes out exactly as written: no client-side normalisation of `..`). */
function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('GET /sdk/* and /demo', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer();
  });
  after(() => srv.close());

  test('/sdk/switchboard.js is the SDK as a cacheable JavaScript module with a source map', async () => {
    const r = await get(srv.port, '/sdk/switchboard.js');
    assert.equal(r.status, 200, 'dist/client/switchboard.js missing? `npm run build` builds it');
    assert.equal(r.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(r.headers['cache-control'], 'public, max-age=300');
    assert.equal(r.headers['access-control-allow-origin'], '*');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.match(String(r.headers.etag), /^"[0-9a-f]+-[0-9a-f]+"$/);
    assert.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body));
    assert.match(r.body, /export (async )?function connect\b/);
    assert.match(r.body, /\/\/# sourceMappingURL=switchboard\.js\.map\s*$/);

    const again = await get(srv.port, '/sdk/switchboard.js', { 'if-none-match': String(r.headers.etag) });
    assert.equal(again.status, 304);
    assert.equal(again.body, '');
    assert.equal(again.headers.etag, r.headers.etag);

    const head = await get(srv.port, '/sdk/switchboard.js', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['content-length'], r.headers['content-length']);

    const map = await get(srv.port, '/sdk/switchboard.js.map');
    assert.equal(map.status, 200);
    assert.equal(map.headers['content-type'], 'application/json; charset=utf-8');
    const parsed = JSON.parse(map.body) as { file: string; sources: string[] };
    assert.equal(parsed.file, 'switchboard.js');
    assert.ok(parsed.sources.some((s) => s.endsWith('switchboard.ts')));

    // the entry's relative imports are served too
    const imports = [...r.body.matchAll(/from '\.\/([\w.-]+\.js)'/g)].map((m) => m[1]!);
    assert.ok(imports.length > 0);
    for (const f of imports) assert.equal((await get(srv.port, `/sdk/${f}`)).status, 200, f);
  });

  test('nothing else under /sdk/: other types, unknown files, traversal, hidden and encoded names are 404', async () => {
    for (const path of [
      '/sdk/',
      '/sdk/switchboard.d.ts',
      '/sdk/nope.js',
      '/sdk/../src/index.js',
      '/sdk/..%2fsrc%2findex.js',
      '/sdk/%2e%2e/src/index.js',
      '/sdk/.hidden.js',
      '/sdk/a//b.js',
      '/sdk/..\\src\\index.js',
      '/sdk/switchboard.js%00.map',
      '/demo/../package.json',
      '/demo/%2e%2e/package.json',
      '/demo/nope.css',
      '/demo/index.txt',
    ]) {
      const r = await get(srv.port, path);
      assert.notEqual(r.status, 200, path);
      assert.ok(!r.body.includes('"dependencies"') && !r.body.includes('export '), `${path} leaked a file`);
    }
    assert.equal((await get(srv.port, '/sdk/switchboard.d.ts')).status, 404);
    assert.equal((await get(srv.port, '/demo/nope.css')).status, 404);
    // writes are not ours: they fall through to the server's own 404
    assert.equal((await get(srv.port, '/sdk/switchboard.js', {}, 'POST')).status, 404);
  });

  test('/demo serves the page (always revalidated) and its assets', async () => {
    for (const path of ['/demo', '/demo/']) {
      const r = await get(srv.port, path);
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(r.headers['cache-control'], 'no-cache');
      assert.match(r.body, /<script type="module" src="\/demo\/demo\.js">/);
    }
    const js = await get(srv.port, '/demo/demo.js');
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.match(js.body, /from '\/sdk\/switchboard\.js'/);
    assert.equal((await get(srv.port, '/demo/demo.css')).headers['content-type'], 'text/css; charset=utf-8');
    assert.equal((await get(srv.port, '/demo/icon.svg')).headers['content-type'], 'image/svg+xml');
  });
});

describe('the served SDK in real Chromium', { skip: chromiumSkip }, () => {
  let browser: Browser;
  let srv: TestServer;
  before(async () => {
    browser = await launchChromium();
    srv = await startServer();
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
  });

  test('a plain page on another origin imports /sdk/switchboard.js and talks to the server with it', async () => {
    // Another origin on purpose: module scripts are fetched with CORS.
    const page = await servePage(`<!doctype html><meta charset="utf-8"><script type="module">
      window.result = (async () => {
        const sb = await import(${JSON.stringify(srv.http('/sdk/switchboard.js'))});
        const a = await sb.connect({ url: ${JSON.stringify(srv.ws('/v1'))} });
        const b = await sb.connect({ url: ${JSON.stringify(srv.ws('/v1'))} });
        const ra = await a.join('sdk-import', { name: 'Ann' });
        const got = new Promise((r) => ra.on('broadcast', (e) => r(e)));
        const rb = await b.join('sdk-import', { name: 'Bob' });
        await rb.broadcast({ hello: 'from b' });
        const ev = await got;
        let code;
        try { await a.leave('not-joined'); } catch (e) { code = e instanceof sb.SwitchboardError ? e.code : String(e); }
        const out = { exports: Object.keys(sb).sort(), state: a.state, roster: [...ra.peers.values()].map((p) => p.name), from: ev.from === b.peerId, data: ev.data, code };
        a.close(); b.close();
        return out;
      })().catch((e) => ({ error: String(e && e.stack || e) }));
    </script>`);
    const tab = await browser.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (e) => errors.push(String(e)));
    await tab.goto(page.url);
    const result = (await tab.evaluate('window.result')) as Record<string, unknown>;
    await tab.close();
    await page.close();
    assert.deepEqual(errors, []);
    assert.equal(result.error, undefined, String(result.error));
    assert.ok((result.exports as string[]).includes('connect'));
    assert.ok((result.exports as string[]).includes('SwitchboardError'));
    assert.equal(result.state, 'open');
    assert.deepEqual(result.roster, ['Bob']);
    assert.equal(result.from, true);
    assert.deepEqual(result.data, { hello: 'from b' });
    assert.equal(result.code, 'not-in-room');
  });
});
