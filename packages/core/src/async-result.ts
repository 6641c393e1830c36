/**
 * Callbacks that return promises. asyncio ignores what a callback returns, but Node users
 * write `async` callbacks all the time, and a rejected promise nobody awaits is an unhandled
 * rejection (the process exits). So wherever loopkit calls user code, a returned promise-like
 * that rejects is treated as if the callback had thrown: the same report, the same error.
 */
import { isFuture, isThenable } from './futures.js';

/**
 * If `result` is a thenable that is not a Future, call `onReject(error)` when it rejects.
 * A Future is left alone: it reports its own unretrieved exception (a callback that returns
 * a Task, as `() => loop.createTask(f)` does, must not change how that task is reported).
 */
export function watchRejection(result: unknown, onReject: (error: unknown) => void): void {
  if (!isThenable(result) || isFuture(result)) return;
  try {
    result.then(undefined, onReject);
  } catch (error) {
    // A thenable whose then() throws failed as surely as one that rejects.
    onReject(error);
  }
}
