/**
 * Cancelling a waiting call that handed its caller a Promise. A helper that wraps a Promise
 * in a Future (`waitFor(queue.get(), t)`, gather, ensureFuture, shield) cannot stop the
 * Promise, so once that Future was cancelled the call went on waiting and took the next
 * item, line or lock for nobody. asyncio's `wait_for(queue.get(), t)` cancels the get.
 * loopkit's waiting calls register their promise here when they wait; cancelling the Future
 * that wraps it cancels the call, and the Future settles with the call's own outcome once the
 * call has finished its cleanup (Condition.wait re-acquires its lock first), as a Task
 * wrapping an asyncio coroutine does.
 */
import { CancelledError } from './errors.js';
import type { Future } from './futures.js';

/** What cancels a registered call: its owner, told which call. */
export interface CallCanceller {
  /**
   * The Future wrapping `promise` was cancelled (with `msg`): end that call, if it still
   * waits, with CancelledError. May be asked again while the call finishes its cleanup.
   */
  _cancelWaitingCall(promise: object, msg: string | undefined): void;
}

/**
 * One waiting call written as an async function (Queue.get, Condition.wait, Barrier.wait):
 * what it waits on now, and whether it was cancelled.
 */
export class WaitingCall implements CallCanceller {
  /** The waiter future the call awaits now, if any. */
  waiter: Future<unknown> | null = null;
  /** The registered call this one awaits now (Barrier.wait inside Condition.wait), if any. */
  private inner: Promise<unknown> | null = null;
  /** Cancelled, perhaps after what it waited on was already done: it must not go on to take anything. */
  cancelled = false;
  private message: string | undefined = undefined;

  _cancelWaitingCall(_promise: object, msg: string | undefined): void {
    if (!this.cancelled) this.message = msg;
    this.cancelled = true;
    this.waiter?.cancel(msg);
    if (this.inner !== null) cancelWaitingCall(this.inner, msg);
  }

  /** Throws CancelledError when the call was cancelled (call after each wake-up). */
  check(): void {
    if (this.cancelled) throw new CancelledError(this.message ?? '');
  }

  /** Await `promise`, a waiting call this call makes: cancelling this call cancels that one meanwhile. */
  async during<T>(promise: Promise<T>): Promise<T> {
    this.inner = promise;
    try {
      return await promise;
    } finally {
      this.inner = null;
    }
  }
}

/** Where a waiting call's promise keeps its canceller: a property (a WeakMap entry cost ~14x more per wait). */
const CANCELLER: unique symbol = Symbol('loopkit.waitingCall');
type WithCanceller = { [CANCELLER]?: CallCanceller };

/**
 * @internal for backends: a loop I/O call (a selector loop's sockRecv, sockAccept, ...) made
 * a waiting call. `body` awaits one future at a time and names it in `call.waiter` (after
 * `call.check()`); a Future wrapping the returned promise (`waitFor(loop.sockAccept(s), t)`)
 * then cancels that future when it is cancelled, as asyncio's wait_for cancels the coroutine.
 */
export function ioWaitingCall<T>(body: (call: WaitingCall) => Promise<T>): Promise<T> {
  const call = new WaitingCall();
  return registerWaitingCall(body(call), call);
}

/** `promise` is a call that waits: `canceller` can end it. Returns `promise`. */
export function registerWaitingCall<T>(promise: Promise<T>, canceller: CallCanceller): Promise<T> {
  (promise as WithCanceller)[CANCELLER] = canceller;
  return promise;
}

/**
 * The waiting call begun last (promise-waiter.ts: Event.wait, Lock and Semaphore acquire),
 * not registered yet. A property on every such promise cost each of 100k idle `() =>
 * event.wait()` tasks a property store of its own (~4 MB); most of those promises are never
 * wrapped (a task's body returned it, or code awaited it), so the property is only written
 * once another call begins while this one is neither wrapped nor claimed.
 */
let lastPromise: Promise<unknown> | null = null;
let lastCanceller: CallCanceller | null = null;

/** `promise`, a call that waits, has just begun: `canceller` can end it (see lastPromise). */
export function beginWaitingCall(promise: Promise<unknown>, canceller: CallCanceller): void {
  if (lastPromise !== null) (lastPromise as WithCanceller)[CANCELLER] = lastCanceller!;
  lastPromise = promise;
  lastCanceller = canceller;
}

/** A task's body returned `promise`: the task cancels the call through its waiter, so it is not registered. */
export function claimWaitingCall(promise: object): void {
  if (lastPromise === promise) {
    lastPromise = null;
    lastCanceller = null;
  }
}

function cancellerOf(promise: object): CallCanceller | undefined {
  return promise === lastPromise ? lastCanceller! : (promise as WithCanceller)[CANCELLER];
}

/** Whether `promise` is a registered waiting call. */
export function isWaitingCall(promise: object): boolean {
  return cancellerOf(promise) !== undefined;
}

/** The Future wrapping `promise` was cancelled with `msg`: cancel the call behind it, if it is one. */
export function cancelWaitingCall(promise: object, msg?: string): void {
  cancellerOf(promise)?._cancelWaitingCall(promise, msg);
}
