/**
 * asyncio's _LoopBoundMixin: a sync primitive or queue binds to the loop that first makes
 * it wait, and refuses to be waited on from any other loop afterwards.
 */
import { RuntimeError } from './errors.js';
import { getRunningLoop, type AbstractEventLoop } from './events.js';
import type { Future } from './futures.js';

export abstract class LoopBound {
  private boundLoop: AbstractEventLoop | null = null;

  /** A new waiter future on the running loop, binding this object to it on first use. */
  protected createWaiter<T = unknown>(): Future<T> {
    return this.boundRunningLoop().createFuture<T>();
  }

  /** The running loop, binding this object to it on first use (RuntimeError for another loop). */
  protected boundRunningLoop(): AbstractEventLoop {
    const loop = getRunningLoop();
    this.boundLoop ??= loop;
    if (loop !== this.boundLoop) throw new RuntimeError(`${this} is bound to a different event loop`);
    return loop;
  }
}
