/**
 * asyncio's everyday surface (issue 17): the module-level createTask, `await using` where
 * asyncio has `async with` (locks, servers, stream writers), and "Task exception was never
 * retrieved" reported by the time the loop closes.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as nodeSleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { RuntimeError, Task, TaskGroup, createTask, currentTask, sleep } from '@loopkit/core';
import { withLoop, type LoopUnderTest } from './context.js';

export function everydaySuite(subject: LoopUnderTest): void {
  describe('createTask (asyncio.create_task)', () => {
    it('starts a named task on the running loop', () =>
      withLoop(subject, async (loop) => {
        const task = createTask(
          async () => {
            await sleep(0);
            return currentTask()!.getName();
          },
          { name: 'worker' },
        );
        expect(task).toBeInstanceOf(Task);
        expect(task.getLoop()).toBe(loop);
        expect(await task).toBe('worker');
        expect(await createTask(async () => 7)).toBe(7);
      }));

    it('outside a running loop throws RuntimeError, and a misspelt option a TypeError naming it', async () => {
      expect(() => createTask(async () => 1)).toThrow(RuntimeError);
      expect(() => createTask(async () => 1)).toThrow('no running event loop');
      await withLoop(subject, async () => {
        expect(() => createTask(async () => 1, { nmae: 'x' } as never)).toThrow(TypeError);
        expect(() => createTask(async () => 1, { nmae: 'x' } as never)).toThrow(/unexpected option 'nmae'/);
        expect(() => createTask(async () => 1, { context: 'ctx' } as never)).toThrow(/context must be a function/);
        expect(() => createTask('main' as never)).toThrow(/coro must be a coroutine function/);
      });
    });

    it('context: the task runs, across awaits, in the async context given (AsyncLocalStorage.snapshot())', () =>
      withLoop(subject, async () => {
        const request = new AsyncLocalStorage<string>();
        const context = request.run('req-1', () => AsyncLocalStorage.snapshot());
        const seen: unknown[] = [];
        const genSeen: unknown[] = [];
        const task = createTask(
          async () => {
            seen.push(request.getStore());
            await sleep(0.001);
            seen.push(request.getStore(), currentTask()?.getName());
          },
          { name: 'handler', context },
        );
        const gen = createTask(
          function* () {
            genSeen.push(request.getStore());
            yield* sleep(0);
            genSeen.push(request.getStore(), currentTask()?.getName());
          },
          { name: 'gen', context },
        );
        const plain = createTask(async () => request.getStore());
        await task;
        await gen;
        expect(seen).toEqual(['req-1', 'req-1', 'handler']);
        expect(genSeen).toEqual(['req-1', 'req-1', 'gen']);
        expect(await plain).toBeUndefined();
        expect(request.getStore()).toBeUndefined();
      }));

    it('context: a task started from inside such a task, after a Node promise woke the loop, runs in the loop context', () =>
      withLoop(subject, async () => {
        const request = new AsyncLocalStorage<string>();
        const context = request.run('req-2', () => AsyncLocalStorage.snapshot());
        const inner = await createTask(
          async () => {
            await nodeSleep(5); // the loop sleeps meanwhile; the next line wakes it
            return createTask(async () => request.getStore());
          },
          { context },
        );
        expect(await inner).toBeUndefined();
      }));

    it('TaskGroup.createTask takes the same context option', () =>
      withLoop(subject, async () => {
        const store = new AsyncLocalStorage<number>();
        const context = store.run(42, () => AsyncLocalStorage.snapshot());
        await using tg = new TaskGroup();
        const child = tg.createTask(async () => store.getStore(), { context });
        expect(await child).toBe(42);
      }));
  });
}
