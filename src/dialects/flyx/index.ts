import type { Dialect } from '../dialect.js';
import { placeholder } from '../placeholder.js';

export const flyxDialect: Dialect = placeholder('flyx');
export const flyxCliDialect: Dialect = placeholder('flyx-cli');
