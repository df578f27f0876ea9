export * from './scheduler.js';
export * from './retry.js';
export * from './attempt.js';
export * from './pacer.js';
export * from './backpressure.js';
export * from './due-index.js';
export * from './executor.js';
export * from './outcome.js';
export { DeliveryThread, type ThreadGeneration } from './delivery-thread.js';
