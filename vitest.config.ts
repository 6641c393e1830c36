import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import LongFirstSequencer from './tests/long-first-sequencer.js';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'tests/**/*.test.ts', 'examples/test/**/*.test.ts'],
    reporters: ['default', './tests/summary-reporter.ts'],
    pool: 'forks',
    // Vitest's default is one worker less than the CPUs: one worker on CI's 2. Most files wait
    // on sockets, child processes and timers (one worker kept about one CPU busy), so as many
    // workers as CPUs, and at least two.
    maxWorkers: Math.max(2, availableParallelism()),
    sequence: { sequencer: LongFirstSequencer },
    execArgv: ['--expose-gc'],
    testTimeout: 20000,
    hookTimeout: 20000,
  },
});
