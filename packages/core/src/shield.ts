/**
 * asyncio.shield: a Future following `aw` that can be cancelled without cancelling `aw`.
 * The caller awaiting the shield gets CancelledError; the inner work runs on.
 */
import type { Future } from './futures.js';
import { ensureFuture } from './tasks.js';
import type { AwaitableLike, ResultOf } from './gather.js';

/** Protect `aw` from cancellation (asyncio.shield): cancelling the returned Future leaves `aw` running. */
export function shield<A extends AwaitableLike>(aw: A): Future<ResultOf<A>> {
  const inner = ensureFuture(aw) as Future<ResultOf<A>>;
  if (inner.done()) return inner;
  const outer = inner.getLoop().createFuture<ResultOf<A>>();

  const onInnerDone = (): void => {
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
    if (!inner.done()) inner.removeDoneCallback(onInnerDone);
  };
  inner.addDoneCallback(onInnerDone);
  outer.addDoneCallback(onOuterDone);
  return outer;
}
