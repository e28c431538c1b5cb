import type { Dialect } from '../dialect.js';
import { placeholder } from '../placeholder.js';

export const vcDialect: Dialect = placeholder('vc');
