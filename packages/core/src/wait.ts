/** asyncio.wait and asyncio.wait_for. */
import { CancelledError, TimeoutError } from './errors.js';
import { getRunningLoop } from './events.js';
import { Future, awaitInline, isFuture, isThenable } from './futures.js';
import type { AwaitableLike, AwaitablesOf, ResultOf } from './gather.js';
import { currentTask, ensureFuture } from './tasks.js';
import { futureAddToAwaitedBy, futureDiscardFromAwaitedBy } from './awaited-by.js';
import { timeout } from './timeouts.js';
import { checkOptions, describe } from './validate.js';

/** wait() returns when any awaitable is done. */
export const FIRST_COMPLETED = 'FIRST_COMPLETED';
/** wait() returns when any awaitable fails, or all are done. */
export const FIRST_EXCEPTION = 'FIRST_EXCEPTION';
/** wait() returns when all awaitables are done (the default). */
export const ALL_COMPLETED = 'ALL_COMPLETED';
/** When wait() returns. */
export type ReturnWhen = typeof FIRST_COMPLETED | typeof FIRST_EXCEPTION | typeof ALL_COMPLETED;

/** Options of wait(). */
export interface WaitOptions {
  /** Seconds; null or absent: no limit. On timeout wait() resolves, it does not throw. */
  timeout?: number | null;
  returnWhen?: ReturnWhen;
}

/** Throw TypeError unless `value` is a timeout in seconds or null/undefined. */
export function checkTimeout(value: unknown, name = 'timeout'): asserts value is number | null | undefined {
  if (value !== null && value !== undefined && (typeof value !== 'number' || Number.isNaN(value))) {
    throw new TypeError(`${name} must be a number of seconds or null, got ${describe(value)}`);
  }
}

/** Throw TypeError unless `aws` is an iterable of awaitables (not one awaitable). */
export function checkIterable(aws: unknown, name: string, asyncioWords: string): asserts aws is Iterable<AwaitableLike> {
  const iterable = typeof (aws as Iterable<unknown> | null)?.[Symbol.iterator] === 'function';
  if (!iterable || typeof aws === 'string' || isFuture(aws) || isThenable(aws)) {
    // asyncio's words first (`type(fs).__name__`), then the argument and what it must be.
    const typeName = (aws as { constructor?: { name?: string } } | null | undefined)?.constructor?.name || typeof aws;
    throw new TypeError(`${asyncioWords}, not ${typeName} (${name} must be an iterable of futures, tasks or coroutine functions, got ${describe(aws)})`);
  }
}

/**
 * Wait for the awaitables until `returnWhen` holds or `timeout` seconds pass; resolves to
 * `[done, pending]` (Sets of the Futures, functions having become Tasks). Cancels nothing.
 */
export async function wait<A extends AwaitableLike<unknown>, T = ResultOf<A>>(
  aws: AwaitablesOf<A>,
  options: WaitOptions = {},
): Promise<[Set<Future<T>>, Set<Future<T>>]> {
  checkIterable(aws, 'aws', 'expect a list of futures');
  const { timeout: limit = null, returnWhen = ALL_COMPLETED } = checkOptions(options, ['timeout', 'returnWhen'], 'wait');
  const args = new Set(aws);
  // asyncio's order and words: the empty set first, then return_when (a ValueError there).
  if (args.size === 0) throw new RangeError('Set of Tasks/Futures is empty. (aws has no item)');
  if (returnWhen !== FIRST_COMPLETED && returnWhen !== FIRST_EXCEPTION && returnWhen !== ALL_COMPLETED) {
    throw new RangeError(`Invalid return_when value: ${String(returnWhen)} (returnWhen must be FIRST_COMPLETED, FIRST_EXCEPTION or ALL_COMPLETED, got ${describe(returnWhen)})`);
  }
  checkTimeout(limit);
  const loop = getRunningLoop();
  const futures = new Set([...args].map((aw) => ensureFuture(aw as AwaitableLike<T>, loop)));

  const waiter = loop.createFuture<void>();
  const timer = limit === null || limit === Infinity ? null : loop.callLater(limit, release);
  let remaining = futures.size;
  function release(): void {
    if (!waiter.done()) waiter.setResult(undefined);
  }
  function onCompletion(fut: Future<T>): void {
    remaining -= 1;
    if (
      remaining <= 0 ||
      returnWhen === FIRST_COMPLETED ||
      (returnWhen === FIRST_EXCEPTION && !fut.cancelled() && fut.exception() !== null)
    ) {
      timer?.cancel();
      release();
    }
  }
  // The task in wait() waits on every future (its own await is on a private waiter).
  const task = currentTask();
  for (const fut of futures) {
    fut.addDoneCallback(onCompletion);
    if (task !== null) futureAddToAwaitedBy(fut, task);
  }
  try {
    await waiter;
  } finally {
    timer?.cancel();
    for (const fut of futures) {
      fut.removeDoneCallback(onCompletion);
      if (task !== null) futureDiscardFromAwaitedBy(fut, task);
    }
  }
  const done = new Set<Future<T>>();
  const pending = new Set<Future<T>>();
  for (const fut of futures) (fut.done() ? done : pending).add(fut);
  return [done, pending];
}

/** Resolves once the promise jobs queued now, and those they queue, have run. */
function promiseJobsDrained(): Promise<void> {
  return new Promise((resolve) => process.nextTick(resolve));
}

/** Cancel `fut` and wait until it is done, without being cancelled by it ourselves. */
async function cancelAndWait(fut: Future<unknown>): Promise<void> {
  const waiter = getRunningLoop().createFuture<void>();
  const release = (): void => {
    if (!waiter.done()) waiter.setResult(undefined);
  };
  fut.addDoneCallback(release);
  const task = currentTask();
  if (task !== null) futureAddToAwaitedBy(fut, task);
  try {
    fut.cancel();
    await waiter;
  } finally {
    fut.removeDoneCallback(release);
    if (task !== null) futureDiscardFromAwaitedBy(fut, task);
  }
}

/**
 * Wait for `aw` at most `timeoutSeconds` (null: no limit). On timeout the inner task is
 * cancelled, its cleanup awaited, then TimeoutError thrown. With a timeout <= 0 a coroutine
 * function is never started.
 */
export async function waitFor<A extends AwaitableLike>(aw: A, timeoutSeconds: number | null): Promise<ResultOf<A>> {
  checkTimeout(timeoutSeconds, 'timeout');
  const limit = timeoutSeconds ?? null;
  if (limit !== null && limit <= 0) {
    const fut = ensureFuture(aw) as Future<ResultOf<A>>;
    // A promise is a call already made: JS runs it at once, as asyncio runs an eager task's
    // first step. One that finished without waiting (a free lock, a queued item, buffered
    // lines) settles within the promise jobs queued now, which Node runs before its next
    // tick; its outcome is taken then, as wait_for returns a done eager task's, where
    // cancelling the wrapper would drop what the call took.
    if (!fut.done() && isThenable(aw) && !isFuture(aw)) await promiseJobsDrained();
    if (fut.done()) return fut.result();
    await cancelAndWait(fut);
    try {
      return fut.result();
    } catch (error) {
      if (error instanceof CancelledError) throw new TimeoutError('', { cause: error });
      throw error;
    }
  }
  const fut = ensureFuture(aw) as Future<ResultOf<A>>;
  awaitInline(fut);
  return timeout(limit, () => fut);
}
