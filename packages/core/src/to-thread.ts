/**
 * asyncio.to_thread: run `fn(...args)` on the running loop's default executor, a worker
 * thread. What crosses is what runInExecutor sends: `fn` as its source text (so it must be
 * self-contained: only its arguments, globals and `await import(...)`) or as a
 * `{module, name}` reference to an exported function; arguments and the result by
 * structured clone (data, not functions, symbols or promises). Errors say which rule failed.
 */
import { getRunningLoop } from './events.js';
import type { FunctionRef } from './executor-checks.js';
import type { Future } from './futures.js';

/** asyncio.to_thread: run `fn(...args)` on the running loop's default executor; a Future of its result. */
export function toThread<R = unknown, A extends unknown[] = unknown[]>(
  fn: ((...args: A) => R | PromiseLike<R>) | FunctionRef,
  ...args: A
): Future<Awaited<R>> {
  return getRunningLoop().runInExecutor(null, fn, ...args);
}
