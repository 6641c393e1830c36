/**
 * asyncio.shield: a Future following `aw` that can be cancelled without cancelling `aw`.
 * The caller awaiting the shield gets CancelledError; the inner work runs on.
 */
import type { Future } from './futures.js';
import { currentTask, ensureFuture } from './tasks.js';
import { futureAddToAwaitedBy, futureDiscardFromAwaitedBy } from './awaited-by.js';
import type { AwaitableLike, ResultOf } from './gather.js';

/** Protect `aw` from cancellation (asyncio.shield): cancelling the returned Future leaves `aw` running. */
export function shield<A extends AwaitableLike>(aw: A): Future<ResultOf<A>> {
  const inner = ensureFuture(aw) as Future<ResultOf<A>>;
  if (inner.done()) return inner;
  const outer = inner.getLoop().createFuture<ResultOf<A>>();
  // The task awaiting the shield really waits for the inner work (the outer future is only
  // its cancellable stand-in), so the call graph links the inner work to that task.
  const waiter = currentTask();
  if (waiter !== null) futureAddToAwaitedBy(inner, waiter);

  const onInnerDone = (): void => {
    if (waiter !== null) futureDiscardFromAwaitedBy(inner, waiter);
    if (outer.cancelled()) {
      // The shield was cancelled: nobody will retrieve the inner error.
      if (!inner.cancelled()) inner.exception();
      return;
    }
    if (inner.cancelled()) outer.cancel();
    else {
      const error = inner.exception();
      if (error !== null) outer.setException(error);
      else outer.setResult(inner.result());
    }
  };
  const onOuterDone = (): void => {
    // The shield was cancelled (or is done): its task no longer waits for the inner work.
    if (waiter !== null) futureDiscardFromAwaitedBy(inner, waiter);
    if (!inner.done()) inner.removeDoneCallback(onInnerDone);
  };
  inner.addDoneCallback(onInnerDone);
  outer.addDoneCallback(onOuterDone);
  return outer;
}
