export * from './credentials.js';
export * from './service-account.js';
