/**
 * Starting the delivery thread's worker (delivery-thread.ts): the compiled delivery-thread-entry.js,
 * or, when the relay runs from its TypeScript sources (tests, `npm run bench`), the .ts entry
 * loaded through tsx.
 */
import { Worker } from 'node:worker_threads';
import type { ThreadData } from './delivery-thread-wire.js';

export function newWorker(workerData: ThreadData): Worker {
  const ts = import.meta.url.endsWith('.ts');
  const entry = new URL(ts ? './delivery-thread-entry.ts' : './delivery-thread-entry.js', import.meta.url);
  if (!ts) return new Worker(entry, { workerData });
  // Running from the TypeScript sources (tests, `npm run bench`): the thread loads them with tsx.
  const code = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(code, { eval: true, workerData });
}
