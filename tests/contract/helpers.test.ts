/**
 * API.md's helpers, sync primitives, queues and scopes: what each returns (Future, Promise,
 * pair of Sets, the futures themselves), the options objects (refusing unknown keys), the
 * constructors' defaults, on each loop.
 */
import { expect, it } from 'vitest';
import {
  ALL_COMPLETED,
  Barrier,
  BoundedSemaphore,
  CancelledError,
  Condition,
  Event,
  ExceptionGroup,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  Future,
  LifoQueue,
  Lock,
  PriorityQueue,
  Queue,
  QueueEmpty,
  QueueFull,
  QueueShutDown,
  Semaphore,
  Task,
  TaskGroup,
  Timeout,
  TimeoutError,
  allTasks,
  asCompleted,
  currentTask,
  ensureFuture,
  gather,
  getRunningLoop,
  isFuture,
  shield,
  sleep,
  taskGroup,
  timeout,
  timeoutAt,
  wait,
  waitFor,
  wrap,
  wrapFuture,
} from 'loopkit';
import { afterIterations, onEachLoop, rejection, runIn, thrown } from './loops.js';

onEachLoop('helpers: shapes', (make) => {
  it('gather(...aws, opts?) returns a Future; a trailing plain object is its options; functions become Tasks, Promises Futures', async () => {
    await runIn(make, async () => {
      const gathered = gather(async () => 1, Promise.resolve(2), sleep(0, 3));
      expect(gathered).toBeInstanceOf(Future);
      expect(isFuture(gathered)).toBe(true);
      expect(await gathered).toEqual([1, 2, 3]);
      const error = new Error('x');
      expect(await gather(async () => { throw error; }, async () => 2, { returnExceptions: true })).toEqual([error, 2]);
      expect(await gather()).toEqual([]);
    });
  });

  it('gather refuses an unknown option naming it (TypeError)', async () => {
    await runIn(make, async () => {
      const error = thrown(() => gather(async () => 1, { returnException: true } as never));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toContain('returnException');
    });
  });

  it('the same function or future passed twice to gather runs once and appears twice in the results', async () => {
    await runIn(make, async (loop) => {
      let runs = 0;
      const fn = async () => ++runs;
      expect(await gather(fn, fn)).toEqual([1, 1]);
      expect(runs).toBe(1);
      const fut = loop.createFuture<string>();
      loop.callSoon(() => fut.setResult('f'));
      expect(await gather(fut, fut)).toEqual(['f', 'f']);
    });
  });

  it('shield(aw) returns a Future that is not the inner one; cancelling it leaves the inner running', async () => {
    await runIn(make, async (loop) => {
      const inner = loop.createFuture<string>();
      const outer = shield(inner);
      expect(outer).toBeInstanceOf(Future);
      expect(outer === inner).toBe(false);
      outer.cancel();
      expect(inner.cancelled()).toBe(false);
      inner.setResult('still');
      expect(await shield(Promise.resolve(3))).toBe(3);
    });
  });

  it('wait() resolves to [done, pending], two Sets holding the futures; returnWhen takes the exported constants', async () => {
    await runIn(make, async (loop) => {
      const fast = loop.createTask(() => sleep(0.01, 'fast'));
      const slow = loop.createTask(() => sleep(5, 'slow'));
      const promise = wait([fast, slow], { returnWhen: FIRST_COMPLETED });
      expect(promise).toBeInstanceOf(Promise);
      const result = await promise;
      expect(Array.isArray(result)).toBe(true);
      expect(result).toHaveLength(2);
      const [done, pending] = result;
      expect(done).toBeInstanceOf(Set);
      expect(pending).toBeInstanceOf(Set);
      expect(done.size === 1 && done.has(fast)).toBe(true);
      expect(pending.size === 1 && pending.has(slow)).toBe(true);
      const failing = loop.createTask(async () => {
        throw new Error('x');
      });
      const [done2, pending2] = await wait([failing, slow], { returnWhen: FIRST_EXCEPTION });
      expect(done2.size === 1 && done2.has(failing)).toBe(true);
      expect(pending2.size === 1 && pending2.has(slow)).toBe(true);
      const [done3, pending3] = await wait([slow], { timeout: 0.01, returnWhen: ALL_COMPLETED });
      expect(done3.size).toBe(0);
      expect(pending3.size === 1 && pending3.has(slow)).toBe(true);
      slow.cancel();
    });
  });

  it('wait() refuses an unknown option and a bad returnWhen, naming them, and an empty set', async () => {
    await runIn(make, async () => {
      const unknown = await rejection(wait([sleep(0)], { timout: 1 } as never));
      expect(unknown).toBeInstanceOf(TypeError);
      expect(unknown.message).toContain('timout');
      expect((await rejection(wait([sleep(0)], { returnWhen: 'SOON' as never }))).message).toContain('returnWhen');
      expect(await rejection(wait([]))).toBeInstanceOf(Error);
    });
  });

  it('waitFor(aw, timeout) rejects with TimeoutError and cancels the inner; the time is in seconds', async () => {
    await runIn(make, async (loop) => {
      const inner = loop.createTask(() => sleep(5));
      const started = loop.time();
      expect(await rejection(waitFor(inner, 0.05))).toBeInstanceOf(TimeoutError);
      expect(loop.time() - started).toBeLessThan(2);
      expect(inner.cancelled()).toBe(true);
      expect(await waitFor(async () => 'fn', 1)).toBe('fn');
      expect(await waitFor(sleep(0, 'nothing'), null)).toBe('nothing');
    });
  });

  it('asCompleted(aws) is iterable (each item an awaitable of the next result) and async iterable (yielding the futures themselves)', async () => {
    await runIn(make, async (loop) => {
      const a = loop.createTask(afterIterations(2, 'a'));
      const b = loop.createTask(afterIterations(1, 'b'));
      const inOrder: string[] = [];
      for (const next of asCompleted([a, b])) inOrder.push(await next);
      expect(inOrder).toEqual(['b', 'a']);
      const c = loop.createTask(afterIterations(2, 'c'));
      const d = loop.createTask(afterIterations(1, 'd'));
      const yielded: unknown[] = [];
      for await (const fut of asCompleted([c, d])) yielded.push(fut);
      expect(yielded.length === 2 && yielded[0] === d && yielded[1] === c).toBe(true);
      const slow = loop.createTask(() => sleep(5));
      const timedOut = await rejection((async () => {
        for await (const fut of asCompleted([slow], { timeout: 0.01 })) void fut;
      })());
      expect(timedOut).toBeInstanceOf(TimeoutError);
      slow.cancel();
    });
  });

  it('ensureFuture(aw): a Future stays itself, a function becomes a Task, a Promise a Future; wrapFuture and wrap wrap a promise', async () => {
    await runIn(make, async (loop) => {
      const fut = loop.createFuture();
      expect(ensureFuture(fut)).toBe(fut);
      fut.cancel();
      const task = ensureFuture(async () => 1);
      expect(task).toBeInstanceOf(Task);
      expect(await task).toBe(1);
      const fromPromise = ensureFuture(Promise.resolve(2));
      expect(fromPromise).toBeInstanceOf(Future);
      expect(await fromPromise).toBe(2);
      expect(typeof wrapFuture).toBe('function');
      const wrapped = loop.createTask(function* () {
        return (yield* wrap(Promise.resolve(5)) as unknown as Generator<unknown, number>) + 1;
      } as never);
      expect(await wrapped).toBe(6);
      expect(isFuture(Promise.resolve())).toBe(false);
    });
  });

  it('currentTask() is the running task (null outside one); allTasks() a Set of the pending tasks; getRunningLoop() the loop', async () => {
    expect(currentTask()).toBeNull();
    expect(() => getRunningLoop()).toThrow(/no running event loop/i);
    await runIn(make, async (loop) => {
      const me = currentTask();
      expect(me).toBeInstanceOf(Task);
      expect(getRunningLoop()).toBe(loop);
      const tasks = allTasks();
      expect(tasks).toBeInstanceOf(Set);
      expect(tasks.has(me!)).toBe(true);
    });
  });

  it('where a helper takes awaitables, a function becomes a Task and a Promise a Future (shield, wait, asCompleted, waitFor)', async () => {
    await runIn(make, async () => {
      expect(await shield(async () => 'shielded')).toBe('shielded');
      const [done] = await wait([async () => 'fn', Promise.resolve('promise')]);
      const kinds = [...done].map((f) => (f instanceof Task ? 'Task' : f instanceof Future ? 'Future' : 'other')).sort();
      expect(kinds).toEqual(['Future', 'Task']);
      const yielded: unknown[] = [];
      // TypeScript types a for-await variable as Awaited<Future<T>> = T; at run time it is the Future.
      for await (const fut of asCompleted([async () => 'a', Promise.resolve('b')])) yielded.push((fut as unknown) instanceof Future ? (fut as unknown as Future<string>).result() : 'not a future');
      expect(yielded.sort()).toEqual(['a', 'b']);
      expect(await waitFor(Promise.resolve('p'), 1)).toBe('p');
      expect(await gather(function* () {
        return 5;
      } as never)).toEqual([5]);
    });
  });

  it('bad arguments throw TypeError naming them: sleep delay, waitFor timeout, timeout delay, Queue maxsize, gather given an array', async () => {
    await runIn(make, async (loop) => {
      expect(thrown(() => sleep('x' as never)).message).toMatch(/delay/);
      expect(thrown(() => sleep('x' as never))).toBeInstanceOf(TypeError);
      expect((await rejection(waitFor(sleep(0), 'x' as never))).message).toMatch(/timeout/);
      expect(thrown(() => timeout('x' as never)).message).toMatch(/delay/);
      expect(thrown(() => new Queue('x' as never)).message).toMatch(/maxsize/);
      expect(thrown(() => gather([sleep(0)] as never))).toBeInstanceOf(TypeError);
      expect(thrown(() => loop.setExceptionHandler(5 as never)).message).toMatch(/handler/);
    });
  });

  it('sleep(delay, result) resolves to result after delay seconds', async () => {
    await runIn(make, async (loop) => {
      const started = loop.time();
      expect(await sleep(0.05, 'r')).toBe('r');
      expect(loop.time() - started).toBeGreaterThanOrEqual(0.04);
    });
  });
});

onEachLoop('helpers: scopes', (make) => {
  it('timeout(delay, fn) raises TimeoutError when the body outlasts it; timeoutAt(when, fn) likewise; Timeout has when() reschedule() expired()', async () => {
    await runIn(make, async (loop) => {
      expect(await rejection(timeout(0.01, async () => sleep(5)))).toBeInstanceOf(TimeoutError);
      expect(await rejection(timeoutAt(loop.time() + 0.01, async () => sleep(5)))).toBeInstanceOf(TimeoutError);
      expect(await timeout(1, async () => 'in time')).toBe('in time');
      const scope = timeout(null);
      expect(scope).toBeInstanceOf(Timeout);
      expect(scope.when()).toBeNull();
      expect(scope.expired()).toBe(false);
      let seen: Timeout | null = null;
      await timeout(null, async (t: Timeout) => {
        seen = t;
        t.reschedule(loop.time() + 0.01);
        expect(t.when()).toBeCloseTo(loop.time() + 0.01, 1);
        t.reschedule(null);
        await sleep(0.02);
      });
      expect((seen as Timeout | null)?.expired()).toBe(false);
    });
  });

  it("await using t = timeout(delay) also times the block out: the scope's TimeoutError over the body's CancelledError, as a SuppressedError", async () => {
    await runIn(make, async () => {
      const error = await rejection((async () => {
        await using scope = timeout(0.01);
        void scope;
        await sleep(5);
      })()) as Error & { error?: unknown; suppressed?: unknown };
      expect(error.name).toBe('SuppressedError');
      expect(error.error).toBeInstanceOf(TimeoutError);
      expect(error.suppressed).toBeInstanceOf(CancelledError);
    });
  });

  it('taskGroup(fn): a failing child cancels the others and the errors come as an ExceptionGroup; TaskGroup.createTask returns a Task', async () => {
    await runIn(make, async () => {
      let sibling: Task<unknown> | null = null;
      const error = await rejection(taskGroup(async (tg: TaskGroup) => {
        sibling = tg.createTask(() => sleep(5));
        expect(sibling).toBeInstanceOf(Task);
        tg.createTask(async () => {
          throw new Error('child');
        });
      }));
      expect(error).toBeInstanceOf(ExceptionGroup);
      expect((error as ExceptionGroup).errors.map((e: Error) => e.message)).toEqual(['child']);
      expect((sibling as Task<unknown> | null)?.cancelled()).toBe(true);
    });
  });

  it("a failing body of taskGroup(fn) cancels the children and joins the ExceptionGroup (asyncio's async with)", async () => {
    await runIn(make, async () => {
      let child: Task<unknown> | null = null;
      const error = await rejection(taskGroup(async (tg: TaskGroup) => {
        child = tg.createTask(() => sleep(5));
        await sleep(0);
        throw new Error('body');
      }));
      expect(error).toBeInstanceOf(ExceptionGroup);
      expect((error as ExceptionGroup).errors.map((e: Error) => e.message)).toEqual(['body']);
      expect((child as Task<unknown> | null)?.cancelled()).toBe(true);
    });
  });

  it('await using tg = new TaskGroup() waits for its children; the body and scope errors come as a SuppressedError', async () => {
    await runIn(make, async () => {
      const results: string[] = [];
      await (async () => {
        await using tg = new TaskGroup();
        tg.createTask(async () => {
          await sleep(0.01);
          results.push('child');
        });
      })();
      expect(results).toEqual(['child']);
      const error = await rejection((async () => {
        await using tg = new TaskGroup();
        tg.createTask(async () => {
          throw new Error('child');
        });
        throw new Error('body');
      })()) as Error & { error?: unknown; suppressed?: Error };
      expect(error.name).toBe('SuppressedError');
      expect(error.error).toBeInstanceOf(ExceptionGroup);
      expect(error.suppressed?.message).toBe('body');
    });
  });
});

onEachLoop('sync primitives and queues', (make) => {
  it('constructors: Queue(maxsize = 0), Semaphore(value = 1), BoundedSemaphore(value = 1), Barrier(parties), Condition(lock?)', async () => {
    await runIn(make, async () => {
      const queue = new Queue();
      expect(queue.maxsize).toBe(0);
      for (let i = 0; i < 100; i++) queue.putNowait(i);
      expect(queue.full()).toBe(false);
      const semaphore = new Semaphore();
      expect(semaphore.locked()).toBe(false);
      await semaphore.acquire();
      expect(semaphore.locked()).toBe(true);
      semaphore.release();
      const bounded = new BoundedSemaphore();
      expect(thrown(() => bounded.release())).toBeInstanceOf(Error);
      expect(thrown(() => new Semaphore(-1))).toBeInstanceOf(RangeError);
      expect(thrown(() => new Barrier(undefined as never))).toBeInstanceOf(TypeError);
      expect(new Barrier(2).parties).toBe(2);
      const lock = new Lock();
      const condition = new Condition(lock);
      await condition.acquire();
      expect(lock.locked()).toBe(true);
      condition.release();
      expect(new Condition().locked()).toBe(false);
    });
  });

  it('methods in camelCase: acquire release locked wait set clear isSet notify notifyAll waitFor', async () => {
    await runIn(make, async () => {
      const event = new Event();
      expect(event.isSet()).toBe(false);
      event.set();
      expect(event.isSet()).toBe(true);
      expect(await event.wait()).toBe(true);
      event.clear();
      expect(event.isSet()).toBe(false);
      const condition = new Condition();
      let ready = false;
      const waiter = ensureFuture(async () => {
        await condition.acquire();
        try {
          return await condition.waitFor(() => ready);
        } finally {
          condition.release();
        }
      });
      await sleep(0);
      await condition.acquire();
      ready = true;
      condition.notifyAll();
      condition.notify(1);
      condition.release();
      expect(await waiter).toBe(true);
    });
  });

  it('Queue: put get putNowait getNowait taskDone join shutdown qsize empty full, with QueueEmpty/QueueFull/QueueShutDown', async () => {
    await runIn(make, async () => {
      const queue = new Queue<number>(1);
      expect(queue.empty()).toBe(true);
      await queue.put(1);
      expect(queue.full()).toBe(true);
      expect(queue.qsize()).toBe(1);
      expect(thrown(() => queue.putNowait(2))).toBeInstanceOf(QueueFull);
      expect(await queue.get()).toBe(1);
      expect(thrown(() => queue.getNowait())).toBeInstanceOf(QueueEmpty);
      queue.putNowait(3);
      expect(queue.getNowait()).toBe(3);
      queue.taskDone();
      queue.taskDone();
      await queue.join();
      queue.shutdown();
      expect(thrown(() => queue.putNowait(4))).toBeInstanceOf(QueueShutDown);
      const lifo = new LifoQueue<number>();
      lifo.putNowait(1);
      lifo.putNowait(2);
      expect(lifo.getNowait()).toBe(2);
    });
  });

  it('PriorityQueue orders numbers and strings with <, arrays lexicographically, or by a comparator', async () => {
    await runIn(make, async () => {
      const numbers = new PriorityQueue<number>();
      for (const n of [3, 1, 2]) numbers.putNowait(n);
      expect([numbers.getNowait(), numbers.getNowait(), numbers.getNowait()]).toEqual([1, 2, 3]);
      const strings = new PriorityQueue<string>();
      for (const s of ['b', 'B', 'a']) strings.putNowait(s);
      expect([strings.getNowait(), strings.getNowait(), strings.getNowait()]).toEqual(['B', 'a', 'b']);
      const tuples = new PriorityQueue<[number, string]>();
      for (const t of [[2, 'a'], [1, 'z'], [1, 'b']] as Array<[number, string]>) tuples.putNowait(t);
      expect([tuples.getNowait(), tuples.getNowait(), tuples.getNowait()]).toEqual([[1, 'b'], [1, 'z'], [2, 'a']]);
      const numbersAsTuples = new PriorityQueue<number[]>();
      for (const t of [[10], [9, 1], [9]]) numbersAsTuples.putNowait(t);
      expect([numbersAsTuples.getNowait(), numbersAsTuples.getNowait(), numbersAsTuples.getNowait()]).toEqual([[9], [9, 1], [10]]);
      const reversed = new PriorityQueue<number>((a, b) => b - a);
      for (const n of [1, 3, 2]) reversed.putNowait(n);
      expect(reversed.getNowait()).toBe(3);
    });
  });

  it('CancelledError reaches a waiter cancelled in a lock acquire, and the lock stays usable', async () => {
    await runIn(make, async (loop) => {
      const lock = new Lock();
      await lock.acquire();
      const waiter = loop.createTask(() => lock.acquire());
      await sleep(0);
      waiter.cancel();
      expect(await rejection(waiter)).toBeInstanceOf(CancelledError);
      lock.release();
      expect(await lock.acquire()).toBe(true);
    });
  });
});
