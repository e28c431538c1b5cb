import type { Dialect } from '../dialect.js';
import { placeholder } from '../placeholder.js';

export const callDialect: Dialect = placeholder('call');
