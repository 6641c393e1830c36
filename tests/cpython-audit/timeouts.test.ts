/** Scenarios of CPython's test_asyncio/test_timeouts.py, on the loops users get. */
import { expect, it } from 'vitest';
import { CancelledError, RuntimeError, TimeoutError, createTask, currentTask, sleep, timeout, timeoutAt, type Timeout } from 'loopkit';
import { busyWait, onEachLoop, rejection, runIn } from './loops.js';

onEachLoop('test_timeouts', (make) => {
  it('test_timeout_basic', () =>
    runIn(make, async () => {
      let cm!: Timeout;
      const error = await rejection(timeout(0.01, async (t) => ((cm = t), await sleep(10))));
      expect(error).toBeInstanceOf(TimeoutError);
      expect(cm.expired()).toBe(true);
    }));

  it('test_timeout_at_basic', () =>
    runIn(make, async (loop) => {
      let cm!: Timeout;
      const deadline = loop.time() + 0.01;
      expect(await rejection(timeoutAt(deadline, async (t) => ((cm = t), await sleep(10))))).toBeInstanceOf(TimeoutError);
      expect(cm.expired()).toBe(true);
      expect(cm.when()).toBe(deadline);
    }));

  it('test_nested_timeouts: only the topmost raises TimeoutError', () =>
    runIn(make, async (loop) => {
      let cancelled = false;
      let cm1!: Timeout;
      let cm2!: Timeout;
      const deadline = loop.time() + 0.01;
      const error = await rejection(
        timeoutAt(deadline, async (t1) => {
          cm1 = t1;
          try {
            await timeoutAt(deadline, async (t2) => ((cm2 = t2), await sleep(10)));
          } catch (e) {
            if (e instanceof CancelledError) cancelled = true;
            throw e;
          }
        }),
      );
      expect(error).toBeInstanceOf(TimeoutError);
      expect(cancelled).toBe(true);
      expect(cm1.expired()).toBe(true);
      expect(cm2.expired()).toBe(true);
    }));

  it('test_waiter_cancelled', () =>
    runIn(make, async () => {
      let cancelled = false;
      const error = await rejection(
        timeout(0.01, async () => {
          try {
            await sleep(10);
          } catch (e) {
            cancelled = e instanceof CancelledError;
            throw e;
          }
        }),
      );
      expect(error).toBeInstanceOf(TimeoutError);
      expect(cancelled).toBe(true);
    }));

  it('test_timeout_not_called', () =>
    runIn(make, async (loop) => {
      const cm = await timeout(10, async (t) => (await sleep(0.01), t));
      expect(cm.expired()).toBe(false);
      expect(cm.when()!).toBeGreaterThan(loop.time());
    }));

  it('test_timeout_disabled / test_timeout_at_disabled', () =>
    runIn(make, async () => {
      for (const cm of [await timeout(null, async (t) => (await sleep(0.01), t)), await timeoutAt(null, async (t) => (await sleep(0.01), t))]) {
        expect(cm.expired()).toBe(false);
        expect(cm.when()).toBeNull();
      }
    }));

  it('test_timeout_zero / zero_sleep_zero / in_the_past_sleep_zero', () =>
    runIn(make, async (loop) => {
      for (const [delay, nap] of [[0, 10], [0, 0], [-11, 0]] as const) {
        const t0 = loop.time();
        let cm!: Timeout;
        expect(await rejection(timeout(delay, async (t) => ((cm = t), await sleep(nap))))).toBeInstanceOf(TimeoutError);
        expect(cm.expired()).toBe(true);
        if (delay === 0) expect(cm.when()!).toBeGreaterThanOrEqual(t0);
        expect(cm.when()!).toBeLessThanOrEqual(loop.time());
      }
    }));

  it('test_foreign_exception_passed', () =>
    runIn(make, async () => {
      let cm!: Timeout;
      const keyError = new Error('KeyError');
      expect(
        await rejection(
          timeout(0.01, async (t) => {
            cm = t;
            throw keyError;
          }),
        ),
      ).toBe(keyError);
      expect(cm.expired()).toBe(false);
    }));

  it('test_foreign_exception_on_timeout', () =>
    runIn(make, async () => {
      const crash = async () => {
        try {
          await sleep(1);
        } finally {
          throw new RangeError('ZeroDivisionError');
        }
      };
      expect(await rejection(timeout(0.01, crash))).toBeInstanceOf(RangeError);
    }));

  it('test_foreign_cancel_doesnt_timeout_if_not_expired', () =>
    runIn(make, async () => {
      let cm!: Timeout;
      const error = await rejection(
        timeout(10, async (t) => {
          cm = t;
          currentTask()!.cancel();
          await sleep(10);
        }),
      );
      expect(error).toBeInstanceOf(CancelledError);
      expect(cm.expired()).toBe(false);
      currentTask()!.uncancel();
    }));

  it('test_outer_task_is_not_cancelled', () =>
    runIn(make, async () => {
      const task = createTask(async () => {
        expect(await rejection(timeout(0.001, () => sleep(10)))).toBeInstanceOf(TimeoutError);
      });
      await task;
      expect(task.cancelled()).toBe(false);
      expect(task.done()).toBe(true);
    }));

  it('test_nested_timeouts_concurrent', () =>
    runIn(make, async () => {
      const error = await rejection(
        timeout(0.002, async () => {
          await timeout(0.1, async () => {
            busyWait(0.01);
            await sleep(1);
          });
        }),
      );
      expect(error).toBeInstanceOf(TimeoutError);
    }));

  it('test_nested_timeouts_loop_busy', () =>
    runIn(make, async (loop) => {
      loop.slowCallbackDuration = 10;
      const t0 = loop.time();
      const error = await rejection(
        timeout(0.1, async () => {
          try {
            await timeout(0.01, async () => {
              busyWait(0.1);
              await sleep(1);
            });
          } catch (e) {
            if (!(e instanceof TimeoutError)) throw e;
          }
          await sleep(10);
        }),
      );
      expect(error).toBeInstanceOf(TimeoutError);
      expect(loop.time() - t0).toBeLessThan(1);
    }));

  it('test_reschedule', () =>
    runIn(make, async (loop) => {
      const fut = loop.createFuture<Timeout>();
      const deadline1 = loop.time() + 10;
      const deadline2 = deadline1 + 20;
      const task = createTask(() => timeoutAt(deadline1, async (cm) => (fut.setResult(cm), await sleep(50))));
      const cm = await fut;
      expect(cm.when()).toBe(deadline1);
      cm.reschedule(deadline2);
      expect(cm.when()).toBe(deadline2);
      cm.reschedule(null);
      expect(cm.when()).toBeNull();
      task.cancel();
      expect(await rejection(task)).toBeInstanceOf(CancelledError);
      expect(cm.expired()).toBe(false);
    }));

  it('test_repr_active / expired / finished / disabled', () =>
    runIn(make, async () => {
      await timeout(10, async (cm) => expect(String(cm)).toMatch(/^<Timeout \[active\] when=\d+\.\d*>$/));
      let expired!: Timeout;
      await rejection(timeout(0.01, async (cm) => ((expired = cm), await sleep(10))));
      expect(String(expired)).toBe('<Timeout [expired]>');
      expect(String(await timeout(10, async (cm) => (await sleep(0), cm)))).toBe('<Timeout [finished]>');
    }));

  it('test_nested_timeout_in_finally', () =>
    runIn(make, async () => {
      const error = await rejection(
        timeout(0.01, async () => {
          try {
            await sleep(1);
          } finally {
            expect(await rejection(timeout(0.01, () => sleep(10)))).toBeInstanceOf(TimeoutError);
          }
        }),
      );
      expect(error).toBeInstanceOf(TimeoutError);
    }));

  it('test_timeout_after_cancellation', () =>
    runIn(make, async () => {
      try {
        currentTask()!.cancel();
        await sleep(1);
      } catch (e) {
        expect(e).toBeInstanceOf(CancelledError);
      } finally {
        expect(await rejection(timeout(0, () => sleep(1)))).toBeInstanceOf(TimeoutError);
      }
      currentTask()!.uncancel();
    }));

  it('test_cancel_in_timeout_after_cancellation', () =>
    runIn(make, async () => {
      try {
        currentTask()!.cancel();
        await sleep(1);
      } catch (e) {
        expect(e).toBeInstanceOf(CancelledError);
      } finally {
        const error = await rejection(
          timeout(1, async () => {
            currentTask()!.cancel();
            await sleep(2);
          }),
        );
        expect(error).toBeInstanceOf(CancelledError);
      }
      currentTask()!.uncancel();
      currentTask()!.uncancel();
    }));

  it('test_timeout_exception_cause: the TimeoutError is caused by the CancelledError', () =>
    runIn(make, async () => {
      const error = (await rejection(timeout(0, () => sleep(1)))) as Error;
      expect(error).toBeInstanceOf(TimeoutError);
      expect(error.cause).toBeInstanceOf(CancelledError);
    }));

  it('test_timeout_finished: reschedule after the scope throws RuntimeError', () =>
    runIn(make, async () => {
      const cm = await timeout(0.01, async (t) => t);
      expect(() => cm.reschedule(0.02)).toThrow(RuntimeError);
      expect(() => cm.reschedule(0.02)).toThrow(/finished/);
    }));

  it('test_timeout_without_task: needs a task', async () => {
    const loop = make();
    try {
      const error = await rejection(loop.runUntilComplete(new Promise((resolve, reject) => loop.callSoon(() => {
        try {
          timeout(0.01);
          resolve(null);
        } catch (e) {
          reject(e);
        }
      }))));
      expect(error).toBeInstanceOf(RuntimeError);
      expect(String((error as Error).message)).toMatch(/task/);
    } finally {
      loop.close();
    }
  });

  it.skip('test_timeout_already_entered / test_timeout_double_enter / test_timeout_not_entered: a Timeout enters when made (no separate __aenter__ in this API)', () => {});
  it.skip('test_timeout_exception_context / _insert_timeout_error: Python-only __context__ chaining', () => {});
});
