// A small test runner with vitest's API (describe/it/expect and hooks), run in this process.
// Assertions are vitest's own: @vitest/expect's matchers on chai, as vitest builds them, so
// a suite asserts exactly what it asserts under vitest. What differs: tests run one after
// another in one process (vitest would fork per file), and run() prints the results.
import * as chai from 'chai';
import { ASYMMETRIC_MATCHERS_OBJECT, GLOBAL_EXPECT, JestAsymmetricMatchers, JestChaiExpect, JestExtend, getState, setState } from '@vitest/expect';

chai.use(JestExtend);
chai.use(JestChaiExpect);
chai.use(JestAsymmetricMatchers);

export const expect = (value, message) => {
  const state = getState(expect);
  setState({ assertionCalls: state.assertionCalls + 1 }, expect);
  return chai.expect(value, message);
};
Object.assign(expect, chai.expect);
Object.assign(expect, globalThis[ASYMMETRIC_MATCHERS_OBJECT]);
expect.getState = () => getState(expect);
expect.setState = (state) => setState(state, expect);
setState({ assertionCalls: 0, isExpectingAssertions: false, expectedAssertionsNumber: null, testPath: '', currentTestName: '' }, expect);
globalThis[GLOBAL_EXPECT] = expect;

const DEFAULT_TIMEOUT = 60_000;
/** @type {{name: string, parent: any, children: any[], hooks: {beforeEach: Function[], afterEach: Function[], beforeAll: Function[], afterAll: Function[]}, skip: boolean}} */
const root = { name: '', parent: null, children: [], hooks: { beforeEach: [], afterEach: [], beforeAll: [], afterAll: [] }, skip: false };
let current = root;

function addSuite(name, fn, skip) {
  const suite = { name, parent: current, children: [], hooks: { beforeEach: [], afterEach: [], beforeAll: [], afterAll: [] }, skip };
  current.children.push(suite);
  const outer = current;
  current = suite;
  try {
    fn();
  } finally {
    current = outer;
  }
}

function addTest(name, fn, timeout, skip) {
  current.children.push({ name, fn, timeout: typeof timeout === 'number' ? timeout : DEFAULT_TIMEOUT, skip, parent: current });
}

export const describe = (name, fn) => addSuite(name, fn, false);
describe.skip = (name, fn) => addSuite(name, fn, true);
describe.skipIf = (cond) => (name, fn) => addSuite(name, fn, Boolean(cond));
describe.runIf = (cond) => (name, fn) => addSuite(name, fn, !cond);

// vitest's two forms: it(name, fn, timeout) and it(name, {timeout, skip}, fn) (the conformance kit uses the second).
export const it = (name, a, b) =>
  typeof a === 'object' && a !== null ? addTest(name, b, a.timeout, Boolean(a.skip)) : addTest(name, a, b, false);
it.skip = (name, fn, timeout) => addTest(name, fn, timeout, true);
it.skipIf = (cond) => (name, fn, timeout) => addTest(name, fn, timeout, Boolean(cond));
it.runIf = (cond) => (name, fn, timeout) => addTest(name, fn, timeout, !cond);
export const test = it;

export const beforeEach = (fn) => current.hooks.beforeEach.push(fn);
export const afterEach = (fn) => current.hooks.afterEach.push(fn);
export const beforeAll = (fn) => current.hooks.beforeAll.push(fn);
export const afterAll = (fn) => current.hooks.afterAll.push(fn);

function withTimeout(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out in ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

function chain(node) {
  const suites = [];
  for (let s = node.parent; s !== null; s = s.parent) suites.unshift(s);
  return suites;
}

function fullName(node) {
  return [...chain(node).map((s) => s.name).filter(Boolean), node.name].join(' > ');
}

/**
 * Runs every registered test whose full name matches `filter` (a RegExp or null), printing
 * one line per test and, at the end, "N passed, N failed, N skipped". Resolves to the counts.
 */
export async function run({ filter = null, log = (line) => process.stdout.write(`${line}\n`) } = {}) {
  const counts = { passed: 0, failed: 0, skipped: 0 };
  const failures = [];

  async function visit(suite, skipped) {
    const skip = skipped || suite.skip;
    const ran = !skip && suite.children.length > 0;
    if (ran) for (const hook of suite.hooks.beforeAll) await withTimeout(Promise.resolve().then(hook), DEFAULT_TIMEOUT, 'beforeAll');
    for (const child of suite.children) {
      if ('children' in child) {
        await visit(child, skip);
        continue;
      }
      const name = fullName(child);
      if (filter !== null && !filter.test(name)) continue;
      if (skip || child.skip) {
        counts.skipped += 1;
        log(`  skip  ${name}`);
        continue;
      }
      const started = Date.now();
      try {
        setState({ assertionCalls: 0, currentTestName: name }, expect);
        for (const s of chain(child)) for (const hook of s.hooks.beforeEach) await hook();
        try {
          await withTimeout(Promise.resolve().then(() => child.fn({})), child.timeout, 'test');
        } finally {
          for (const s of chain(child).reverse()) for (const hook of s.hooks.afterEach) await hook();
        }
        counts.passed += 1;
        log(`  ok    ${name} (${Date.now() - started} ms)`);
      } catch (error) {
        counts.failed += 1;
        failures.push([name, error]);
        log(`  FAIL  ${name} (${Date.now() - started} ms)\n        ${String(error?.stack ?? error).split('\n').slice(0, 8).join('\n        ')}`);
      }
    }
    if (ran) for (const hook of suite.hooks.afterAll) await withTimeout(Promise.resolve().then(hook), DEFAULT_TIMEOUT, 'afterAll');
  }

  await visit(root, false);
  if (failures.length > 0) log(`\nfailed:\n${failures.map(([name]) => `  ${name}`).join('\n')}`);
  log(`\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
  return counts;
}
