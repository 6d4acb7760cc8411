import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Root level: a project's own poolOptions are not read here, and the default (cores - 1) is a
    // single worker on a 2-core machine, so integration files ran one at a time.
    maxWorkers: 2,
    minWorkers: 1,
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Each test builds its own cluster; two cores cannot run many at once (two, see maxWorkers).
          pool: 'forks',
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
