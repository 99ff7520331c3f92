import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // better-sqlite3 is a native addon: forks isolate it more safely than threads.
    pool: 'forks',
    testTimeout: 30_000,
    reporters: ['default', ['json', { outputFile: '.tmp/vitest-report.json' }]],
    hookTimeout: 60_000,
  },
});
