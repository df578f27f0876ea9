export * from './listener.js';
export { checkListenerConfig } from './listener-settings.js';
export { loadTlsOptions } from './tls-settings.js';
export { clientFilter, type ClientFilter } from './client-networks.js';
export { PracticeLimits } from './practice-limits.js';
