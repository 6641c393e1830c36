/**
 * @loopkit/conformance: the suite every loopkit loop runs, for any backend. One call
 * registers it with the caller's test runner (node:test by default, or vitest's
 * `{test, describe}`), skipping what the loop cannot do and saying why.
 *
 *   import { runConformance } from '@loopkit/conformance';
 *   runConformance(() => new MyLoop());
 */
import { createRequire } from 'node:module';
import type { AbstractEventLoop } from '@loopkit/core';
import { CAPABILITIES, detectCapabilities, type Capabilities, type Capability } from './capabilities.js';
import type { LoopUnderTest } from './context.js';
import { describe, registerWith, skipping, type Registrar } from './kit.js';
import { SUITES, SUITES_BY_NAME, type SuiteName } from './suites.js';

export { CAPABILITIES, detectCapabilities, type Capabilities, type Capability, type Detected } from './capabilities.js';
export type { LoopUnderTest } from './context.js';
export { RuleViolation } from './rules.js';
export { SUITES, type SuiteName } from './suites.js';

type TestFn = (name: string, ...rest: any[]) => unknown;

/** A runner's functions: vitest's `{test, describe}` or `{it, describe}`, or node:test's. */
export interface TestFunctions {
  describe: (name: string, body: () => void) => unknown;
  test?: TestFn;
  it?: TestFn;
}

export interface ConformanceOptions {
  /** The name in the tests' titles; default: the loop's class name. */
  name?: string;
  /** Narrow what was detected, e.g. `{tls: false}`; a capability can only be turned off. */
  capabilities?: Partial<Capabilities>;
  /** Run only these suites (by name, see SUITES) and, among them, tests whose full name ("group > test") matches one of these patterns. */
  only?: Array<SuiteName | RegExp>;
  /** Register these suites and matching tests as skipped. */
  skip?: Array<SuiteName | RegExp>;
  /** The runner to register with; default node:test. */
  test?: TestFunctions;
  /** Milliseconds a test may take unless it sets its own (default 20000: real I/O on a busy machine; vitest's own default is 5000, node:test has none). */
  timeout?: number;
}

const require = createRequire(import.meta.url);

function registrar(given: TestFunctions | undefined, timeout: number): Registrar {
  const nodeTest = require('node:test') as typeof import('node:test');
  const runner: TestFunctions = given ?? { describe: nodeTest.describe, it: nodeTest.it };
  const test = runner.test ?? runner.it;
  if (typeof runner.describe !== 'function' || typeof test !== 'function') {
    throw new TypeError('options.test must have describe and test (or it) functions, as vitest and node:test export them');
  }
  // node:test prints a skip's reason itself; vitest has no place for it, so its title carries it.
  const showsReason = test === nodeTest.it || test === nodeTest.test;
  return {
    describe: (name, body) => void runner.describe(name, body),
    // The options-object form is the one node:test and vitest 4 both take.
    test: (name, fn, options) =>
      void test(options.skip === undefined || showsReason ? name : `${name} [${options.skip}]`, { timeout, ...options }, fn),
  };
}

function selection(list: Array<SuiteName | RegExp> | undefined, option: string): { suites: SuiteName[]; patterns: RegExp[] } {
  const suites: SuiteName[] = [];
  const patterns: RegExp[] = [];
  for (const item of list ?? []) {
    if (item instanceof RegExp) patterns.push(item);
    else if ((SUITES as readonly string[]).includes(item)) suites.push(item);
    else throw new TypeError(`${option}: unknown suite ${JSON.stringify(item)}; the suites are ${SUITES.join(', ')}`);
  }
  return { suites, patterns };
}

/** The loop under test: detected capabilities, narrowed by the caller. */
function subjectOf(make: () => AbstractEventLoop, options: ConformanceOptions): LoopUnderTest {
  if (typeof make !== 'function') throw new TypeError('makeLoop must be a function that returns a new loop');
  const { caps, why } = detectCapabilities(make);
  for (const [cap, value] of Object.entries(options.capabilities ?? {})) {
    if (!(CAPABILITIES as readonly string[]).includes(cap)) throw new TypeError(`capabilities: unknown capability ${JSON.stringify(cap)}; known: ${CAPABILITIES.join(', ')}`);
    const c = cap as Capability;
    if (value === true && !caps[c]) throw new TypeError(`capabilities.${c}: the loop has no ${c} (${why[c]}); the option can only turn capabilities off`);
    if (value === false && caps[c]) {
      caps[c] = false;
      why[c] = "turned off by the caller's capabilities option";
    }
  }
  const probe = make();
  const name = options.name ?? probe.constructor.name;
  probe.close();
  return { name, make, caps, why };
}

/**
 * Register the conformance suite for the loops `makeLoop` makes (a new one per test) with
 * the caller's runner. Call it at the top level of a test file.
 */
export function runConformance(makeLoop: () => AbstractEventLoop, options: ConformanceOptions = {}): void {
  const subject = subjectOf(makeLoop, options);
  const only = selection(options.only, 'only');
  const skip = selection(options.skip, 'skip');
  const timeout = options.timeout ?? 20_000;
  if (!Number.isInteger(timeout) || timeout <= 0) throw new TypeError(`timeout must be a positive whole number of milliseconds, got ${String(timeout)}`);
  registerWith(registrar(options.test, timeout), { only: only.patterns, skip: skip.patterns }, () => {
    describe(`conformance: ${subject.name}`, () => {
      for (const name of SUITES) {
        if (only.suites.length > 0 && !only.suites.includes(name)) continue;
        const reason = skip.suites.includes(name) ? `skipped: the caller's skip option names the ${name} suite` : null;
        skipping(reason, () => SUITES_BY_NAME[name](subject));
      }
    });
  });
}
