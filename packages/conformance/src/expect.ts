/**
 * The suites' `expect`: the vitest/Jest matchers they use, on node:assert's AssertionError,
 * so the kit runs under node:test or vitest without depending on either's assertion library.
 * Semantics follow vitest's where a suite relies on them: `toEqual` compares structure, not
 * classes, and ignores properties that are undefined; `toBe` is Object.is.
 *
 * `expect(value, why)` prefixes a failure with `why` (vitest's second argument does the same).
 */
import { AssertionError } from 'node:assert';
import { inspect } from 'node:util';

type Class = abstract new (...args: never[]) => unknown;
/** What toThrow accepts: an error class, a pattern or a substring of the message, or an error with that message. */
type Thrown = Class | RegExp | string | Error;

const show = (value: unknown): string => inspect(value, { depth: 4, breakLength: 120 });

/** `expect.any(Class)`: inside toEqual, stands for any instance of the class. */
class AnyOf {
  constructor(readonly cls: Class) {}
  [inspect.custom](): string {
    return `Any<${this.cls.name}>`;
  }
}

/** Structural equality as vitest's toEqual: same shape and values, classes ignored, undefined properties ignored. */
export function equals(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (b instanceof AnyOf) return a instanceof b.cls;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (a instanceof Error || b instanceof Error) {
    return a instanceof Error && b instanceof Error && a.name === b.name && a.message === b.message && equals(a.cause, b.cause);
  }
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b) || a.byteLength !== b.byteLength) return false;
    return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  }
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  if (a instanceof RegExp || b instanceof RegExp) return String(a) === String(b);
  if (a instanceof Set || b instanceof Set) {
    if (!(a instanceof Set && b instanceof Set) || a.size !== b.size) return false;
    return [...a].every((x) => b.has(x) || [...b].some((y) => equals(x, y)));
  }
  if (a instanceof Map || b instanceof Map) {
    if (!(a instanceof Map && b instanceof Map) || a.size !== b.size) return false;
    return [...a].every(([k, v]) => b.has(k) && equals(v, b.get(k)));
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equals(x, b[i]));
  const keys = (o: object): string[] => Object.keys(o).filter((k) => (o as Record<string, unknown>)[k] !== undefined);
  const ka = keys(a);
  const kb = keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && equals((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** `actual` has every property of `expected`, recursively (vitest's toMatchObject). */
function matchesObject(actual: unknown, expected: unknown): boolean {
  if (typeof expected !== 'object' || expected === null || Array.isArray(expected)) return equals(actual, expected);
  if (typeof actual !== 'object' || actual === null) return false;
  return Object.entries(expected).every(([k, v]) => matchesObject((actual as Record<string, unknown>)[k], v));
}

function throwMatches(error: unknown, expected: Thrown | undefined): boolean {
  if (expected === undefined) return true;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof expected === 'string') return message.includes(expected);
  if (expected instanceof RegExp) return expected.test(message);
  if (expected instanceof Error) return message === expected.message;
  return error instanceof expected;
}

export interface Matchers<R> {
  toBe(expected: unknown): R;
  toEqual(expected: unknown): R;
  toMatchObject(expected: object): R;
  toBeInstanceOf(expected: Class): R;
  toBeNull(): R;
  toBeUndefined(): R;
  toBeDefined(): R;
  toBeGreaterThan(n: number): R;
  toBeGreaterThanOrEqual(n: number): R;
  toBeLessThan(n: number): R;
  toBeLessThanOrEqual(n: number): R;
  toBeCloseTo(n: number, digits?: number): R;
  toHaveLength(n: number): R;
  toContain(item: unknown): R;
  toContainEqual(item: unknown): R;
  toMatch(pattern: RegExp | string): R;
  toThrow(expected?: Thrown): R;
}

export interface Expectation extends Matchers<void> {
  /** The matchers, applied to what the promise rejects with (a fulfilment fails). */
  readonly rejects: Matchers<Promise<void>>;
}

/** The matchers on `actual`; `thrower` is how toThrow gets the error (calling a function, or the rejection). */
function matchers(actual: unknown, why: string | undefined, thrower: () => { threw: boolean; error?: unknown }): Matchers<void> {
  const check = (ok: boolean, says: string, expected?: unknown): void => {
    if (ok) return;
    const message = why === undefined ? says : `${why}\n${says}`;
    throw new AssertionError({ message, actual, expected, operator: 'expect' });
  };
  const num = (name: string): number => {
    if (typeof actual !== 'number' && typeof actual !== 'bigint') check(false, `${name}: expected a number, got ${show(actual)}`);
    return Number(actual);
  };
  const length = (): number | undefined => (actual as { length?: unknown } | null)?.length as number | undefined;
  return {
    toBe: (e) => check(Object.is(actual, e), `expected ${show(actual)} to be ${show(e)}`, e),
    toEqual: (e) => check(equals(actual, e), `expected ${show(actual)} to equal ${show(e)}`, e),
    toMatchObject: (e) => check(matchesObject(actual, e), `expected ${show(actual)} to match ${show(e)}`, e),
    toBeInstanceOf: (c) => check(actual instanceof c, `expected ${show(actual)} to be an instance of ${c.name}`),
    toBeNull: () => check(actual === null, `expected ${show(actual)} to be null`, null),
    toBeUndefined: () => check(actual === undefined, `expected ${show(actual)} to be undefined`, undefined),
    toBeDefined: () => check(actual !== undefined, 'expected a value, got undefined'),
    toBeGreaterThan: (n) => check(num('toBeGreaterThan') > n, `expected ${show(actual)} to be > ${n}`),
    toBeGreaterThanOrEqual: (n) => check(num('toBeGreaterThanOrEqual') >= n, `expected ${show(actual)} to be >= ${n}`),
    toBeLessThan: (n) => check(num('toBeLessThan') < n, `expected ${show(actual)} to be < ${n}`),
    toBeLessThanOrEqual: (n) => check(num('toBeLessThanOrEqual') <= n, `expected ${show(actual)} to be <= ${n}`),
    toBeCloseTo: (n, digits = 2) => check(Math.abs(num('toBeCloseTo') - n) < 10 ** -digits / 2, `expected ${show(actual)} to be close to ${n} (${digits} digits)`, n),
    toHaveLength: (n) => check(length() === n, `expected length ${n}, got ${show(length())} (${show(actual)})`),
    toContain: (item) =>
      check(
        typeof actual === 'string' ? actual.includes(String(item)) : Array.isArray(actual) && actual.includes(item),
        `expected ${show(actual)} to contain ${show(item)}`,
      ),
    toContainEqual: (item) => check(Array.isArray(actual) && actual.some((x) => equals(x, item)), `expected ${show(actual)} to contain an item equal to ${show(item)}`),
    toMatch: (p) =>
      check(typeof actual === 'string' && (typeof p === 'string' ? actual.includes(p) : p.test(actual)), `expected ${show(actual)} to match ${show(p)}`),
    toThrow: (e) => {
      const outcome = thrower();
      check(outcome.threw, `expected an error${e === undefined ? '' : ` matching ${show(e)}`}, but nothing was thrown`);
      check(throwMatches(outcome.error, e), `expected an error matching ${show(e)}, got ${show(outcome.error)}`);
    },
  };
}

export function expect(actual: unknown, why?: string): Expectation {
  return expectation(actual, why);
}
expect.any = (cls: Class): unknown => new AnyOf(cls);

function expectation(actual: unknown, why: string | undefined): Expectation {
  const call = (): { threw: boolean; error?: unknown } => {
    if (typeof actual !== 'function') throw new TypeError(`toThrow needs a function to call, got ${show(actual)}`);
    try {
      (actual as () => unknown)();
      return { threw: false };
    } catch (error) {
      return { threw: true, error };
    }
  };
  const sync = matchers(actual, why, call);
  const rejects = {} as Record<keyof Matchers<void>, (...args: unknown[]) => Promise<void>>;
  for (const name of Object.keys(sync) as Array<keyof Matchers<void>>) {
    rejects[name] = async (...args: unknown[]) => {
      let settled: { fulfilled: true; value: unknown } | { fulfilled: false; reason: unknown };
      try {
        settled = { fulfilled: true, value: await (actual as PromiseLike<unknown>) };
      } catch (reason) {
        settled = { fulfilled: false, reason };
      }
      if (settled.fulfilled) {
        const says = `expected a rejection, but it resolved to ${show(settled.value)}`;
        throw new AssertionError({ message: why === undefined ? says : `${why}\n${says}`, actual: settled.value, operator: 'rejects' });
      }
      const reason = settled.reason;
      const onReason = matchers(reason, why, () => ({ threw: true, error: reason }));
      (onReason[name] as (...a: unknown[]) => void)(...args);
    };
  }
  return Object.assign(sync, { rejects: rejects as unknown as Matchers<Promise<void>> });
}
