/**
 * Session 23: what session 22 left of test_runners.py, test_base_events.py's argument checks
 * and the C Future's InvalidStateError texts, each run beside Python 3.13.0 (the outcome each
 * test asserts is what Python printed for the same scenario), on every loop.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as util from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  CancelledError,
  Future,
  InvalidStateError,
  Runner,
  RuntimeError,
  createTask,
  ensureFuture,
  getRunningLoop,
  newEventLoop,
  run,
  sleep,
  type ExceptionContext,
} from 'loopkit';
import { onEachLoop, runIn } from './loops.js';

/** What `fn` throws (fails when it returns). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

onEachLoop("InvalidStateError in the C Future's words (_asyncio, what CPython runs)", (make) => {
  it('result()/exception() pending, setResult/setException on a done future, on Future and Task', () =>
    runIn(make, async (loop) => {
      const pending = loop.createFuture();
      expect(thrown(() => pending.result())).toBeInstanceOf(InvalidStateError);
      expect(thrown(() => pending.result()).message).toBe('Result is not set.');
      expect(thrown(() => pending.exception()).message).toBe('Exception is not set.');

      const withResult = loop.createFuture<number>();
      withResult.setResult(1);
      const failed = loop.createFuture();
      failed.setException(new RangeError('x'));
      failed.exception();
      const cancelled = loop.createFuture();
      cancelled.cancel();
      for (const done of [withResult, failed, cancelled]) {
        for (const set of [() => done.setResult(2 as never), () => done.setException(new RangeError('y'))]) {
          const error = thrown(set);
          expect(error).toBeInstanceOf(InvalidStateError);
          expect(error.message).toBe('invalid state');
        }
      }

      const task = createTask(() => sleep(10));
      expect(thrown(() => task.result()).message).toBe('Result is not set.');
      expect(thrown(() => task.exception()).message).toBe('Exception is not set.');
      // Python: RuntimeError 'Task does not support set_result operation' (camelCase here).
      expect(thrown(() => task.setResult(1 as never))).toBeInstanceOf(RuntimeError);
      task.cancel();
      await expect(task).rejects.toBeInstanceOf(CancelledError);
    }));
});

onEachLoop("test_base_events.py's argument checks", (make) => {
  it('test_call_soon_non_callable: "a callable object" was expected, naming the method and the argument', () =>
    runIn(make, async (loop) => {
      for (const debug of [true, false]) {
        loop.setDebug(debug);
        for (const [method, call] of [
          ['callSoon', () => loop.callSoon(1 as never)],
          ['callSoonThreadsafe', () => loop.callSoonThreadsafe(1 as never)],
          ['callLater', () => loop.callLater(60, 1 as never)],
          ['callAt', () => loop.callAt(loop.time() + 60, 1 as never)],
        ] as const) {
          const error = thrown(call);
          expect(error).toBeInstanceOf(TypeError);
          expect(error.message).toBe(`a callable object was expected by ${method}() as callback, got 1`);
        }
      }
      loop.setDebug(false);
    }));

  it('test_call_coroutine: in debug mode an async or generator function, or a promise, is refused by every scheduling method', () =>
    runIn(make, async (loop) => {
      loop.setDebug(true);
      const simpleCoroutine = async (): Promise<void> => {};
      const generator = function* (): Generator<never, void> {};
      const coroObj = simpleCoroutine();
      for (const fn of [simpleCoroutine, generator, coroObj]) {
        for (const [method, call] of [
          ['callSoon', () => loop.callSoon(fn as never)],
          ['callSoonThreadsafe', () => loop.callSoonThreadsafe(fn as never)],
          ['callLater', () => loop.callLater(60, fn as never)],
          ['callAt', () => loop.callAt(loop.time() + 60, fn as never)],
        ] as const) {
          const error = thrown(call);
          expect(error).toBeInstanceOf(TypeError);
          expect(error.message).toMatch(new RegExp(`^coroutines cannot be used with ${method}\\(\\)`));
          expect(error.message).toMatch(/\bcallback\b/);
        }
      }
      // run_in_executor(None, coro) in debug mode: a TypeError at the call for a coroutine object.
      expect(thrown(() => loop.runInExecutor(null, coroObj as never)).message).toMatch(/^coroutines cannot be used with runInExecutor\(\): fn is a promise/);
      expect(thrown(() => loop.runInExecutor(null, 1 as never)).message).toBe('a callable object was expected by runInExecutor() as fn, got 1');
      // Nothing was scheduled by the refused calls.
      const seen: string[] = [];
      loop.callSoon(() => seen.push('plain'));
      await sleep(0);
      expect(seen).toEqual(['plain']);
      loop.setDebug(false);
    }));

  it('in debug mode an async done callback still runs (asyncio 3.13: set_result raises TypeError and the callback is lost)', () =>
    runIn(make, async (loop, reports) => {
      loop.setDebug(true);
      const seen: string[] = [];
      const pending = loop.createFuture<number>();
      pending.addDoneCallback(async (f) => void seen.push(`pending ${f.result()}`));
      pending.setResult(1);
      const done = loop.createFuture<number>();
      done.setResult(2);
      done.addDoneCallback(async (f) => void seen.push(`done ${f.result()}`));
      await sleep(0.01);
      expect(seen).toEqual(['pending 1', 'done 2']);
      expect(reports).toEqual([]);
      loop.setDebug(false);
    }));

  it('outside debug mode an async callback still runs (asyncio would make an unrun coroutine), as before', () =>
    runIn(make, async (loop) => {
      const seen: string[] = [];
      loop.callSoon(async () => void seen.push('soon'));
      loop.callLater(0, async () => void seen.push('later'));
      await sleep(0.01);
      expect(seen).toEqual(['soon', 'later']);
    }));

  it('slowCallbackDuration: a number of seconds >= 0 (asyncio takes anything and fails in the loop at the next check)', () =>
    runIn(make, async (loop) => {
      expect(loop.slowCallbackDuration).toBe(0.1);
      loop.slowCallbackDuration = 0;
      expect(loop.slowCallbackDuration).toBe(0);
      for (const bad of ['x', NaN, null]) {
        const error = thrown(() => (loop.slowCallbackDuration = bad as never));
        expect(error).toBeInstanceOf(TypeError);
        expect(error.message).toMatch(/^slowCallbackDuration must be a number of seconds, got /);
      }
      expect(thrown(() => (loop.slowCallbackDuration = -1))).toBeInstanceOf(RangeError);
      expect(loop.slowCallbackDuration).toBe(0);
    }));

  it('test_set_exc_handler_invalid, test_set_task_factory_invalid: asyncio\'s words', () =>
    runIn(make, async (loop) => {
      const handlerError = thrown(() => loop.setExceptionHandler('spam' as never));
      expect(handlerError).toBeInstanceOf(TypeError);
      expect(handlerError.message).toMatch(/^A callable object or None is expected as handler .*, got "spam"$/);
      const factoryError = thrown(() => loop.setTaskFactory(1 as never));
      expect(factoryError).toBeInstanceOf(TypeError);
      expect(factoryError.message).toMatch(/^task factory must be a callable or None\b/);
    }));

  it("test_run_until_complete_loop, test_ensure_future_future's other loop: asyncio's ValueError, a RangeError here (the project's ValueError: the right type, a wrong value)", async () => {
    const loop = make();
    const other = newEventLoop();
    try {
      const fut = loop.createFuture();
      const error = await other.runUntilComplete(fut).then(() => null, (e: unknown) => e as Error);
      expect(error).toBeInstanceOf(RangeError);
      expect(error!.message).toBe('The future belongs to a different loop than the one specified as the loop argument');
      expect(thrown(() => ensureFuture(fut, other))).toBeInstanceOf(RangeError);
      fut.cancel();
    } finally {
      other.close();
      loop.close();
    }
  });

  it("test_create_task_with_noncoroutine: asyncio's words, the argument named", () =>
    runIn(make, async (loop) => {
      for (const make of [() => loop.createTask(123 as never), () => createTask(123 as never)]) {
        const error = thrown(make);
        expect(error).toBeInstanceOf(TypeError);
        expect(error.message).toMatch(/^a coroutine was expected for coro .*, got 123$/);
      }
    }));

  it('test_set_debug', () =>
    runIn(make, async (loop) => {
      loop.setDebug(true);
      expect(loop.getDebug()).toBe(true);
      loop.setDebug(false);
      expect(loop.getDebug()).toBe(false);
    }));
});

onEachLoop("test_runners.py's rest", (make) => {
  it('test_run_non_coro inside a running loop: the argument is checked first (a TypeError, not the running-loop RuntimeError)', async () => {
    const runner = new Runner({ loopFactory: make });
    const inner = new Runner({ loopFactory: make });
    const errors = await runner.run(async () => {
      const seen: unknown[] = [];
      for (const main of [123, getRunningLoop().createFuture()]) {
        try {
          await inner.run(main as never);
        } catch (error) {
          seen.push(error);
        }
      }
      await inner.run(async () => 1).catch((error: unknown) => seen.push(error));
      return seen;
    });
    await runner.close();
    await inner.close();
    expect(errors.map((e) => (e as Error).constructor.name)).toEqual(['TypeError', 'TypeError', 'RuntimeError']);
    expect((errors[0] as Error).message).toMatch(/^a coroutine was expected for main .*, got 123$/);
    expect((errors[2] as Error).message).toBe('Runner.run() cannot be called from a running event loop');
  });

  it('test_asyncio_run_closes_gens_after_hanging_tasks_errors: the generator a leftover task iterates is finished, its error reported', async () => {
    class FancyExit extends Error {}
    let spinner: AsyncGenerator<number> | null = null;
    let lazyboy: ReturnType<typeof createTask> | null = null;
    const reports: ExceptionContext[] = [];
    async function* fidget(): AsyncGenerator<number> {
      for (;;) {
        yield 1;
        await sleep(1);
      }
    }
    async function spin(): Promise<void> {
      spinner = fidget();
      try {
        for await (const _ of spinner);
      } catch (error) {
        if (error instanceof CancelledError) throw new RangeError('division by zero');
        throw error;
      }
    }
    await expect(
      run(async () => {
        getRunningLoop().setExceptionHandler((_loop, context) => reports.push(context));
        lazyboy = createTask(spin);
        throw new FancyExit();
      }, { loopFactory: make }),
    ).rejects.toBeInstanceOf(FancyExit);
    expect(lazyboy!.done()).toBe(true);
    expect(await spinner!.next()).toEqual({ value: undefined, done: true });
    expect(reports.map((r) => [r.message, (r.exception as Error).message])).toEqual([
      ['unhandled exception during loopkit.run() shutdown', 'division by zero'],
    ]);
  });

  it("test_no_repr_is_call_on_the_task_result: run() neither inspects nor stringifies main's result", async () => {
    class MyResult {
      reprCount = 0;
      [util.inspect.custom](): string {
        this.reprCount += 1;
        return 'MyResult';
      }
      toString(): string {
        this.reprCount += 1;
        return 'MyResult';
      }
    }
    const runner = new Runner({ loopFactory: make });
    const result = await runner.run(async () => new MyResult());
    await runner.close();
    expect(result.reprCount).toBe(0);
  });
});

const child = fileURLToPath(new URL('../support/runner-interrupt-child.mjs', import.meta.url));

/** The lines the child prints in `mode` (it interrupts itself with SIGINT, as CPython's interrupt_self). */
function interrupted(mode: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    proc.on('error', reject);
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`child ${mode} ended with ${code ?? signal}: ${out}`));
      else resolve(out.trim().split('\n'));
    });
  });
}

describe("test_runners.py's interrupt cases (a real SIGINT the process sends itself)", () => {
  it('test_interrupt_call_soon: a main task looping on sleep(0) is cancelled; run() raises KeyboardInterrupt', async () => {
    expect(await interrupted('call_soon')).toEqual([
      'main caught CancelledError',
      'rejected KeyboardInterrupt (KeyboardInterrupt)',
      'SIGINT listeners after: 0',
    ]);
  });

  it('test_interrupt_wait: the future main awaits is cancelled with it', async () => {
    expect(await interrupted('wait')).toEqual([
      'main caught CancelledError',
      'rejected KeyboardInterrupt (KeyboardInterrupt)',
      'fut cancelled true',
      'SIGINT listeners after: 0',
    ]);
  });

  it('test_interrupt_cancelled_task: a main task cancelled by someone else too ends in CancelledError, not KeyboardInterrupt', async () => {
    expect(await interrupted('cancelled_task')).toEqual([
      'main cancelling 2',
      'rejected CancelledError (CancelledError)',
      'SIGINT listeners after: 0',
    ]);
  });

  it('test_asyncio_run_without_uncancel: a task factory whose tasks have no uncancel(): the CancelledError goes out', async () => {
    expect(await interrupted('without_uncancel')).toEqual(['rejected CancelledError (CancelledError)', 'SIGINT listeners after: 0']);
  });
});
