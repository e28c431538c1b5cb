import { createRequire } from 'node:module';

/** What this module needs of `node:sea` (Node ≥ 20.12 / 21.7). */
interface SeaModule {
  isSea(): boolean;
  getAsset(key: string): ArrayBuffer;
}

/**
 * `node:sea` when this process is a single executable application (`npm run build:exe`), else
 * undefined. Loaded with a require so that a Node 20 older than 20.12, which has no `node:sea`,
 * still starts (a static import would fail to link). Asked once: it is a fact of the process, not
 * state of a server, like process.execPath.
 */
let sea: SeaModule | null | undefined;

function seaModule(): SeaModule | undefined {
  if (sea === undefined) {
    try {
      const mod = createRequire(import.meta.url)('node:sea') as SeaModule;
      sea = mod.isSea() ? mod : null;
    } catch {
      sea = null;
    }
  }
  return sea ?? undefined;
}

/** Whether this process runs inside a single executable (the app and its files are in the binary). */
export function inSea(): boolean {
  return seaModule() !== undefined;
}

/**
 * A file the build embedded, by its path from the package root (`web/demo/index.html`,
 * `dist/client/switchboard.js`, `package.json`), or undefined when not in a single executable or
 * when no such asset was embedded. The bytes are the asset's own (no copy).
 */
export function seaAsset(key: string): Buffer | undefined {
  const mod = seaModule();
  if (!mod) return undefined;
  try {
    return Buffer.from(mod.getAsset(key));
  } catch {
    return undefined;
  }
}
