// Regenerates the configuration table in README.md from the config schema (npm run docs:config).
// test/docs/readme.test.ts fails when the README's table and the schema disagree.
import { readFileSync, writeFileSync } from 'node:fs';
import { configTable } from '../dist/src/config.js';

const start = '<!-- config-table:start -->';
const end = '<!-- config-table:end -->';
const readme = readFileSync('README.md', 'utf8');
const i = readme.indexOf(start);
const j = readme.indexOf(end);
if (i < 0 || j < i) throw new Error('README.md lacks the config-table markers');
writeFileSync('README.md', `${readme.slice(0, i + start.length)}\n${configTable()}\n${readme.slice(j)}`);
console.log('README.md configuration table updated');
