/** Sync primitives: Lock, Event, Condition, Semaphore, BoundedSemaphore, Barrier. */
import { expect } from './expect.js';
import { describe, it } from './kit.js';
import { rule } from './rules.js';
import {
  Barrier,
  BoundedSemaphore,
  BrokenBarrierError,
  CancelledError,
  Condition,
  Event,
  Lock,
  RuntimeError,
  Semaphore,
  gather,
  sleep,
} from '@loopkit/core';
import { withLoop, type LoopUnderTest } from './context.js';
import { failure } from './helpers.js';

export function lockSuite(subject: LoopUnderTest): void {
  describe('Lock', () => {
    it('is taken and released in FIFO order', rule('a Lock is granted to its waiters in the order they asked (FIFO)', () =>
      withLoop(subject, async (loop) => {
        const lock = new Lock();
        const order: number[] = [];
        const worker = (n: number) => async () => {
          await lock.acquire();
          try {
            order.push(n);
            await sleep(0);
          } finally {
            lock.release();
          }
        };
        expect(lock.locked()).toBe(false);
        expect(await lock.acquire()).toBe(true);
        const tasks = [1, 2, 3].map((n) => loop.createTask(worker(n)));
        await sleep(0);
        expect(lock.locked()).toBe(true);
        expect(String(lock)).toMatch(/locked, waiters:3/);
        lock.release();
        await gather(...tasks);
        expect(order).toEqual([1, 2, 3]);
        expect(lock.locked()).toBe(false);
      })));

    it('a waiter cancelled in the middle of the queue leaves the order intact', () =>
      withLoop(subject, async (loop) => {
        const lock = new Lock();
        const order: number[] = [];
        await lock.acquire();
        const tasks = [1, 2, 3, 4].map((n) =>
          loop.createTask(async () => {
            await lock.acquire();
            order.push(n);
            lock.release();
          }),
        );
        await sleep(0);
        tasks[1]!.cancel();
        tasks[2]!.cancel();
        await sleep(0);
        lock.release();
        await gather(...tasks, { returnExceptions: true });
        expect(order).toEqual([1, 4]);
      }));

    it('releasing an unlocked lock throws RuntimeError', () =>
      withLoop(subject, async () => {
        expect(() => new Lock().release()).toThrow(RuntimeError);
        expect(() => new Lock().release()).toThrow(/^Lock is not acquired\.$/); // asyncio's text
      }));

    it('a waiter cancelled after release woke it passes the turn on', rule('a lock waiter cancelled after being woken passes the lock to the next waiter instead of losing it', () =>
      withLoop(subject, async (loop) => {
        const lock = new Lock();
        await lock.acquire();
        const first = loop.createTask(() => lock.acquire());
        const second = loop.createTask(async () => {
          await lock.acquire();
          return 'second has it';
        });
        await sleep(0);
        lock.release(); // wakes `first`...
        first.cancel(); // ...which gives up before it runs
        expect(await failure(first)).toBeInstanceOf(CancelledError);
        expect(await second).toBe('second has it');
        expect(lock.locked()).toBe(true);
      })));

    it('cancelled waiters do not hold the queue', () =>
      withLoop(subject, async (loop) => {
        const lock = new Lock();
        await lock.acquire();
        const quitter = loop.createTask(() => lock.acquire());
        await sleep(0);
        quitter.cancel(); // its waiter is cancelled but still queued until the task runs
        lock.release();
        expect(await lock.acquire()).toBe(true);
        expect(await failure(quitter)).toBeInstanceOf(CancelledError);
        expect(lock.locked()).toBe(true);
      }));

    it('binds to the first loop that waits on it; waiting from another throws RuntimeError', async () => {
      const lock = new Lock();
      await withLoop(subject, async (loop) => {
        await lock.acquire();
        const waiter = loop.createTask(() => lock.acquire());
        await sleep(0);
        lock.release();
        await waiter;
        lock.release();
      });
      await withLoop(subject, async (loop) => {
        await lock.acquire();
        const waiter = loop.createTask(() => lock.acquire());
        expect(await failure(waiter)).toBeInstanceOf(RuntimeError);
      });
    });
  });

  describe('Event', () => {
    it('wait() resolves for every waiter once set; clear() makes it wait again', () =>
      withLoop(subject, async (loop) => {
        const event = new Event();
        const waiters = [1, 2].map(() => loop.createTask(() => event.wait()));
        await sleep(0);
        expect(event.isSet()).toBe(false);
        expect(waiters.some((w) => w.done())).toBe(false);
        event.set();
        expect(await gather(...waiters)).toEqual([true, true]);
        expect(await event.wait()).toBe(true);
        event.clear();
        expect(event.isSet()).toBe(false);
        const again = loop.createTask(() => event.wait());
        await sleep(0.01);
        expect(again.done()).toBe(false);
        again.cancel();
        await failure(again);
      }));
  });

  describe('Condition', () => {
    it('notify(n) wakes n waiters, notifyAll the rest; each re-acquires the lock', () =>
      withLoop(subject, async (loop) => {
        const cond = new Condition();
        const woke: number[] = [];
        const waiter = (n: number) => async () => {
          await cond.acquire();
          try {
            expect(await cond.wait()).toBe(true);
            expect(cond.locked()).toBe(true);
            woke.push(n);
          } finally {
            cond.release();
          }
        };
        const tasks = [1, 2, 3].map((n) => loop.createTask(waiter(n)));
        await sleep(0);
        await cond.acquire();
        cond.notify(2);
        cond.release();
        await sleep(0.01);
        expect(woke).toEqual([1, 2]);
        await cond.acquire();
        cond.notifyAll();
        cond.release();
        await gather(...tasks);
        expect(woke).toEqual([1, 2, 3]);
      }));

    it('waitFor(predicate) waits until it holds and gives its value', () =>
      withLoop(subject, async (loop) => {
        const cond = new Condition();
        let value = 0;
        const watcher = loop.createTask(async () => {
          await cond.acquire();
          try {
            return await cond.waitFor(() => value >= 2 && value);
          } finally {
            cond.release();
          }
        });
        for (let i = 0; i < 2; i++) {
          await sleep(0);
          await cond.acquire();
          value += 1;
          cond.notifyAll();
          cond.release();
        }
        expect(await watcher).toBe(2);
      }));

    it('a cancelled wait() takes the lock back before CancelledError leaves it', () =>
      withLoop(subject, async (loop) => {
        const cond = new Condition();
        let lockedWhenCancelled: boolean | null = null;
        const task = loop.createTask(async () => {
          await cond.acquire();
          try {
            await cond.wait();
          } catch (e) {
            lockedWhenCancelled = cond.locked();
            throw e;
          } finally {
            cond.release();
          }
        });
        await sleep(0);
        expect(cond.locked()).toBe(false);
        task.cancel();
        expect(await failure(task)).toBeInstanceOf(CancelledError);
        expect(lockedWhenCancelled).toBe(true);
        expect(cond.locked()).toBe(false);
      }));

    it('wait and notify need the lock; a given lock is shared; a bad lock is a TypeError', () =>
      withLoop(subject, async () => {
        const lock = new Lock();
        const cond = new Condition(lock);
        expect(await failure(cond.wait())).toBeInstanceOf(RuntimeError);
        expect(() => cond.notify()).toThrow(RuntimeError);
        await lock.acquire();
        expect(cond.locked()).toBe(true);
        cond.release();
        expect(lock.locked()).toBe(false);
        expect(() => new Condition({} as never)).toThrow(TypeError);
      }));
  });

  describe('Semaphore', () => {
    it('counts free slots and queues waiters FIFO', () =>
      withLoop(subject, async (loop) => {
        const sem = new Semaphore(2);
        const order: number[] = [];
        await sem.acquire();
        await sem.acquire();
        expect(sem.locked()).toBe(true);
        const tasks = [1, 2, 3].map((n) =>
          loop.createTask(async () => {
            await sem.acquire();
            order.push(n);
          }),
        );
        await sleep(0);
        sem.release();
        await sleep(0);
        expect(order).toEqual([1]);
        sem.release();
        sem.release();
        await gather(...tasks);
        expect(order).toEqual([1, 2, 3]);
        expect(new Semaphore().locked()).toBe(false);
      }));

    it('a waiter woken then cancelled gives its slot to the next one', () =>
      withLoop(subject, async (loop) => {
        const sem = new Semaphore(0);
        const first = loop.createTask(() => sem.acquire());
        const second = loop.createTask(async () => {
          await sem.acquire();
          return 'second';
        });
        await sleep(0);
        sem.release();
        first.cancel();
        await failure(first);
        expect(await second).toBe('second');
        expect(sem.locked()).toBe(true);
      }));

    it('rejects a negative or fractional value; BoundedSemaphore refuses over-release', () =>
      withLoop(subject, async () => {
        expect(() => new Semaphore(-1)).toThrow(RangeError);
        expect(() => new Semaphore(1.5)).toThrow(TypeError);
        const bounded = new BoundedSemaphore(1);
        expect(() => bounded.release()).toThrow(RangeError);
        await bounded.acquire();
        bounded.release();
        expect(() => bounded.release()).toThrow(/too many/);
      }));
  });

  describe('Barrier', () => {
    it('lets all parties through together, gives distinct indices, and cycles', () =>
      withLoop(subject, async (loop) => {
        const barrier = new Barrier(3);
        expect(barrier.parties).toBe(3);
        for (let round = 0; round < 2; round++) {
          const passed: number[] = [];
          const tasks = [0, 1].map(() =>
            loop.createTask(async () => {
              const index = await barrier.wait();
              passed.push(index);
            }),
          );
          await sleep(0.01);
          expect(barrier.nWaiting).toBe(2);
          expect(passed).toEqual([]);
          passed.push(await barrier.wait());
          await gather(...tasks);
          expect(passed.sort()).toEqual([0, 1, 2]);
          expect(barrier.nWaiting).toBe(0);
        }
      }));

    it('abort() breaks it for current and future waiters', () =>
      withLoop(subject, async (loop) => {
        const barrier = new Barrier(2);
        const waiter = loop.createTask(() => barrier.wait());
        await sleep(0);
        await barrier.abort();
        expect(await failure(waiter)).toBeInstanceOf(BrokenBarrierError);
        expect(barrier.broken).toBe(true);
        expect(await failure(barrier.wait())).toBeInstanceOf(BrokenBarrierError);
      }));

    it('reset() breaks current waiters and leaves it usable', () =>
      withLoop(subject, async (loop) => {
        const barrier = new Barrier(2);
        const waiter = loop.createTask(() => barrier.wait());
        await sleep(0);
        await barrier.reset();
        expect(await failure(waiter)).toBeInstanceOf(BrokenBarrierError);
        expect(barrier.broken).toBe(false);
        const again = loop.createTask(() => barrier.wait());
        expect(await barrier.wait()).toBeGreaterThanOrEqual(0);
        await again;
      }));

    it('rejects fewer than one party', () =>
      withLoop(subject, async () => {
        expect(() => new Barrier(0)).toThrow(RangeError);
        expect(() => new Barrier('2' as never)).toThrow(TypeError);
      }));
  });
}
