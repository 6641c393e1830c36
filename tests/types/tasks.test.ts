/**
 * API.md's Future, Task and task helpers as a TypeScript user sees them through `loopkit`:
 * results typed by the awaited value (typeshed's `Future[_T]`, `gather`'s tuple overloads,
 * `wait`'s `tuple[set[Future[_T]], set[Future[_T]]]`), with `@ts-expect-error` on the misuse
 * the types must reject; each snippet also runs.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  ALL_COMPLETED,
  AbstractEventLoop,
  CancelledError,
  ExceptionGroup,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  Future,
  Task,
  TaskGroup,
  Timeout,
  TimeoutError,
  allTasks,
  asCompleted,
  createTask,
  currentTask,
  ensureFuture,
  gather,
  isFuture,
  run,
  shield,
  sleep,
  taskGroup,
  timeout,
  timeoutAt,
  wait,
  waitFor,
  wrapFuture,
} from 'loopkit';

describe('Future<T>', () => {
  it('result() is T, exception() null on success, cancel(msg) the CancelledError message, callbacks get the future', async () => {
    await run(async () => {
      const fut = new Future<number>();
      expectTypeOf(fut.result).returns.toEqualTypeOf<number>();
      expectTypeOf(fut.setResult).parameters.toEqualTypeOf<[result: number]>();
      expectTypeOf(fut.cancel).parameters.toEqualTypeOf<[msg?: string]>();
      expectTypeOf(fut.cancel).returns.toEqualTypeOf<boolean>();
      expectTypeOf(fut.getLoop()).toEqualTypeOf<AbstractEventLoop>();
      const seen: number[] = [];
      const cb = (f: Future<number>): void => {
        seen.push(f.result());
      };
      fut.addDoneCallback(cb);
      expectTypeOf(fut.removeDoneCallback(() => undefined)).toEqualTypeOf<number>();
      // @ts-expect-error the result is a number
      void (() => fut.setResult('x'));
      // @ts-expect-error a callback of another future's type
      void (() => fut.addDoneCallback((f: Future<string>) => f.result().length));
      fut.setResult(3);
      expectTypeOf(await fut).toEqualTypeOf<number>();
      await sleep(0);
      expect(seen).toEqual([3]);
      expect(fut.exception()).toBeNull();
      const cancelled = new Future<void>();
      cancelled.cancel('stop');
      const error = await cancelled.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(CancelledError);
      expect((error as CancelledError).message).toBe('stop');
      expect(isFuture(fut)).toBe(true);
      const wrapped = wrapFuture(Promise.resolve('w'));
      expectTypeOf(wrapped).toEqualTypeOf<Future<string>>();
      expect(await wrapped).toBe('w');
      expectTypeOf(ensureFuture(async () => 1)).toEqualTypeOf<Future<number>>();
      expectTypeOf(ensureFuture(Promise.resolve(true))).toEqualTypeOf<Future<boolean>>();
    });
  });

  it('Task<T>: name, coro, cancelling/uncancel, signal; setResult/setException typed never', async () => {
    await run(async () => {
      const task = createTask(async () => 'x', { name: 'job' });
      expectTypeOf(task).toEqualTypeOf<Task<string>>();
      expectTypeOf(task.getName()).toEqualTypeOf<string>();
      task.setName('renamed');
      expectTypeOf(task.getCoro()).toMatchTypeOf<() => PromiseLike<string> | Generator<unknown, string, any>>();
      expectTypeOf(task.cancelling()).toEqualTypeOf<number>();
      expectTypeOf(task.uncancel()).toEqualTypeOf<number>();
      expectTypeOf(task.signal).toEqualTypeOf<AbortSignal>();
      expectTypeOf(task.setResult).returns.toEqualTypeOf<never>();
      expect(() => task.setResult('y')).toThrow();
      expect(await task).toBe('x');
      expect(task.getName()).toBe('renamed');
      expectTypeOf(currentTask()).toEqualTypeOf<Task<unknown> | null>();
      expectTypeOf(allTasks()).toEqualTypeOf<Set<Task<unknown>>>();
      // eslint-disable-next-line require-yield
      const fromGenerator = createTask(function* () {
        const n: number = yield* sleep(0, 5);
        return n * 2;
      });
      expectTypeOf(fromGenerator).toEqualTypeOf<Task<number>>();
      expect(await fromGenerator).toBe(10);
      // @ts-expect-error createTask takes the coroutine function, not a started promise
      void (() => createTask(Promise.resolve(1)));
    });
  });
});

describe('helpers', () => {
  it('sleep(delay, result) resolves to result; gather types a tuple of mixed awaitables', async () => {
    await run(async () => {
      expectTypeOf(await sleep(0)).toEqualTypeOf<undefined>();
      expectTypeOf(await sleep(0, 'r')).toEqualTypeOf<string>();
      const fut = new Future<boolean>();
      fut.setResult(true);
      const all = gather(async () => 1, Promise.resolve('two'), fut, createTask(async () => [3] as const));
      expectTypeOf(all).toEqualTypeOf<Future<[number, string, boolean, readonly [3]]>>();
      expect(await all).toEqual([1, 'two', true, [3]]);
      const settled = gather(
        async () => 1,
        async () => {
          throw new Error('no');
        },
        { returnExceptions: true },
      );
      expectTypeOf(settled).toEqualTypeOf<Future<[unknown, unknown]>>();
      const [one, failed] = await settled;
      expect(one).toBe(1);
      expect(failed).toBeInstanceOf(Error);
      expectTypeOf(gather()).toEqualTypeOf<Future<[]>>();
      // @ts-expect-error gather takes the awaitables spread, not an array
      void (() => gather([async () => 1]));
      // @ts-expect-error a misspelt option (return_exceptions)
      void (() => gather(async () => 1, { return_exceptions: true }));
    });
  });

  it('wait -> [done, pending] Sets of Future<T>; waitFor, shield typed by the awaitable', async () => {
    await run(async () => {
      const tasks = [createTask(async () => 1), createTask(async () => 2)];
      const [done, pending] = await wait(tasks, { timeout: 1, returnWhen: ALL_COMPLETED });
      expectTypeOf(done).toEqualTypeOf<Set<Future<number>>>();
      expectTypeOf(pending).toEqualTypeOf<Set<Future<number>>>();
      expect(done.size).toBe(2);
      await wait([createTask(async () => 'a')], { returnWhen: FIRST_COMPLETED });
      await wait([createTask(async () => 'a')], { returnWhen: FIRST_EXCEPTION });
      // @ts-expect-error returnWhen is one of the three constants
      void (() => wait(tasks, { returnWhen: 'FIRST' }));
      // @ts-expect-error wait takes an iterable of awaitables, not one (a Future is iterable, for yield*)
      void (() => wait(tasks[0]!));
      // @ts-expect-error asCompleted takes an iterable of awaitables, not one
      void (() => asCompleted(tasks[0]!));
      await wait(new Set(tasks));
      await wait((function* () {
        yield* tasks;
      })());
      const value = waitFor(async () => 'ok', 1);
      expectTypeOf(value).toEqualTypeOf<Promise<string>>();
      expect(await value).toBe('ok');
      expectTypeOf(waitFor(Promise.resolve(1), null)).toEqualTypeOf<Promise<number>>();
      await expect(waitFor(sleep(1), 0.001)).rejects.toBeInstanceOf(TimeoutError);
      const shielded = shield(createTask(async () => 7n));
      expectTypeOf(shielded).toEqualTypeOf<Future<bigint>>();
      expect(await shielded).toBe(7n);
    });
  });

  it('asCompleted: iterable of Tasks and async iterable of Futures of T', async () => {
    await run(async () => {
      const results: number[] = [];
      for (const next of asCompleted([async () => 1, async () => 2], { timeout: 1 })) {
        expectTypeOf(next).toEqualTypeOf<Task<number>>();
        results.push(await next);
      }
      for await (const fut of asCompleted([Promise.resolve(3)])) {
        results.push(await fut);
      }
      expect(results.sort()).toEqual([1, 2, 3]);
      // @ts-expect-error a misspelt option
      void (() => asCompleted([async () => 1], { timeOut: 1 }));
    });
  });

  it('timeout/timeoutAt: the scope form resolves to the body value; Timeout has when/reschedule/expired', async () => {
    await run(async () => {
      const v = timeout(1, async (t) => {
        expectTypeOf(t).toEqualTypeOf<Timeout>();
        expectTypeOf(t.when()).toEqualTypeOf<number | null>();
        expectTypeOf(t.expired()).toEqualTypeOf<boolean>();
        t.reschedule(null);
        return 'in time';
      });
      expectTypeOf(v).toEqualTypeOf<Promise<string>>();
      expect(await v).toBe('in time');
      expectTypeOf(timeout(null)).toEqualTypeOf<Timeout>();
      expectTypeOf(timeoutAt(null)).toEqualTypeOf<Timeout>();
      await using t = timeout(1);
      expectTypeOf(t).toEqualTypeOf<Timeout>();
      expect(await timeoutAt(null, async () => 1)).toBe(1);
      // @ts-expect-error the delay is a number of seconds or null
      void (() => timeout('1s'));
    });
  });

  it('TaskGroup: createTask(fn, {name}) is Task<T>; taskGroup(fn) resolves to the body value', async () => {
    await run(async () => {
      const out = await taskGroup(async (tg) => {
        expectTypeOf(tg).toEqualTypeOf<TaskGroup>();
        const t = tg.createTask(async () => 'child', { name: 'c' });
        expectTypeOf(t).toEqualTypeOf<Task<string>>();
        return t;
      });
      // An async body returning the task hands back its result: the language unwraps thenables.
      expectTypeOf(out).toEqualTypeOf<string>();
      expect(out).toBe('child');
      {
        await using tg = new TaskGroup();
        tg.createTask(async () => 1);
        // @ts-expect-error a task's name is a string
        void (() => tg.createTask(async () => 1, { name: 2 }));
      }
      const failed = await taskGroup(async (tg) => {
        tg.createTask(async () => {
          throw new Error('child');
        });
      }).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(ExceptionGroup);
      expectTypeOf((failed as ExceptionGroup).exceptions).toEqualTypeOf<readonly unknown[]>();
    });
  });
});
