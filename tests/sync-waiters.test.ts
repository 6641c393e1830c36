/**
 * Event.wait, Lock.acquire and Semaphore.acquire wait with no async function of their own
 * (promise-waiter.ts): the task making the call must still await the waiter as `await fut`
 * would (cancellation, the snapshot's "awaiting"), and resume as asyncio's tasks do.
 */
import { describe, expect, it } from 'vitest';
import {
  CancelledError,
  Event,
  Lock,
  RuntimeError,
  Semaphore,
  currentTask,
  sleep,
} from '@loopkit/core';
import { awaiting, withLoop } from './support/base-loop.js';

/** Each primitive in a state where the waiting call has to wait. */
async function blocked(): Promise<Array<[string, () => Promise<unknown>, { toString(): string }]>> {
  const event = new Event();
  const lock = new Lock();
  await lock.acquire();
  const semaphore = new Semaphore(0);
  return [
    ['Event.wait', () => event.wait(), event],
    ['Lock.acquire', () => lock.acquire(), lock],
    ['Semaphore.acquire', () => semaphore.acquire(), semaphore],
  ];
}

describe('waiting on a sync primitive', () => {
  it('the waiting task awaits a future: shown as awaiting, cancelled through it with its message, leaving no waiter behind', () =>
    withLoop(async (loop) => {
      for (const [name, waitOn, primitive] of await blocked()) {
        const task = loop.createTask(waitOn);
        await sleep(0);
        expect(awaiting(task), name).not.toBeNull();
        expect(String(primitive), name).toMatch(/waiters:1/);
        task.cancel(`stop ${name}`);
        const error = await task.then(
          () => null,
          (e: unknown) => e,
        );
        expect(error, name).toBeInstanceOf(CancelledError);
        expect((error as Error).message, name).toBe(`stop ${name}`);
        expect(task.cancelled(), name).toBe(true);
        expect(String(primitive), name).not.toMatch(/waiters/);
      }
    }));

  it('a cancellation requested earlier in the same step is raised at the wait', () =>
    withLoop(async (loop) => {
      for (const [name, waitOn, primitive] of await blocked()) {
        const task = loop.createTask(async () => {
          currentTask()!.cancel('early');
          await waitOn();
        });
        const error = await task.then(
          () => null,
          (e: unknown) => e,
        );
        expect(error, name).toBeInstanceOf(CancelledError);
        expect((error as Error).message, name).toBe('early');
        expect(String(primitive), name).not.toMatch(/waiters/);
      }
    }));

  it('waiters resume in FIFO order, each in its turn among the callbacks queued after the wake-up', () =>
    withLoop(async (loop) => {
      const event = new Event();
      const order: string[] = [];
      const tasks = [1, 2].map((n) =>
        loop.createTask(async () => {
          await event.wait();
          order.push(`task ${n}`);
          await sleep(0);
          order.push(`task ${n} again`);
        }),
      );
      await sleep(0);
      event.set();
      loop.callSoon(() => order.push('callback'));
      for (const task of tasks) await task;
      expect(order).toEqual(['task 1', 'task 2', 'callback', 'task 1 again', 'task 2 again']);
      expect(tasks.map((task) => awaiting(task))).toEqual([null, null]);
    }));

  it('a Lock waiter woken then cancelled before it resumes passes the lock on', () =>
    withLoop(async (loop) => {
      const lock = new Lock();
      await lock.acquire();
      const first = loop.createTask(() => lock.acquire());
      const second = loop.createTask(() => lock.acquire());
      await sleep(0);
      lock.release(); // wakes `first`...
      first.cancel(); // ...which is cancelled before it resumes
      await first.then(
        () => null,
        () => null,
      );
      expect(first.cancelled()).toBe(true);
      expect(await second).toBe(true);
      expect(lock.locked()).toBe(true);
    }));

  it('waiters leaving from anywhere in the line (front half, back half, the ends) keep the others in order', () =>
    withLoop(async (loop) => {
      for (const leaving of [[0], [1], [2], [5], [6], [7], [1, 6], [0, 7], [0, 1, 2, 3]]) {
        const lock = new Lock();
        await lock.acquire();
        const order: number[] = [];
        const waiters = Array.from({ length: 8 }, (_, n) =>
          loop.createTask(async () => {
            await lock.acquire();
            order.push(n);
            lock.release();
          }),
        );
        await sleep(0);
        for (const n of leaving) waiters[n]!.cancel();
        await sleep(0);
        lock.release();
        for (const waiter of waiters) await waiter.then(() => null, () => null);
        expect(order, `leaving ${leaving}`).toEqual([0, 1, 2, 3, 4, 5, 6, 7].filter((n) => !leaving.includes(n)));
        expect(String(lock)).toBe('<Lock [unlocked]>');
      }
    }));

  it('works outside any task, and from another loop rejects the call instead of throwing', async () => {
    const event = new Event();
    await withLoop(async (loop) => {
      const seen: unknown[] = [];
      loop.callSoon(() => {
        void event.wait().then((value) => seen.push(value));
      });
      await sleep(0);
      event.set();
      await sleep(0);
      expect(seen).toEqual([true]);
      event.clear();
    });
    await withLoop(async () => {
      let promise: Promise<unknown> | null = null;
      expect(() => {
        promise = event.wait();
      }).not.toThrow();
      await expect(promise).rejects.toBeInstanceOf(RuntimeError);
    });
  });
});

describe("a task whose coroutine function returns the waiting call's promise (() => event.wait())", () => {
  it('ends with the call: its value, or cancelled with the message; the promise still settles for others, with no unhandled rejection', () =>
    withLoop(async (loop) => {
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown): void => {
        unhandled.push(reason);
      };
      process.on('unhandledRejection', onUnhandled);
      try {
        for (const [name, waitOn, primitive] of await blocked()) {
          const seen: string[] = [];
          const task = loop.createTask(() => {
            const promise = waitOn();
            promise.then(
              (value) => seen.push(`value ${value}`),
              (error: Error) => seen.push(`error ${error.message}`),
            );
            return promise;
          });
          await sleep(0);
          expect(awaiting(task), name).not.toBeNull();
          task.cancel(`stop ${name}`);
          await expect(task, name).rejects.toThrow(`stop ${name}`);
          await sleep(0);
          expect(seen, name).toEqual([`error stop ${name}`]);
          expect(String(primitive), name).not.toMatch(/waiters/);
        }
        const event = new Event();
        const cancelled = loop.createTask(() => event.wait());
        await sleep(0);
        cancelled.cancel();
        await expect(cancelled).rejects.toThrow(CancelledError);
        const task = loop.createTask(() => event.wait());
        const other = loop.createTask(() => {
          const promise = event.wait();
          return promise.then((value) => `then ${value}`); // not the call's promise: watched as any
        });
        await sleep(0);
        event.set();
        expect(await task).toBe(true);
        expect(await other).toBe('then true');
        await new Promise((resolve) => setImmediate(resolve));
        expect(unhandled).toEqual([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    }));

  it('its first step is over when the body returns, as with a returned Future: the batch goes on before the microtasks the body queued', () =>
    withLoop(async (loop) => {
      const event = new Event();
      const orders: Record<string, string[]> = {};
      for (const [name, waitOn] of [
        ['Future', () => sleep(5)],
        ['Event.wait', () => event.wait()],
      ] as const) {
        const order: string[] = [];
        const task = loop.createTask(() => {
          queueMicrotask(() => order.push('microtask of the body'));
          return waitOn();
        });
        loop.callSoon(() => order.push('next callback'));
        await sleep(0);
        orders[name] = order;
        task.cancel();
        await expect(task).rejects.toThrow(CancelledError);
      }
      expect(orders['Event.wait']).toEqual(['next callback', 'microtask of the body']);
      expect(orders['Event.wait']).toEqual(orders['Future']);
      // An async body that awaits the call still ends its step once the job is over.
      const order: string[] = [];
      const task = loop.createTask(async () => {
        queueMicrotask(() => order.push('microtask of the body'));
        await event.wait();
      });
      loop.callSoon(() => order.push('next callback'));
      await sleep(0);
      expect(order).toEqual(['microtask of the body', 'next callback']);
      event.set();
      await task;
    }));

  it('a Lock acquired that way is held once the task is done, and a waiter woken then cancelled passes it on', () =>
    withLoop(async (loop) => {
      const lock = new Lock();
      await lock.acquire();
      const first = loop.createTask(() => lock.acquire());
      const second = loop.createTask(() => lock.acquire());
      const third = loop.createTask(() => lock.acquire());
      await sleep(0);
      lock.release(); // wakes `first`, cancelled before it resumes: `second` gets the lock
      first.cancel('not now');
      await expect(first).rejects.toThrow('not now');
      expect(await second).toBe(true);
      expect(lock.locked()).toBe(true);
      lock.release();
      expect(await third).toBe(true);
      expect(lock.locked()).toBe(true);
    }));
});
