/** Helpers for tests of core's tasks and futures on a BaseEventLoop (no I/O backend). */
import { BaseEventLoop, introspectionId, takeSnapshot, type ExceptionContext, type Task } from '@loopkit/core';

/** Runs `body` to completion on a fresh BaseEventLoop whose exception handler records into `reports`; closes the loop. */
export async function withLoop<T>(body: (loop: BaseEventLoop, reports: ExceptionContext[]) => Promise<T>): Promise<T> {
  const loop = new BaseEventLoop();
  const reports: ExceptionContext[] = [];
  loop.setExceptionHandler((_loop, context) => reports.push(context));
  try {
    return await loop.runUntilComplete(() => body(loop, reports));
  } finally {
    loop.close();
  }
}

/** The id of the future `task` awaits, as `loopkit ps` shows it (null when none). */
export function awaiting(task: Task<unknown>): number | null {
  const id = introspectionId(task);
  return takeSnapshot().futures.find((record) => record.id === id)?.awaiting ?? null;
}
