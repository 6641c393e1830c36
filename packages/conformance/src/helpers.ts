/** Task helpers: sleep, gather, shield, wait, waitFor, asCompleted. */
import { expect } from './expect.js';
import { describe, it } from './kit.js';
import { rule } from './rules.js';
import { afterIterations } from './support/iterations.js';
import {
  ALL_COMPLETED,
  CancelledError,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  Future,
  TimeoutError,
  asCompleted,
  gather,
  isFuture,
  shield,
  sleep,
  wait,
  waitFor,
  type AbstractEventLoop,
} from '@loopkit/core';
import { withLoop, type LoopUnderTest } from './context.js';

/** The rejection of `p` (fails the test if it resolves). */
export async function failure(p: PromiseLike<unknown>): Promise<unknown> {
  return p.then(
    (value) => {
      throw new Error(`expected a rejection, got ${String(value)}`);
    },
    (error: unknown) => error,
  );
}

/** An async function that sleeps `delay` seconds and gives `value` (or throws it if an Error). */
function after<T>(delay: number, value: T): () => Promise<T> {
  return async () => {
    await sleep(delay);
    if (value instanceof Error) throw value;
    return value;
  };
}

/** A Future of `loop` resolved later by a host (Node) timer: the loop idles meanwhile. */
function hostFuture(loop: AbstractEventLoop, ms: number): Future<void> {
  const fut = loop.createFuture<void>();
  setTimeout(() => loop.callSoonThreadsafe(() => fut.setResult()), ms);
  return fut;
}

export function helperSuite(subject: LoopUnderTest): void {
  const exact = subject.caps.virtualTime;

  describe('sleep', () => {
    it('sleep(0) yields exactly one iteration', rule('sleep(0) yields to the loop for exactly one iteration', () =>
      withLoop(subject, async (loop) => {
        const log: string[] = [];
        loop.callSoon(() => {
          log.push('cb');
          loop.callSoon(() => log.push('cb2'));
        });
        await sleep(0);
        log.push('after');
        await sleep(0);
        expect(log).toEqual(['cb', 'after', 'cb2']);
      })));

    it('two tasks sleeping 0 alternate', rule('tasks that sleep(0) take turns, one step each per iteration', () =>
      withLoop(subject, async (loop) => {
        const log: string[] = [];
        const step = (name: string) => async () => {
          for (let i = 0; i < 3; i++) {
            log.push(`${name}${i}`);
            await sleep(0);
          }
        };
        await gather(loop.createTask(step('a')), loop.createTask(step('b')));
        expect(log).toEqual(['a0', 'b0', 'a1', 'b1', 'a2', 'b2']);
      })));

    it('gives its result; timed sleeps take their time', () =>
      withLoop(subject, async (loop) => {
        expect(await sleep(0, 'now')).toBe('now');
        const t0 = loop.time();
        expect(await sleep(0.05, 'later')).toBe('later');
        const elapsed = loop.time() - t0;
        if (exact) expect(elapsed).toBe(0.05);
        else expect(elapsed).toBeGreaterThanOrEqual(0.045);
      }));

    it('NaN and non-numbers throw TypeError naming delay', () =>
      withLoop(subject, async () => {
        expect(() => sleep(Number.NaN)).toThrow(TypeError);
        expect(() => sleep('1' as never)).toThrow(/delay/);
      }));

    it.skipIf(!exact && 'skipped: needs virtual time (a live timer shows only as a clock jump)')('cancelling a sleeping task cancels its timer', () =>
      withLoop(subject, async (loop) => {
        const sleeper = loop.createTask(() => sleep(1000));
        await sleep(0);
        sleeper.cancel();
        // While the loop idles, a live timer at t=1000 would make virtual time jump there.
        await hostFuture(loop, 10);
        expect(sleeper.cancelled()).toBe(true);
        expect(loop.time()).toBeLessThan(1);
      }));
  });

  describe('gather', () => {
    it('gives results in argument order from functions, futures, promises and generators', rule('gather gives its results in argument order, whatever order they complete in', () =>
      withLoop(subject, async (loop) => {
        const fut = loop.createFuture<string>();
        loop.callLater(0.01, () => fut.setResult('future'));
        const results = await gather(
          after(0.03, 'slow'),
          fut,
          Promise.resolve('promise'),
          function* () {
            yield* sleep(0.02);
            return 'generator';
          },
        );
        expect(results).toEqual(['slow', 'future', 'promise', 'generator']);
      })));

    it('returns a Future; no arguments give []', () =>
      withLoop(subject, async () => {
        const empty = gather();
        expect(isFuture(empty)).toBe(true);
        expect(await empty).toEqual([]);
        expect(isFuture(gather(after(0, 1)))).toBe(true);
      }));

    it('the first error propagates at once while the siblings keep running', () =>
      withLoop(subject, async (loop) => {
        const boom = new Error('boom');
        // Wide margins: a loaded machine can stall a real-time loop for tens of milliseconds.
        const sibling = loop.createTask(after(0.3, 'sibling'));
        const t0 = loop.time();
        expect(await failure(gather(after(0.01, boom), sibling))).toBe(boom);
        if (exact) expect(loop.time() - t0).toBe(0.01);
        expect(sibling.done()).toBe(false);
        expect(await sibling).toBe('sibling');
      }));

    it('returnExceptions puts errors and CancelledError in the results', () =>
      withLoop(subject, async (loop) => {
        const boom = new Error('boom');
        const doomed = loop.createTask(after(10, 'never'));
        loop.callLater(0.01, () => doomed.cancel('stop'));
        const results = await gather(after(0.02, 'ok'), after(0, boom), doomed, { returnExceptions: true });
        expect(results[0]).toBe('ok');
        expect(results[1]).toBe(boom);
        expect(results[2]).toBeInstanceOf(CancelledError);
        // A new CancelledError without the message, as asyncio 3.13's gather: the task's own
        // (with it) is left to whoever reads the task.
        expect((results[2] as Error).message).toBe('');
        expect(() => doomed.result()).toThrow('stop');
      }));

    it('a cancelled child fails the gather with CancelledError without cancelling it', () =>
      withLoop(subject, async (loop) => {
        const child = loop.createFuture<number>();
        const other = loop.createTask(after(0.02, 2));
        const outer = gather(child, other);
        loop.callSoon(() => child.cancel());
        expect(await failure(outer)).toBeInstanceOf(CancelledError);
        expect(outer.cancelled()).toBe(false);
        expect(other.cancelled()).toBe(false);
        expect(await other).toBe(2);
      }));

    it('cancelling the gather cancels every child', () =>
      withLoop(subject, async (loop) => {
        const a = loop.createTask(after(10, 'a'));
        const b = loop.createFuture();
        const outer = gather(a, b);
        await sleep(0);
        expect(outer.cancel('enough')).toBe(true);
        const error = await failure(outer);
        expect(error).toBeInstanceOf(CancelledError);
        expect(a.cancelled()).toBe(true);
        expect(b.cancelled()).toBe(true);
      }));

    it('cancelling the task awaiting a gather cancels its children', () =>
      withLoop(subject, async (loop) => {
        const child = loop.createTask(after(10, 'x'));
        const waiter = loop.createTask(() => gather(child));
        await sleep(0.01);
        waiter.cancel();
        await failure(waiter);
        expect(child.cancelled()).toBe(true);
      }));

    it('the same function or future twice runs once and appears twice', () =>
      withLoop(subject, async (loop) => {
        let runs = 0;
        const fn = async () => {
          runs += 1;
          await sleep(0);
          return runs;
        };
        const fut = loop.createFuture<string>();
        loop.callSoon(() => fut.setResult('f'));
        expect(await gather(fn, fut, fn, fut)).toEqual([1, 'f', 1, 'f']);
        expect(runs).toBe(1);
      }));

    it('rejects what is not awaitable with TypeError', () =>
      withLoop(subject, async () => {
        expect(() => gather(42 as never)).toThrow(TypeError);
      }));
  });

  describe('shield', () => {
    it('cancelling the shield leaves the inner task running', () =>
      withLoop(subject, async (loop) => {
        const inner = loop.createTask(after(0.02, 'inner'));
        const outer = shield(inner);
        expect(isFuture(outer)).toBe(true);
        expect(outer.cancel()).toBe(true);
        expect(await failure(outer)).toBeInstanceOf(CancelledError);
        expect(await inner).toBe('inner');
      }));

    it('a task cancelled while awaiting a shield gets CancelledError; the work completes', () =>
      withLoop(subject, async (loop) => {
        const log: string[] = [];
        const work = loop.createTask(async () => {
          await sleep(0.02);
          log.push('work done');
        });
        const caller = loop.createTask(() => shield(work));
        await sleep(0.01);
        caller.cancel();
        expect(await failure(caller)).toBeInstanceOf(CancelledError);
        await work;
        expect(log).toEqual(['work done']);
      }));

    it('passes on the result, the error and the cancellation of the inner future', () =>
      withLoop(subject, async (loop) => {
        expect(await shield(after(0, 7))).toBe(7);
        const boom = new Error('boom');
        expect(await failure(shield(after(0, boom)))).toBe(boom);
        const inner = loop.createFuture();
        const outer = shield(inner);
        inner.cancel();
        await failure(outer);
        expect(outer.cancelled()).toBe(true);
        const done = loop.createFuture<number>();
        done.setResult(1);
        expect(shield(done)).toBe(done);
      }));
  });

  describe('wait', () => {
    it('ALL_COMPLETED (default) waits for all; functions become tasks', () =>
      withLoop(subject, async (loop) => {
        const fut = loop.createFuture<string>();
        loop.callLater(0.01, () => fut.setResult('f'));
        const [done, pending] = await wait([after(0.02, 'a'), fut]);
        expect(done).toBeInstanceOf(Set);
        expect(pending.size).toBe(0);
        expect(done.size).toBe(2);
        expect(done.has(fut)).toBe(true);
        expect(new Set([...done].map((f) => f.result()))).toEqual(new Set(['a', 'f']));
      }));

    it('FIRST_COMPLETED returns at the first completion and cancels nothing', () =>
      withLoop(subject, async (loop) => {
        const fast = loop.createTask(after(0.01, 'fast'));
        // Released only once wait() returned: on a real clock a later timer could also be due
        // by then on a loaded machine, whatever its delay. The backstop turns a wait() that
        // waits for every task into failed checks instead of a hung test.
        const release = loop.createFuture<void>();
        const backstop = loop.callLater(5, () => release.setResult());
        const slow = loop.createTask(async () => {
          await release;
          return 'slow';
        });
        const [done, pending] = await wait([fast, slow], { returnWhen: FIRST_COMPLETED });
        expect(done.size === 1 && done.has(fast)).toBe(true);
        expect(pending.size === 1 && pending.has(slow)).toBe(true);
        expect(slow.cancelled()).toBe(false);
        backstop.cancel();
        release.setResult();
        expect(await slow).toBe('slow');
      }));

    it('FIRST_EXCEPTION returns at the first error, or when all completed', () =>
      withLoop(subject, async (loop) => {
        const ok = loop.createTask(after(0, 'ok'));
        const bad = loop.createTask(after(0.01, new Error('bad')));
        // Released only once wait() returned, as in FIRST_COMPLETED above.
        const release = loop.createFuture<void>();
        const backstop = loop.callLater(5, () => release.setResult());
        const slow = loop.createTask(async () => {
          await release;
          return 'slow';
        });
        const [done, pending] = await wait([ok, bad, slow], { returnWhen: FIRST_EXCEPTION });
        expect(done.size === 2 && done.has(ok) && done.has(bad)).toBe(true);
        expect(pending.size === 1 && pending.has(slow)).toBe(true);
        expect(slow.cancelled()).toBe(false);
        backstop.cancel();
        release.setResult();
        expect(await slow).toBe('slow');
        const [allDone] = await wait([loop.createTask(after(0, 1))], { returnWhen: FIRST_EXCEPTION });
        expect(allDone.size).toBe(1);
        expect(ALL_COMPLETED).toBe('ALL_COMPLETED');
      }));

    it('a timeout resolves with what is still pending, without throwing', () =>
      withLoop(subject, async (loop) => {
        const slow = loop.createTask(after(10, 'slow'));
        const t0 = loop.time();
        const [done, pending] = await wait([slow], { timeout: 0.02 });
        if (exact) expect(loop.time() - t0).toBe(0.02);
        expect(done.size).toBe(0);
        expect(pending.size === 1 && pending.has(slow)).toBe(true);
        expect(slow.cancelled()).toBe(false);
        slow.cancel();
      }));

    it('rejects bad input', () =>
      withLoop(subject, async (loop) => {
        const fut = loop.createFuture();
        expect(await failure(wait([]))).toBeInstanceOf(RangeError);
        expect(await failure(wait(fut as never))).toBeInstanceOf(TypeError);
        expect(await failure(wait([fut], { returnWhen: 'SOMETIME' as never }))).toBeInstanceOf(RangeError);
        expect(await failure(wait([fut], { timeout: Number.NaN }))).toBeInstanceOf(TypeError);
      }));
  });

  describe('waitFor', () => {
    it('gives the result in time, and passes errors on', () =>
      withLoop(subject, async () => {
        expect(await waitFor(after(0.01, 'ok'), 1)).toBe('ok');
        expect(await waitFor(after(0, 'unbounded'), null)).toBe('unbounded');
        const boom = new Error('boom');
        expect(await failure(waitFor(after(0, boom), 1))).toBe(boom);
      }));

    it('on timeout cancels the inner task, waits for its cleanup, then throws TimeoutError', rule('on timeout, waitFor cancels the inner task and waits for its cleanup before raising TimeoutError', () =>
      withLoop(subject, async (loop) => {
        const log: string[] = [];
        const inner = loop.createTask(async () => {
          try {
            await sleep(10);
          } finally {
            log.push('cleanup start');
            await sleep(0.01);
            log.push('cleanup done');
          }
        });
        const t0 = loop.time();
        const error = await failure(waitFor(inner, 0.02));
        log.push('timeout');
        expect(error).toBeInstanceOf(TimeoutError);
        expect((error as Error).cause).toBeInstanceOf(CancelledError);
        expect(inner.cancelled()).toBe(true);
        expect(log).toEqual(['cleanup start', 'cleanup done', 'timeout']);
        if (exact) expect(loop.time() - t0).toBeCloseTo(0.03, 9);
      })));

    it('waitFor(fn, 0) never starts the coroutine; a done future still gives its result', () =>
      withLoop(subject, async (loop) => {
        let started = false;
        const error = await failure(
          waitFor(async () => {
            started = true;
          }, 0),
        );
        expect(error).toBeInstanceOf(TimeoutError);
        await sleep(0);
        expect(started).toBe(false);
        const done = loop.createFuture<number>();
        done.setResult(5);
        expect(await waitFor(done, 0)).toBe(5);
      }));

    it('an inner task that swallows the cancellation gives its value', () =>
      withLoop(subject, async () => {
        const stubborn = async () => {
          try {
            await sleep(10);
            return 'finished';
          } catch {
            return 'late';
          }
        };
        expect(await waitFor(stubborn, 0.01)).toBe('late');
      }));

    it('cancelling the waiting task cancels the inner task, with CancelledError', () =>
      withLoop(subject, async (loop) => {
        const inner = loop.createTask(after(10, 'x'));
        const waiter = loop.createTask(() => waitFor(inner, 5));
        await sleep(0.01);
        waiter.cancel();
        expect(await failure(waiter)).toBeInstanceOf(CancelledError);
        expect(inner.cancelled()).toBe(true);
      }));

    it('rejects a bad timeout with TypeError', () =>
      withLoop(subject, async () => {
        expect(await failure(waitFor(after(0, 1), Number.NaN))).toBeInstanceOf(TypeError);
      }));
  });

  describe('asCompleted', () => {
    it('for await gives the futures themselves in completion order', () =>
      withLoop(subject, async (loop) => {
        const c = loop.createTask(afterIterations(5, 'c'));
        const a = afterIterations(1, 'a');
        const fut = loop.createFuture<string>();
        loop.createTask(async () => fut.setResult(await afterIterations(3, 'b')()));
        const seen: unknown[] = [];
        for await (const f of asCompleted([c, a, fut, a])) {
          expect(isFuture(f)).toBe(true);
          expect(f.done()).toBe(true);
          seen.push(f.result());
        }
        expect(seen).toEqual(['a', 'b', 'c']);
      }));

    it('sync iteration gives awaitables of the results in completion order', () =>
      withLoop(subject, async () => {
        const results: unknown[] = [];
        for (const next of asCompleted([afterIterations(2, 2), afterIterations(1, 1), afterIterations(3, new Error('three'))])) {
          try {
            results.push(await next);
          } catch (e) {
            results.push((e as Error).message);
          }
        }
        expect(results).toEqual([1, 2, 'three']);
      }));

    it('after the timeout the remaining steps throw TimeoutError', () =>
      withLoop(subject, async (loop) => {
        const slow = loop.createTask(after(10, 'slow'));
        // A done future, not a short timer: under load a timer due just before the timeout
        // can come out in the same iteration as it and lose the race.
        const fast = loop.createFuture<string>();
        fast.setResult('fast');
        const steps = asCompleted([fast, slow], { timeout: 0.02 });
        const first = await steps.next();
        expect(first.done).toBe(false);
        expect((first.value as Future<string>).result()).toBe('fast');
        expect(await failure(steps.next())).toBeInstanceOf(TimeoutError);
        expect(await steps.next()).toEqual({ done: true, value: undefined });
        expect(slow.cancelled()).toBe(false);
        slow.cancel();
      }));

    it('a cancelled step loses no completion', () =>
      withLoop(subject, async (loop) => {
        const steps = asCompleted([afterIterations(3, 'one'), afterIterations(6, 'two')]);
        const it = steps[Symbol.asyncIterator]();
        const lost = loop.createTask(() => it.next());
        await sleep(0);
        lost.cancel();
        await failure(lost);
        const got = await it.next();
        expect((got.value as Future<string>).result()).toBe('one');
      }));

    it('rejects a single awaitable or a bad timeout', () =>
      withLoop(subject, async (loop) => {
        expect(() => asCompleted(loop.createFuture() as never)).toThrow(TypeError);
        expect(() => asCompleted([], { timeout: 'soon' as never })).toThrow(TypeError);
      }));
  });
}
