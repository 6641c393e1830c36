/**
 * How reports name a callback (asyncio's format_helpers): `name()`, and in debug mode
 * `name(arg1, arg2)` with each argument shortened, as asyncio 3.13 shows arguments only in
 * debug mode (they may hold secrets). asyncio appends ` at file:line` of the function's
 * definition; a JavaScript function object does not expose where it was defined (only the
 * inspector protocol does), so loopkit leaves it out: the exception's stack names the
 * callback's frame, and debug mode adds the handle's creation stack as `sourceTraceback`.
 */
import { util } from './node-builtins.js';

/** asyncio's reprlib limits: 30 characters of a string, 6 items of a container. */
const ARG_INSPECT = { depth: 0, maxArrayLength: 6, maxStringLength: 30, breakLength: Infinity } as const;

/** A value as asyncio's reprs show it (reprlib.repr): strings quoted, long ones and containers shortened. */
export function formatValue(value: unknown): string {
  return util().inspect(value, ARG_INSPECT);
}

export function formatCallback(callback: ((...args: any[]) => unknown) | null, args: readonly unknown[], debug: boolean): string {
  const name = callback === null ? '' : callback.name || '<anonymous>';
  if (!debug) return `${name}()`;
  return `${name}(${args.map(formatValue).join(', ')})`;
}
