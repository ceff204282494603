import { defineConfig } from 'vitest/config';

// Native addons (zeromq, better-sqlite3) are not safe in worker threads: every project uses forks.
export default defineConfig({
  test: {
    pool: 'forks',
    projects: [
      {
        test: {
          name: 'unit',
          include: ['app/**/*.test.ts', 'processes/**/*.test.ts', 'shared/**/*.test.ts'],
          pool: 'forks',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          pool: 'forks',
          // Multi-process runs spawn real node processes; give them room on a 2-core machine.
          testTimeout: 120_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
