/**
 * The suites' `describe` and `it`. A suite file calls them as it would vitest's; they
 * collect a tree of groups and tests while runConformance runs (through the module state
 * below, as runner frameworks collect), which is then registered with the runner it was
 * given (node:test's or vitest's).
 *
 * Skips always carry a reason: `it.skipIf(reason)` skips when `reason` is a string (what
 * is missing) and runs when it is null/false, so no test skips without saying why.
 */

import { removeTempDirs } from './support/temp-dir.js';

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

interface TestNode {
  name: string;
  fn: () => Promise<void>;
  options: { timeout?: number; skip?: string };
}
interface GroupNode {
  name: string;
  children: Array<TestNode | GroupNode>;
}

/** Where a test goes: the caller's selection, the group path, its skip reason, the group's list. */
interface Scope {
  selection: Selection;
  path: readonly string[];
  /** The reason every test registered here skips (a skipped group), or null. */
  skipping: string | null;
  into: GroupNode['children'];
}

let scope: Scope | null = null;

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

const size = (group: GroupNode): number => group.children.reduce((n, c) => n + ('fn' in c ? 1 : size(c)), 0);

/** Hand the collected tree to the runner; groups the selection left empty are not registered. */
function emit(nodes: GroupNode['children'], registrar: Registrar): void {
  for (const node of nodes) {
    if ('fn' in node) registrar.test(node.name, node.fn, node.options);
    else if (size(node) > 0) registrar.describe(node.name, () => emit(node.children, registrar));
  }
}

/**
 * Run `body` (which calls the suites), collecting its groups and tests, then register them
 * with `registrar`. Collecting first lets a selection drop whole groups, and frees the suites
 * from when a runner calls a group's body (vitest calls it after the file is imported).
 */
export function registerWith(registrar: Registrar, selection: Selection, body: () => void): void {
  if (scope !== null) throw new Error('@loopkit/conformance: runConformance() cannot be nested');
  const root: GroupNode['children'] = [];
  within({ selection, path: [], skipping: null, into: root }, body);
  emit(root, registrar);
}

/** Run `body` with every test it registers skipped for `reason` (when it is a string). */
export function skipping(reason: SkipReason, body: () => void): void {
  const s = current();
  within(typeof reason === 'string' && s.skipping === null ? { ...s, skipping: reason } : s, body);
}

function group(name: string, body: () => void): void {
  const s = current();
  const node: GroupNode = { name, children: [] };
  s.into.push(node);
  within({ ...s, path: [...s.path, name], into: node.children }, body);
}

function register(name: string, fn: TestFn, timeout: number | undefined, reason: SkipReason): void {
  const s = current();
  const full = [...s.path, name].join(' > ');
  if (s.selection.only.length > 0 && !s.selection.only.some((p) => p.test(full))) return;
  const excluded = s.selection.skip.find((p) => p.test(full));
  const skip = s.skipping ?? (typeof reason === 'string' ? reason : null) ?? (excluded === undefined ? null : `skipped: the caller's skip option (${excluded})`);
  // Wrapped: a runner passes its own context argument, which the suites do not take.
  const run = async (): Promise<void> => {
    try {
      await fn();
    } finally {
      removeTempDirs();
    }
  };
  s.into.push({ name, fn: run, options: { ...(timeout === undefined ? {} : { timeout }), ...(skip === null ? {} : { skip }) } });
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
