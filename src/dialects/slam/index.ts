import type { Dialect } from '../dialect.js';
import { placeholder } from '../placeholder.js';

export const slamDialect: Dialect = placeholder('slam');
export const slamPairDialect: Dialect = placeholder('slam-pair');
