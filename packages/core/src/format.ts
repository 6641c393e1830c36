/**
 * How reports name a callback (asyncio's format_helpers): `name()`, and in debug mode
 * `name(arg1, arg2)` with each argument shortened, as asyncio 3.13 shows arguments only in
 * debug mode (they may hold secrets). asyncio appends ` at file:line` of the function's
 * definition; a JavaScript function object does not expose where it was defined (only the
 * inspector protocol does), so loopkit leaves it out: the exception's stack names the
 * callback's frame, and debug mode adds the handle's creation stack as `sourceTraceback`.
 */
import { util } from './node-builtins.js';

/** asyncio's reprlib limits for containers: 6 items (strings and objects with a repr: formatValue). */
const ARG_INSPECT = { depth: 0, maxArrayLength: 6, maxStringLength: 30, breakLength: Infinity } as const;

/** A value as asyncio's reprs show it (reprlib.repr): strings quoted, long ones and containers shortened. */
export function formatValue(value: unknown): string {
  if (typeof value === 'object' && value !== null && hasOwnRepr(value)) return shortenRepr(String(value));
  // reprlib's maxstring: the repr of the first 30 characters, shortened as an instance's.
  if (typeof value === 'string') return shortenRepr(util().inspect(value.slice(0, 30)));
  return util().inspect(value, ARG_INSPECT);
}

/**
 * An object whose class says what it is in toString (loopkit's futures, tasks, handles and
 * locks give asyncio's repr there; an Error its `Name: message`): shown by it, as reprlib shows
 * an instance by its repr, where inspect would list its fields.
 */
function hasOwnRepr(value: object): boolean {
  if (value instanceof Error) return true;
  const toString = (value as { toString?: unknown }).toString;
  return typeof toString === 'function' && toString !== Object.prototype.toString && !Array.isArray(value) && !ArrayBuffer.isView(value);
}

/** reprlib's maxother (and maxstring): a repr past 30 characters keeps its first 13 and last 14 around '...'. */
function shortenRepr(text: string): string {
  return text.length <= 30 ? text : `${text.slice(0, 13)}...${text.slice(-14)}`;
}

export function formatCallback(callback: ((...args: any[]) => unknown) | null, args: readonly unknown[], debug: boolean): string {
  const name = callback === null ? '' : callback.name || '<anonymous>';
  if (!debug) return `${name}()`;
  return `${name}(${args.map(formatValue).join(', ')})`;
}
