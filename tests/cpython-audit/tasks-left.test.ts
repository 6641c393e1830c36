/**
 * Scenarios of CPython 3.13's test_tasks.py, test_futures2.py and test_threads.py not in
 * tasks.test.ts: task names and set_name, get_coro, current_task/all_tasks with a loop
 * argument, ensure_future's argument checks and loops, the recursive repr guard, and
 * to_thread. contextvars crossing to the worker thread (test_to_thread_contextvars) has no
 * counterpart: a worker thread gets the function's source, not the caller's async context.
 */
import { expect, it } from 'vitest';
import {
  CancelledError,
  Future,
  RuntimeError,
  allTasks,
  createTask,
  currentTask,
  ensureFuture,
  gather,
  newEventLoop,
  runCoroutineThreadsafe,
  sleep,
  toThread,
  waitFor,
} from 'loopkit';
import { onEachLoop, rejection, runIn } from './loops.js';

onEachLoop('test_tasks (names, coro, current and all tasks)', (make) => {
  it('test_task_set_name / test_task_name: a name given or set is kept as str(name); default names count up', () =>
    runIn(make, async () => {
      const first = createTask(async () => undefined);
      const second = createTask(async () => undefined);
      const [n1, n2] = [first.getName(), second.getName()].map((n) => Number(/^Task-(\d+)$/.exec(n)![1]));
      expect(n2).toBeGreaterThan(n1!);
      const named = createTask(async () => undefined, { name: 'foo' });
      expect(named.getName()).toBe('foo');
      named.setName('bar');
      expect(named.getName()).toBe('bar');
      named.setName(42);
      expect(named.getName()).toBe('42');
      expect(String(named)).toContain("name='42'");
      const numbered = createTask(async () => undefined, { name: 7 as never });
      expect(numbered.getName()).toBe('7');
      await gather(first, second, named, numbered);
    }));

  it('test_get_coro: the coroutine function the task runs', () =>
    runIn(make, async () => {
      const body = async (): Promise<number> => 1;
      const task = createTask(body);
      expect(task.getCoro()).toBe(body);
      expect(await task).toBe(1);
      expect(task.getCoro()).toBe(body);
    }));

  it('test_current_task / test_all_tasks with a loop argument: another loop has none of ours', () =>
    runIn(make, async (loop) => {
      const other = newEventLoop();
      try {
        expect(currentTask(loop)).not.toBeNull();
        expect(currentTask(other)).toBeNull();
        const child = createTask(() => sleep(0.01));
        expect(allTasks(loop).has(child)).toBe(true);
        expect(allTasks(other).size).toBe(0);
        await child;
        expect(allTasks(loop).has(child)).toBe(false);
      } finally {
        other.close();
      }
    }));

  it('test_all_tasks outside a running loop: RuntimeError "no running event loop"', () => {
    expect(() => allTasks()).toThrow(RuntimeError);
    expect(() => allTasks()).toThrow(/no running event loop/);
    expect(currentTask()).toBeNull();
  });

  it('test_ensure_future_neither / _future / _task: bad arguments refused; a future of another loop refused with a loop argument', () =>
    runIn(make, async (loop) => {
      expect(() => ensureFuture('ok' as never)).toThrow(TypeError);
      expect(() => ensureFuture(42 as never)).toThrow(/Future, a coroutine.*or an awaitable is required/);
      const fut = loop.createFuture<number>();
      expect(ensureFuture(fut)).toBe(fut);
      expect(ensureFuture(fut, loop)).toBe(fut);
      const other = newEventLoop();
      try {
        // asyncio: ValueError('The future belongs to a different loop than the one specified as the loop argument')
        expect(() => ensureFuture(fut, other)).toThrow(/different loop/);
        const task = createTask(async () => 1);
        expect(() => ensureFuture(task, other)).toThrow(/different loop/);
        await task;
      } finally {
        other.close();
      }
      fut.cancel();
    }));

  // As asyncio's reprlib.recursive_repr: the task inside its own result is '...' (Python 3.13.0:
  // `result={<Task pending...vents.py:182]>, ...}`, the main task's repr shortened to 30 characters).
  it('test_recursive_repr_for_pending_tasks (test_futures2): a task whose result holds itself has a finite repr', () =>
    runIn(make, async () => {
      const task = createTask(async () => allTasks());
      const result = await waitFor(task, 10);
      expect(result.has(task)).toBe(true);
      const text = String(task);
      expect(text).toMatch(/^<Task finished name='Task-\d+'/);
      expect(text).toMatch(/ result=\{<Task pending\.\.\.omplete_cb\(\)\]>, \.\.\.\}>$/);
    }));
});

onEachLoop('test_threads (toThread)', (make) => {
  it('test_to_thread / test_to_thread_args: a function and its arguments run on a worker thread', () =>
    runIn(make, async () => {
      expect(await toThread((xs: number[]) => xs.reduce((a, b) => a + b, 0), [40, 2])).toBe(42);
      expect(await toThread((a: string, b: { something: boolean }) => `${a}:${b.something}`, 'test', { something: true })).toBe('test:true');
    }));

  it('test_to_thread_exception: the error comes back with its class and message', () =>
    runIn(make, async () => {
      const error = await rejection(toThread(() => {
        throw new RangeError('test');
      }));
      expect(error).toBeInstanceOf(RangeError);
      expect((error as Error).message).toBe('test');
    }));

  it('test_to_thread_once / test_to_thread_concurrent: each call runs once; ten at a time all finish', () =>
    runIn(make, async () => {
      const results = await gather(...Array.from({ length: 10 }, (_, i) => toThread((n: number) => n * 2, i)));
      expect(results).toEqual(Array.from({ length: 10 }, (_, i) => i * 2));
    }));

  it('to_thread outside a running loop: RuntimeError "no running event loop" (get_running_loop)', () => {
    expect(() => toThread(() => 1)).toThrow(/no running event loop/);
  });

  it('to_thread returns a Future: cancelling it cancels the caller\'s wait', () =>
    runIn(make, async () => {
      const fut = toThread((ms: number) => new Promise((resolve) => setTimeout(resolve, ms)), 200);
      expect(fut).toBeInstanceOf(Future);
      fut.cancel();
      expect(fut.cancelled()).toBe(true);
    }));
});

onEachLoop('test_tasks RunCoroutineThreadsafeTests (the target loop given itself)', (make) => {
  it('test_run_coroutine_threadsafe / _with_exception: the result or the error reaches the concurrent future', () =>
    runIn(make, async (loop) => {
      const [a, b] = [1, 2];
      const ok = runCoroutineThreadsafe(loop, async () => a + b);
      expect(await ok).toBe(3);
      expect(ok.result()).toBe(3);
      const failing = runCoroutineThreadsafe(loop, async () => {
        throw new RangeError('Fail!');
      });
      const error = await rejection(failing);
      expect(error).toBeInstanceOf(RangeError);
      expect((error as Error).message).toBe('Fail!');
      expect(failing.exception()).toBe(error);
    }));

  it('test_run_coroutine_threadsafe_task_cancelled / _with_timeout: a cancelled task cancels the future; cancelling the future cancels the task', () =>
    runIn(make, async (loop) => {
      const selfCancelled = runCoroutineThreadsafe(loop, async () => {
        currentTask()!.cancel();
        await sleep(1);
      });
      expect(await rejection(selfCancelled)).toBeInstanceOf(CancelledError);
      expect(selfCancelled.cancelled()).toBe(true);
      let reachedEnd = false;
      const slow = runCoroutineThreadsafe(loop, async () => {
        await sleep(10);
        reachedEnd = true;
      });
      await sleep(0.01);
      expect(slow.cancel()).toBe(true);
      await sleep(0.01);
      expect(reachedEnd).toBe(false);
      for (const task of allTasks(loop)) if (task !== currentTask()) expect(task.done()).toBe(true);
    }));

  it('test_run_coroutine_threadsafe_task_factory_exception: the factory\'s error goes to the future and, once, to the exception handler; the call itself does not throw', () =>
    runIn(make, async (loop, reports) => {
      class FactoryError extends Error {}
      loop.setTaskFactory(() => {
        throw new FactoryError('factory broken');
      });
      let fut: ReturnType<typeof runCoroutineThreadsafe> | null = null;
      let error: unknown;
      try {
        expect(() => (fut = runCoroutineThreadsafe(loop, async () => 1))).not.toThrow();
        error = await rejection(fut!);
      } finally {
        loop.setTaskFactory(null);
      }
      expect(error).toBeInstanceOf(FactoryError);
      await sleep(0);
      expect(reports).toHaveLength(1);
      expect(reports[0]!.exception).toBe(error);
    }));
});
