import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { configTable } from '../../src/config.js';

test('the README configuration table is the one generated from the schema (npm run docs:config)', () => {
  const readme = readFileSync('README.md', 'utf8');
  assert.ok(readme.includes(`<!-- config-table:start -->\n${configTable()}\n<!-- config-table:end -->`), 'run `npm run docs:config` to refresh README.md');
});

test('the README states the two commands', () => {
  const readme = readFileSync('README.md', 'utf8');
  assert.match(readme, /npm ci && npm start/);
  assert.match(readme, /npm ci && npm test/);
});
