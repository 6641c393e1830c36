/** Scenarios of CPython's test_asyncio/test_locks.py (3.13), on the loops users get. */
import { expect, it } from 'vitest';
import { Barrier, BoundedSemaphore, BrokenBarrierError, CancelledError, Condition, Event, Lock, RuntimeError, Semaphore, createTask, gather, sleep } from 'loopkit';
import { onEachLoop, rejection, runIn } from './loops.js';

onEachLoop('test_locks', (make) => {
  it('LockTests.test_acquire: FIFO among three waiters', () =>
    runIn(make, async () => {
      const lock = new Lock();
      const result: number[] = [];
      expect(await lock.acquire()).toBe(true);
      const c = (n: number) => async () => {
        await lock.acquire();
        result.push(n);
        return true;
      };
      const t1 = createTask(c(1));
      const t2 = createTask(c(2));
      await sleep(0);
      expect(result).toEqual([]);
      lock.release();
      await sleep(0);
      expect(result).toEqual([1]);
      const t3 = createTask(c(3));
      lock.release();
      await sleep(0);
      expect(result).toEqual([1, 2]);
      lock.release();
      await sleep(0);
      expect(result).toEqual([1, 2, 3]);
      expect(await gather(t1, t2, t3)).toEqual([true, true, true]);
    }));

  it('LockTests.test_acquire_cancel / test_cancel_race / test_cancel_release_race / test_finished_waiter_cancelled', () =>
    runIn(make, async () => {
      const lock = new Lock();
      await lock.acquire();
      const task = createTask(() => lock.acquire());
      await sleep(0);
      task.cancel();
      expect(await rejection(task)).toBeInstanceOf(CancelledError);
      expect(String(lock)).toBe('<Lock [locked]>');

      // test_cancel_race: a waiter cancelled after release woke it passes the lock on
      const fa: string[] = [];
      const ta = createTask(async () => {
        await lock.acquire();
        fa.push('a');
        lock.release();
      });
      const tb = createTask(async () => {
        await lock.acquire();
        fa.push('b');
        lock.release();
      });
      await sleep(0);
      lock.release();
      ta.cancel();
      await sleep(0);
      await sleep(0);
      expect(ta.cancelled()).toBe(true);
      await tb;
      expect(fa).toEqual(['b']);
      expect(lock.locked()).toBe(false);

      // test_finished_waiter_cancelled
      await lock.acquire();
      const tc = createTask(() => lock.acquire());
      await sleep(0);
      const td = createTask(() => lock.acquire());
      await sleep(0);
      lock.release();
      tc.cancel();
      await sleep(0);
      expect(await td).toBe(true);
      expect(lock.locked()).toBe(true);
      lock.release();
    }));

  it('LockTests.test_release_not_acquired / test_release_no_waiters / test_repr', () =>
    runIn(make, async () => {
      const lock = new Lock();
      expect(() => lock.release()).toThrow(RuntimeError);
      expect(String(lock)).toBe('<Lock [unlocked]>');
      await lock.acquire();
      expect(lock.locked()).toBe(true);
      lock.release();
      expect(lock.locked()).toBe(false);
      {
        await using _held = await lock.hold();
        expect(lock.locked()).toBe(true);
      }
      expect(lock.locked()).toBe(false);
    }));

  it('EventTests.test_wait / test_wait_on_set / test_clear_with_waiters / test_wait_cancel', () =>
    runIn(make, async () => {
      const ev = new Event();
      expect(ev.isSet()).toBe(false);
      const result: number[] = [];
      const waiters = [1, 2, 3].map((n) => createTask(async () => (await ev.wait(), result.push(n))));
      await sleep(0);
      ev.set();
      // cleared before the waiters ran: they were woken already (asyncio 3.13)
      ev.clear();
      await gather(...waiters);
      expect(result).toEqual([1, 2, 3]);
      expect(ev.isSet()).toBe(false);

      const set = new Event();
      set.set();
      expect(await set.wait()).toBe(true);

      const ev2 = new Event();
      const w = createTask(() => ev2.wait());
      await sleep(0);
      w.cancel();
      expect(await rejection(w)).toBeInstanceOf(CancelledError);
      expect(String(ev2)).toBe('<Event [unset]>');
    }));

  it('ConditionTests.test_wait / test_notify / test_notify_all / unacquired errors', () =>
    runIn(make, async () => {
      const cond = new Condition();
      const result: number[] = [];
      const c = (n: number) => async () => {
        await cond.acquire();
        if (await cond.wait()) result.push(n);
        cond.release();
      };
      const ts = [1, 2, 3].map((n) => createTask(c(n)));
      await sleep(0);
      expect(cond.locked()).toBe(false);
      await cond.acquire();
      cond.notify(1);
      cond.release();
      await sleep(0);
      expect(result).toEqual([1]);
      await cond.acquire();
      cond.notify(1);
      cond.notify(2048);
      cond.release();
      await sleep(0);
      await sleep(0);
      expect(result).toEqual([1, 2, 3]);
      await gather(...ts);

      expect(await rejection(cond.wait())).toBeInstanceOf(RuntimeError);
      expect(() => cond.notify()).toThrow(RuntimeError);
      expect(() => cond.notifyAll()).toThrow(RuntimeError);
    }));

  it('ConditionTests.test_wait_cancel_contested / test_wait_cancel_after_notify / test_cancelled_wakeup', () =>
    runIn(make, async () => {
      const cond = new Condition();
      await cond.acquire();
      const waitTask = createTask(async () => {
        await cond.acquire();
        try {
          await cond.wait();
        } finally {
          // the lock is held again whatever happened
          expect(cond.locked()).toBe(true);
          cond.release();
        }
      });
      await sleep(0);
      cond.release();
      await sleep(0);
      // waiter is in wait(); notify and cancel it: the notification passes to nobody, no hang
      await cond.acquire();
      cond.notify();
      waitTask.cancel();
      cond.release();
      expect(await rejection(waitTask)).toBeInstanceOf(CancelledError);
      expect(cond.locked()).toBe(false);

      // test_cancelled_wakeup: a notified waiter cancelled before waking hands the wake-up on
      const got: string[] = [];
      const waiter = (tag: string) => async () => {
        await cond.acquire();
        try {
          await cond.wait();
          got.push(tag);
        } finally {
          cond.release();
        }
      };
      const wa = createTask(waiter('a'));
      const wb = createTask(waiter('b'));
      await sleep(0);
      await cond.acquire();
      cond.notify(1);
      wa.cancel();
      cond.release();
      expect(await rejection(wa)).toBeInstanceOf(CancelledError);
      await wb;
      expect(got).toEqual(['b']);
    }));

  it('ConditionTests.test_wait_for / test_explicit_lock / test_ambiguous: waitFor returns the predicate value', () =>
    runIn(make, async () => {
      const cond = new Condition();
      let presult = 0;
      const t = createTask(async () => {
        await cond.acquire();
        try {
          return await cond.waitFor(() => presult);
        } finally {
          cond.release();
        }
      });
      await sleep(0);
      await cond.acquire();
      cond.notify();
      cond.release();
      await sleep(0);
      expect(t.done()).toBe(false);
      presult = 7;
      await cond.acquire();
      cond.notify();
      cond.release();
      expect(await t).toBe(7);
      const lock = new Lock();
      const c2 = new Condition(lock);
      await lock.acquire();
      expect(c2.locked()).toBe(true);
      lock.release();
      expect(() => new Condition({} as never)).toThrow(TypeError);
    }));

  it('SemaphoreTests.test_semaphore / test_acquire / test_repr / value errors', () =>
    runIn(make, async () => {
      const sem = new Semaphore();
      expect(String(sem)).toBe('<Semaphore [unlocked, value:1]>');
      expect(await sem.acquire()).toBe(true);
      expect(sem.locked()).toBe(true);
      expect(String(sem)).toBe('<Semaphore [locked]>');
      sem.release();
      expect(() => new Semaphore(-1)).toThrow(RangeError);
      const zero = new Semaphore(0);
      expect(zero.locked()).toBe(true);

      const s3 = new Semaphore(3);
      const result: number[] = [];
      const c = (n: number) => async () => (await s3.acquire(), result.push(n), true);
      await s3.acquire();
      await s3.acquire();
      const ts = [1, 2, 3].map((n) => createTask(c(n)));
      await sleep(0);
      expect(result).toEqual([1]);
      s3.release();
      s3.release();
      await sleep(0);
      expect(result).toEqual([1, 2, 3]);
      await gather(...ts);
      const bounded = new BoundedSemaphore();
      expect(() => bounded.release()).toThrow(RangeError);
    }));

  it('SemaphoreTests.test_acquire_cancel_before_awoken / test_acquire_hang / test_acquire_no_hang / fifo_order', () =>
    runIn(make, async () => {
      const sem = new Semaphore(0);
      const t1 = createTask(() => sem.acquire());
      const t2 = createTask(() => sem.acquire());
      const t3 = createTask(() => sem.acquire());
      const t4 = createTask(() => sem.acquire());
      await sleep(0);
      t1.cancel();
      t2.cancel();
      sem.release();
      await sleep(0);
      await sleep(0);
      const num_done = [t3, t4].filter((t) => t.done()).length;
      expect(num_done).toBe(1);
      expect(t3.done()).toBe(true);
      t4.cancel();
      await gather(t1, t2, t4, { returnExceptions: true });

      // test_acquire_no_hang: a release racing a cancel never leaves a waiter stuck
      const s2 = new Semaphore(1);
      const order: number[] = [];
      const worker = (n: number) => async () => {
        await s2.acquire();
        order.push(n);
        await sleep(0);
        s2.release();
      };
      const ws = [1, 2, 3, 4].map((n) => createTask(worker(n)));
      await sleep(0);
      ws[1]!.cancel();
      await gather(...ws, { returnExceptions: true });
      expect(order).toEqual([1, 3, 4]);
      expect(s2.locked()).toBe(false);
    }));

  it('BarrierTests.test_barrier / test_wait_index / test_reset / test_abort / test_repr', () =>
    runIn(make, async () => {
      const barrier = new Barrier(3);
      expect(String(barrier)).toBe('<Barrier [filling, waiters:0/3]>');
      const indices = await gather(() => barrier.wait(), () => barrier.wait(), () => barrier.wait());
      expect([...indices].sort()).toEqual([0, 1, 2]);
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.broken).toBe(false);

      const b2 = new Barrier(2);
      const w = createTask(() => b2.wait());
      await sleep(0);
      expect(b2.nWaiting).toBe(1);
      await b2.abort();
      expect(await rejection(w)).toBeInstanceOf(BrokenBarrierError);
      expect(b2.broken).toBe(true);
      expect(await rejection(b2.wait())).toBeInstanceOf(BrokenBarrierError);
      await b2.reset();
      expect(b2.broken).toBe(false);
      expect(() => new Barrier(0)).toThrow(RangeError);

      // a waiter cancelled while filling leaves the barrier usable
      const b3 = new Barrier(2);
      const c1 = createTask(() => b3.wait());
      await sleep(0);
      c1.cancel();
      expect(await rejection(c1)).toBeInstanceOf(CancelledError);
      expect(b3.nWaiting).toBe(0);
      expect((await gather(() => b3.wait(), () => b3.wait())).length).toBe(2);
    }));
});
