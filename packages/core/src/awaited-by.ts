/**
 * The awaited-by relation (asyncio 3.14's `_asyncio_awaited_by`): which futures wait on a
 * future. A task awaiting a future, and gather, TaskGroup, shield, wait and asCompleted,
 * record themselves here so the call graph (graph.ts) and `loopkit ps`/`pstree` can show
 * who waits for what.
 *
 * Kept as CPython's C Future keeps it: null, then the one waiter in the field itself, and a
 * Set only from the second waiter on. Nearly every future has at most one waiter, so the
 * common case costs a field write and no allocation on the task step's hot path.
 */
import type { Future } from './futures.js';

/** What holds the relation: a Future (or anything with the field). */
export interface AwaitedByHolder {
  _awaitedBy: Future<unknown> | Set<Future<unknown>> | null;
}

/** Record that `waiter` waits on `fut`. */
export function futureAddToAwaitedBy(fut: AwaitedByHolder, waiter: Future<unknown>): void {
  const by = fut._awaitedBy;
  if (by === null) fut._awaitedBy = waiter;
  else if (by instanceof Set) by.add(waiter);
  else if (by !== waiter) fut._awaitedBy = new Set([by, waiter]);
}

/** `waiter` no longer waits on `fut` (nothing when it did not). */
export function futureDiscardFromAwaitedBy(fut: AwaitedByHolder, waiter: Future<unknown>): void {
  const by = fut._awaitedBy;
  if (by === waiter) fut._awaitedBy = null;
  else if (by instanceof Set) by.delete(waiter);
}

/** The futures waiting on `fut`, in the order they started waiting. */
export function awaitersOf(fut: AwaitedByHolder): Future<unknown>[] {
  const by = fut._awaitedBy;
  if (by === null) return [];
  return by instanceof Set ? [...by] : [by];
}
