import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // One test file per core. Most tests wait on sockets and child daemons, so vitest's default
    // (cores - 1: a single worker on a 2-core CI machine) left a core idle and the suite at ~270 s;
    // two workers there take ~185 s, keeping .ci/run's two passes (Node 20, Node 24) well inside 10 min.
    maxWorkers: availableParallelism(),
  },
});
