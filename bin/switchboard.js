#!/usr/bin/env node
// Thin launcher: the CLI lives in TypeScript and is compiled to dist/ by `npm ci` (prepare) or `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/src/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  console.error('switchboard: dist/ is missing; run `npm run build` (npm ci does it for you).');
  process.exit(2);
}
const { main } = await import(cli.href);
await main(process.argv.slice(2));
