/**
 * The suites' `describe` and `it`. A suite file calls them as it would vitest's; they
 * register with whichever runner `runConformance` was given (node:test's or vitest's),
 * which is only known while runConformance runs, so registration goes through the module
 * state below (runner frameworks collect tests the same way).
 *
 * Skips always carry a reason: `it.skipIf(reason)` skips when `reason` is a string (what
 * is missing) and runs when it is null/false, so no test skips without saying why.
 */

/** What a test runner must offer: nested groups and tests with a timeout and a skip reason. */
export interface Registrar {
  describe(name: string, body: () => void): void;
  test(name: string, fn: () => Promise<void>, options: { timeout?: number; skip?: string }): void;
}

/** A selection of tests by the full name "group > ... > test" (the caller's only/skip). */
export interface Selection {
  /** Register only tests whose full name matches one of these (empty: all). */
  only: RegExp[];
  /** Register these as skipped, saying the caller asked for it. */
  skip: RegExp[];
}

type TestFn = () => unknown;
type SkipReason = string | null | false | undefined;

/** Where a test registers: the runner, the caller's selection, the group path and its skip reason. */
interface Scope {
  registrar: Registrar;
  selection: Selection;
  path: readonly string[];
  /** The reason every test registered here skips (a skipped group), or null. */
  skipping: string | null;
}

let scope: Scope | null = null;

/**
 * Run `body` in scope `s`. A group's body may run later than the describe() call (vitest
 * collects groups after the file is imported), so each group captures its scope and
 * reinstates it when its body runs.
 */
function within(s: Scope, body: () => void): void {
  const outer = scope;
  scope = s;
  try {
    body();
  } finally {
    scope = outer;
  }
}

function current(): Scope {
  if (scope === null) throw new Error('@loopkit/conformance: describe/it are only usable inside runConformance()');
  return scope;
}

/** Run `body` (which calls the suites) with tests going to `registrar`. */
export function registerWith(registrar: Registrar, selection: Selection, body: () => void): void {
  if (scope !== null) throw new Error('@loopkit/conformance: runConformance() cannot be nested');
  within({ registrar, selection, path: [], skipping: null }, body);
}

/** Run `body` with every test it registers skipped for `reason` (when it is a string). */
export function skipping(reason: SkipReason, body: () => void): void {
  const s = current();
  within(typeof reason === 'string' && s.skipping === null ? { ...s, skipping: reason } : s, body);
}

function group(name: string, body: () => void): void {
  const s = current();
  const inner: Scope = { ...s, path: [...s.path, name] };
  s.registrar.describe(name, () => within(inner, body));
}

function register(name: string, fn: TestFn, timeout: number | undefined, reason: SkipReason): void {
  const s = current();
  const full = [...s.path, name].join(' > ');
  if (s.selection.only.length > 0 && !s.selection.only.some((p) => p.test(full))) return;
  const excluded = s.selection.skip.find((p) => p.test(full));
  const skip = s.skipping ?? (typeof reason === 'string' ? reason : null) ?? (excluded === undefined ? null : `skipped: the caller's skip option (${excluded})`);
  // Wrapped: a runner passes its own context argument, which the suites do not take.
  const run = async (): Promise<void> => {
    await fn();
  };
  s.registrar.test(name, run, { ...(timeout === undefined ? {} : { timeout }), ...(skip === null ? {} : { skip }) });
}

export interface It {
  (name: string, fn: TestFn, timeout?: number): void;
  /** Skip with `reason` when it is a string; run when it is null or false. */
  skipIf(reason: SkipReason): (name: string, fn: TestFn, timeout?: number) => void;
}

export interface Describe {
  (name: string, body: () => void): void;
  /** Skip every test of the group with `reason` when it is a string. */
  skipIf(reason: SkipReason): (name: string, body: () => void) => void;
}

export const it: It = Object.assign((name: string, fn: TestFn, timeout?: number) => register(name, fn, timeout, null), {
  skipIf: (reason: SkipReason) => (name: string, fn: TestFn, timeout?: number) => register(name, fn, timeout, reason),
});

export const describe: Describe = Object.assign((name: string, body: () => void) => group(name, body), {
  skipIf: (reason: SkipReason) => (name: string, body: () => void) => group(name, () => skipping(reason, body)),
});
