/**
 * The fast paths of tasks and futures: done callbacks queued without callSoon's Handle, one
 * object per await, a future's single callback kept without an array, aged-task records that
 * describe a task only once it is lost. Each must behave exactly as the slow path did.
 */
import { setTimeout as nodeSleep } from 'node:timers/promises';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  BaseEventLoop,
  CancelledError,
  Future,
  Handle,
  allTasks,
  currentTask,
  run,
  sleep,
  Task,
  captureCallGraph,
  gather,
  _world,
  type ExceptionContext,
} from '@loopkit/core';
import { withLoop } from './support/base-loop.js';

describe('done callbacks', () => {
  it('run in registration order, interleaved with awaiting tasks, each in its own turn', () =>
    withLoop(async (loop) => {
      const fut = loop.createFuture<number>();
      const order: string[] = [];
      fut.addDoneCallback(() => order.push('cb1'));
      const waiter = loop.createTask(async () => {
        order.push(`task got ${await fut}`);
      });
      await sleep(0); // the task is now awaiting fut
      fut.addDoneCallback(() => order.push('cb2'));
      fut.setResult(7);
      expect(order).toEqual([]); // never synchronously
      await waiter;
      expect(order).toEqual(['cb1', 'task got 7', 'cb2']);
    }));

  it('a done future runs a new callback on the loop, not at once', () =>
    withLoop(async (loop) => {
      const fut = loop.createFuture<string>();
      fut.setResult('x');
      const seen: unknown[] = [];
      fut.addDoneCallback((f) => seen.push(f.result()));
      expect(seen).toEqual([]);
      await sleep(0);
      expect(seen).toEqual(['x']);
    }));

  it('removeDoneCallback counts every registration, with one callback and with several', () =>
    withLoop(async (loop) => {
      const a = (): void => {};
      const b = (): void => {};
      const one = loop.createFuture();
      one.addDoneCallback(a);
      expect(one.removeDoneCallback(b)).toBe(0);
      expect(one.removeDoneCallback(a)).toBe(1);
      expect(one.removeDoneCallback(a)).toBe(0);

      const many = loop.createFuture();
      const ran: string[] = [];
      const c = (): void => {
        ran.push('c');
      };
      many.addDoneCallback(a);
      many.addDoneCallback(c);
      many.addDoneCallback(a);
      expect(many.removeDoneCallback(a)).toBe(2);
      many.setResult(1);
      await sleep(0);
      expect(ran).toEqual(['c']);
    }));

  it('a throwing done callback is reported as its Handle would be, and the next callbacks still run', () =>
    withLoop(async (loop, reports) => {
      const fut = loop.createFuture();
      const ran: string[] = [];
      fut.addDoneCallback(function failing() {
        throw new Error('boom');
      });
      fut.addDoneCallback(async function rejecting() {
        throw new Error('async boom');
      });
      fut.addDoneCallback(() => ran.push('after'));
      fut.setResult(null);
      await sleep(0);
      await sleep(0);
      expect(ran).toEqual(['after']);
      expect(reports.map((r) => r.message)).toEqual(['Exception in callback failing()', 'Exception in callback rejecting()']);
      expect(reports.map((r) => (r.exception as Error).message)).toEqual(['boom', 'async boom']);
      expect(reports[0]!.handle).toBeInstanceOf(Handle);
    }));

  it('in debug mode the report keeps where the callback was scheduled', () =>
    withLoop(async (loop, reports) => {
      loop.setDebug(true);
      loop.slowCallbackDuration = 60;
      const fut = loop.createFuture();
      fut.addDoneCallback(function failing() {
        throw new Error('boom');
      });
      fut.setResult(null);
      await sleep(0);
      expect(reports).toHaveLength(1);
      expect(String(reports[0]!.sourceTraceback)).toContain('Error');
    }));
});

describe('then() on a pending future', () => {
  it('gives a thenable that chains as a promise would, for success and failure', () =>
    withLoop(async (loop) => {
      const ok = loop.createFuture<number>();
      const failed = loop.createFuture<number>();
      const doubled = ok.then((v) => v * 2);
      const caught = failed.then(() => 'no').catch((e: Error) => `caught ${e.message}`);
      ok.setResult(21);
      failed.setException(new Error('bad'));
      expect(await doubled).toBe(42);
      expect(await caught).toBe('caught bad');
    }));

  it('a task cancelled after its future finished, before it resumed, raises CancelledError there', () =>
    withLoop(async (loop, reports) => {
      const fut = loop.createFuture<number>();
      const task = loop.createTask(async () => await fut);
      await sleep(0);
      fut.setException(new Error('seen by nobody'));
      task.cancel('late');
      await expect(task).rejects.toThrow(CancelledError);
      await sleep(0);
      expect(reports).toEqual([]); // the future's error counts as retrieved
    }));

  it('several tasks awaiting one future resume in the order they awaited', () =>
    withLoop(async (loop) => {
      const fut = loop.createFuture<string>();
      const order: string[] = [];
      const tasks = ['a', 'b', 'c'].map((name) =>
        loop.createTask(async () => {
          order.push(`${name}:${await fut}`);
        }),
      );
      await sleep(0);
      fut.setResult('go');
      for (const task of tasks) await task;
      expect(order).toEqual(['a:go', 'b:go', 'c:go']);
    }));
});

describe('then() on a done future', () => {
  it('gives the outcome to a task of another loop, as asyncio never suspends there; a pending one still refuses', () =>
    withLoop(async (loop) => {
      const other = new BaseEventLoop();
      const done = other.createFuture<string>();
      done.setResult('from the other loop');
      const failed = other.createFuture<string>();
      failed.setException(new Error('other failure'));
      const pending = other.createFuture<string>();
      expect(await loop.createTask(async () => await done)).toBe('from the other loop');
      await expect(loop.createTask(async () => await failed)).rejects.toThrow('other failure');
      await expect(loop.createTask(async () => await pending)).rejects.toThrow(/attached to a different loop/);
      other.close();
    }));

  /** How many microtask turns pass before `await aw` resumes, and what it gave or threw. */
  async function turnsUntilResumed(aw: PromiseLike<unknown>): Promise<[number, unknown]> {
    let turns = 0;
    let counting = true;
    const count = (): void => {
      turns += 1;
      if (counting) queueMicrotask(count);
    };
    queueMicrotask(count);
    let outcome: unknown;
    try {
      outcome = await aw;
    } catch (error) {
      outcome = (error as Error).message;
    }
    counting = false;
    return [turns, outcome];
  }

  // With the addon the then() of a done future settles the language's resolving function
  // itself: one microtask fewer than Promise.resolve(result).then(resolve) took.
  it.skipIf(typeof _world.taskTracking?.slot?.isAnonymousBuiltin !== 'function')(
    'settles an await at once: it resumes as soon as after a thenable settling in then(), a failure too',
    () =>
      withLoop(async (loop) => {
        const done = loop.createFuture<number>();
        done.setResult(1);
        const failed = loop.createFuture<number>();
        failed.setException(new Error('failed'));
        // thenables that settle inside then(), as a promise's own resolving functions are called
        const resolving = { then: (resolve: (v: number) => void) => resolve(1) } as unknown as PromiseLike<number>;
        const rejecting = { then: (_: unknown, reject: (e: Error) => void) => reject(new Error('failed')) } as unknown as PromiseLike<number>;
        const [turns] = await turnsUntilResumed(resolving);
        expect(await turnsUntilResumed(rejecting)).toEqual([turns, 'failed']);
        expect(await turnsUntilResumed(done)).toEqual([turns, 1]);
        expect(await turnsUntilResumed(failed)).toEqual([turns, 'failed']);
      }),
  );

  it("calls a user's callbacks later, never inside then(), and chains as a promise would", () =>
    withLoop(async (loop) => {
      const done = loop.createFuture<number>();
      done.setResult(5);
      const failed = loop.createFuture<number>();
      failed.setException(new Error('bad'));
      const seen: unknown[] = [];
      const chained = [
        done.then((v) => seen.push(`arrow ${v}`)),
        done.then(function (this: unknown, v: number) {
          return seen.push(`function ${v}`);
        }),
        done.then(((v: number) => seen.push(`bound ${v}`)).bind(null)),
        failed.then(undefined, (e: Error) => seen.push(`rejected ${e.message}`)),
      ];
      expect(seen).toEqual([]);
      expect(await Promise.all(chained)).toEqual([1, 2, 3, 4]);
      expect(seen).toEqual(['arrow 5', 'function 5', 'bound 5', 'rejected bad']);
      // A promise's own resolving functions passed by hand: what then() gives is settled with
      // what they return (undefined), as Promise.prototype.then's would be.
      let chainedOnResolve: unknown = 'not yet';
      expect(await new Promise((resolve) => void done.then(resolve).then((v) => (chainedOnResolve = v)))).toBe(5);
      await sleep(0);
      expect(chainedOnResolve).toBe(undefined);
      let chainedOnReject: unknown = 'not yet';
      await expect(new Promise((resolve, reject) => void failed.then(resolve, reject).then((v) => (chainedOnReject = v)))).rejects.toThrow('bad');
      await sleep(0);
      expect(chainedOnReject).toBe(undefined);
    }));
});

describe("Future.prototype holds then() alone (V8 looks `then` up on every await, uncached)", () => {
  it('keeps only the constructor and then() of its own, every other method one prototype above', () => {
    const own = Reflect.ownKeys(Future.prototype).filter((key) => typeof key === 'string');
    expect(own.sort()).toEqual(['constructor', 'then']);
    const methods = Object.getPrototypeOf(Future.prototype) as object;
    for (const name of ['done', 'result', 'cancel', 'addDoneCallback', '_setResultNow', '_cancelMessage']) {
      expect(Object.hasOwn(methods, name), name).toBe(true);
    }
    expect(Object.getPrototypeOf(methods)).toBe(Object.prototype);
    expect(typeof Object.getOwnPropertyDescriptor(methods, '_cancelMessage')!.get).toBe('function');
  });

  it('subclasses override and call up through it; futures and tasks work as before', () =>
    withLoop(async (loop) => {
      class Counting<T> extends Future<T> {
        cancels = 0;
        override cancel(msg?: string): boolean {
          this.cancels += 1;
          return super.cancel(msg);
        }
      }
      const fut = new Counting<number>(loop);
      expect(fut).toBeInstanceOf(Future);
      expect(fut.cancel('stop')).toBe(true);
      expect(fut.cancels).toBe(1);
      expect(fut.cancelled()).toBe(true);
      expect(String(fut)).toBe('<Counting cancelled>');
      const task = loop.createTask(async () => {
        const inner = loop.createFuture<number>();
        loop.callSoon(() => inner.setResult(4));
        return (await inner) * 2;
      });
      expect(task).toBeInstanceOf(Future);
      expect(await task).toBe(8);
      expect(task.cancel()).toBe(false);
    }));
});

describe('createTask without options', () => {
  it('gives a task factory an options object of its own, which it may change', () =>
    withLoop(async (loop) => {
      const given: object[] = [];
      loop.setTaskFactory((l, coro, options) => {
        given.push(options);
        (options as { name?: string }).name = `made-${given.length}`;
        return new Task(coro, { loop: l, ...options });
      });
      const first = loop.createTask(async () => 1);
      const second = loop.createTask(async () => 2);
      expect([first.getName(), second.getName()]).toEqual(['made-1', 'made-2']);
      expect(given[0]).not.toBe(given[1]);
      loop.setTaskFactory(null);
      expect(await first).toBe(1);
      expect(await second).toBe(2);
    }));
});

describe("a body whose then() is the language's (watched by reactions that find their task)", () => {
  it('a promise subclass keeping that then() ends the task with its result or its error, in order', () =>
    withLoop(async (loop) => {
      class Keeps<T> extends Promise<T> {}
      const order: string[] = [];
      const yielded = loop.createTask(() => sleep(0, 'after one iteration')); // sleep(0)'s yield promise
      const kept = loop.createTask(() => new Keeps<string>((resolve) => resolve('kept')));
      const failed = loop.createTask(() => Keeps.reject(new RangeError('kept failing')));
      loop.callSoon(() => order.push('callback queued after the tasks'));
      yielded.addDoneCallback(() => order.push('yielded done'));
      expect(await yielded).toBe('after one iteration');
      expect(await kept).toBe('kept');
      await expect(failed).rejects.toThrow(RangeError);
      expect(order).toEqual(['callback queued after the tasks', 'yielded done']);
    }));

  it('is the running task in that body, and a cancel() before its wake-up still raises there', () =>
    withLoop(async (loop) => {
      class Keeps<T> extends Promise<T> {}
      let seen: unknown = null;
      const task = loop.createTask(() => {
        seen = currentTask();
        return Keeps.resolve(sleep(0));
      });
      await sleep(0); // its first step ran: it yields
      expect(seen).toBe(task);
      task.cancel('stop');
      await expect(task).rejects.toThrow(CancelledError);
      expect(task.cancelled()).toBe(true);
    }));

  it('a subclass overriding then() is watched through its own then()', () =>
    withLoop(async (loop) => {
      const calls: string[] = [];
      class Overrides<T> extends Promise<T> {
        override then<A = T, B = never>(
          onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
          onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
        ): Promise<A | B> {
          calls.push('then');
          return super.then(onFulfilled, onRejected);
        }
      }
      const task = loop.createTask(() => Overrides.resolve(5));
      expect(await task).toBe(5);
      expect(calls.length).toBeGreaterThan(0);
    }));

  it("an object that only borrows then() is not a promise: the task fails with the language's TypeError", () =>
    withLoop(async (loop) => {
      const task = loop.createTask((() => ({ then: Promise.prototype.then })) as unknown as () => Promise<unknown>);
      await expect(task).rejects.toThrow(TypeError);
    }));
});

describe("a first step's sleep(0): a native promise, woken by an entry of its own", () => {
  it('is a plain Promise (the native await path: no subclass, no own fields), settled one iteration later with its result', () =>
    withLoop(async (loop) => {
      const order: string[] = [];
      let yielding: unknown = null;
      const task = loop.createTask(async () => {
        yielding = sleep(0, 'result');
        order.push(`got ${await (yielding as Promise<string>)}`);
      });
      loop.callSoon(() => order.push('callback queued after the task'));
      await task;
      expect(Object.getPrototypeOf(yielding)).toBe(Promise.prototype);
      expect(Reflect.ownKeys(yielding as object)).toEqual([]);
      expect(order).toEqual(['callback queued after the task', 'got result']);
    }));

  it('cancelled before its wake-up: CancelledError at that await; never awaited, the promise takes it without an unhandled rejection', () =>
    withLoop(async (loop) => {
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown): void => {
        unhandled.push(reason);
      };
      process.on('unhandledRejection', onUnhandled);
      try {
        const log: string[] = [];
        const awaiting = loop.createTask(async () => {
          try {
            await sleep(0);
            log.push('not reached');
          } catch (error) {
            log.push(`awaiting: ${(error as Error).name} ${(error as Error).message}`);
            throw error;
          }
        });
        let release = (): void => {};
        const gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        const unawaited = loop.createTask(async () => {
          void sleep(0); // made, never awaited: the task goes on through a plain promise
          await gate;
          return 'went on';
        });
        // Queued after both first steps, so it runs after them and before either wake-up;
        // the gate opens in the next iteration, after both wake-ups.
        loop.callSoon(() => {
          awaiting.cancel('stop');
          unawaited.cancel('stop too');
          loop.callSoon(release);
        });
        await expect(awaiting).rejects.toThrow(CancelledError);
        // The cancellation went to the promise it never awaited (packages/core's README).
        expect(await unawaited).toBe('went on');
        await new Promise((resolve) => setImmediate(resolve));
        expect(log).toContain('awaiting: CancelledError stop');
        expect(unhandled).toEqual([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    }));
});

describe("a task's rare state (name, cancel counts and message, signal, context), made on first use", () => {
  it('a plain task made without options reads the defaults and never makes it', () =>
    withLoop(async (loop) => {
      const task = loop.createTask(async () => 'done');
      expect(task._rare).toBeNull();
      expect([task.cancelling(), task.uncancel(), task._mustCancel, task._cancelMessage]).toEqual([0, 0, false, undefined]);
      expect(task.getName()).toMatch(/^Task-\d+$/);
      expect(await task).toBe('done');
      expect(task._rare).toBeNull();
    }));

  it('cancel, uncancel and a cancel message behave as asyncio, with the signal made before or after', () =>
    withLoop(async (loop) => {
      const started = loop.createFuture<void>();
      const task = loop.createTask(async () => {
        started.setResult();
        try {
          await sleep(3600);
        } catch (error) {
          return `caught ${(error as CancelledError).message} ${currentTask()!.cancelling()}`;
        }
        return 'not cancelled';
      });
      await started;
      const early = task.signal;
      expect(task.cancel('first')).toBe(true);
      expect(task.cancel('second')).toBe(true);
      expect(task.cancelling()).toBe(2);
      expect(task.uncancel()).toBe(1);
      expect(early.aborted).toBe(true);
      expect(await task).toBe('caught first 1');
      expect(task.signal.aborted).toBe(true);
      expect(task.cancel()).toBe(false);
    }));

  it('a task cancelled before its first step keeps the message, and a named task its name after renaming', () =>
    withLoop(async (loop) => {
      const ran: string[] = [];
      const cancelled = loop.createTask(async () => {
        ran.push('body');
      });
      cancelled.cancel('too early');
      const named = loop.createTask(async () => currentTask()!.getName(), { name: 'worker' });
      expect(named.getName()).toBe('worker');
      named.setName('renamed');
      expect(await named).toBe('renamed');
      // The first read gets the message, as asyncio's (see the cpython-audit's tasks.test.ts).
      expect(() => cancelled.result()).toThrow('too early');
      await expect(cancelled).rejects.toThrow(CancelledError);
      expect(ran).toEqual([]);
    }));

  it('a future given the loop alone, and a task given the loop alone, belong to it', () =>
    withLoop(async (loop) => {
      const task = new Task(async () => 3, loop);
      expect(task.getLoop()).toBe(loop);
      expect(await task).toBe(3);
    }));
});

describe('currentTask() where the loop does not resume the step', () => {
  it('is the task after awaiting Node promises (timers, fs), and cancellation still reaches its next await', () =>
    withLoop(async (loop) => {
      const seen: boolean[] = [];
      const gate = loop.createFuture();
      const task = loop.createTask(async () => {
        const me = currentTask();
        await nodeSleep(1);
        seen.push(currentTask() === me);
        await readFile(new URL(import.meta.url));
        seen.push(currentTask() === me);
        await gate; // cancel() must find this await: the task, not null, awaits gate
      });
      while (seen.length < 2) await sleep(0.001);
      await sleep(0); // the task's then() on gate has run
      task.cancel();
      await expect(task).rejects.toThrow(CancelledError);
      expect(seen).toEqual([true, true]);
      expect(gate.cancelled()).toBe(true);
    }));

  it('is null in a plain callback and in a done callback, and filters by loop', () =>
    withLoop(async (loop) => {
      const fromCallback = loop.createFuture<unknown>();
      loop.callSoon(() => fromCallback.setResult(currentTask()));
      expect(await fromCallback).toBeNull();
      const fut = loop.createFuture();
      const inDone = loop.createFuture<unknown>();
      fut.addDoneCallback(() => inDone.setResult(currentTask()));
      fut.setResult(1);
      expect(await inDone).toBeNull();
      const me = currentTask()!;
      expect(currentTask(loop)).toBe(me);
      expect(currentTask(new BaseEventLoop())).toBeNull();
    }));

  it('is right in run() after run(), each with its own loop, and null between them', async () => {
    const names: Array<string | undefined> = [];
    for (const name of ['first', 'second']) {
      await run(async () => {
        currentTask()!.setName(name);
        await sleep(0);
        await nodeSleep(1);
        names.push(currentTask()?.getName());
      });
      names.push(currentTask()?.getName());
    }
    expect(names).toEqual(['first', undefined, 'second', undefined]);
  });
});

describe('aged tasks', () => {
  it('allTasks() sees a task before and after it aged, and not once done', () =>
    withLoop(async (loop) => {
      const gate = loop.createFuture();
      const task = loop.createTask(async () => gate);
      await sleep(0);
      expect(allTasks(loop).has(task)).toBe(true);
      // The loop idles: its pending tasks age (weakly held from now on); under load a first
      // iteration can outlast a 5 ms sleep, and a loop that never idled ages nothing.
      while (_world.youngTasks.length > 0) await sleep(0.005);
      expect(allTasks(loop).has(task)).toBe(true);
      gate.setResult(null);
      await task;
      expect(allTasks(loop).has(task)).toBe(false);
    }));

  it.skipIf(typeof globalThis.gc !== 'function')('a lost pending task is reported under the name it had when lost', async () => {
    const reports: ExceptionContext[] = [];
    const loop = new BaseEventLoop();
    loop.setExceptionHandler((_loop, context) => reports.push(context));
    await loop.runUntilComplete(async () => {
      const holder: { lost: Task<unknown> | null } = {
        lost: loop.createTask(async () => {
          await new Future({ loop }); // nobody else holds it
        }),
      };
      while (_world.youngTasks.length > 0) await sleep(0.005); // the loop idles: the task ages
      holder.lost!.setName('renamed after aging');
      holder.lost = null;
      for (let i = 0; i < 30 && reports.length === 0; i++) {
        globalThis.gc!();
        await nodeSleep(5);
      }
    });
    loop.close();
    expect(reports.map((r) => r.message)).toEqual(['Task was destroyed but it is pending!']);
    // As asyncio's report: the future the lost task waited for is part of its description.
    expect(reports[0]!.taskDescription).toBe("<Task pending name='renamed after aging' coro=<anonymous>() wait_for=<Future pending cb=[Task.task_wakeup()]>>");
  });

  it.skipIf(typeof globalThis.gc !== 'function')('an aged task that finished is not reported when collected; a lost one named at creation, in debug mode, is, with its stack', async () => {
    const reports: ExceptionContext[] = [];
    const loop = new BaseEventLoop();
    loop.setExceptionHandler((_loop, context) => reports.push(context));
    await loop.runUntilComplete(async () => {
      const gate = loop.createFuture();
      const holder: { finished: Task<unknown> | null; lost: Task<unknown> | null } = {
        finished: loop.createTask(async () => gate),
        lost: null,
      };
      loop.setDebug(true);
      holder.lost = loop.createTask(
        async () => {
          await new Future({ loop }); // nobody else holds it
        },
        { name: 'lost one' },
      );
      loop.setDebug(false);
      while (_world.youngTasks.length > 0) await sleep(0.005); // the loop idles: both tasks age
      gate.setResult(null);
      await holder.finished;
      holder.finished = null;
      holder.lost = null;
      for (let i = 0; i < 30 && reports.length === 0; i++) {
        globalThis.gc!();
        await nodeSleep(5);
      }
      for (let i = 0; i < 5; i++) {
        globalThis.gc!();
        await nodeSleep(5);
      }
    });
    loop.close();
    expect(reports.map((r) => r.message)).toEqual(['Task was destroyed but it is pending!']);
    expect(reports[0]!.taskDescription).toBe("<Task pending name='lost one' coro=<anonymous>()>");
    expect(reports[0]!.sourceTraceback).toMatch(/task-fast-paths/);
  });
});

// gather looks up only functions (the same one twice is one task); a Future or a promise
// passed twice is watched twice. The results, the failure and the reports must be as when
// every argument was looked up.
describe('gather with an awaitable passed twice', () => {
  it('a function twice runs once and gives its result in both places', () =>
    withLoop(async () => {
      let runs = 0;
      const fn = async (): Promise<number> => {
        runs += 1;
        await sleep(0);
        return runs;
      };
      expect(await gather(fn, fn, async () => 'x', fn)).toEqual([1, 1, 'x', 1]);
      expect(runs).toBe(1);
    }));

  it('a pending future twice: its result in both places, once awaited by the task calling gather', () =>
    withLoop(async (loop) => {
      const fut = loop.createFuture<number>();
      const other = loop.createFuture<number>();
      const all = gather(fut, other, fut);
      const awaitedBy = captureCallGraph(fut)!.awaitedBy.map((g) => g.future);
      expect(awaitedBy).toHaveLength(1);
      expect(awaitedBy[0]).toBe(currentTask());
      other.setResult(2);
      await sleep(0);
      expect(all.done()).toBe(false);
      fut.setResult(1);
      expect(await all).toEqual([1, 2, 1]);
      expect(captureCallGraph(fut)!.awaitedBy).toHaveLength(0);
    }));

  it('a done future and a promise twice each', () =>
    withLoop(async (loop) => {
      const done = loop.createFuture<string>();
      done.setResult('d');
      const promise = Promise.resolve('p');
      expect(await gather(done, promise, done, promise)).toEqual(['d', 'p', 'd', 'p']);
    }));

  it('a failing future twice fails the gather once, and its error is not reported as unretrieved', () =>
    withLoop(async (loop, reports) => {
      const fut = loop.createFuture<number>();
      const all = gather(fut, fut);
      fut.setException(new RangeError('bad'));
      await expect(all).rejects.toThrow('bad');
      await sleep(0);
      expect(reports).toEqual([]);
    }));

  it('with returnExceptions, a failing future twice gives its error in both places', () =>
    withLoop(async (loop) => {
      const fut = loop.createFuture<number>();
      const error = new RangeError('bad');
      fut.setException(error);
      expect(await gather(fut, sleep(0), fut, { returnExceptions: true })).toEqual([error, undefined, error]);
    }));

  it('cancelling a gather holding one future twice cancels it and ends with CancelledError', () =>
    withLoop(async (loop) => {
      const fut = loop.createFuture<number>();
      const all = gather(fut, fut);
      expect(all.cancel('stop')).toBe(true);
      await expect(all).rejects.toBeInstanceOf(CancelledError);
      expect(fut.cancelled()).toBe(true);
    }));

  it('a future of another loop after the first argument is a RuntimeError', () =>
    withLoop(async (loop) => {
      const elsewhere = new BaseEventLoop();
      try {
        const foreign = elsewhere.createFuture();
        expect(() => gather(loop.createFuture(), foreign)).toThrow('The future belongs to a different loop');
      } finally {
        elsewhere.close();
      }
    }));
});
