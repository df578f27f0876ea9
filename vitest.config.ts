import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // One test file per core. Most tests wait on sockets and child daemons, so vitest's default
    // (cores - 1: a single worker on a 2-core CI machine) left a core idle; with two workers the
    // suite takes about 7 minutes there (.ci/run's time budget is in its comments).
    maxWorkers: availableParallelism(),
  },
});
