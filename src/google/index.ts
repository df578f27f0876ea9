export * from './credentials.js';
export * from './service-account.js';
export * from './send-as.js';
export * from './diagnose.js';
export * from './scope-ladder.js';
export * from './directory.js';
export * from './recipient-directory.js';
export * from './send-as-verifiers.js';
