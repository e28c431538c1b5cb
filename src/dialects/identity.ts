import { policyFor, type IdentityPolicy, type IdentityPolicyConfig } from '../core/access.js';
import { dialectByName } from './registry.js';

/** The duplicate-identity policy of a registered dialect: its `identity` rule under config `identity`. */
export function identityPolicyFor(cfg: IdentityPolicyConfig, dialect: string): IdentityPolicy {
  return policyFor(cfg, dialect, dialectByName(dialect)?.identity);
}
