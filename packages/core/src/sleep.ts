/** asyncio.sleep: suspend the calling task for `delay` seconds. */
import { getRunningLoop, resumeSignal, stepEnded, taskContext, type AbstractEventLoop } from './events.js';
import { Chain, type Chainable } from './chain.js';
import { Future, setResultUnlessCancelled } from './futures.js';
import { callSoonEntry, type ReadyEntry, type TimerHandle } from './handles.js';
import type { Task } from './tasks.js';
import { describe } from './validate.js';

/** The future of a timed sleep: cancelling it cancels its timer. */
class SleepFuture<T> extends Future<T> {
  timer: TimerHandle | null = null;

  override cancel(msg?: string): boolean {
    this.timer?.cancel();
    return super.cancel(msg);
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
    const task = taskContext.getStore();
    const chain = new Chain<R1 | R2>();
    this.loop.callSoon(() => {
      resumeSignal.pending = true;
      if (task !== undefined && task._mustCancel) {
        // cancel() arrived while the task was yielding: raise at this await, as asyncio does.
        task._mustCancel = false;
        chain.rejected(task._makeCancelledError(), onRejected);
      } else chain.fulfilled(this.value, onFulfilled);
    });
    return chain;
  }

  *[Symbol.iterator](): Generator<null, T, unknown> {
    yield null;
    return this.value;
  }
}

/**
 * `await sleep(0)` in an async-function task: a native promise, settled by this ready-queue
 * entry one iteration later. Awaiting a native promise costs the language no wrapper promise
 * and no extra microtask, where a thenable costs both: this is the hot path of task switching.
 */
class YieldWakeup<T> implements ReadyEntry {
  resolve: ((value: T) => void) | null = null;
  reject: ((error: unknown) => void) | null = null;

  constructor(
    private readonly task: Task<unknown>,
    private readonly value: T,
  ) {}

  _run(): void {
    const task = this.task;
    resumeSignal.pending = true;
    resumeSignal.task = task;
    if (task._mustCancel) {
      // cancel() arrived while the task was yielding: raise at this await, as asyncio does.
      task._mustCancel = false;
      this.reject!(task._makeCancelledError());
    } else this.resolve!(this.value);
  }

  toString(): string {
    return `<YieldWakeup ${this.task}>`;
  }
}

/** The executor of every yield promise: no closure per promise (it runs synchronously). */
let capturing: YieldWakeup<any> | null = null;
function captureResolvers(resolve: (value: any) => void, reject: (error: unknown) => void): void {
  capturing!.resolve = resolve;
  capturing!.reject = reject;
}

/**
 * A native promise that is also `yield*`-able, like YieldOnce. Its prototype's constructor
 * is Promise itself, so the language awaits it as a plain promise (no wrapper, no extra
 * microtask), and promises chained from it are plain promises.
 */
export class YieldPromise<T> extends Promise<T> {
  /** @internal what it resolves to, for yield* */ _value: T | undefined = undefined;

  *[Symbol.iterator](): Generator<null, T, unknown> {
    yield null;
    return this._value as T;
  }
}
Object.defineProperty(YieldPromise.prototype, 'constructor', { value: Promise, writable: true, configurable: true });

function yieldPromise<T>(loop: AbstractEventLoop, task: Task<unknown>, value: T): YieldPromise<T> {
  const wakeup = new YieldWakeup(task, value);
  capturing = wakeup;
  const promise = new YieldPromise<T>(captureResolvers);
  capturing = null;
  promise._value = value;
  callSoonEntry(loop, wakeup);
  stepEnded(task); // `await sleep(0)`: the task suspends on this promise
  return promise;
}

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
    const task = taskContext.getStore();
    // A generator task needs something to yield*: YieldOnce is also iterable.
    if (task === undefined || task._gen !== null || task._loop !== loop) return new YieldOnce(loop, result as T);
    return yieldPromise(loop, task, result as T);
  }
  const future = new SleepFuture<T>({ loop });
  if (delay !== Infinity) future.timer = loop.callLater(delay, setResultUnlessCancelled, future, result as T);
  return future;
}

