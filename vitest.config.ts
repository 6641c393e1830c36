import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'tests/**/*.test.ts', 'examples/test/**/*.test.ts'],
    reporters: ['default', './tests/summary-reporter.ts'],
    pool: 'forks',
    execArgv: ['--expose-gc'],
    testTimeout: 20000,
    hookTimeout: 20000,
  },
});
