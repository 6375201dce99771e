import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['suites/**/*.test.ts'],
    // suites/fixtures/consumer is a user's project, run by the consumer suite in its own install.
    exclude: [...configDefaults.exclude, 'suites/fixtures/**'],
    // Timing suites measure real processes on 2 cores: one file at a time, so that no other
    // file's nginx and Node compete with the one being measured.
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 180_000,
    setupFiles: ['./src/matchers/index.ts'],
    // Which runtimes the claim suites run on, decided once (suites/support/runtimes.ts).
    globalSetup: ['./suites/support/runtimes-setup.ts'],
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
  },
});
