import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { join, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { inSea, seaAsset } from '../sea.js';

/** Where the files come from: the compiled SDK and the demo page (defaults: this package's own). */
export interface StaticDirs {
  /** The compiled browser SDK, served under /sdk/ (default: dist/client). */
  sdk: string;
  /** The demo page, served at /demo (default: web/demo). */
  demo: string;
  /** The admin dashboard, served at /dashboard (default: web/dashboard) behind the admin access rule. */
  dashboard: string;
}

/** Resolved from this file's place in dist/src/server/, so it works from a checkout and from the package. */
export function defaultStaticDirs(): StaticDirs {
  return {
    sdk: fileURLToPath(new URL('../../client/', import.meta.url)),
    demo: fileURLToPath(new URL('../../../web/demo/', import.meta.url)),
    dashboard: fileURLToPath(new URL('../../../web/dashboard/', import.meta.url)),
  };
}

/**
 * Inside a single executable (`npm run build:exe`) the same files are assets of the binary, named
 * by their path from the package root; these are the asset-name prefixes of StaticDirs.
 */
export const EMBEDDED_DIRS: StaticDirs = { sdk: 'dist/client/', demo: 'web/demo/', dashboard: 'web/dashboard/' };

/** A file found: its size, a validator, its modification time where there is one, its bytes. */
interface Found {
  size: number;
  etag: string;
  mtime?: Date;
  body(): Readable | Buffer;
}

/** Looks `rel` (already checked against SAFE_PATH) up under `root`. */
type FileSource = (root: string, rel: string) => Promise<Found | undefined>;

/** From disk, per request (a rebuild shows at once); the ETag is size and mtime, so a revalidation costs one stat. */
const diskFile: FileSource = async (root, rel) => {
  const file = join(root, rel);
  if (!file.startsWith(root.endsWith(sep) ? root : root + sep)) return undefined;
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) return undefined;
  return { size: info.size, etag: `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`, mtime: info.mtime, body: () => createReadStream(file) };
};

/**
 * From the single executable's assets (no mtime: they are as old as the build). Assets never change
 * while the process runs, so each one's ETag (a content hash) is made once.
 */
function embeddedFiles(): FileSource {
  const etags = new Map<string, string>();
  return async (root, rel) => {
    const key = root + rel;
    const bytes = seaAsset(key);
    if (!bytes) return undefined;
    let etag = etags.get(key);
    if (!etag) etags.set(key, (etag = `"${createHash('sha1').update(bytes).digest('hex').slice(0, 16)}"`));
    return { size: bytes.length, etag, body: () => bytes };
  };
}

const SDK_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};
const DEMO_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/**
 * One or more path segments of letters, digits, `_`, `-` and inner dots: no `..`, no hidden files, no
 * backslashes or encoded separators (the path is matched before any decoding, so `%2e%2e` is just
 * an unknown name). The resolved path is checked to stay inside its root as well.
 */
const SAFE_PATH = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*(?:\/[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)*$/;

/**
 * GET/HEAD `/sdk/<file>` (the browser SDK: `.js` and `.js.map` from dist/client) and `/demo`,
 * `/demo/<asset>` (the demo page), from disk or, inside a single executable, from its assets.
 * The demo's page itself is `no-cache` (always revalidated), everything else cacheable for 5 min.
 * The SDK is public code, readable from any origin (`Access-Control-Allow-Origin: *`).
 */
export class StaticFiles {
  private readonly dirs: StaticDirs;
  private readonly find: FileSource;

  /** Given dirs are read from disk; by default, this package's own files (embedded ones in a single executable). */
  constructor(dirs?: StaticDirs) {
    const embedded = !dirs && inSea();
    this.dirs = dirs ?? (embedded ? EMBEDDED_DIRS : defaultStaticDirs());
    this.find = embedded ? embeddedFiles() : diskFile;
  }

  /** Serves the request if its path is one of ours; resolves false (nothing written) otherwise. */
  async handle(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
    if (pathname.startsWith('/sdk/')) {
      return this.serve(req, res, this.dirs.sdk, pathname.slice(5), SDK_TYPES, (rel) => rel.endsWith('.js') || rel.endsWith('.js.map'), 'public, max-age=300', true);
    }
    if (pathname === '/demo' || pathname === '/demo/') return this.serve(req, res, this.dirs.demo, 'index.html', DEMO_TYPES, () => true, 'no-cache');
    if (pathname.startsWith('/demo/')) return this.serve(req, res, this.dirs.demo, pathname.slice(6), DEMO_TYPES, () => true);
    // The dashboard (its access rule runs before: src/admin/access.ts): never cached as a page,
    // its assets briefly and only by the browser (the page may sit behind a token).
    if (pathname === '/dashboard' || pathname === '/dashboard/') return this.serve(req, res, this.dirs.dashboard, 'index.html', DEMO_TYPES, () => true, 'no-store');
    if (pathname.startsWith('/dashboard/')) return this.serve(req, res, this.dirs.dashboard, pathname.slice(11), DEMO_TYPES, () => true, 'private, max-age=60');
    return false;
  }

  private async serve(
    req: IncomingMessage,
    res: ServerResponse,
    root: string,
    rel: string,
    types: Record<string, string>,
    allowed: (rel: string) => boolean,
    cacheControl = 'public, max-age=300',
    anyOrigin = false,
  ): Promise<boolean> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const type = types[extension(rel)];
    if (!SAFE_PATH.test(rel) || !type || !allowed(rel)) return notFound(res);
    const found = await this.find(root, rel);
    if (!found) return notFound(res);
    const { etag } = found;
    const headers: Record<string, string> = {
      'content-type': type,
      'cache-control': cacheControl,
      etag,
      'x-content-type-options': 'nosniff',
    };
    if (found.mtime) headers['last-modified'] = found.mtime.toUTCString();
    // A page on another origin imports the SDK as a module script, which browsers fetch with CORS.
    if (anyOrigin) headers['access-control-allow-origin'] = '*';
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    headers['content-length'] = String(found.size);
    res.writeHead(200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return true;
    }
    const body = found.body();
    if (Buffer.isBuffer(body)) {
      res.end(body);
      return true;
    }
    await new Promise<void>((resolve) => {
      const stream = body;
      stream.on('error', () => {
        res.destroy();
        resolve();
      });
      stream.on('end', resolve);
      stream.pipe(res);
    });
    return true;
  }
}

/** `.js`, `.map`, `.html`…: the last dot's suffix (so `switchboard.js.map` is `.map`). */
function extension(rel: string): string {
  const dot = rel.lastIndexOf('.');
  return dot < 0 ? '' : rel.slice(dot);
}

function notFound(res: ServerResponse): true {
  const body = JSON.stringify({ error: 'not found' });
  res.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
  return true;
}
