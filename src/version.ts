import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seaAsset } from './sea.js';

/**
 * The package version: from the package.json a single executable embeds (`npm run build:exe`),
 * else from the nearest package.json above this file.
 */
function findVersion(): string {
  const embedded = seaAsset('package.json');
  if (embedded) return versionOf(embedded.toString('utf8')) ?? '0.0.0';
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      const v = versionOf(readFileSync(p, 'utf8'));
      if (v) return v;
    }
    dir = dirname(dir);
  }
  return '0.0.0';
}

/** The version of Switchboard's own package.json (another package's is skipped). */
function versionOf(json: string): string | undefined {
  const pkg = JSON.parse(json) as { name?: string; version?: string };
  return pkg.name === 'switchboard' && pkg.version ? pkg.version : undefined;
}

export const VERSION = findVersion();
