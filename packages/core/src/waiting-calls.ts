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
  /** Puts back what a call took for a caller cancelled before it could receive it (see ValueKeeper). */
  _takeBack?(promise: object, value: unknown): boolean;
}

/**
 * The owner of what a waiting call takes (a queue's item, a lock, a permit, a stream's bytes).
 * asyncio's `ensure_future(q.get())` is a task that has not started, so cancelling it takes
 * nothing. Here the call ran at once (or finished while its wrapper was being cancelled): the
 * value then goes back where it came from and the wrapper ends cancelled, as in asyncio.
 */
export interface ValueKeeper {
  /**
   * @internal `value`, what the call `promise` returned, will reach nobody: put it back (the
   * item at the queue's head, the lock released, the bytes ahead of the buffer) and return
   * true, or false when raising CancelledError instead of giving it would lose something.
   */
  _takeBack(promise: object, value: unknown): boolean;
}

/**
 * One waiting call written as an async function (Queue.get, Condition.wait, Barrier.wait):
 * what it waits on now, and whether it was cancelled.
 */
export class WaitingCall implements CallCanceller {
  /** `keeper`: what takes back the call's value once its caller was cancelled (none: the caller gets the value). */
  constructor(private readonly keeper: ValueKeeper | null = null) {}

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

  _takeBack(promise: object, value: unknown): boolean {
    return this.keeper !== null && this.keeper._takeBack(promise, value);
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

/**
 * The call made last that finished without waiting (a queued item, a free lock, buffered
 * lines), and its keeper: `ensureFuture(q.get())` or `waitFor(lock.acquire(), t)` wraps it
 * right away, and a cancel of that Future before it settles gives the value back (asyncio's
 * task would not have started the call). One slot, two stores a call: a property on every
 * such promise would cost each `await q.get()` of a busy queue an object of properties, and a
 * ring of the last eight cost a Semaphore's fast acquire on Node 24 up to 60 ns more in a
 * program that also used a Lock and a Queue (bench README, session 18). So only the last of
 * several calls made before they are wrapped (`gather(q.get(), q.get())`) can give back.
 */
let lastFinishedPromise: object | null = null;
let lastFinishedKeeper: ValueKeeper | null = null;

/** `promise`, a call that took its value without waiting: `keeper` can take the value back. Returns `promise`. */
export function finishedWithoutWaiting<T>(promise: Promise<T>, keeper: ValueKeeper): Promise<T> {
  lastFinishedPromise = promise;
  // Most calls in a row are on one queue or lock: no store (and write barrier) for those.
  if (lastFinishedKeeper !== keeper) lastFinishedKeeper = keeper;
  return promise;
}

/** What can take back the value of `promise`, a waiting call (or one that did not wait) being wrapped now; null for any other. */
export function keeperOf(promise: object): ValueKeeper | null {
  if (promise === lastFinishedPromise) return lastFinishedKeeper;
  const canceller = cancellerOf(promise);
  return canceller?._takeBack !== undefined ? (canceller as ValueKeeper) : null;
}

/** The calls whose value went back to its keeper: every other wrapper of the promise ends cancelled too, no copy of the value goes out. */
const givenBack = new WeakSet<object>();

/** `value`, what the call `promise` returned, reaches nobody: `keeper` takes it back (once per call). True when it went back. */
export function giveBack(promise: object, keeper: ValueKeeper, value: unknown): boolean {
  if (givenBack.has(promise)) return true;
  if (!keeper._takeBack(promise, value)) return false;
  givenBack.add(promise);
  return true;
}

/** Whether the value of the call `promise` went back to its keeper (giveBack). */
export function wasGivenBack(promise: object): boolean {
  return givenBack.has(promise);
}

/** Whether `promise` is a registered waiting call, or the call that just finished without waiting. */
export function isWaitingCall(promise: object): boolean {
  return promise === lastFinishedPromise || cancellerOf(promise) !== undefined;
}

/** The Future wrapping `promise` was cancelled with `msg`: cancel the call behind it, if it is one. */
export function cancelWaitingCall(promise: object, msg?: string): void {
  cancellerOf(promise)?._cancelWaitingCall(promise, msg);
}
