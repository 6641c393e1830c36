/**
 * Cancelling a waiting call that handed its caller a Promise. A helper that wraps a Promise
 * in a Future (`waitFor(queue.get(), t)`, gather, ensureFuture) cannot stop the Promise, so
 * once that Future was cancelled the call went on waiting and took the next item, line or
 * lock for nobody. asyncio's `wait_for(queue.get(), t)` cancels the get. loopkit's waiting
 * calls register their promise here when (and only when) they wait; cancelling the Future
 * that wraps it cancels the call, which ends with CancelledError having taken nothing.
 */
import { CancelledError } from './errors.js';
import type { Future } from './futures.js';

/** What cancels a registered call: its owner, told which call. */
export interface CallCanceller {
  /** The Future wrapping `promise` was cancelled: end that call, if it still waits, with CancelledError. */
  _cancelWaitingCall(promise: object): void;
}

/** One waiting call of a primitive that may have several at once (Queue.get, Queue.put): what it waits on now. */
export class WaitingCall implements CallCanceller {
  waiter: Future<unknown> | null = null;
  /** Cancelled, perhaps after its waiter was already done: it must not go on to take anything. */
  cancelled = false;

  _cancelWaitingCall(): void {
    this.cancelled = true;
    this.waiter?.cancel();
  }

  /** Throws CancelledError when the call was cancelled after its waiter was done (call after each wake-up). */
  check(): void {
    if (this.cancelled) throw new CancelledError();
  }
}

/** Where a waiting call's promise keeps its canceller: a property (a WeakMap entry cost ~14x more per wait). */
const CANCELLER: unique symbol = Symbol('loopkit.waitingCall');
type WithCanceller = { [CANCELLER]?: CallCanceller | null };

/** `promise` is a call that waits: `canceller` can end it. Returns `promise`. */
export function registerWaitingCall<T>(promise: Promise<T>, canceller: CallCanceller): Promise<T> {
  (promise as WithCanceller)[CANCELLER] = canceller;
  return promise;
}

/**
 * `promise` is an acquire() waiting in line as `waiter`: cancelling it takes the waiter out of
 * the line; when the primitive was handed to it already, it is given back once taken.
 */
export function registerAcquire<T>(promise: Promise<T>, waiter: Future<unknown>, primitive: { release(): void }): Promise<T> {
  return registerWaitingCall(promise, {
    _cancelWaitingCall(): void {
      if (!waiter.cancel()) promise.then(() => primitive.release(), () => undefined);
    },
  });
}

/** Whether `promise` is a registered waiting call. */
export function isWaitingCall(promise: object): boolean {
  return (promise as WithCanceller)[CANCELLER] != null;
}

/** The Future wrapping `promise` was cancelled: cancel the call behind it, once, if it is one. */
export function cancelWaitingCall(promise: object): void {
  const canceller = (promise as WithCanceller)[CANCELLER];
  if (canceller == null) return;
  (promise as WithCanceller)[CANCELLER] = null;
  canceller._cancelWaitingCall(promise);
}
