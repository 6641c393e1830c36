/** run() and Runner: make a loop, run main, clean up what is left, close the loop. */
import { expect } from './expect.js';
import { describe, it } from './kit.js';
import { rule } from './rules.js';
import {
  BaseEventLoop,
  CancelledError,
  RuntimeError,
  Runner,
  _setDefaultLoopFactory,
  getRunningLoop,
  run,
  sleep,
  type AbstractEventLoop,
  type ExceptionContext,
} from '@loopkit/core';
import { withLoop, type LoopUnderTest } from './context.js';
import { failure } from './helpers.js';

export function runnerSuite(subject: LoopUnderTest): void {
  describe('run() and Runner', () => {
    it('run() gives main its own loop, returns its result and closes the loop', rule("run() makes a loop for main, gives main's result and closes the loop", async () => {
      let used: AbstractEventLoop | null = null;
      const result = await run(
        async () => {
          used = getRunningLoop();
          await sleep(0.001);
          return 42;
        },
        { loopFactory: subject.make },
      );
      expect(result).toBe(42);
      expect(used!.isClosed()).toBe(true);
    }));

    it("run() passes main's error on, and still closes the loop", async () => {
      let used: AbstractEventLoop | null = null;
      const boom = new Error('boom');
      const error = await failure(
        run(
          async () => {
            used = getRunningLoop();
            throw boom;
          },
          { loopFactory: subject.make },
        ),
      );
      expect(error).toBe(boom);
      expect(used!.isClosed()).toBe(true);
    });

    it('cancels the tasks left over and reports the ones that fail while cancelled', rule('when main returns, run() cancels the tasks left over and reports those that fail while being cancelled', async () => {
      const reports: ExceptionContext[] = [];
      const log: string[] = [];
      const makeLoop = (): AbstractEventLoop => {
        const loop = subject.make();
        loop.setExceptionHandler((_loop, context) => {
          reports.push(context);
        });
        return loop;
      };
      const stubbornError = new Error('cleanup failed');
      await run(
        async () => {
          const loop = getRunningLoop();
          loop.createTask(async () => {
            try {
              await sleep(100);
            } finally {
              log.push('quiet cleanup');
            }
          });
          loop.createTask(async () => {
            try {
              await sleep(100);
            } catch {
              throw stubbornError;
            }
          });
          await sleep(0);
        },
        { loopFactory: makeLoop },
      );
      expect(log).toEqual(['quiet cleanup']);
      expect(reports).toHaveLength(1);
      expect(reports[0]!.exception).toBe(stubbornError);
      expect(reports[0]!.message).toMatch(/shutdown/);
      expect(reports[0]!.task).toBeDefined();
    }));

    it('rejects with RuntimeError when called from a running loop', () =>
      withLoop(subject, async () => {
        expect(await failure(run(async () => 1))).toBeInstanceOf(RuntimeError);
        expect(await failure(new Runner().run(async () => 1))).toBeInstanceOf(RuntimeError);
      }));

    it('debug sets the loop debug mode', async () => {
      expect(await run(async () => getRunningLoop().getDebug(), { debug: true, loopFactory: subject.make })).toBe(true);
      expect(await run(async () => getRunningLoop().getDebug(), { debug: false, loopFactory: subject.make })).toBe(false);
    });

    it('Runner runs several mains on one loop; close() is final and idempotent', async () => {
      const runner = new Runner({ loopFactory: subject.make });
      const loop = runner.getLoop();
      expect(await runner.run(async () => getRunningLoop())).toBe(loop);
      expect(await runner.run(function* () {
        yield* sleep(0);
        return 'generator main';
      })).toBe('generator main');
      expect(loop.isClosed()).toBe(false);
      await runner.close();
      expect(loop.isClosed()).toBe(true);
      await runner.close();
      expect(await failure(runner.run(async () => 1))).toBeInstanceOf(RuntimeError);
      expect(() => runner.getLoop()).toThrow(/closed/);
    });

    it('Runner works with await using, and a cancelled main rejects with CancelledError', async () => {
      let loop: AbstractEventLoop | null = null;
      {
        await using runner = new Runner({ loopFactory: subject.make });
        loop = runner.getLoop();
        const error = await failure(
          runner.run(async () => {
            await sleep(0);
            throw new CancelledError('main gave up');
          }),
        );
        expect(error).toBeInstanceOf(CancelledError);
        expect((error as Error).message).toBe('main gave up');
        expect(loop.isClosed()).toBe(false);
      }
      expect(loop.isClosed()).toBe(true);
    });

    it('without loopFactory uses the installed default factory, else a BaseEventLoop', async () => {
      let made = 0;
      const previous = _setDefaultLoopFactory(() => {
        made += 1;
        return subject.make();
      });
      try {
        await run(async () => 1);
        expect(made).toBe(1);
        _setDefaultLoopFactory(null);
        expect(await run(async () => getRunningLoop() instanceof BaseEventLoop)).toBe(true);
        expect(made).toBe(1);
      } finally {
        _setDefaultLoopFactory(previous);
      }
    });

    it('rejects bad arguments', async () => {
      expect(await failure(run(42 as never))).toBeInstanceOf(TypeError);
      expect(() => new Runner({ loopFactory: 3 as never })).toThrow(TypeError);
      expect(() => new Runner({ debug: 'yes' as never })).toThrow(TypeError);
      expect(() => _setDefaultLoopFactory('policy' as never)).toThrow(TypeError);
    });
  });
}
