import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // Two cores: one test file at a time keeps worker-pool tests from oversubscribing them.
    fileParallelism: false,
  },
});
