export * from './scheduler.js';
export * from './retry.js';
export * from './attempt.js';
