/**
 * A task whose coroutine function returns a pending Future of its loop (`() => sleep(5)`)
 * awaits it through one small entry (futures.ts _awaitAsTaskBody), not then() and closures:
 * it must behave as the awaiting did, and as asyncio's create_task(asyncio.sleep(5)).
 */
import { describe, expect, it } from 'vitest';
import {
  CancelledError,
  currentTask,
  introspectionId,
  sleep,
  type Future,
  type Task,
} from '@loopkit/core';
import { awaiting, withLoop } from './support/base-loop.js';

const outcome = (task: Task<unknown>): PromiseLike<unknown> =>
  task.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );

describe('a task whose coroutine function returns a pending future', () => {
  it("gives the future's result, awaiting it meanwhile", () =>
    withLoop(async (loop) => {
      const fut = loop.createFuture<string>();
      const task = loop.createTask(() => fut);
      await sleep(0);
      expect(awaiting(task)).toBe(introspectionId(fut));
      fut.setResult('done');
      expect(await task).toBe('done');
      expect(awaiting(task)).toBeNull();
      const sleeper = loop.createTask(() => sleep(0.001, 'slept'));
      expect(await sleeper).toBe('slept');
    }));

  it("fails with the future's exception", () =>
    withLoop(async (loop, reports) => {
      const fut = loop.createFuture<string>();
      const task = loop.createTask(() => fut);
      await sleep(0);
      const boom = new Error('boom');
      fut.setException(boom);
      expect(await outcome(task)).toEqual({ error: boom });
      expect(reports).toEqual([]);
    }));

  it('cancelling the task cancels the future, with the message', () =>
    withLoop(async (loop) => {
      let slept: Future<unknown> | null = null;
      const task = loop.createTask(() => (slept = sleep(3600) as Future<unknown>));
      await sleep(0);
      expect(task.cancel('enough')).toBe(true);
      const { error } = (await outcome(task)) as { error: unknown };
      expect(error).toBeInstanceOf(CancelledError);
      expect((error as Error).message).toBe('enough');
      expect(task.cancelled()).toBe(true);
      expect(slept!.cancelled()).toBe(true);
    }));

  it('cancelled after the future finished but before the task resumed: the task ends cancelled', () =>
    withLoop(async (loop) => {
      const fut = loop.createFuture<string>();
      const task = loop.createTask(() => fut);
      await sleep(0);
      fut.setResult('too late');
      task.cancel('now');
      const { error } = (await outcome(task)) as { error: unknown };
      expect((error as Error).message).toBe('now');
      expect(task.cancelled()).toBe(true);
    }));

  it('a cancellation requested in the function itself cancels the future it returns', () =>
    withLoop(async (loop) => {
      const fut = loop.createFuture<string>();
      const task = loop.createTask(() => {
        currentTask()!.cancel('early');
        return fut;
      });
      const { error } = (await outcome(task)) as { error: unknown };
      expect((error as Error).message).toBe('early');
      expect(fut.cancelled()).toBe(true);
    }));
});
