/** Scenarios of CPython's test_asyncio/test_tasks.py (3.13), on the loops users get. */
import { expect, expectTypeOf, it } from 'vitest';
import {
  ALL_COMPLETED,
  CancelledError,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  Future,
  RuntimeError,
  Task,
  TimeoutError,
  allTasks,
  asCompleted,
  createTask,
  currentTask,
  ensureFuture,
  gather,
  shield,
  sleep,
  wait,
} from 'loopkit';
import { afterIterations, onEachLoop, rejection, runIn } from './loops.js';

onEachLoop('test_tasks', (make) => {
  it('test_cancel_awaited_task: a task that cancelled itself cancels the task it awaits next', () =>
    runIn(make, async (loop) => {
      const fut = loop.createFuture();
      let nested!: Task<unknown>;
      const task: Task<unknown> = createTask(async () => {
        nested = createTask(async () => await fut);
        await sleep(0);
        task.cancel();
        await nested;
      });
      expect(await rejection(task)).toBeInstanceOf(CancelledError);
      expect(task.cancelled()).toBe(true);
      expect(nested.cancelled()).toBe(true);
      expect(fut.cancelled()).toBe(true);
    }));

  it('test_cancel_yield / inner future / both: cancelling a task cancels the future it awaits', () =>
    runIn(make, async (loop) => {
      const f = loop.createFuture();
      const t = createTask(async () => await f);
      await sleep(0);
      expect(t.cancel()).toBe(true);
      expect(t.cancel()).toBe(true); // already cancelling: asyncio counts again and says True
      expect(t.cancelling()).toBe(2);
      expect(await rejection(t)).toBeInstanceOf(CancelledError);
      expect(f.cancelled()).toBe(true);
      expect(t.cancelled()).toBe(true);
      expect(t.cancel()).toBe(false);

      const f2 = loop.createFuture();
      const t2 = createTask(async () => await f2);
      await sleep(0);
      f2.cancel();
      t2.cancel();
      expect(await rejection(t2)).toBeInstanceOf(CancelledError);
      expect(t2.cancelled()).toBe(true);
    }));

  it('test_cancel_task_catching / ignoring: a task that catches the cancellation goes on', () =>
    runIn(make, async (loop) => {
      const fut1 = loop.createFuture<number>();
      const fut2 = loop.createFuture<number>();
      const t = createTask(async () => {
        await fut1;
        try {
          await fut2;
        } catch (e) {
          if (!(e instanceof CancelledError)) throw e;
          return 42;
        }
        return 0;
      });
      await sleep(0);
      fut1.setResult(1);
      await sleep(0);
      t.cancel();
      expect(await t).toBe(42);
      expect(t.cancelled()).toBe(false);
      expect(t.cancelling()).toBe(1);

      const fut3 = loop.createFuture<number>();
      const t2 = createTask(async () => {
        try {
          await fut3;
        } catch {
          // ignored
        }
        const res = loop.createFuture<number>();
        loop.callSoon(() => res.setResult(42));
        return await res;
      });
      await sleep(0);
      t2.cancel();
      expect(await t2).toBe(42);
      expect(t2.cancelled()).toBe(false);
    }));

  it('test_cancel_current_task / test_cancel_at_end', () =>
    runIn(make, async () => {
      const t = createTask(async () => {
        currentTask()!.cancel();
        expect(currentTask()!.cancelling()).toBe(1);
        await sleep(100);
        return 12;
      });
      expect(await rejection(t)).toBeInstanceOf(CancelledError);
      expect(t.cancelled()).toBe(true);

      const t2 = createTask(async () => {
        currentTask()!.cancel();
        return 12;
      });
      expect(await rejection(t2)).toBeInstanceOf(CancelledError);
      expect(t2.cancelled()).toBe(true);
    }));

  it('test_cancel_with_message_then_future_result / exception / before_starting_task', () =>
    runIn(make, async () => {
      // As 3.13's tests: the first read of the cancelled task (result(), exception() or an
      // await) raises the CancelledError its body raised, with the message; a later read
      // gets a new one without (Future._make_cancelled_error consumes _cancelled_exc).
      for (const read of ['result', 'exception'] as const) {
        const task = createTask(() => sleep(10));
        await sleep(0);
        task.cancel('my message');
        await wait([task]);
        let caught: unknown = null;
        try {
          task[read]();
        } catch (e) {
          caught = e;
        }
        expect(caught).toBeInstanceOf(CancelledError);
        expect((caught as Error).message).toBe('my message');
        expect(() => task[read]()).toThrow(CancelledError);
        expect((await rejection(task) as Error).message).toBe('');
      }

      let ran = false;
      const early = createTask(async () => void (ran = true));
      early.cancel('before start');
      const e2 = await rejection(early);
      expect((e2 as Error).message).toBe('before start');
      expect(ran).toBe(false);
    }));

  it('cancel(msg) twice while awaiting: the first message reaches the await, as asyncio 3.13', () =>
    runIn(make, async (loop) => {
      const y = createTask(() => sleep(10));
      const z = createTask(async () => {
        await sleep(10);
      });
      const never = loop.createFuture<void>();
      const g = createTask(function* () {
        yield* never;
      });
      await sleep(0);
      for (const t of [y, z, g]) {
        t.cancel('first');
        t.cancel('second');
      }
      for (const t of [y, z, g]) {
        const error = await rejection(t);
        expect(error).toBeInstanceOf(CancelledError);
        expect((error as Error).message).toBe('first');
      }
    }));

  it('test_uncancel_resets_must_cancel', () =>
    runIn(make, async (loop) => {
      const fut = loop.createFuture();
      const task = createTask(async () => (await fut, 42));
      await sleep(0);
      fut.setResult(null);
      task.cancel();
      expect(task.cancelling()).toBe(1);
      task.uncancel();
      expect(task.cancelling()).toBe(0);
      expect(await task).toBe(42);
    }));

  it('test_uncancel_structured_blocks: a cancel caught and uncancelled leaves the task clean', () =>
    runIn(make, async () => {
      const t = createTask(async () => {
        try {
          await sleep(1);
        } catch (e) {
          if (!(e instanceof CancelledError)) throw e;
          expect(currentTask()!.uncancel()).toBe(0);
        }
        await sleep(0.001);
        return 'survived';
      });
      await sleep(0);
      t.cancel();
      expect(await t).toBe('survived');
      expect(t.cancelling()).toBe(0);
    }));

  it('test_task_awaits_on_itself / test_other_loop_future', () =>
    runIn(make, async () => {
      let self!: Task<unknown>;
      self = createTask(async () => await self);
      const error = await rejection(self);
      expect(error).toBeInstanceOf(RuntimeError);
      expect((error as Error).message).toMatch(/cannot await on itself/);
    }));

  it('test_create_task_with_noncoroutine / test_task_set_methods', () =>
    runIn(make, async () => {
      expect(() => createTask(42 as never)).toThrow(TypeError);
      const t = createTask(async () => 1);
      expect(() => t.setResult(2)).toThrow(RuntimeError);
      expect(() => t.setException(new Error())).toThrow(RuntimeError);
      expect(await t).toBe(1);
    }));

  it('test_bare_create_task / test_current_task_no_running_loop', async () => {
    expect(() => createTask(async () => 1)).toThrow(RuntimeError);
    expect(() => createTask(async () => 1)).toThrow(/no running event loop/);
    expect(currentTask()).toBeNull();
  });

  it('test_current_task_with_interleaving_tasks', () =>
    runIn(make, async (loop) => {
      const fut1 = loop.createFuture();
      const fut2 = loop.createFuture();
      let t1!: Task<void>;
      let t2!: Task<void>;
      t1 = createTask(async () => {
        expect(currentTask()).toBe(t1);
        await fut1;
        expect(currentTask()).toBe(t1);
        fut2.setResult(true);
      });
      t2 = createTask(async () => {
        expect(currentTask()).toBe(t2);
        fut1.setResult(true);
        await fut2;
        expect(currentTask()).toBe(t2);
      });
      await gather(t1, t2);
    }));

  it('test_wait: ALL_COMPLETED with timers; test_wait_first_completed; test_wait_really_done', () =>
    runIn(make, async (loop) => {
      const a = createTask(() => sleep(0.01));
      const b = createTask(() => sleep(0.015));
      const [done, pending] = await wait([b, a]);
      expect(done).toEqual(new Set([a, b]));
      expect(pending.size).toBe(0);

      const c = createTask(() => sleep(10));
      const d = createTask(() => sleep(0.001));
      const [done2, pending2] = await wait([c, d], { returnWhen: FIRST_COMPLETED });
      expect(done2).toEqual(new Set([d]));
      expect(pending2).toEqual(new Set([c]));
      expect(c.done()).toBe(false);
      c.cancel();

      // test_wait_really_done: a task done in the iteration wait() wakes in counts as done too
      const a1 = createTask(() => sleep(0));
      const b1 = createTask(async () => {
        await sleep(0);
        await sleep(0);
      });
      const [done3] = await createTask(() => wait([b1, a1], { returnWhen: FIRST_COMPLETED }));
      expect(done3).toEqual(new Set([a1, b1]));
      void loop;
    }));

  it('test_wait_first_exception / in_wait / test_wait_with_exception', () =>
    runIn(make, async () => {
      const a = createTask(() => sleep(10));
      const b = createTask(async () => {
        throw new ZeroError();
      });
      const [done, pending] = await wait([b, a], { returnWhen: FIRST_EXCEPTION });
      expect(done).toEqual(new Set([b]));
      expect(pending).toEqual(new Set([a]));
      a.cancel();

      const c = createTask(async () => {
        await sleep(0.005);
        throw new ZeroError();
      });
      const d = createTask(() => sleep(10));
      const [done2, pending2] = await wait([c, d], { returnWhen: FIRST_EXCEPTION });
      expect(done2).toEqual(new Set([c]));
      expect(pending2).toEqual(new Set([d]));
      d.cancel();

      const e = createTask(async () => {
        await sleep(0.005);
        throw new ZeroError();
      });
      const f = createTask(() => sleep(0.01));
      const [done3, pending3] = await wait([e, f]);
      expect(done3.size).toBe(2);
      expect(pending3.size).toBe(0);
      expect(e.exception()).toBeInstanceOf(ZeroError);
    }));

  it('test_wait_with_timeout / test_wait_concurrent_complete', () =>
    runIn(make, async (loop) => {
      const a = createTask(() => sleep(0.01));
      const b = createTask(() => sleep(0.5));
      const t0 = loop.time();
      const [done, pending] = await wait([b, a], { timeout: 0.05 });
      expect(done).toEqual(new Set([a]));
      expect(pending).toEqual(new Set([b]));
      expect(loop.time() - t0).toBeLessThan(0.4);
      b.cancel();
    }));

  it('test_wait_errors: an empty set and a bad returnWhen are refused', () =>
    runIn(make, async () => {
      expect(await rejection(wait(new Set<Future<unknown>>()))).toBeInstanceOf(RangeError);
      const f = createTask(() => sleep(0));
      expect(await rejection(wait([f], { returnWhen: -1 as never }))).toBeInstanceOf(RangeError);
      await f;
    }));

  it('test_wait_with_iterator_of_tasks / duplicate futures count once', () =>
    runIn(make, async () => {
      const a = createTask(() => sleep(0.001, 'a'));
      const b = createTask(() => sleep(0.002, 'b'));
      const [done, pending] = await wait([a, b, a].values());
      expect(done).toEqual(new Set([a, b]));
      expect(pending.size).toBe(0);
    }));

  it('test_as_completed: results in completion order; with_timeout; with_unused_timeout', () =>
    runIn(make, async () => {
      const a = createTask(afterIterations(3, 'a'));
      const b = createTask(afterIterations(1, 'b'));
      const c = createTask(afterIterations(2, 'c'));
      const res: string[] = [];
      for (const f of asCompleted([a, b, c])) res.push(await f);
      expect(res).toEqual(['b', 'c', 'a']);

      const slow = createTask(() => sleep(0.5, 'slow'));
      // Done before the timeout's timer exists: its completion is queued ahead of the timeout
      // however long the loop stalls (a task still running loses to a 50 ms stall).
      const fast = createTask(async () => 'fast');
      await fast;
      const got: unknown[] = [];
      for (const f of asCompleted([slow, fast], { timeout: 0.05 })) {
        try {
          got.push(await f);
        } catch (e) {
          got.push(e instanceof TimeoutError ? 'timeout' : e);
        }
      }
      expect(got).toEqual(['fast', 'timeout']);
      slow.cancel();

      const x = createTask(() => sleep(0.001, 'x'));
      for (const f of asCompleted([x], { timeout: 10 })) expect(await f).toBe('x');
    }));

  it('test_as_completed_duplicate_coroutines: the same future twice is yielded once', () =>
    runIn(make, async () => {
      const a = createTask(() => sleep(0.001, 'a'));
      const results: string[] = [];
      for await (const f of asCompleted([a, a])) results.push(await f);
      expect(results).toEqual(['a']);
    }));

  it('test_as_completed_reverse_wait: awaiting the steps out of order still gives completion order', () =>
    runIn(make, async () => {
      const a = createTask(afterIterations(2, 'a'));
      const b = createTask(afterIterations(1, 'b'));
      const steps = [...asCompleted([a, b])];
      expect(steps).toHaveLength(2);
      expect(await steps[1]).toBe('a');
      expect(await steps[0]).toBe('b');
    }));

  it('asCompleted: `for await` gives the done Future; `await fut` is typed and gives the result; next() is typed Future<T>', () =>
    runIn(make, async () => {
      // The first finishes after the second whatever the load (two short sleeps started in two task steps may swap).
      const second = createTask(() => sleep(0.001, 2));
      const numbers = [createTask(async () => (await second) - 1), second];
      const got: number[] = [];
      for await (const fut of asCompleted(numbers)) {
        // TypeScript takes what an async iterable yields as awaited, so it may type `fut` as the
        // result (core README, porting notes): `await fut` is typed and right either way.
        const value = await fut;
        expectTypeOf(value).toEqualTypeOf<number>();
        expect(fut).toBeInstanceOf(Future);
        expect((fut as unknown as Future<number>).done()).toBe(true);
        got.push(value);
      }
      expect(got).toEqual([2, 1]);
      const step = await asCompleted([Promise.resolve('w')]).next();
      expectTypeOf(step).toEqualTypeOf<IteratorResult<Future<string>, undefined>>();
      expect(step.done ? null : step.value.result()).toBe('w');
      for (const next of asCompleted(numbers)) {
        expectTypeOf(next).toEqualTypeOf<Task<number>>();
        expectTypeOf(await next).toEqualTypeOf<number>();
      }
    }));

  it('test_as_completed_invalid_args: one future is refused', () =>
    runIn(make, async (loop) => {
      const fut = loop.createFuture();
      expect(() => asCompleted(fut as never)).toThrow(TypeError);
      fut.cancel();
    }));

  it('test_sleep / test_sleep_cancel', () =>
    runIn(make, async (loop) => {
      const t0 = loop.time();
      expect(await sleep(0.01, 'yeah')).toBe('yeah');
      expect(loop.time() - t0).toBeGreaterThanOrEqual(0.009);
      const t = createTask(() => sleep(10, 'yeah'));
      await sleep(0);
      t.cancel();
      expect(await rejection(t)).toBeInstanceOf(CancelledError);
    }));

  it('test_gather: test_constructor_empty_sequence gives a done future with []', () =>
    runIn(make, async () => {
      const fut = gather();
      expect(fut).toBeInstanceOf(Future);
      expect(fut.done()).toBe(true);
      expect(fut.result()).toEqual([]);
    }));

  it('test_one_exception / test_return_exceptions / test_one_cancellation', () =>
    runIn(make, async (loop) => {
      const [a, b, c, d, e] = [0, 1, 2, 3, 4].map(() => loop.createFuture<number>());
      const fut = gather(a!, b!, c!, d!, e!);
      const cb: unknown[] = [];
      fut.addDoneCallback((f) => cb.push(f));
      a!.setResult(1);
      const exc = new ZeroError();
      b!.setException(exc);
      await sleep(0);
      expect(fut.done()).toBe(true);
      expect(cb).toEqual([]); // done callbacks run one iteration later, through callSoon
      await sleep(0);
      expect(cb).toHaveLength(1);
      expect(cb[0]).toBe(fut);
      expect(fut.exception()).toBe(exc);
      c!.setResult(3);
      d!.cancel();
      e!.setException(new RangeError());
      e!.exception();

      const [p, q, r, s] = [0, 1, 2, 3].map(() => loop.createFuture<number>());
      const fut2 = gather(p!, q!, r!, s!, { returnExceptions: true });
      const exc1 = new ZeroError();
      const exc2 = new RangeError();
      p!.setResult(1);
      q!.setException(exc1);
      r!.setResult(3);
      s!.setException(exc2);
      expect(await fut2).toEqual([1, exc1, 3, exc2]);

      const [x, y] = [0, 1].map(() => loop.createFuture<number>());
      const fut3 = gather(x!, y!);
      x!.setResult(1);
      y!.cancel();
      expect(await rejection(fut3)).toBeInstanceOf(CancelledError);
      expect(fut3.cancelled()).toBe(false); // the gather fails with CancelledError, it is not itself cancelled
    }));

  it('test_result_exception_one_cancellation: returnExceptions collects a CancelledError', () =>
    runIn(make, async (loop) => {
      const [a, b, c] = [0, 1, 2].map(() => loop.createFuture<number>());
      const fut = gather(a!, b!, c!, { returnExceptions: true });
      a!.setResult(1);
      b!.cancel();
      c!.setException(new ZeroError());
      const res = await fut;
      expect(res[0]).toBe(1);
      expect(res[1]).toBeInstanceOf(CancelledError);
      expect(res[2]).toBeInstanceOf(ZeroError);
    }));

  it('test_cancel_gather_2: cancelling a task in gather(returnExceptions) propagates CancelledError with its message', () =>
    runIn(make, async () => {
      for (const args of [[], ['my message']] as const) {
        const qwe = createTask(async () => {
          let time = 0;
          for (;;) {
            time += 0.005;
            await gather(() => sleep(0.005), { returnExceptions: true });
            if (time > 1) return;
          }
        });
        await sleep(0.02);
        qwe.cancel(...args);
        const error = await rejection(qwe);
        expect(error).toBeInstanceOf(CancelledError);
        if (args.length > 0) expect((error as Error).message).toBe(args[0]);
      }
    }));

  it('test_gather_cancel_outer: cancelling the gather with returnExceptions cancels the children and raises', () =>
    runIn(make, async () => {
      const child = createTask(() => sleep(10));
      const outer = gather(child, { returnExceptions: true });
      await sleep(0);
      expect(outer.cancel('stop')).toBe(true);
      const error = await rejection(outer);
      expect(error).toBeInstanceOf(CancelledError);
      expect((error as Error).message).toBe('stop');
      // asyncio's _GatheringFuture fails with the CancelledError rather than being cancelled itself
      expect(outer.cancelled()).toBe(false);
      expect(child.cancelled()).toBe(true);
    }));

  it('test_shield_result / exception / cancel_inner / cancel_outer / shortcut', () =>
    runIn(make, async (loop) => {
      const inner = loop.createFuture<number>();
      const outer = shield(inner);
      inner.setResult(42);
      expect(await outer).toBe(42);

      const inner2 = loop.createFuture<number>();
      const outer2 = shield(inner2);
      const exc = new RangeError();
      inner2.setException(exc);
      expect(await rejection(outer2)).toBe(exc);

      const inner3 = loop.createFuture<number>();
      const outer3 = shield(inner3);
      inner3.cancel();
      await sleep(0);
      expect(outer3.cancelled()).toBe(true);

      const inner4 = loop.createFuture<number>();
      const outer4 = shield(inner4);
      outer4.cancel();
      await sleep(0);
      expect(outer4.cancelled()).toBe(true);
      expect(inner4.cancelled()).toBe(false);
      inner4.setResult(1);

      const done = loop.createFuture<number>();
      done.setResult(42);
      expect(await shield(done)).toBe(42);
    }));

  it('test_shield_cancel_outer_result / exception: no report for the inner outcome nobody reads', () =>
    runIn(make, async (loop, reports) => {
      const inner = loop.createFuture<number>();
      const outer = shield(inner);
      outer.cancel();
      inner.setException(new RangeError('shielded'));
      await sleep(0);
      await sleep(0);
      expect(reports).toEqual([]);
    }));

  it('test_shield_gather / test_gather_shield', () =>
    runIn(make, async (loop) => {
      const c1 = loop.createFuture<number>();
      const c2 = loop.createFuture<number>();
      const parent = gather(c1, c2);
      const outer = shield(parent);
      await sleep(0);
      expect(outer.cancel()).toBe(true);
      await sleep(0);
      expect(outer.cancelled()).toBe(true);
      c1.setResult(1);
      c2.setResult(2);
      expect(await parent).toEqual([1, 2]);

      const d1 = loop.createFuture<number>();
      const d2 = loop.createFuture<number>();
      const inner1 = shield(d1);
      const inner2 = shield(d2);
      const g = gather(inner1, inner2);
      await sleep(0);
      g.cancel();
      expect(await rejection(g)).toBeInstanceOf(CancelledError);
      expect(inner1.cancelled()).toBe(true);
      expect(inner2.cancelled()).toBe(true);
      expect(d1.cancelled()).toBe(false);
      d1.setResult(1);
      d2.setResult(1);
    }));

  it('test_all_tasks / test_ensure_future_task', () =>
    runIn(make, async () => {
      const t = createTask(() => sleep(0.001));
      expect(allTasks().has(t)).toBe(true);
      expect(allTasks().has(currentTask()!)).toBe(true);
      expect(ensureFuture(t)).toBe(t);
      await t;
      expect(allTasks().has(t)).toBe(false);
    }));

  it('test_task_repr / get_name default Task-N', () =>
    runIn(make, async () => {
      const t = createTask(async function notmuch() {
        return 'abc';
      }, { name: 'TestTask' });
      expect(String(t)).toMatch(/^<Task pending name='TestTask' coro=.*notmuch.*>$/);
      await t;
      expect(String(t)).toMatch(/^<Task finished name='TestTask' coro=.*notmuch.* result='abc'>$/);
      const unnamed = createTask(async () => undefined);
      expect(unnamed.getName()).toMatch(/^Task-\d+$/);
      await unnamed;
    }));

  it.skip('test_sleep_when_delay_is_nan: asyncio raises ValueError; API.md rules a TypeError naming delay', () => {});
  it.skip('test_wait_duplicate_coroutines / coroutine objects refused by wait(): a function is a coroutine function here (API.md: it becomes a Task)', () => {});
  it.skip('test_cancellation_exception_context / get_innermost_context: Python-only __context__ chaining', () => {});
  void ALL_COMPLETED;
});

class ZeroError extends Error {}
