export * from './schema.js';
export * from './load.js';
export * from './secrets.js';
export * from './units.js';
export * from './paths.js';
export * from './send-limits.js';
export * from './smime-schema.js';
export { normalizeDomain, type DomainResult } from './domain-name.js';
export type { Cidr } from './listener-schema.js';
