import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { threadId } from 'node:worker_threads';
import { BaseEventLoop, Future, RuntimeError, WorkerThreadExecutor, type Executor } from '@loopkit/core';

const work = new URL('./fixtures/work.mjs', import.meta.url).href;

let loop: BaseEventLoop;
beforeEach(() => {
  loop = new BaseEventLoop();
});
afterEach(async () => {
  if (!loop.isClosed()) {
    await loop.shutdownDefaultExecutor();
    loop.close();
  }
});

describe('runInExecutor(null, ...) on the default worker-thread executor', () => {
  it('runs a self-contained function with its arguments', async () => {
    const result = await loop.runUntilComplete(async () => {
      const future = loop.runInExecutor<[number, string]>(null, async (a: number, b: number) => [a * b, typeof a], 6, 7);
      expect(future).toBeInstanceOf(Future);
      expect(future.getLoop()).toBe(loop);
      return future;
    });
    expect(result).toEqual([42, 'number']);
  });

  it('runs an exported function named by {module, name}', async () => {
    const [fib, thread] = await loop.runUntilComplete(async () =>
      Promise.all([loop.runInExecutor<number>(null, { module: work, name: 'fib' }, 20), loop.runInExecutor<number>(null, { module: work, name: 'whichThread' })]),
    );
    expect(fib).toBe(6765);
    expect(thread).not.toBe(threadId);
  });

  it('brings errors back through the future', async () => {
    const outcome = await loop.runUntilComplete(async () => {
      const thrown = loop.runInExecutor(null, { module: work, name: 'explode' }, 'too big');
      const missing = loop.runInExecutor(null, { module: work, name: 'nope' });
      const unbound = loop.runInExecutor(null, () => outerVariable);
      return Promise.allSettled([thrown, missing, unbound]);
    });
    expect(outcome[0]).toMatchObject({ status: 'rejected', reason: expect.any(RangeError) });
    expect((outcome[0] as PromiseRejectedResult).reason.message).toBe('too big');
    expect((outcome[1] as PromiseRejectedResult).reason.message).toMatch(/not a function/);
    // Only the function's source crosses: names from its closure are undefined over there.
    expect((outcome[2] as PromiseRejectedResult).reason).toBeInstanceOf(ReferenceError);
  });

  it('rejects what is neither a function nor a reference', async () => {
    const future = loop.runInExecutor(null, 'fib' as never);
    await expect(loop.runUntilComplete(future)).rejects.toThrow(/fn must be a self-contained function or a \{module, name\}/);
  });

  it('shutdownDefaultExecutor waits for submitted work, then the default executor takes no more (asyncio 3.13)', async () => {
    const future = loop.runInExecutor<number>(null, { module: work, name: 'fib' }, 25);
    await loop.shutdownDefaultExecutor();
    expect(future.done()).toBe(true);
    expect(future.result()).toBe(75025);
    expect(() => loop.runInExecutor(null, (x: number) => x + 1, 1)).toThrow(new RuntimeError('Executor shutdown has been called'));
  });
});

describe('a custom executor', () => {
  it('receives fn and args, and its result settles the future', async () => {
    const calls: unknown[] = [];
    const inline: Executor = {
      async submit<R>(fn: unknown, args: unknown[]): Promise<R> {
        calls.push(args);
        return (fn as (...a: unknown[]) => R)(...args);
      },
      async shutdown() {},
    };
    expect(await loop.runUntilComplete(loop.runInExecutor(inline, (a: number) => a * 2, 21))).toBe(42);
    expect(calls).toEqual([[21]]);
  });

  it('an object without submit is a TypeError', () => {
    expect(() => loop.runInExecutor({} as never, () => 1)).toThrow(/executor must be an Executor/);
  });

  it('a WorkerThreadExecutor refuses work after shutdown', async () => {
    const pool = new WorkerThreadExecutor(1);
    expect(await pool.submit((x: number) => x * 3, [5])).toBe(15);
    await pool.shutdown(true);
    await expect(pool.submit(() => 1, [])).rejects.toBeInstanceOf(RuntimeError);
    expect(() => new WorkerThreadExecutor(0)).toThrow(RangeError);
  });
});

declare const outerVariable: number;
