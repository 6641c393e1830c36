/** asyncio.sleep: suspend the calling task for `delay` seconds. */
import { getRunningLoop, resumeSignal, taskContext, type AbstractEventLoop } from './events.js';
import { Chain, type Chainable } from './chain.js';
import { Future, setResultUnlessCancelled } from './futures.js';
import type { TimerHandle } from './handles.js';
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
 * Sleep `delay` seconds, then give `result`. `sleep(0)` (or a negative delay) yields
 * exactly one loop iteration; NaN throws; Infinity sleeps until cancelled.
 */
export function sleep<T = undefined>(delay: number, result?: T): Future<T> | YieldOnce<T> {
  if (typeof delay !== 'number' || Number.isNaN(delay)) {
    throw new TypeError(`delay must be a number of seconds, got ${describe(delay)}`);
  }
  const loop = getRunningLoop();
  if (delay <= 0) return new YieldOnce(loop, result as T);
  const future = new SleepFuture<T>({ loop });
  if (delay !== Infinity) future.timer = loop.callLater(delay, setResultUnlessCancelled, future, result as T);
  return future;
}

