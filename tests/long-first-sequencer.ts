/**
 * Starts the test files that take longest first, so that on a fresh clone (no vitest cache:
 * CI) none of them is left to run alone at the end while the other workers sit idle. Vitest's
 * own order (longest first once it has timings, else the larger files first) applies to the
 * rest; tests/loops.test.ts, the longest by far, is one of the smallest files.
 */
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** The longest files of a run in session 21 (loops.test.ts 128 s, the next 91, 68, 59, 45 s ...), longest first. */
const LONGEST = [
  'tests/loops.test.ts',
  'tests/package/install.test.ts',
  'tests/bench.test.ts',
  'packages/loopkit/test/cli.test.ts',
  'tests/faults/fd-leak.test.ts',
  'tests/faults/tls-cycles.test.ts',
  'packages/loopkit/test/ps.test.ts',
  'tests/faults/connections.test.ts',
];

export default class LongFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification): number => {
      const at = LONGEST.findIndex((name) => spec.moduleId.endsWith(`/${name}`));
      return at === -1 ? LONGEST.length : at;
    };
    // Array.prototype.sort is stable: vitest's order holds among the rest.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}
