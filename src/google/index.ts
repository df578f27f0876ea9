export * from './credentials.js';
export * from './service-account.js';
export * from './send-as.js';
export * from './diagnose.js';
