/** Scenarios of CPython's test_asyncio/test_waitfor.py (3.13), on the loops users get. */
import { expect, it } from 'vitest';
import { CancelledError, TimeoutError, createTask, shield, sleep, waitFor } from 'loopkit';
import { onEachLoop, rejection, runIn } from './loops.js';

class FooException extends Error {}

onEachLoop('test_waitfor', (make) => {
  it('test_asyncio_wait_for_cancelled: a cancelled future given to waitFor', () =>
    runIn(make, async (loop) => {
      const fut = loop.createFuture();
      fut.cancel();
      expect(await rejection(waitFor(fut, 1))).toBeInstanceOf(CancelledError);
    }));

  it('test_wait_for_timeout_less_then_0_or_0_future_done / coroutine_do_not_started / pending future', () =>
    runIn(make, async (loop) => {
      for (const timeout of [0, -1]) {
        const done = loop.createFuture<string>();
        done.setResult('done');
        expect(await waitFor(done, timeout)).toBe('done');

        let started = false;
        expect(await rejection(waitFor(async () => void (started = true), timeout))).toBeInstanceOf(TimeoutError);
        expect(started).toBe(false);

        const pending = loop.createFuture();
        expect(await rejection(waitFor(pending, timeout))).toBeInstanceOf(TimeoutError);
        expect(pending.cancelled()).toBe(true);
      }
    }));

  it('test_wait_for: the inner task is cancelled at the timeout', () =>
    runIn(make, async (loop) => {
      let foo_running: boolean | null = null;
      const foo = createTask(async () => {
        foo_running = true;
        try {
          await sleep(10);
        } finally {
          foo_running = false;
        }
        return 'done';
      });
      const t0 = loop.time();
      expect(await rejection(waitFor(foo, 0.01))).toBeInstanceOf(TimeoutError);
      expect(loop.time() - t0).toBeLessThan(1);
      expect(foo.done()).toBe(true);
      expect(foo.cancelled()).toBe(true);
      expect(foo_running).toBe(false);
    }));

  it('test_wait_for_blocking / timeout null', () =>
    runIn(make, async () => {
      expect(await waitFor(async () => 'done', null)).toBe('done');
      expect(await waitFor(() => sleep(0.001, 'slept'), null)).toBe('slept');
    }));

  it('test_wait_for_race_condition: a future done before the timeout gives its result', () =>
    runIn(make, async (loop) => {
      const fut = loop.createFuture<string>();
      loop.callLater(0.01, () => fut.setResult('ok'));
      expect(await waitFor(fut, 0.2)).toBe('ok');
    }));

  it('test_wait_for_waits_for_task_cancellation (and with timeout 0)', () =>
    runIn(make, async () => {
      for (const timeout of [0.01, 0]) {
        let taskDone = false;
        const inner = async () => {
          try {
            await sleep(10);
          } catch {
            await sleep(0.01);
            throw new CancelledError();
          } finally {
            taskDone = true;
          }
        };
        const innerTask = createTask(inner);
        await sleep(0);
        expect(await rejection(waitFor(innerTask, timeout))).toBeInstanceOf(TimeoutError);
        expect(taskDone).toBe(true);
      }
    }));

  it('test_wait_for_reraises_exception_during_cancellation', () =>
    runIn(make, async () => {
      const inner = async () => {
        try {
          await sleep(0.2);
        } finally {
          // eslint-disable-next-line no-unsafe-finally
          throw new FooException();
        }
      };
      expect(await rejection(waitFor(inner, 0.01))).toBeInstanceOf(FooException);
    }));

  it('test_wait_for_self_cancellation: the inner task swallows both cancellations and its value comes out (as asyncio 3.13)', () =>
    runIn(make, async () => {
      const innerTask = createTask(async () => {
        try {
          await sleep(0.3);
        } catch {
          try {
            await sleep(0.3);
          } catch {
            await sleep(0.3);
          }
        }
        return 42;
      });
      const task = createTask(() => waitFor(innerTask, 0.1));
      await sleep(0.2);
      task.cancel();
      // asyncio 3.13's wait_for is `async with timeout(): return await fut`: the cancellation
      // went into the inner task, which returned 42, so the outer task returns it too.
      expect(await task).toBe(42);
      expect(await innerTask).toBe(42);
    }));

  it('test_wait_for_cancel_suppressed: an inner task that swallows the cancellation gives its value', () =>
    runIn(make, async () => {
      const res = await waitFor(async () => {
        try {
          await sleep(10);
        } catch {
          return 42;
        }
        return 0;
      }, 0.01);
      expect(res).toBe(42);
    }));

  it('test_wait_for_issue86296: the waiting task cancelled right after the inner one finished', () =>
    runIn(make, async () => {
      const innerTask = createTask(async () => 'done');
      let reachedEnd = false;
      const task = createTask(async () => {
        await waitFor(innerTask, 100);
        await sleep(1);
        reachedEnd = true;
      });
      expect(task.done()).toBe(false);
      await sleep(0);
      task.cancel();
      expect(await rejection(task)).toBeInstanceOf(CancelledError);
      expect(innerTask.done()).toBe(true);
      expect(await innerTask).toBe('done');
      expect(reachedEnd).toBe(false);
    }));

  it('test_cancel_wait_for / test_cancel_blocking_wait_for', () =>
    runIn(make, async () => {
      const t = createTask(() => waitFor(() => sleep(10), 5));
      await sleep(0.005);
      t.cancel();
      expect(await rejection(t)).toBeInstanceOf(CancelledError);
    }));

  it('WaitForShieldTests.test_zero_timeout / test_none_timeout / test_shielded_timeout', () =>
    runIn(make, async () => {
      const task = createTask(() => sleep(0.05));
      expect(await rejection(waitFor(shield(task), 0))).toBeInstanceOf(TimeoutError);
      expect(task.done()).toBe(false);
      expect(task.cancelled()).toBe(false);
      await task;

      const t2 = createTask(() => sleep(0.005, 'none'));
      expect(await waitFor(shield(t2), null)).toBe('none');

      const t3 = createTask(() => sleep(0.05));
      expect(await rejection(waitFor(shield(t3), 0.005))).toBeInstanceOf(TimeoutError);
      expect(t3.done()).toBe(false);
      await t3;
      expect(t3.cancelled()).toBe(false);
    }));
});
