/** asyncio.sleep: suspend the calling task for `delay` seconds. */
import { getRunningLoop, resumeSignal, resumeStep, stepEndsIfAwaited, type AbstractEventLoop } from './events.js';
import { carryTaskIntoThen, currentTaskOrUndefined } from './task-context.js';
import { Chain, type Chainable } from './chain.js';
import { Future, setResultUnlessCancelled } from './futures.js';
import { firstStepHandOff } from './promise-waiter.js';
import { callSoonEntry, Handle, type HandleOwner, type ReadyEntry, type TimerEntry, type TimerHandle } from './handles.js';
import type { Task } from './tasks.js';
import { describe } from './validate.js';
import { keepShape } from './shape-keepers.js';
import { world } from './world.js';

/** The future of a timed sleep on a TimerHandle from callLater: cancelling it cancels its timer. */
class SleepOnTimerHandle<T> extends Future<T> {
  timer: TimerHandle | null = null;

  override cancel(msg?: string): boolean {
    this.timer?.cancel();
    return super.cancel(msg);
  }

  /** @internal asyncio's sleep awaits a plain Future: a waiting task's repr shows `wait_for=<Future pending ...>`. */
  override _reprClassName(): string {
    return 'Future';
  }
}

// Either way it is one kind to whoever lists futures by class (`loopkit ps`): one name.
Object.defineProperty(SleepOnTimerHandle, 'name', { value: 'SleepFuture' });

/** What a loop offers sleep() to time a future without a TimerHandle (BaseEventLoop has it). */
interface EntryTimers {
  _timerEntriesAllowed(): boolean;
  _callLaterEntry(delay: number, entry: TimerEntry): void;
  _timerHandleCancelled(entry: TimerEntry): void;
}

/**
 * The future of a timed sleep that is its own timer in the loop's heap: what callLater's
 * TimerHandle, its boxed deadline and its argument array held (144 bytes a sleeping task)
 * is one slot number and the result. Run from the ready queue once due, as the handle was.
 */
class SleepFuture<T> extends Future<T> implements TimerEntry {
  // Declared, and set in the constructor (see Handle): made by the hundred thousand.
  /** @internal its place in the loop's timer heap (see timer-heap.ts) */ declare _slot: number;
  private declare readonly value: T;

  constructor(loop: AbstractEventLoop, value: T) {
    super(loop);
    this._slot = -1;
    this.value = value;
  }

  /** @internal the timer fired: what callLater(delay, setResultUnlessCancelled, future, value) runs. */
  _run(): void {
    try {
      setResultUnlessCancelled(this, this.value);
    } catch (exception) {
      // Reported as that callback's handle would report it (set already by someone else).
      const args = [this, this.value];
      new Handle(setResultUnlessCancelled, args, this._loop as unknown as HandleOwner)._report(exception, setResultUnlessCancelled, args);
    }
  }

  override cancel(msg?: string): boolean {
    (this._loop as unknown as EntryTimers)._timerHandleCancelled(this);
    return super.cancel(msg);
  }

  /** @internal as SleepOnTimerHandle's: asyncio's plain Future. */
  override _reprClassName(): string {
    return 'Future';
  }
}

/** The next iteration's wake-up of a YieldOnce's awaiter, and the thenable its then() returns. */
class YieldWakeup<T, R> extends Chain<R> implements ReadyEntry {
  constructor(
    private readonly task: Task<unknown> | null,
    private readonly result: T,
    private readonly onFulfilled: ((value: T) => unknown) | null | undefined,
    private readonly onRejected: ((reason: any) => unknown) | null | undefined,
  ) {
    super();
  }

  /** @internal */
  _run(): void {
    const task = this.task;
    resumeStep(task);
    // cancel() arrived while the task was yielding: raise at this await, as asyncio does.
    const cancelled = task === null ? null : task._takeCancel();
    if (cancelled !== null) this.rejected(cancelled, this.onRejected);
    else this.fulfilled(this.result, this.onFulfilled);
  }
}

/**
 * `sleep(0)`: give up the rest of this step and resume in the next iteration, exactly
 * once (asyncio's bare yield). Awaitable, and `yield*`-able in generator tasks.
 */
export class YieldOnce<T> implements PromiseLike<T> {
  constructor(
    private readonly loop: AbstractEventLoop,
    private readonly value: T,
  ) {}

  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: any) => R2 | PromiseLike<R2>) | null,
  ): Chainable<R1 | R2> {
    const task = currentTaskOrUndefined();
    const wakeup = new YieldWakeup<T, R1 | R2>(task ?? null, this.value, onFulfilled, onRejected);
    callSoonEntry(this.loop, wakeup);
    if (task !== undefined) stepEndsIfAwaited(task, onFulfilled);
    return wakeup;
  }

  /** For generator tasks: `yield*` it to yield once. */
  *[Symbol.iterator](): Generator<null, T, unknown> {
    yield null;
    return this.value;
  }
}
carryTaskIntoThen(YieldOnce.prototype);

/**
 * The wake-up of a first step's `sleep(0)`, one iteration later: it settles the native promise
 * sleep(0) returned (see yieldingPromise). A ready-queue entry of its own, where a Promise
 * subclass carrying these fields was: V8 builds a subclass's instance through its generic
 * construct path and looks `constructor` up generically at each `await` of it, ~500
 * instructions a task on Node 20 (bench/README.md, session 16), while a native promise is
 * awaited on the native path.
 */
class FirstStepYield<T> implements ReadyEntry {
  // Declared, and set once in the constructor (see Future): one per `sleep(0)` of a first step.
  private declare readonly task: Task<unknown>;
  private declare readonly promise: Promise<T>;
  /** the promise's resolve function; null for a promise the addon made, which resolvePromise settles */
  private declare readonly resolve: ((value: T | PromiseLike<T>) => void) | null;
  private declare readonly value: T;

  constructor(task: Task<unknown>, promise: Promise<T>, resolve: ((value: T | PromiseLike<T>) => void) | null, value: T) {
    this.task = task;
    this.promise = promise;
    this.resolve = resolve;
    this.value = value;
  }

  /** @internal run from the ready queue. */
  _run(): void {
    wakeYield(this.task, this.promise, this.resolve, this.value);
  }

  /** A description for logs and debugging (the slow-callback warning names the entry). */
  toString(): string {
    return `<sleep(0) wake-up of ${this.task}>`;
  }
}

function ignoreRejection(): void {}

/**
 * The wake-up of a first step's `sleep(0)`: FirstStepYield's run, and Task._run's where the
 * task is its own entry (yieldingPromise, with the addon's promises; `resolve` null: the
 * addon's resolvePromise settles it).
 */
export function wakeYield<T>(task: Task<unknown>, promise: Promise<T>, resolve: ((value: T | PromiseLike<T>) => void) | null, value: T): void {
  resumeStep(task);
  const cancelled = task._takeCancel();
  if (cancelled !== null) {
    // cancel() arrived while the task was yielding: raise at this await, as asyncio does.
    // (Settled through a rejected promise, as resolve is all there is to settle it with.
    // Marked handled, so a yield promise the task made but never awaited cannot take the
    // process down with an unhandled rejection.)
    settleYield(promise, resolve, Promise.reject(cancelled));
    void promise.then(undefined, ignoreRejection);
  } else settleYield(promise, resolve, value);
}

function settleYield<T>(promise: Promise<T>, resolve: ((value: T | PromiseLike<T>) => void) | null, value: T | PromiseLike<T>): void {
  if (resolve === null) resolveBarePromise!(promise, value);
  else resolve(value);
}

/**
 * The continuation-slot addon's promises without resolving functions (promise-waiter.ts):
 * `new Promise(executor)` adds its resolve and reject functions and the context they share,
 * 112 bytes a yielding task that every scavenge of a burst of first steps copies (Node 20: ~10%
 * less CPU for 100k yielding tasks; bench/README.md, session 18). Taken wherever the addon is
 * (Node 24's task frames too since session 19: with it, the task is its own wake-up entry, so
 * a yielding task keeps neither the resolving functions nor a FirstStepYield).
 */
const slot = world.taskTracking?.slot ?? null;
const newBarePromise = slot?.resolvePromise !== undefined ? slot.newPromise : undefined;
const resolveBarePromise = slot?.resolvePromise;

/** Without the addon: the executor of every first step's yield promise, no closure per promise (it runs synchronously). */
let captured: ((value: any) => void) | null = null;
function captureResolve(resolve: (value: any) => void): void {
  captured = resolve;
}

/**
 * `sleep(0)` in an async-function task whose step the loop is not waiting on (its first
 * step, say): a native promise, settled one iteration later by its FirstStepYield. The
 * language awaits a native promise with no wrapper promise and no extra microtask, where a
 * thenable costs both: this is the hot path of starting tasks. Promises chained from it are
 * plain promises.
 */
function yieldingPromise<T>(loop: AbstractEventLoop, task: Task<unknown>, value: T): Promise<T> {
  let promise: Promise<T>;
  let entry: ReadyEntry;
  if (newBarePromise !== undefined) {
    promise = newBarePromise() as Promise<T>;
    // The task is its own wake-up entry (Task._run, wakeYield), holding the promise in its
    // result field, empty while it is pending: no FirstStepYield kept through the burst.
    // Not for a value to give, nor a second yield the same step made before awaiting the first.
    if (value === undefined && task._result === undefined) {
      task._result = promise;
      entry = task;
    } else entry = new FirstStepYield<T>(task, promise, null, value);
  } else {
    promise = new Promise<T>(captureResolve);
    entry = new FirstStepYield<T>(task, promise, captured!, value);
    captured = null;
  }
  callSoonEntry(loop, entry);
  resumeSignal.lastEnded = task; // a first step's `await sleep(0)`: it suspends on this promise
  return promise;
}

// Never queued: the map every wake-up has (see shape-keepers.ts).
keepShape('FirstStepYield', new FirstStepYield(null as unknown as Task<unknown>, Promise.resolve(), null, undefined));

/**
 * What a first step's `sleep(0)` returns: a native promise (yieldingPromise). Typed iterable,
 * as every sleep() result is for `yield*`: in a generator task, the only place `yield*` takes
 * it, sleep(0) always gives a YieldOnce, never one of these.
 */
export type YieldPromise<T> = Promise<T> & {
  /** `yield*` takes it in a generator task, where sleep(0) gives a YieldOnce (see above). */
  [Symbol.iterator](): Generator<null, T, unknown>;
};

/**
 * Sleep `delay` seconds, then give `result`. `sleep(0)` (or a negative delay) yields
 * exactly one loop iteration; NaN throws; Infinity sleeps until cancelled.
 */
export function sleep<T = undefined>(delay: number, result?: T): Future<T> | YieldOnce<T> | YieldPromise<T> {
  if (typeof delay !== 'number' || Number.isNaN(delay)) {
    throw new TypeError(`delay must be a number of seconds, got ${describe(delay)}`);
  }
  const loop = getRunningLoop();
  if (delay <= 0) {
    // Inside a first step's synchronous code the first step names its task (promise-waiter.ts):
    // the hot path of starting tasks reads no slot (an addon call on Node 20, Node's frame read
    // and two calls of the task frame on Node 24).
    const task = firstStepHandOff.task ?? currentTaskOrUndefined();
    // YieldOnce (a thenable, and iterable) where the awaiting must be seen: in a generator
    // task (yield*), and in a resumed step the loop waits for (its then() ends the step).
    // A first step gets a native promise: Task._run sees where it ended once it returns.
    if (task === undefined || task._gen !== null || task._loop !== loop || resumeSignal.waitingFor === task) {
      return new YieldOnce(loop, result as T);
    }
    return yieldingPromise(loop, task, result as T) as YieldPromise<T>;
  }
  const timers = loop as Partial<EntryTimers>;
  if (delay !== Infinity && timers._callLaterEntry !== undefined && timers._timerEntriesAllowed!()) {
    const future = new SleepFuture<T>(loop, result as T);
    timers._callLaterEntry(delay, future);
    return future;
  }
  const future = new SleepOnTimerHandle<T>(loop);
  if (delay !== Infinity) future.timer = loop.callLater(delay, setResultUnlessCancelled, future, result as T);
  return future;
}

