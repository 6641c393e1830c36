/**
 * Scenarios of CPython's test_timeouts.py, test_waitfor.py and test_taskgroups.py (3.13) left
 * by timeouts, waitfor and taskgroups.test.ts: a TaskGroup inside a timeout whose child
 * crashes in its cleanup, errors raised in finally blocks after the timeout, reschedule()
 * while expiring, an inner coroutine swallowing waitFor's cancellation, children creating
 * children while the group aborts (the hydra), and createTask while the group shuts down.
 * Outcomes as Python 3.13.0 gives them (`__context__` chains have no JavaScript counterpart).
 */
import { expect, it } from 'vitest';
import {
  CancelledError,
  ExceptionGroup,
  RuntimeError,
  sleep,
  taskGroup,
  timeout,
  waitFor,
  type TaskGroup,
  type Timeout,
} from 'loopkit';
import { onEachLoop, rejection, runIn } from '../contract/loops.js';

onEachLoop('timeouts, waitFor, TaskGroup (left)', (make) => {
  it('test_timeout_taskgroup: the timeout cancels a group whose body fails and whose child crashes in cleanup: an ExceptionGroup of the crash alone', () =>
    runIn(make, async () => {
      const error = await rejection(timeout(0.01, () => taskGroup(async (tg) => {
        tg.createTask(async () => {
          try {
            await sleep(2);
          } finally {
            throw new RangeError('crash in cleanup');
          }
        });
        try {
          throw new TypeError('body');
        } finally {
          await sleep(1);
        }
      })));
      expect(error).toBeInstanceOf(ExceptionGroup);
      const group = error as ExceptionGroup;
      expect(group.errors).toHaveLength(1);
      expect(group.errors[0]).toBeInstanceOf(RangeError);
    }));

  it('test_foreign_exception_on_timeout_2: an error raised in a finally after the timeout cancelled the body is what comes out', () =>
    runIn(make, async () => {
      const error = await rejection(timeout(0.01, async () => {
        try {
          try {
            throw new TypeError('value');
          } finally {
            await sleep(1);
          }
        } finally {
          try {
            throw new Error('key');
          } finally {
            // eslint-disable-next-line no-unsafe-finally
            throw new RangeError('zero division');
          }
        }
      }));
      expect(error).toBeInstanceOf(RangeError);
      expect((error as Error).message).toBe('zero division');
    }));

  it('test_timeout_expiring: reschedule() between the cancellation and the scope end throws RuntimeError saying expiring', () =>
    runIn(make, async () => {
      let rescheduled: unknown = null;
      // The body swallowed the cancellation, so the scope ends without TimeoutError (asyncio's __aexit__ with no exception).
      await timeout(0.01, async (cm: Timeout) => {
        expect(await rejection(sleep(1))).toBeInstanceOf(CancelledError);
        try {
          cm.reschedule(0.02);
        } catch (e) {
          rescheduled = e;
        }
      });
      expect(rescheduled).toBeInstanceOf(RuntimeError);
      expect((rescheduled as Error).message).toMatch(/expiring/);
    }));

  it('test_wait_for_cancellation_race_condition: an inner coroutine that swallows the cancellation gives its value', () =>
    runIn(make, async () => {
      const result = await waitFor(async () => {
        expect(await rejection(sleep(1))).toBeInstanceOf(CancelledError);
        return 1;
      }, 0.01);
      expect(result).toBe(1);
    }));

  it('test_taskgroup_25: children that keep making children while another fails: the group ends with that failure alone', () =>
    runIn(make, async () => {
      let hydras = 0;
      const hydra = async (g: TaskGroup): Promise<void> => {
        hydras++;
        await sleep(0.01);
        g.createTask(() => hydra(g));
        g.createTask(() => hydra(g));
      };
      const error = await rejection(taskGroup(async (g) => {
        g.createTask(() => hydra(g));
        g.createTask(async () => {
          while (hydras < 10) await sleep(0.015);
          throw new RangeError('hercules');
        });
      }));
      expect(error).toBeInstanceOf(ExceptionGroup);
      expect((error as ExceptionGroup).errors.map((e) => (e as Error).message)).toEqual(['hercules']);
      expect(hydras).toBeGreaterThanOrEqual(10);
    }));

  it('createTask while the group shuts down (a child failed) throws RuntimeError "is shutting down", as 3.13', () =>
    runIn(make, async () => {
      let refused: unknown = null;
      await rejection(taskGroup(async (g) => {
        g.createTask(async () => {
          throw new TypeError('child');
        });
        expect(await rejection(sleep(1))).toBeInstanceOf(CancelledError);
        try {
          g.createTask(() => sleep(0));
        } catch (e) {
          refused = e;
        }
      }));
      expect(refused).toBeInstanceOf(RuntimeError);
      expect((refused as Error).message).toMatch(/is shutting down/);
    }));
});
