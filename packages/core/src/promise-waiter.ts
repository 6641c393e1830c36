/**
 * The waiter future of a sync primitive whose waiting call hands its caller a native promise
 * (Event.wait, Lock.acquire, Semaphore.acquire): the future, the continuation of the waiting
 * call and the settling of its promise in one object.
 *
 * Written as `async wait() { ...; try { await fut } finally { ... } }`, every idle waiter
 * held the function's frame, its promise, and for `await fut` a promise, two resolving
 * functions, the await's two closures, their contexts and a FutureAwaiter (~0.8 KB). Here the
 * call does what that await did, with nothing but the promise it returns: the task making it
 * awaits this future (cancelling the task cancels it; it shows in the call graph), and once
 * the future is done the owner's `_waiterWoken` runs what followed the await, as a loop
 * callback that resumes the task, and its value or error settles the promise.
 */
import { CancelledError, RuntimeError } from './errors.js';
import { resumeStep, stepEndsAfterThisJob, type AbstractEventLoop } from './events.js';
import { Future } from './futures.js';
import type { ReadyEntry } from './handles.js';
import { currentTaskOrUndefined } from './task-context.js';
import type { Task } from './tasks.js';
import { beginWaitingCall, claimWaitingCall, type CallCanceller } from './waiting-calls.js';
import { world } from './world.js';

/** The primitive a waiter belongs to. */
export interface WaiterOwner<R> {
  /**
   * @internal the waiter is done and its caller resumes: leave the line and give the call's
   * value, or throw `error` (or another) when `failed` (the waiter or the task was cancelled).
   */
  _waiterWoken(waiter: PromiseWaiter<R>, failed: boolean, error: unknown): R;
  /** @internal the call's value reaches nobody: give back what it took (waiting-calls.ts' ValueKeeper). */
  _takeBack(promise: object, value: unknown): boolean;
}

/**
 * The addon's promises without resolving functions (native/task_slot.cc), when the world's
 * task tracking loaded a build that has them: a waiter then keeps its promise and resolves it
 * through the addon, where `new Promise` gave each waiting call a resolve function and the
 * context it shares with reject (112 bytes an idle waiter; its promise is 48).
 */
const slot = world.taskTracking?.slot ?? null;
const newBarePromise = slot?.newPromise;
const resolveBarePromise = slot?.resolvePromise;

/** Without the addon: the executor of every waiter's promise, no closure per promise (it runs synchronously). */
let captured: ((value: any) => void) | null = null;
function captureResolve(resolve: (value: any) => void): void {
  captured = resolve;
}

/**
 * A task whose coroutine function returns a waiting call's promise as it is (`() => ev.wait()`)
 * ends with that call: the waiter ends the task itself, as a Future returned by the body does
 * (futures.ts' _awaitAsTaskBody), instead of the task watching the promise with then(), whose
 * promise and reaction (and, on Node 24, the step's TaskFrame the reaction keeps) each idle
 * task held. tasks.ts' first step names its task here before calling the body; a waiting call
 * begun by that task leaves its waiter and promise here for the first step to claim.
 */
export const firstStepHandOff: {
  task: Task<unknown> | null;
  waiter: PromiseWaiter<any> | null;
  promise: Promise<unknown> | null;
} = { task: null, waiter: null, promise: null };

/**
 * `task`'s coroutine function returned `body`: when that is the promise of a waiting call it
 * began, the waiter takes the task's ending on itself (true), and the step is over now: the
 * caller marks it ended, with no microtask queued to tell the loop (~150 bytes of promise,
 * reaction and job per task). Otherwise a waiting call begun in the step ends it once the
 * job is over, as elsewhere (stepEndsAfterThisJob). Empties the hand-off either way.
 */
export function endTaskWithWaiter(task: Task<unknown>, body: unknown): boolean {
  const waiter = firstStepHandOff.waiter;
  const promise = firstStepHandOff.promise;
  firstStepHandOff.task = null;
  firstStepHandOff.waiter = null;
  firstStepHandOff.promise = null;
  if (waiter === null) return false;
  if (promise !== body || waiter._awaitedBy !== task || waiter._settle === null) {
    stepEndsAfterThisJob(task);
    return false;
  }
  waiter._endsTaskFrom = promise;
  claimWaitingCall(body as object);
  return true;
}

/** A waiter future that settles its waiting call's promise with what its owner's `_waiterWoken` gives. */
export class PromiseWaiter<R> extends Future<unknown> implements ReadyEntry, CallCanceller {
  // The task that made the waiting call is the one in `_awaitedBy` (the field Future has for
  // the call graph), from _begin until _run: nothing else awaits a waiter, so it needs no field of its own.
  /** @internal what settles the caller's promise (its resolve function, or itself: see newBarePromise); null once settled */
  _settle: ((value: unknown) => void) | Promise<unknown> | null = null;
  /** @internal the promise, when it is what the waiting task's body returned: ending the waiter ends the task */
  _endsTaskFrom: Promise<unknown> | null = null;

  constructor(
    loop: AbstractEventLoop,
    private readonly owner: WaiterOwner<R>,
  ) {
    super(loop);
    this._callbacks = this; // its own first done callback: see _run
  }

  /**
   * Begin waiting (the waiter is already in its owner's line): the promise the waiting call
   * returns. The current task now awaits this future, as `await fut` would have made it.
   */
  _begin(): Promise<R> {
    let promise: Promise<R>;
    if (newBarePromise !== undefined) {
      promise = newBarePromise() as Promise<R>;
      this._settle = promise;
    } else {
      promise = new Promise<R>(captureResolve);
      this._settle = captured;
      captured = null;
    }
    const task = currentTaskOrUndefined();
    if (task !== undefined) {
      if (task._loop !== this._loop) {
        this._finish(null, true, new RuntimeError(`Task ${task} got Future ${this} attached to a different loop`));
        return promise;
      }
      task._futWaiter = this;
      this._awaitedBy = task;
      if (task._mustCancel && this.cancel(task._cancelMessage)) task._mustCancel = false;
      if (firstStepHandOff.task === task) {
        // In a first step the step's end waits for what the body returns (endTaskWithWaiter).
        firstStepHandOff.waiter = this;
        firstStepHandOff.promise = promise;
      } else {
        stepEndsAfterThisJob(task);
      }
    }
    beginWaitingCall(promise, this);
    return promise;
  }

  /**
   * @internal the Future wrapping this call's promise was cancelled (waiting-calls.ts): cancel
   * this waiter; one already woken raises CancelledError when the call resumes instead of
   * taking what it was given, and its owner passes that on (asyncio's woken-then-cancelled
   * waiter). A call already resumed is over.
   */
  _cancelWaitingCall(_promise: object, msg: string | undefined): void {
    if (this._settle === null || this.cancel(msg)) return;
    if (this._exception === null) this._exception = new CancelledError(msg ?? '');
  }

  /** @internal the caller was cancelled before it received the call's value: the owner takes it back. */
  _takeBack(promise: object, value: unknown): boolean {
    return this.owner._takeBack(promise, value);
  }

  /** @internal done: resume the waiting call, from the ready queue (as a FutureAwaiter would). */
  _run(): void {
    const task = this._awaitedBy as Task<unknown> | null;
    // Whether the task still awaits this call: one left behind under a detached Future must not take the task's cancel().
    const awaited = task !== null && task._futWaiter === this;
    if (task !== null) {
      if (awaited) task._futWaiter = null;
      this._awaitedBy = null;
    }
    resumeStep(task);
    // cancel() came after this future finished but before the task resumed: raise at this
    // wait, as asyncio's step does (a Lock waiter then passes its turn on).
    const cancelled = awaited ? this._cancelAtResume(task) : null;
    if (cancelled !== null) {
      this._finish(task, true, cancelled);
    } else if (!this.cancelled() && this._exception === null) this._finish(task, false, undefined);
    else this._finish(task, true, this._outcomeError());
  }

  /** `task`: the one that made the waiting call (it ends with the call when `_endsTaskFrom` is set). */
  private _finish(task: Task<unknown> | null, failed: boolean, error: unknown): void {
    const settle = this._settle!;
    this._settle = null;
    const endsTaskFrom = this._endsTaskFrom;
    this._endsTaskFrom = null;
    let value: R;
    try {
      value = this.owner._waiterWoken(this, failed, error);
    } catch (thrown) {
      // Handled here when the task ends with it: nobody else need be watching that promise.
      if (endsTaskFrom !== null) Promise.prototype.then.call(endsTaskFrom, undefined, ignoreRejection);
      settleCall(settle, Promise.reject(thrown));
      if (endsTaskFrom !== null) task!._bodyThrew(thrown);
      return;
    }
    settleCall(settle, value);
    if (endsTaskFrom !== null) task!._bodyReturned(value);
  }
}

function ignoreRejection(): void {}

/** Resolve a waiting call's promise with `value` (a rejected promise rejects it), through what its waiter keeps. */
function settleCall(settle: ((value: unknown) => void) | Promise<unknown>, value: unknown): void {
  if (typeof settle === 'function') settle(value);
  else resolveBarePromise!(settle, value);
}
