/** Scopes: timeout/timeoutAt and TaskGroup, in their callback and `await using` forms. */
import { expect } from './expect.js';
import { describe, it } from './kit.js';
import { rule } from './rules.js';
import {
  CancelledError,
  ExceptionGroup,
  RuntimeError,
  TaskGroup,
  TimeoutError,
  currentTask,
  sleep,
  taskGroup,
  timeout,
  timeoutAt,
  type Timeout,
} from '@loopkit/core';
import { withLoop, type LoopUnderTest } from './context.js';
import { failure } from './helpers.js';

/** What the language reports when a scope's dispose and its body both threw. */
interface Suppressed {
  error: unknown;
  suppressed: unknown;
}

export function scopeSuite(subject: LoopUnderTest): void {
  const exact = subject.caps.virtualTime;

  describe('timeout', () => {
    it('gives the body result in time; expired() stays false', () =>
      withLoop(subject, async (loop) => {
        // The deadline is the loop's time when timeout() ran, plus the delay (bounded by
        // readings on both sides: a busy machine may pause between any two statements).
        const before = loop.time();
        const t = timeout(1);
        const after = loop.time();
        expect(t.when()).toBeGreaterThanOrEqual(before + 1);
        expect(t.when()).toBeLessThanOrEqual(after + 1);
        expect(await timeout(1, async () => 'ok')).toBe('ok');
        await t[Symbol.asyncDispose]();
        expect(t.expired()).toBe(false);
        const scope = timeout(null);
        expect(scope.when()).toBe(null);
        await scope[Symbol.asyncDispose]();
      }));

    it('turns the cancellation at the deadline into TimeoutError; finally blocks run', rule("timeout() cancels its body at the deadline and turns that cancellation into TimeoutError once the body's finally blocks have run", () =>
      withLoop(subject, async (loop) => {
        const log: string[] = [];
        const t0 = loop.time();
        const error = await failure(
          timeout(0.02, async () => {
            try {
              await sleep(10);
            } finally {
              log.push('finally');
            }
          }),
        );
        expect(error).toBeInstanceOf(TimeoutError);
        expect((error as Error).cause).toBeInstanceOf(CancelledError);
        expect(log).toEqual(['finally']);
        expect(currentTask()!.cancelling()).toBe(0);
        if (exact) expect(loop.time() - t0).toBe(0.02);
        // The task is not left cancelled: it goes on awaiting.
        expect(await sleep(0.001, 'still running')).toBe('still running');
      })));

    it('only the outermost expired timeout raises TimeoutError; inner ones propagate CancelledError', () =>
      withLoop(subject, async () => {
        let inner: unknown = null;
        const outer = await failure(
          timeout(0.01, async () => {
            try {
              await timeout(10, () => sleep(100));
            } catch (e) {
              inner = e;
              throw e;
            }
          }),
        );
        expect(inner).toBeInstanceOf(CancelledError);
        expect(outer).toBeInstanceOf(TimeoutError);
      }));

    it('an inner timeout that expires first is caught inside; the outer scope goes on', () =>
      withLoop(subject, async () => {
        const result = await timeout(1, async () => {
          const error = await failure(timeout(0.01, () => sleep(100)));
          expect(error).toBeInstanceOf(TimeoutError);
          return 'outer finished';
        });
        expect(result).toBe('outer finished');
      }));

    it('a cancellation from outside stays CancelledError, even when the deadline also passed', rule('a cancellation that did not come from the timeout stays a CancelledError', () =>
      withLoop(subject, async (loop) => {
        const quiet = loop.createTask(() => timeout(10, () => sleep(100)));
        await sleep(0.01);
        quiet.cancel();
        expect(await failure(quiet)).toBeInstanceOf(CancelledError);

        const both = loop.createTask(() => timeout(0.02, () => sleep(100)));
        // Scheduled first, so at the deadline it fires right before the timeout's own cancel.
        loop.callLater(0.02, () => both.cancel());
        expect(await failure(both)).toBeInstanceOf(CancelledError);
      })));

    it('reschedule() moves the deadline; null disables it; a finished timeout refuses', () =>
      withLoop(subject, async (loop) => {
        const t0 = loop.time();
        const later = await timeout(0.01, async (scope) => {
          // Far past the sleep: under load a deadline close to it can come due in the same iteration and win.
          scope.reschedule(loop.time() + 0.5);
          await sleep(0.03);
          return 'rescheduled';
        });
        expect(later).toBe('rescheduled');

        let sooner: Timeout | null = null;
        const error = await failure(
          timeout(10, async (scope) => {
            sooner = scope;
            sooner.reschedule(loop.time() + 0.02);
            await sleep(5);
          }),
        );
        expect(error).toBeInstanceOf(TimeoutError);
        if (exact) expect(loop.time() - t0).toBeCloseTo(0.05, 9);
        expect(sooner!.expired()).toBe(true);
        expect(() => sooner!.reschedule(null)).toThrow(RuntimeError);

        const never = timeout(0.01);
        never.reschedule(null);
        await sleep(0.02);
        expect(never.expired()).toBe(false);
        await never[Symbol.asyncDispose]();
      }));

    it('timeoutAt takes a loop time; a past deadline expires at the first wait', () =>
      withLoop(subject, async (loop) => {
        expect(await failure(timeoutAt(loop.time() + 0.01, () => sleep(1)))).toBeInstanceOf(TimeoutError);
        expect(await failure(timeoutAt(loop.time() - 1, () => sleep(1)))).toBeInstanceOf(TimeoutError);
        expect(await failure(timeout(0, () => sleep(1)))).toBeInstanceOf(TimeoutError);
        expect(await failure(timeout(-11, () => sleep(0)))).toBeInstanceOf(TimeoutError);
      }));

    it('await using: TimeoutError with the body CancelledError as a SuppressedError', () =>
      withLoop(subject, async () => {
        const error = await failure(
          (async () => {
            await using t = timeout(0.01);
            expect(t.expired()).toBe(false);
            await sleep(1);
          })(),
        );
        const { error: scopeError, suppressed } = error as Suppressed;
        expect(scopeError).toBeInstanceOf(TimeoutError);
        expect(suppressed).toBeInstanceOf(CancelledError);

        const fine = await (async () => {
          await using _t = timeout(1);
          await sleep(0.001);
          return 'fine';
        })();
        expect(fine).toBe('fine');
      }));

    it('needs a task and rejects bad arguments', () =>
      withLoop(subject, async (loop) => {
        const outside = loop.createFuture<unknown>();
        loop.callSoon(() => {
          try {
            timeout(1);
            outside.setResult(null);
          } catch (e) {
            outside.setResult(e);
          }
        });
        expect(await outside).toBeInstanceOf(RuntimeError);
        expect(() => timeout(Number.NaN)).toThrow(TypeError);
        expect(await failure(timeout(Number.NaN, async () => 1))).toBeInstanceOf(TypeError);
        expect(await failure(timeout(1, 42 as never))).toBeInstanceOf(TypeError);
        expect(() => timeoutAt('soon' as never)).toThrow(TypeError);
      }));
  });

  describe('TaskGroup', () => {
    it('waits for every task and gives the body result', () =>
      withLoop(subject, async () => {
        const log: string[] = [];
        const result = await taskGroup(async (tg) => {
          const fast = tg.createTask(async () => {
            await sleep(0.01);
            log.push('fast');
            return 1;
          });
          // Behind `fast` by awaiting it, not by a longer delay: on a real clock the two timers
          // swap when the tasks' first steps run more than 10 ms apart (a loaded machine).
          tg.createTask(async () => {
            await fast;
            await sleep(0.01);
            log.push('slow');
          });
          expect(fast.getName()).toMatch(/Task/);
          return 'body';
        });
        expect(result).toBe('body');
        expect(log).toEqual(['fast', 'slow']);
      }));

    it("a child's error cancels its siblings and the body; errors come as an ExceptionGroup", rule('a TaskGroup child that fails cancels its siblings and the body, and the errors leave the group as an ExceptionGroup', () =>
      withLoop(subject, async () => {
        const log: string[] = [];
        const boom = new Error('boom');
        const error = await failure(
          taskGroup(async (tg) => {
            tg.createTask(async () => {
              try {
                await sleep(10);
              } catch (e) {
                log.push(`sibling ${(e as Error).name}`);
                throw e;
              }
            });
            tg.createTask(async () => {
              await sleep(0.01);
              throw boom;
            });
            try {
              await sleep(10);
            } catch (e) {
              log.push(`body ${(e as Error).name}`);
              throw e;
            }
          }),
        );
        expect(error).toBeInstanceOf(ExceptionGroup);
        expect(error).toBeInstanceOf(AggregateError);
        expect((error as ExceptionGroup).exceptions).toEqual([boom]);
        expect(log.sort()).toEqual(['body CancelledError', 'sibling CancelledError']);
        expect(currentTask()!.cancelling()).toBe(0);
      })));

    it('children failing together are all in the group; the body error joins them', () =>
      withLoop(subject, async (loop) => {
        const a = new Error('a');
        const b = new Error('b');
        // One gate wakes both children in the same iteration (two timers on a real clock
        // could fall into different ones, and then the first failure cancels the second).
        const gate = loop.createFuture<void>();
        loop.callLater(0.01, () => gate.setResult());
        const together = await failure(
          taskGroup(async (tg) => {
            tg.createTask(async () => {
              await gate;
              throw a;
            });
            tg.createTask(async () => {
              await gate;
              throw b;
            });
          }),
        );
        expect((together as ExceptionGroup).exceptions).toEqual([a, b]);

        const bodyError = new Error('body');
        let childCancelled = false;
        const withBody = await failure(
          taskGroup(async (tg) => {
            tg.createTask(async () => {
              try {
                await sleep(10);
              } catch (e) {
                childCancelled = e instanceof CancelledError;
                throw e;
              }
            });
            await sleep(0);
            throw bodyError;
          }),
        );
        expect((withBody as ExceptionGroup).exceptions).toEqual([bodyError]);
        expect(childCancelled).toBe(true);
      }));

    it('createTask after the group finished throws RuntimeError', () =>
      withLoop(subject, async () => {
        let group: TaskGroup | null = null;
        await taskGroup(async (tg) => {
          group = tg;
        });
        expect(() => group!.createTask(async () => 1)).toThrow(RuntimeError);
        expect(() => group!.createTask(42 as never)).toThrow(TypeError);
      }));

    it('a parent cancelled from outside cancels the children and propagates CancelledError', rule('cancelling the task that runs a TaskGroup cancels its children, and CancelledError propagates', () =>
      withLoop(subject, async (loop) => {
        let childCancelled = false;
        const parent = loop.createTask(() =>
          taskGroup(async (tg) => {
            tg.createTask(async () => {
              try {
                await sleep(10);
              } catch (e) {
                childCancelled = e instanceof CancelledError;
                throw e;
              }
            });
          }),
        );
        await sleep(0.01);
        parent.cancel();
        expect(await failure(parent)).toBeInstanceOf(CancelledError);
        expect(parent.cancelled()).toBe(true);
        expect(childCancelled).toBe(true);
      })));

    it('under a timeout: the deadline cancels the children and raises TimeoutError', () =>
      withLoop(subject, async (loop) => {
        const child = { cancelled: false };
        const t0 = loop.time();
        const error = await failure(
          timeout(0.02, () =>
            taskGroup(async (tg) => {
              tg.createTask(async () => {
                try {
                  await sleep(10);
                } catch (e) {
                  child.cancelled = e instanceof CancelledError;
                  throw e;
                }
              });
            }),
          ),
        );
        expect(error).toBeInstanceOf(TimeoutError);
        expect(child.cancelled).toBe(true);
        if (exact) expect(loop.time() - t0).toBe(0.02);
      }));

    it('await using: joins the children; a failure arrives as a SuppressedError', () =>
      withLoop(subject, async () => {
        const log: string[] = [];
        await (async () => {
          await using tg = new TaskGroup();
          tg.createTask(async () => {
            await sleep(0.01);
            log.push('child');
          });
        })();
        expect(log).toEqual(['child']);

        const boom = new Error('boom');
        const error = await failure(
          (async () => {
            await using tg = new TaskGroup();
            tg.createTask(async () => {
              await sleep(0.01);
              throw boom;
            });
            await sleep(10);
          })(),
        );
        const { error: groupError, suppressed } = error as Suppressed;
        expect((groupError as ExceptionGroup).exceptions).toEqual([boom]);
        expect(suppressed).toBeInstanceOf(CancelledError);
      }));

    it('await using: a parent cancelled from outside cancels the children', () =>
      withLoop(subject, async (loop) => {
        let childCancelled = false;
        const parent = loop.createTask(async () => {
          await using tg = new TaskGroup();
          tg.createTask(async () => {
            try {
              await sleep(10);
            } catch (e) {
              childCancelled = e instanceof CancelledError;
              throw e;
            }
          });
          await sleep(10);
        });
        await sleep(0.01);
        parent.cancel();
        expect(await failure(parent)).toBeInstanceOf(CancelledError);
        expect(childCancelled).toBe(true);
      }));

    it('outside a task it cannot be used', () =>
      withLoop(subject, async (loop) => {
        const outside = loop.createFuture<TaskGroup>();
        loop.callSoon(() => outside.setResult(new TaskGroup()));
        const tg = await outside;
        expect(() => tg.createTask(async () => 1)).toThrow(RuntimeError);
        expect(await failure(tg[Symbol.asyncDispose]())).toBeInstanceOf(RuntimeError);
        expect(await failure(taskGroup(42 as never))).toBeInstanceOf(TypeError);
      }));
  });
}
