/**
 * Session 24: what session 23 left (a task still pending when run() closes its loop, a task made
 * done through Future's own methods, debug mode's done callbacks) and more of test_tasks.py,
 * test_futures.py, test_base_events.py, test_events.py, test_locks.py and test_queues.py, each
 * run beside Python 3.13.0 (the outcome each test asserts is what Python printed for the same
 * scenario), on every loop.
 */
import { describe, expect, it } from 'vitest';
import {
  Future,
  InvalidStateError,
  RuntimeError,
  asCompleted,
  createTask,
  wait,
  getRunningLoop,
  run,
  sleep,
  type ExceptionContext,
  type Task,
} from 'loopkit';
import { onEachLoop, runIn } from './loops.js';

describe('test_log_destroyed_pending_task: a task left pending when run() closes its loop', () => {
  for (const debug of [false, true]) {
    it(`is reported once as "Task was destroyed but it is pending!" with the task${debug ? ' and its creation stack (debug mode)' : ''}`, async () => {
      const reports: ExceptionContext[] = [];
      let late: Task<unknown> | null = null;
      await run(
        async () => {
          getRunningLoop().setExceptionHandler((_loop, context) => reports.push(context));
          createTask(async () => {
            try {
              await sleep(10);
            } finally {
              // Made while run() cancels the tasks left: nobody waits for it.
              late = getRunningLoop().createTask(() => sleep(5), { name: 'late' });
            }
          });
          await sleep(0);
        },
        { debug },
      );
      // Python 3.13.0: ['message', 'task'] (+ 'source_traceback' in debug mode), the task pending.
      expect(reports).toHaveLength(1);
      const report = reports[0]!;
      expect(Object.keys(report).sort()).toEqual(debug ? ['message', 'sourceTraceback', 'task'] : ['message', 'task']);
      expect(report.message).toBe('Task was destroyed but it is pending!');
      expect(report.task).toBe(late);
      expect(String(report.task)).toMatch(/^<Task pending name='late' /);
      if (debug) expect(String(report.sourceTraceback)).toContain('faithful-4.test');
    });
  }

  it('a task that ended before run() returned is not reported', async () => {
    const reports: ExceptionContext[] = [];
    await run(async () => {
      getRunningLoop().setExceptionHandler((_loop, context) => reports.push(context));
      createTask(async () => {
        try {
          await sleep(10);
        } finally {
          getRunningLoop().createTask(() => sleep(0));
        }
      });
      await sleep(0);
    });
    expect(reports).toEqual([]);
  });
});

/** Without --expose-gc (the root vitest config gives it) the collection test is skipped. */
const gc = (globalThis as { gc?: () => void }).gc;

/** Collect until `done()` (or 30 tries), letting the registry's sweep run between tries. */
async function collectUntil(done: () => boolean): Promise<void> {
  for (let i = 0; i < 30 && !done(); i++) {
    gc!();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

onEachLoop('test_set_result_causes_invalid_state: a task made done through Future.prototype', (make) => {
  async function foo(): Promise<number> {
    await sleep(0.01);
    return 10;
  }

  function stepRefused(report: ExceptionContext | undefined): string {
    expect(report?.exception).toBeInstanceOf(InvalidStateError);
    const message = (report!.exception as Error).message;
    expect(message).toMatch(/^_step\(\): already done: <Task /);
    return message;
  }

  it('setResult before its first step: the task gives the value; the step is refused and reported once', () =>
    runIn(make, async (loop, reports) => {
      const task = loop.createTask(foo);
      Future.prototype.setResult.call(task, 'spam');
      expect(await task).toBe('spam');
      await sleep(0.05);
      expect(reports).toHaveLength(1);
      expect(reports[0]!.message).toBe('Exception in callback Task.__step()');
      expect(stepRefused(reports[0])).toMatch(/<Task finished name='Task-\d+' coro=foo\(\) result='spam'> None$/);
    }));

  it('test_set_exception_causes_invalid_state: setException; the task fails with it, the step is reported', () =>
    runIn(make, async (loop, reports) => {
      class MyExc extends Error {}
      const task = loop.createTask(foo);
      Future.prototype.setException.call(task, new MyExc('x'));
      await expect(task).rejects.toBeInstanceOf(MyExc);
      await sleep(0.05);
      expect(reports).toHaveLength(1);
      stepRefused(reports[0]);
    }));

  it("setResult while it awaits: reported when it wakes (Python: 'Exception in callback Task.task_wakeup()')", () =>
    runIn(make, async (loop, reports) => {
      const task = loop.createTask(foo, { name: 'started' });
      await sleep(0);
      Future.prototype.setResult.call(task, 'spam');
      expect(await task).toBe('spam');
      expect(reports).toEqual([]);
      await sleep(0.05);
      expect(reports).toHaveLength(1);
      expect(reports[0]!.message).toBe('Exception in callback Task.task_wakeup()');
      expect(stepRefused(reports[0])).toContain("name='started'");
    }));

  it('Future.prototype.cancel on a task: true, the task cancelled, the step reported; a generator task is not stepped', () =>
    runIn(make, async (loop, reports) => {
      const task = loop.createTask(foo);
      expect(Future.prototype.cancel.call(task)).toBe(true);
      expect(task.cancelled()).toBe(true);
      await sleep(0.05);
      expect(reports).toHaveLength(1);
      expect(stepRefused(reports[0])).toMatch(/<Task cancelled name=/);

      const steps: string[] = [];
      const gen = loop.createTask(function* () {
        steps.push('first');
        yield* sleep(0.01);
        steps.push('second');
        return 10;
      });
      await sleep(0);
      Future.prototype.setResult.call(gen, 'spam');
      await sleep(0.05);
      expect(steps).toEqual(['first']);
      expect(reports).toHaveLength(2);
      expect(reports[1]!.message).toBe('Exception in callback Task.task_wakeup()');
      stepRefused(reports[1]);
    }));

  it.skipIf(gc === undefined)('a task made done from outside is not "destroyed but pending" once collected (a lost pending one is)', () =>
    runIn(make, async (loop, reports) => {
      (() => {
        loop.createTask(() => loop.createFuture(), { name: 'lost' });
        const forced = loop.createTask(async () => {
          await loop.createFuture();
        }, { name: 'forced' });
        // After the loop went idle (its pending tasks then get their weak record).
        loop.callLater(0.01, () => Future.prototype.setResult.call(forced, 1));
      })();
      await sleep(0.02);
      await collectUntil(() => reports.length > 0);
      await sleep(0.05);
      const destroyed = reports.filter((r) => r.message === 'Task was destroyed but it is pending!');
      expect(destroyed.map((r) => String(r.taskDescription))).toEqual([expect.stringMatching(/name='lost'/)]);
    }));
});

onEachLoop('debug mode: core-scheduled done callbacks, callSoonThreadsafe', (make) => {
  it('an async done callback that fails is reported with its creation stack, as a plain one', () =>
    runIn(make, async (loop, reports) => {
      loop.setDebug(true);
      const fut = loop.createFuture<number>();
      fut.addDoneCallback(async function asyncCb() {
        throw new RangeError('boom');
      });
      fut.addDoneCallback(function syncCb() {
        throw new RangeError('boom2');
      });
      fut.setResult(1);
      await sleep(0);
      await sleep(0);
      loop.setDebug(false);
      expect(reports.map((r) => (r.exception as Error).message).sort()).toEqual(['boom', 'boom2']);
      for (const report of reports) {
        expect(report.message).toMatch(/^Exception in callback (asyncCb|syncCb)\(/);
        expect(String(report.sourceTraceback)).toContain('faithful-4.test');
      }
    }));

  it('callSoonThreadsafe queues its own handle, not through a replaced callSoon (asyncio: self._call_soon)', () =>
    runIn(make, async (loop) => {
      const seen: string[] = [];
      const callSoon = loop.callSoon;
      loop.callSoon = (() => {
        throw new RangeError('callSoon replaced');
      }) as typeof loop.callSoon;
      try {
        loop.callSoonThreadsafe(() => seen.push('threadsafe'));
      } finally {
        loop.callSoon = callSoon;
      }
      await sleep(0);
      expect(seen).toEqual(['threadsafe']);
    }));
});

onEachLoop("test_tasks.py's wait()/as_completed() misuse and a task awaiting itself, in 3.13's words", (make) => {
  it('test_wait_errors: the empty set first (ValueError), then return_when; a future instead of a list (TypeError)', () =>
    runIn(make, async (loop) => {
      const fut = loop.createFuture();
      // Python: ValueError 'Set of Tasks/Futures is empty.' even with a bad return_when.
      const empty = await wait([], { returnWhen: 'bad' as never }).catch((error: unknown) => error);
      expect(empty).toBeInstanceOf(RangeError);
      expect((empty as Error).message).toMatch(/^Set of Tasks\/Futures is empty\./);
      const bad = await wait([fut], { returnWhen: 'bad' as never }).catch((error: unknown) => error);
      expect(bad).toBeInstanceOf(RangeError);
      expect((bad as Error).message).toMatch(/^Invalid return_when value: bad\b/);
      // TypeError 'expect a list of futures, not Future'; as_completed's 'expects an iterable of awaitables, not Future'.
      const single = await wait(fut as never).catch((error: unknown) => error);
      expect(single).toBeInstanceOf(TypeError);
      expect((single as Error).message).toMatch(/^expect a list of futures, not Future\b/);
      expect(() => asCompleted(fut as never)).toThrow(/^expects an iterable of awaitables, not Future\b/);
      fut.cancel();
    }));

  it("test_task_awaits_on_itself: RuntimeError 'Task cannot await on itself: <Task pending ...>'", () =>
    runIn(make, async (loop) => {
      const task: Task<void> = loop.createTask(async () => {
        await task;
      });
      const error = await task.then(
        () => null,
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(RuntimeError);
      expect((error as Error).message).toMatch(/^Task cannot await on itself: <Task pending name='Task-\d+' /);

      const gen: Task<void> = loop.createTask(function* () {
        yield* gen;
      });
      await expect(gen).rejects.toThrow(/^Task cannot await on itself: <Task pending /);
    }));
});

onEachLoop("reprs of values in asyncio 3.13's reprlib shape (a future's result, a debug-mode handle's arguments)", (make) => {
  it('a future or task as a value shows its repr; a string past 30 characters keeps 13 and 14 around "..."', () =>
    runIn(make, async (loop) => {
      const inner = loop.createFuture();
      const outer = loop.createFuture();
      outer.setResult(inner);
      // Python: <Future finished result=<Future pending>>
      expect(String(outer)).toBe('<Future finished result=<Future pending>>');
      const long = loop.createFuture<string>();
      long.setResult('x'.repeat(50));
      // Python: <Future finished result='xxxxxxxxxxxx...xxxxxxxxxxxxx'>
      expect(String(long)).toBe(`<Future finished result='${'x'.repeat(12)}...${'x'.repeat(13)}'>`);

      // Python (debug): <Handle print(<Future pending>, 'yyyyyyyyyyyy...yyyyyyyyyyyyy') created at ...>
      loop.setDebug(true);
      const shown = loop.callSoon(function print(..._args: unknown[]) {}, inner, 'y'.repeat(50));
      expect(String(shown)).toBe(`<Handle print(<Future pending>, '${'y'.repeat(12)}...${'y'.repeat(13)}')>`);
      shown.cancel();
      loop.setDebug(false);
      inner.cancel();
    }));
});
