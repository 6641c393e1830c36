/**
 * The Windows test run (scripts/test-windows.sh compiles this and runs it with Node for
 * Windows under Wine, where vitest cannot start): the conformance suite on ProactorEventLoop
 * (with its network suites) and the fault suites, on the shim runner in ./vitest-shim, which
 * asserts with vitest's own matchers. Argument: a regular expression to run only some tests.
 */
import { runConformance } from '@loopkit/conformance';
import { ProactorEventLoop } from '@loopkit/proactor';
import { describe, it } from 'vitest';

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}
// The shim's run() is not part of vitest's API, hence the cast.
const { run } = (await import('vitest')) as unknown as { run(options: { filter: RegExp | null }): Promise<Counts> };

// The subprocess and signal suites run POSIX programs and signals: not Windows' (asyncio's
// own tests skip them there too).
runConformance(() => new ProactorEventLoop(), { test: { describe, it }, skip: ['subprocess', 'signals'] });
// Each fault file registers its tests at import, for every loop class available here.
for (const file of ['connections', 'emfile', 'fd-leak', 'loop-close', 'mid-stream', 'slow-reader', 'throwing']) {
  await import(`../faults/${file}.test.js`);
}

const pattern = process.argv[2];
const counts = await run({ filter: pattern === undefined ? null : new RegExp(pattern) });
// Exit now, as vitest ends its workers: a failed test may have left a handle open.
process.exit(counts.failed === 0 && counts.passed > 0 ? 0 : 1);
