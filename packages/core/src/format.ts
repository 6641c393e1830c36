/**
 * How reports name a callback (asyncio's format_helpers): `name()`, and in debug mode
 * `name(arg1, arg2)` with each argument shortened, as asyncio 3.13 shows arguments only in
 * debug mode (they may hold secrets). asyncio appends ` at file:line` of the function's
 * definition; a JavaScript function object does not expose where it was defined (only the
 * inspector protocol does), so loopkit leaves it out: the exception's stack names the
 * callback's frame, and debug mode adds the handle's creation stack as `sourceTraceback`.
 */
import { util } from './node-builtins.js';

/** reprlib's limits (`reprlib.aRepr`), which asyncio's reprs of results and arguments use. */
interface ReprLimits {
  /** how deep containers are shown; one nested deeper is `[...]` */
  level: number;
  /** items of an array or set, entries of a dict-like object, characters of a string */
  items: number;
  entries: number;
  string: number;
  /** digits of an integer, characters of any other repr */
  long: number;
  other: number;
}

const REPRLIB: ReprLimits = { level: 6, items: 6, entries: 4, string: 30, long: 40, other: 30 };
/** Python's plain repr(): whole, as `Queue._format` lists its items. */
const WHOLE: ReprLimits = { level: Infinity, items: Infinity, entries: Infinity, string: Infinity, long: Infinity, other: Infinity };

/**
 * A value as asyncio's reprs show it (reprlib.repr): strings quoted, long ones shortened;
 * arrays as lists (`[1, 'two', ...]`), plain objects and Maps as dicts and Sets as sets, in
 * Python's spelling rather than Node's inspect (`[ 1, 'two' ]`), their keys sorted as reprlib
 * sorts them; objects with a repr of their own (futures, tasks, errors) by it.
 */
export function formatValue(value: unknown): string {
  return safeRepr(value, REPRLIB);
}

/** A value as Python's repr() shows it, nothing shortened (containers in Python's spelling). */
export function formatWhole(value: unknown): string {
  return safeRepr(value, WHOLE);
}

/** A getter or toString that throws must not break a repr (a report may be on its way): inspect, which calls neither, then says it. */
function safeRepr(value: unknown, limits: ReprLimits): string {
  try {
    return reprOf(value, limits, limits.level);
  } catch {
    return util().inspect(value, { depth: 0, breakLength: Infinity, getters: false });
  }
}

function reprOf(value: unknown, limits: ReprLimits, level: number): string {
  // reprlib's maxstring: the repr of the first characters, shortened as an instance's.
  if (typeof value === 'string') return shorten(util().inspect(value.slice(0, limits.string)), limits.string);
  if (typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value))) return shorten(String(value), limits.long);
  if (typeof value !== 'object' || value === null) return shorten(util().inspect(value), limits.other);
  if (Array.isArray(value)) return sequence('[', ']', value, limits, level);
  if (value instanceof Set) return value.size === 0 ? 'set()' : sequence('{', '}', sortedLikeReprlib([...value], (item) => item), limits, level);
  if (value instanceof Map) return dict([...value.entries()], limits, level);
  if (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null) {
    return dict(Object.entries(value), limits, level);
  }
  if (hasOwnRepr(value)) return shorten(String(value), limits.other);
  return shorten(util().inspect(value, { depth: 0, breakLength: Infinity }), limits.other);
}

const reprsUnderWay = new Set<object>();

/** reprlib.recursive_repr, as asyncio's future and task reprs: a repr reached again inside itself is '...'. */
export function reprOnce<T extends object>(value: T, repr: (value: T) => string): string {
  if (reprsUnderWay.has(value)) return '...';
  reprsUnderWay.add(value);
  try {
    return repr(value);
  } finally {
    reprsUnderWay.delete(value);
  }
}

function sequence(open: string, close: string, items: readonly unknown[], limits: ReprLimits, level: number): string {
  if (items.length === 0) return `${open}${close}`;
  if (level <= 0) return `${open}...${close}`;
  const shown = items.slice(0, limits.items).map((item) => reprOf(item, limits, level - 1));
  if (items.length > limits.items) shown.push('...');
  return `${open}${shown.join(', ')}${close}`;
}

function dict(entries: Array<[unknown, unknown]>, limits: ReprLimits, level: number): string {
  if (entries.length === 0) return '{}';
  if (level <= 0) return '{...}';
  const sorted = sortedLikeReprlib(entries, ([key]) => key);
  const shown = sorted.slice(0, limits.entries).map(([key, item]) => `${reprOf(key, limits, level - 1)}: ${reprOf(item, limits, level - 1)}`);
  if (entries.length > limits.entries) shown.push('...');
  return `{${shown.join(', ')}}`;
}

/** reprlib sorts a set's items and a dict's entries by key when those compare (all strings or all numbers), else keeps their order. */
function sortedLikeReprlib<T>(items: T[], keyOf: (item: T) => unknown): T[] {
  const keys = items.map(keyOf);
  const comparable = keys.every((key) => typeof key === 'string') || keys.every((key) => typeof key === 'number' || typeof key === 'bigint');
  if (!comparable) return items;
  return [...items].sort((a, b) => {
    const x = keyOf(a) as number | string;
    const y = keyOf(b) as number | string;
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/**
 * An object whose class says what it is in toString (loopkit's futures, tasks, handles and
 * locks give asyncio's repr there; an Error its `Name: message`): shown by it, as reprlib shows
 * an instance by its repr, where inspect would list its fields.
 */
function hasOwnRepr(value: object): boolean {
  if (value instanceof Error) return true;
  const toString = (value as { toString?: unknown }).toString;
  return typeof toString === 'function' && toString !== Object.prototype.toString && !ArrayBuffer.isView(value);
}

/** reprlib's maxother (and maxstring, maxlong): a longer repr keeps its start and end around '...'. */
function shorten(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = Math.floor((max - 3) / 2);
  return `${text.slice(0, head)}...${text.slice(text.length - (max - 3 - head))}`;
}

export function formatCallback(callback: ((...args: any[]) => unknown) | null, args: readonly unknown[], debug: boolean): string {
  const name = callback === null ? '' : callback.name || '<anonymous>';
  if (!debug) return `${name}()`;
  return `${name}(${args.map(formatValue).join(', ')})`;
}
