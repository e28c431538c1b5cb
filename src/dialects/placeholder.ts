import type { Dialect } from './dialect.js';

/** TEMPORARY: stands in for a dialect module being written; refuses every connection (HTTP 501). */
export function placeholder(name: string): Dialect {
  return {
    name,
    types: new Set(),
    closeCodes: {
      shutdown: [1001, ''],
      timeout: [1001, ''],
      replaced: [1008, ''],
      'slow-consumer': [1008, ''],
      kicked: [1008, ''],
      expired: [1000, ''],
      policy: [1008, ''],
    },
    admit: () => ({ ok: false, status: 501, body: { error: `dialect ${name} is not implemented yet` } }),
    accept() {
      throw new Error(`dialect ${name} is not implemented yet`);
    },
  };
}
