/**
 * asyncio's _LoopBoundMixin: a sync primitive or queue binds to the loop that first makes
 * it wait, and refuses to be waited on from any other loop afterwards.
 */
import { RuntimeError } from './errors.js';
import { getRunningLoop, type AbstractEventLoop } from './events.js';
import type { Deque } from './deque.js';
import type { Future } from './futures.js';
import { PromiseWaiter, type WaiterOwner } from './promise-waiter.js';

export abstract class LoopBound {
  private boundLoop: AbstractEventLoop | null = null;

  /** A new waiter future on the running loop, binding this object to it on first use. */
  protected createWaiter<T = unknown>(): Future<T> {
    return this.boundRunningLoop().createFuture<T>();
  }

  /**
   * Wait in `waiters` holding no async frame (promise-waiter.ts): a PromiseWaiter of this
   * object on the running loop joins the line, and the promise returned settles with what
   * this object's `_waiterWoken` gives once the waiter is done. A Future wrapping that promise
   * (`waitFor(lock.acquire(), t)`) cancels the waiter (waiting-calls.ts).
   */
  protected waitInLine<R>(this: LoopBound & WaiterOwner<R>, waiters: Deque<Future<unknown>>): Promise<R> {
    let waiter: PromiseWaiter<R>;
    try {
      waiter = new PromiseWaiter(this.boundRunningLoop(), this);
    } catch (error) {
      return Promise.reject(error);
    }
    waiters.push(waiter);
    return waiter._begin();
  }

  /** The running loop, binding this object to it on first use (RuntimeError for another loop). */
  protected boundRunningLoop(): AbstractEventLoop {
    const loop = getRunningLoop();
    this.boundLoop ??= loop;
    if (loop !== this.boundLoop) throw new RuntimeError(`${this} is bound to a different event loop`);
    return loop;
  }
}
