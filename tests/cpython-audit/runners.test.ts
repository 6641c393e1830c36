/** Scenarios of CPython's test_asyncio/test_runners.py (3.13): run() and Runner, as a user calls them. */
import { expect, it } from 'vitest';
import { CancelledError, EventLoop, Runner, SelectorEventLoop, RuntimeError, allTasks, createTask, currentTask, getRunningLoop, newEventLoop, ProactorEventLoop, run, sleep, type AbstractEventLoop, type ExceptionContext } from 'loopkit';
import { describe } from 'vitest';

for (const [name, factory] of [
  ['newEventLoop()', () => newEventLoop()],
  ['ProactorEventLoop', () => new ProactorEventLoop()],
] as Array<[string, () => AbstractEventLoop]>) {
  describe(`test_runners [${name}]`, () => {
    it('test_asyncio_run_return / raises / only_coro', async () => {
      expect(await run(async () => (await sleep(0), 42), { loopFactory: factory })).toBe(42);
      let loop!: AbstractEventLoop;
      await expect(
        run(async () => {
          loop = getRunningLoop();
          await sleep(0);
          throw new RangeError('spam');
        }, { loopFactory: factory }),
      ).rejects.toThrow('spam');
      expect(loop.isClosed()).toBe(true);
      await expect(run(123 as never)).rejects.toThrow(TypeError);
    });

    it('test_asyncio_run_debug', async () => {
      expect(await run(async () => getRunningLoop().getDebug(), { debug: true, loopFactory: factory })).toBe(true);
      expect(await run(async () => getRunningLoop().getDebug(), { debug: false, loopFactory: factory })).toBe(false);
    });

    it('test_asyncio_run_from_running_loop', async () => {
      const error = await run(async () => {
        try {
          await run(async () => 1);
        } catch (e) {
          return e;
        }
        return null;
      }, { loopFactory: factory });
      expect(error).toBeInstanceOf(RuntimeError);
      expect((error as Error).message).toMatch(/cannot be called from a running event loop/);
    });

    it('test_asyncio_run_cancels_hanging_tasks / reports_hanging_tasks_errors', async () => {
      let lingering!: ReturnType<typeof createTask>;
      await run(async () => {
        lingering = createTask(() => sleep(10));
        await sleep(0);
      }, { loopFactory: factory });
      expect(lingering.cancelled()).toBe(true);

      const reports: ExceptionContext[] = [];
      let failing!: ReturnType<typeof createTask>;
      await run(async () => {
        getRunningLoop().setExceptionHandler((_l, ctx) => reports.push(ctx));
        failing = createTask(async () => {
          try {
            await sleep(10);
          } catch {
            throw new RangeError('during cancel');
          }
        });
        await sleep(0);
      }, { loopFactory: factory });
      expect(reports).toHaveLength(1);
      expect(reports[0]!.message).toMatch(/run\(\) shutdown/);
      expect(reports[0]!.task).toBe(failing);
      expect(reports[0]!.exception).toBeInstanceOf(RangeError);
    });

    it('test_asyncio_run_loop_factory / RunnerTests.test_custom_factory', async () => {
      let made: AbstractEventLoop | null = null;
      const mine = () => (made = factory());
      const loop = await run(async () => getRunningLoop(), { loopFactory: mine });
      expect(loop).toBe(made);
      expect(loop.isClosed()).toBe(true);
    });

    it('RunnerTests.test_run / test_explicit_close / test_double_close / test_second_with_block_raises', async () => {
      const runner = new Runner({ loopFactory: factory });
      const loop = runner.getLoop();
      expect(await runner.run(async () => (await sleep(0), 42))).toBe(42);
      expect(await runner.run(async () => getRunningLoop())).toBe(loop);
      await runner.close();
      expect(loop.isClosed()).toBe(true);
      await runner.close();
      await expect(runner.run(async () => 1)).rejects.toThrow(/closed/);
      expect(() => runner.getLoop()).toThrow(RuntimeError);
    });

    it('RunnerTests.test_explicit_close, async: a run() or getLoop() while close() is under way says the runner is closed', async () => {
      const runner = new Runner({ loopFactory: factory });
      const loop = runner.getLoop();
      expect(await runner.run(async () => 1)).toBe(1);
      const closing = runner.close();
      // asyncio's close() is synchronous; ours is not, and a run() in between would race its loop.close().
      await expect(runner.run(async () => 2)).rejects.toThrow(/Runner is closed/);
      expect(() => runner.getLoop()).toThrow(/Runner is closed/);
      await closing;
      expect(loop.isClosed()).toBe(true);
    });

    it('RunnerTests: close() called inside a run fails and leaves the runner usable (asyncio: the loop is running)', async () => {
      const runner = new Runner({ loopFactory: factory });
      const error = await runner.run(async () => {
        try {
          await runner.close();
        } catch (e) {
          currentTask()!.uncancel();
          return e;
        }
        return null;
      });
      expect(error).toBeInstanceOf(RuntimeError);
      expect(await runner.run(async () => 3)).toBe(3);
      await runner.close();
      expect(() => runner.getLoop()).toThrow(/Runner is closed/);
    });

    it('RunnerTests.test_recursive_run / test_run_non_coro', async () => {
      const runner = new Runner({ loopFactory: factory });
      const inner = await runner.run(async () => {
        try {
          await runner.run(async () => 1);
        } catch (e) {
          return e;
        }
        return null;
      });
      expect(inner).toBeInstanceOf(RuntimeError);
      expect((inner as Error).message).toMatch(/Runner\.run\(\) cannot be called from a running event loop/);
      await expect(runner.run(123 as never)).rejects.toThrow(TypeError);
      await runner.close();
    });

    it('RunnerTests: a cancelled main rejects with CancelledError; tasks are gone after close', async () => {
      const runner = new Runner({ loopFactory: factory });
      await expect(
        runner.run(async () => {
          currentTask()!.cancel();
          await sleep(1);
        }),
      ).rejects.toBeInstanceOf(CancelledError);
      const loop = runner.getLoop();
      await runner.run(async () => void createTask(() => sleep(10)));
      await runner.close();
      expect(loop.isClosed()).toBe(true);
      expect(() => allTasks(loop)).not.toThrow();
    });

    it('test_loop_factory_default_event_loop: run(main, {loopFactory: EventLoop}) runs on SelectorEventLoop (not Windows)', async () => {
      const loop = await run(async () => getRunningLoop(), { loopFactory: () => new EventLoop() });
      expect(loop).toBeInstanceOf(process.platform === 'win32' ? ProactorEventLoop : SelectorEventLoop);
    });

    it.skip('test_asyncio_run_closes_gens_after_hanging_tasks_errors: async generators have no loop hooks in JavaScript (no shutdown_asyncgens)', () => {});
    it.skip('test_interrupt_*: KeyboardInterrupt through signals is covered by tests/sigint.test.ts on a child process', () => {});
  });
}
