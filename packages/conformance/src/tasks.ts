/** Task: coroutines, cancellation, names, currentTask, signals, step timing, reports. */
import { expect } from './expect.js';
import { describe, it } from './kit.js';
import { rule } from './rules.js';
import { setTimeout as nodeSleep } from 'node:timers/promises';
import {
  CancelledError,
  Future,
  RuntimeError,
  Task,
  allTasks,
  currentTask,
  sleep,
  type ExceptionContext,
} from '@loopkit/core';
import { withLoop, type LoopUnderTest } from './context.js';
import { collectUntil, noGc } from './gc.js';

export function taskSuite(subject: LoopUnderTest): void {
  describe('Task', () => {
    it('runs an async function and gives its result', () =>
      withLoop(subject, async (loop) => {
        const task = loop.createTask(async () => {
          await sleep(0);
          return 'done';
        });
        expect(task).toBeInstanceOf(Task);
        expect(task).toBeInstanceOf(Future);
        expect(await task).toBe('done');
        expect(task.result()).toBe('done');
      }));

    it('runs a generator function: yield* futures, typed results, errors thrown in', () =>
      withLoop(subject, async (loop) => {
        const fut = loop.createFuture<number>();
        const bad = loop.createFuture<number>();
        loop.callSoon(() => fut.setResult(20));
        loop.callSoon(() => bad.setException(new Error('gen boom')));
        const task = loop.createTask(function* () {
          const a: number = yield* fut;
          yield* sleep(0);
          let caught = '';
          try {
            yield* bad;
          } catch (e) {
            caught = (e as Error).message;
          }
          return `${a + 1}:${caught}`;
        });
        expect(await task).toBe('21:gen boom');
      }));

    it('cancel() throws CancelledError at the awaited future, runs finally, carries the message', rule('cancelling a task throws CancelledError into it at the await it is suspended on, so its finally blocks run', () =>
      withLoop(subject, async (loop) => {
        const log: string[] = [];
        const waiting = loop.createFuture();
        const task = loop.createTask(async () => {
          try {
            await waiting;
            log.push('not reached');
          } finally {
            log.push('finally');
          }
        });
        await sleep(0);
        expect(task.cancel('go away')).toBe(true);
        expect(waiting.cancelled()).toBe(true);
        const error = await task.then(
          () => null,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(CancelledError);
        expect((error as Error).message).toBe('go away');
        expect(task.cancelled()).toBe(true);
        expect(log).toEqual(['finally']);
        expect(task.cancel()).toBe(false);
      })));

    it('a task that catches CancelledError and returns a value succeeds', () =>
      withLoop(subject, async (loop) => {
        const task = loop.createTask(async () => {
          try {
            await sleep(3600);
          } catch (e) {
            if (e instanceof CancelledError) return 'caught';
            throw e;
          }
          return 'slept';
        });
        await sleep(0);
        task.cancel();
        expect(await task).toBe('caught');
        expect(task.cancelled()).toBe(false);
        expect(task.cancelling()).toBe(1);
      }));

    it('cancelled before its first step, the body never runs', rule('a task cancelled before its first step never runs its body', () =>
      withLoop(subject, async (loop) => {
        let ran = false;
        const task = loop.createTask(async () => {
          ran = true;
        });
        task.cancel();
        await expect(task).rejects.toBeInstanceOf(CancelledError);
        expect(ran).toBe(false);
        const gen = loop.createTask(function* () {
          ran = true;
        });
        gen.cancel();
        await expect(gen).rejects.toBeInstanceOf(CancelledError);
        expect(ran).toBe(false);
      })));

    it('cancelling() counts requests; uncancel() takes one back', () =>
      withLoop(subject, async (loop) => {
        const task = loop.createTask(async () => {
          try {
            await sleep(3600);
          } catch {
            /* swallowed: the task goes on */
          }
          await sleep(0);
          return currentTask()!.cancelling();
        });
        await sleep(0);
        task.cancel();
        task.cancel();
        expect(task.cancelling()).toBe(2);
        expect(task.uncancel()).toBe(1);
        expect(task.uncancel()).toBe(0);
        expect(task.uncancel()).toBe(0);
        expect(await task).toBe(0);
      }));

    it('cancel() while the task yields in sleep(0) throws CancelledError at that await', () =>
      withLoop(subject, async (loop) => {
        const log: string[] = [];
        const task = loop.createTask(async () => {
          try {
            await sleep(0);
            log.push('not cancelled');
          } catch (error) {
            log.push(`caught ${(error as Error).constructor.name} ${(error as Error).message}`);
            throw error;
          }
        });
        await sleep(0); // the task is now suspended in its sleep(0)
        expect(task.cancel('stop yielding')).toBe(true);
        await expect(task).rejects.toBeInstanceOf(CancelledError);
        expect(log).toEqual(['caught CancelledError stop yielding']);
      }));

    // The cancellation goes to that sleep(0), where the task would have yielded (see the caveat
    // in packages/core/README.md); what must not happen is a process-level unhandled rejection.
    it('a sleep(0) made but never awaited does not turn a cancel into an unhandled rejection', () =>
      withLoop(subject, async (loop) => {
        const unhandled: unknown[] = [];
        const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
        process.on('unhandledRejection', onUnhandled);
        try {
          const task = loop.createTask(async () => {
            void sleep(0);
            await nodeSleep(20);
          });
          await sleep(0);
          task.cancel();
          await task.then(
            () => {},
            () => {},
          );
          expect(unhandled).toEqual([]);
          expect(task.done()).toBe(true);
        } finally {
          process.off('unhandledRejection', onUnhandled);
        }
      }));

    it('a cancel requested while awaiting a plain promise takes effect at the next future', () =>
      withLoop(subject, async (loop) => {
        const log: string[] = [];
        const task = loop.createTask(async () => {
          await new Promise((r) => setTimeout(r, 5));
          log.push('promise done');
          await sleep(0);
          log.push('not reached');
        });
        await sleep(0);
        task.cancel();
        await expect(task).rejects.toBeInstanceOf(CancelledError);
        expect(log).toEqual(['promise done']);
      }));

    it('a cancel pending after a plain promise is taken by the next future awaited, though the loop was slow to turn', () =>
      withLoop(subject, async (loop) => {
        const task = loop.createTask(async () => {
          await new Promise((r) => setTimeout(r, 5)); // resumed by Node, the loop idle meanwhile
          currentTask()!.cancel('later');
          const nap = sleep(0.001); // wakes the loop
          const end = performance.now() + 5;
          while (performance.now() < end); // a machine under load: the nap is due before anything else runs
          try {
            await nap;
            return 'the nap ended'; // (and the task would end cancelled, the cancel still pending)
          } catch (error) {
            return `${(error as Error).name} at the nap: ${(error as Error).message}`;
          }
        });
        expect(await task).toBe('CancelledError at the nap: later');
      }));

    it('names: Task-N by default, createTask name, setName', () =>
      withLoop(subject, async (loop) => {
        const a = loop.createTask(async () => {});
        const b = loop.createTask(async () => {}, { name: 'worker' });
        expect(a.getName()).toMatch(/^Task-\d+$/);
        expect(b.getName()).toBe('worker');
        b.setName('renamed');
        expect(b.getName()).toBe('renamed');
        expect(String(b)).toContain("name='renamed'");
        const fn = async () => {};
        expect(loop.createTask(fn).getCoro()).toBe(fn);
        await Promise.all([a, b]);
      }));

    it('currentTask() is right under interleaved tasks, and null in plain callbacks', () =>
      withLoop(subject, async (loop) => {
        const seen: string[] = [];
        const body = async () => {
          const me = currentTask()!;
          for (let i = 0; i < 3; i++) {
            seen.push(`${me.getName()}:${currentTask() === me}`);
            await sleep(0);
          }
        };
        const t1 = loop.createTask(body, { name: 'one' });
        const t2 = loop.createTask(body, { name: 'two' });
        const inCallback = loop.createFuture<unknown>();
        loop.callSoon(() => inCallback.setResult(currentTask()));
        await Promise.all([t1, t2]);
        expect(seen).toEqual(['one:true', 'two:true', 'one:true', 'two:true', 'one:true', 'two:true']);
        expect(await inCallback).toBeNull();
        expect(allTasks(loop).has(t1)).toBe(false);
      }));

    it('repr follows asyncio: state, name, coro, then result or exception', () =>
      withLoop(subject, async (loop) => {
        async function compute() {
          return 7;
        }
        const task = loop.createTask(compute, { name: 'calc' });
        expect(String(task)).toBe("<Task pending name='calc' coro=compute()>");
        await task;
        expect(String(task)).toBe("<Task finished name='calc' coro=compute() result=7>");
        const fut = loop.createFuture();
        fut.cancel();
        expect(String(fut)).toBe('<Future cancelled>');
      }));

    it('allTasks() without a loop needs a running one, as asyncio.all_tasks()', async () => {
      expect(() => allTasks()).toThrow('no running event loop');
    });

    it('allTasks() lists the pending tasks of the loop', () =>
      withLoop(subject, async (loop) => {
        const blocker = loop.createFuture();
        const t = loop.createTask(async () => blocker);
        await sleep(0);
        const tasks = allTasks(loop);
        expect(tasks.has(t)).toBe(true);
        expect(tasks.has(currentTask()!)).toBe(true);
        blocker.setResult(null);
        await t;
        expect(allTasks(loop).has(t)).toBe(false);
      }));

    it('task.signal aborts on cancel; an AbortError from a Node API ends the task cancelled', () =>
      withLoop(subject, async (loop) => {
        const task: Task<string> = loop.createTask(async () => {
          await nodeSleep(60_000, undefined, { signal: currentTask()!.signal });
          return 'slept';
        });
        await sleep(0);
        expect(task.signal.aborted).toBe(false);
        task.cancel('enough');
        expect(task.signal.aborted).toBe(true);
        await expect(task).rejects.toBeInstanceOf(CancelledError);
        expect(task.cancelled()).toBe(true);
      }));

    it('a task awaiting itself throws', () =>
      withLoop(subject, async (loop) => {
        const holder: { task?: Task<unknown> } = {};
        holder.task = loop.createTask(async () => {
          await sleep(0);
          await holder.task;
        });
        await expect(holder.task).rejects.toThrow(RuntimeError);
        await expect(holder.task).rejects.toThrow('Task cannot await on itself');
      }));

    it('awaiting a future of another loop throws', () =>
      withLoop(subject, async (loop) => {
        const other = subject.make();
        const foreign = other.createFuture();
        const task = loop.createTask(async () => foreign.then(() => 'no'));
        await expect(task).rejects.toThrow(/attached to a different loop/);
        other.close();
      }));

    it('setResult/setException on a task throw', () =>
      withLoop(subject, async (loop) => {
        const task = loop.createTask(async () => 1);
        expect(() => task.setResult(2)).toThrow(RuntimeError);
        expect(() => task.setException(new Error('x'))).toThrow(RuntimeError);
        expect(await task).toBe(1);
      }));

    it('createTask rejects a non-function', () =>
      withLoop(subject, async (loop) => {
        expect(() => loop.createTask(Promise.resolve(1) as never)).toThrow(TypeError);
        expect(() => loop.createTask(Promise.resolve(1) as never)).toThrow(/coro/);
      }));

    it("a task's code after an await runs where its wake-up callback runs, as a step in asyncio", rule("a task's code between two awaits is one step, run where the callback that woke it runs in the iteration", async () => {
      const loop = subject.make();
      const log: string[] = [];
      const fut = loop.createFuture();
      loop.createTask(async () => {
        log.push('t1');
        await fut;
        log.push('t2');
        await sleep(0);
        log.push('t3');
      });
      loop.callSoon(() => {
        fut.setResult(null); // schedules the task's wake-up for the next iteration...
        loop.callSoon(() => {
          // ...ahead of this callback, which stops the loop in that same iteration.
          log.push('after wake-up');
          loop.stop();
        });
      });
      await loop.runForever();
      expect(log).toEqual(['t1', 't2', 'after wake-up']);
      loop.close();
    }));

    it("a step that goes on through microtasks ends before the iteration's next callback", rule("a task step runs to its next suspension before the iteration's next callback runs", async () => {
      // Each task's step awaits resolved promises and a nested async function before it
      // suspends on sleep(0) or returns: asyncio runs the whole step inside one callback.
      const loop = subject.make();
      const log: string[] = [];
      const nested = async (name: string): Promise<void> => {
        await Promise.resolve();
        log.push(`${name} nested`);
      };
      for (const name of ['a', 'b']) {
        loop.createTask(async () => {
          await sleep(0);
          log.push(`${name} resumed`);
          await Promise.resolve();
          await nested(name);
          log.push(`${name} step ends`);
          await sleep(0);
          log.push(`${name} last step`);
        });
      }
      loop.callSoon(() => loop.callSoon(() => log.push('callback after the wake-ups')));
      await loop.runUntilComplete(() => sleep(0.01));
      expect(log).toEqual([
        'a resumed', 'a nested', 'a step ends',
        'b resumed', 'b nested', 'b step ends',
        'callback after the wake-ups',
        'a last step', 'b last step',
      ]);
      loop.close();
    }));

    it("a step's own then() or sleep(0) it awaits later does not end it: nothing else runs inside", async () => {
      const loop = subject.make();
      const log: string[] = [];
      const fut = loop.createFuture();
      const task = loop.createTask(async () => {
        await sleep(0); // from here on, a resumed step: the loop waits for its end
        void fut.then(() => log.push('future done'));
        log.push('after then()');
        const later = sleep(0);
        log.push('after sleep(0)');
        await Promise.resolve();
        log.push('step ends');
        await later;
        log.push('next step');
      });
      loop.callSoon(() => loop.callSoon(() => log.push('callback after the wake-up')));
      await loop.runUntilComplete(task);
      expect(log).toEqual(['after then()', 'after sleep(0)', 'step ends', 'callback after the wake-up', 'next step']);
      loop.close();
    });

    it("a promise's resolve function handed to then() by a step runs nothing else inside that step's job", async () => {
      const loop = subject.make();
      const log: string[] = [];
      const fut = loop.createFuture<string>();
      const task = loop.createTask(async () => {
        await sleep(0);
        const adopted = new Promise<string>((resolve) => {
          void fut.then(resolve); // looks like the language adopting `fut`
          log.push('after then(resolve)');
        });
        log.push('after new Promise');
        loop.callSoon(() => fut.setResult('v'));
        log.push(`got ${await adopted}`);
      });
      loop.callSoon(() => loop.callSoon(() => log.push('callback after the wake-up')));
      await loop.runUntilComplete(task);
      expect(log).toEqual(['after then(resolve)', 'after new Promise', 'callback after the wake-up', 'got v']);
      loop.close();
    });

    it('a step that suspends on a Node promise still ends before the next callback', async () => {
      const loop = subject.make();
      const log: string[] = [];
      const task = loop.createTask(async () => {
        await sleep(0);
        log.push('task resumed');
        await nodeSleep(5); // not a loopkit awaitable: the loop waits for the microtasks to drain
        log.push('task after node timer');
      });
      loop.callSoon(() => loop.callSoon(() => log.push('callback after the wake-up')));
      await loop.runUntilComplete(task);
      expect(log).toEqual(['task resumed', 'callback after the wake-up', 'task after node timer']);
      loop.close();
    });

    it("a task's first step that ends at `await sleep(0)` lets the next callback run at once", async () => {
      const loop = subject.make();
      const log: string[] = [];
      const task = loop.createTask(async () => {
        log.push('first step');
        const value = await sleep(0, 'v');
        log.push(`second step ${value}`);
        return value;
      });
      loop.callSoon(() => log.push('callback'));
      expect(await loop.runUntilComplete(task)).toBe('v');
      expect(log).toEqual(['first step', 'callback', 'second step v']);
      loop.close();
    });

    it('stop() during runUntilComplete leaves exactly as many steps run as asyncio would', rule('stop() ends the loop after the current iteration: exactly the steps asyncio would run have run', async () => {
      const loop = subject.make();
      const steps: number[] = [];
      const main = loop.createTask(async () => {
        for (let i = 0; ; i++) {
          steps.push(i);
          if (i === 2) loop.stop();
          await sleep(0);
        }
      });
      await expect(loop.runUntilComplete(main)).rejects.toThrow('Event loop stopped before Future completed.');
      expect(steps).toEqual([0, 1, 2]);
      main.cancel();
      await loop.runUntilComplete(main).catch(() => {});
      expect(main.cancelled()).toBe(true);
      loop.close();
    }));

    it.skipIf(noGc)('reports a pending task that was garbage-collected', async () => {
      const reports: ExceptionContext[] = [];
      await withLoop(subject, async (loop) => {
        loop.setExceptionHandler((_l, ctx) => reports.push(ctx));
        (() => {
          loop.createTask(async () => {
            await loop.createFuture(); // nobody else holds this future
          }, { name: 'orphan' });
        })();
        await sleep(0);
        await sleep(0);
        await collectUntil(() => reports.length > 0);
      });
      const pending = reports.filter((r) => r.message === 'Task was destroyed but it is pending!');
      expect(pending).toHaveLength(1);
      expect(String(pending[0]!.taskDescription)).toContain("name='orphan'");
    });

    it.skipIf(noGc)('reports an exception of a task nobody awaited, once collected', async () => {
      const reports: ExceptionContext[] = [];
      await withLoop(subject, async (loop) => {
        loop.setExceptionHandler((_l, ctx) => reports.push(ctx));
        (() => {
          loop.createTask(async () => {
            throw new Error('unseen');
          });
        })();
        await sleep(0);
        await sleep(0);
        await collectUntil(() => reports.length > 0);
      });
      expect(reports.map((r) => r.message)).toEqual(['Task exception was never retrieved']);
      expect((reports[0]!.exception as Error).message).toBe('unseen');
    });
  });
}
