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
 * The last 16 calls that finished without waiting (a queued item, a free lock, buffered
 * lines), each with its keeper: `ensureFuture(q.get())` or `gather(q.get(), q.get())` wraps
 * such calls right after making them, and a cancel of the wrapper before it settles gives
 * each value back (asyncio's task would not have started the call). A ring in one array, the
 * keeper stored only when it changes: a fast get or acquire costs about what session 18's
 * single slot did, which remembered only the last call; a property on each promise cost
 * 8-13 ns more (bench README, session 19). So up to 16 such calls made before their wrappers look
 * are exact; the ring keeps their promises (and values) alive until 16 more calls pass.
 */
const RING = 16;
const finished: Array<object | null> = new Array<object | null>(2 * RING).fill(null);
/** How many calls finished without waiting, modulo 2^30 (a small integer for V8): the next one's serial. */
let finishedCount = 0;
const SERIALS = 0x3fffffff;

/**
 * `promise`, a call that took its value without waiting: `keeper` can take the value back,
 * and must (its wrapper ends cancelled before the value goes back: see takeBackInOrder).
 * Returns `promise`.
 */
export function finishedWithoutWaiting<T>(promise: Promise<T>, keeper: ValueKeeper): Promise<T> {
  const count = finishedCount;
  const at = (count & (RING - 1)) << 1;
  finished[at] = promise;
  // Most calls in a row are on one queue or lock: no store (and write barrier) for those.
  if (finished[at + 1] !== keeper) finished[at + 1] = keeper;
  finishedCount = (count + 1) & SERIALS;
  return promise;
}

/**
 * The serial of `promise` if it is one of the last calls that finished without waiting, else
 * -1. Calls made later have higher serials (modulo 2^30; see takeBackInOrder).
 */
export function finishedSerial(promise: object): number {
  for (let at = 0; at < 2 * RING; at += 2) {
    if (finished[at] !== promise) continue;
    // The latest serial that was given this entry.
    const last = (finishedCount - 1) & SERIALS;
    return (last - ((last - (at >> 1)) & (RING - 1))) & SERIALS;
  }
  return -1;
}

/** The keeper of the call that finished without waiting with `serial` (finishedSerial). */
export function finishedKeeper(serial: number): ValueKeeper {
  return finished[((serial & (RING - 1)) << 1) + 1] as ValueKeeper;
}

/** What can take back the value of `promise`, a registered waiting call being wrapped now; null for any other. */
export function keeperOf(promise: object): ValueKeeper | null {
  const canceller = cancellerOf(promise);
  return canceller?._takeBack !== undefined ? (canceller as ValueKeeper) : null;
}

/** The calls whose value went back to its keeper: every other wrapper of the promise ends cancelled too, no copy of the value goes out. */
const givenBack = new WeakSet<object>();

/** The cancelled wrapper of a call whose value goes back: it reports what the keeper threw. */
export interface GivingBack {
  _takeBackFailed(error: unknown): void;
}

/** A value on its way back to the keeper of a call that finished without waiting (see takeBackInOrder). */
interface GivenBack {
  serial: number;
  promise: object;
  keeper: ValueKeeper;
  value: unknown;
  wrapper: GivingBack;
}
let toTakeBack: GivenBack[] | null = null;

/**
 * `value`, what the call `promise` returned, reaches nobody: `keeper` takes it back (once per
 * call). True when it went back. `serial`: the call's if it finished without waiting (else
 * -1); `wrapper` reports what the keeper throws (a lock released meanwhile by whoever
 * awaited the promise itself): an unhandled rejection would end the process.
 */
export function giveBack(promise: object, keeper: ValueKeeper, value: unknown, serial: number, wrapper: GivingBack): boolean {
  if (givenBack.has(promise)) return true;
  if (serial < 0 && !takeBack(keeper, promise, value, wrapper)) return false;
  givenBack.add(promise);
  if (serial >= 0) {
    if (toTakeBack === null) {
      toTakeBack = [];
      queueMicrotask(takeBackInOrder);
    }
    toTakeBack.push({ serial, promise, keeper, value, wrapper });
  }
  return true;
}

/**
 * The values of calls that finished without waiting, given back in the microtask after their
 * wrappers heard of them, newest call first: `gather(q.get(), q.get())` cancelled puts the
 * second item back, then the first ahead of it, so the queue is as before (one by one, in the
 * order the wrappers settle, the first item would end up behind the second).
 */
function takeBackInOrder(): void {
  const calls = toTakeBack!;
  toTakeBack = null;
  const newest = finishedCount;
  calls.sort((a, b) => ((newest - a.serial) & SERIALS) - ((newest - b.serial) & SERIALS));
  for (const call of calls) takeBack(call.keeper, call.promise, call.value, call.wrapper);
}

/** `keeper._takeBack`, what it throws reported by `wrapper` (the value is then taken back as far as it goes). */
function takeBack(keeper: ValueKeeper, promise: object, value: unknown, wrapper: GivingBack): boolean {
  try {
    return keeper._takeBack(promise, value);
  } catch (error) {
    wrapper._takeBackFailed(error);
    return true;
  }
}

/** Whether the value of the call `promise` went back to its keeper (giveBack). */
export function wasGivenBack(promise: object): boolean {
  return givenBack.has(promise);
}

/** Whether `promise` is a registered waiting call (for one that finished without waiting, see finishedSerial). */
export function isWaitingCall(promise: object): boolean {
  return cancellerOf(promise) !== undefined;
}

/** The Future wrapping `promise` was cancelled with `msg`: cancel the call behind it, if it is one. */
export function cancelWaitingCall(promise: object, msg?: string): void {
  cancellerOf(promise)?._cancelWaitingCall(promise, msg);
}
