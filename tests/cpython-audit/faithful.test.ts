/**
 * Session 21: asyncio 3.13 behaviours a ported program meets, each run beside Python 3.13.0
 * (the outcome each test asserts is what Python printed for the same scenario), on every loop.
 */
import { expect, it } from 'vitest';
import {
  Barrier,
  BrokenBarrierError,
  CancelledError,
  Event,
  Lock,
  PriorityQueue,
  Queue,
  QueueShutDown,
  Semaphore,
  StreamReader,
  TimeoutError,
  createTask,
  currentTask,
  ensureFuture,
  gather,
  sleep,
  taskGroup,
  waitFor,
  type AbstractEventLoop,
  type Task,
} from 'loopkit';
import { onEachLoop, rejection, runIn } from './loops.js';

/**
 * `finish()` in one callback, `t.cancel()` in a callback it queues: asyncio runs the wake-up of
 * the task awaiting the call before it, so that cancel() finds the task done.
 */
function cancelAfterWakeUp(loop: AbstractEventLoop, task: Task<unknown>, finish: () => void): boolean[] {
  const returned: boolean[] = [];
  loop.callSoon(() => {
    finish();
    loop.callSoon(() => returned.push(task.cancel()));
  });
  return returned;
}

onEachLoop('waitFor(call): the call returning and the caller going on are one step', (make) => {
  it('a cancel() queued after the wake-up finds the task done and returns false (Queue.get, Lock.acquire, Event.wait, readline)', () =>
    runIn(make, async (loop) => {
      const q = new Queue<number>();
      let t: Task<unknown> = loop.createTask(() => waitFor(q.get(), 10));
      await sleep(0);
      let returned = cancelAfterWakeUp(loop, t, () => q.putNowait(1));
      expect(await t).toBe(1);
      expect(returned).toEqual([false]);

      const lock = new Lock();
      await lock.acquire();
      t = loop.createTask(async () => {
        await waitFor(lock.acquire(), 10);
        return 'locked';
      });
      await sleep(0);
      returned = cancelAfterWakeUp(loop, t, () => lock.release());
      expect(await t).toBe('locked');
      expect(returned).toEqual([false]);
      expect(lock.locked()).toBe(true);

      const ev = new Event();
      t = loop.createTask(() => waitFor(ev.wait(), 10));
      await sleep(0);
      returned = cancelAfterWakeUp(loop, t, () => ev.set());
      expect(await t).toBe(true);
      expect(returned).toEqual([false]);

      const reader = new StreamReader();
      t = loop.createTask(() => waitFor(reader.readline(), 10));
      await sleep(0);
      returned = cancelAfterWakeUp(loop, t, () => reader.feedData(Buffer.from('line\n')));
      expect(Buffer.from((await t) as Uint8Array).toString()).toBe('line\n');
      expect(returned).toEqual([false]);
    }));

  it('the call failing (QueueShutDown) ends the task with that error before the cancel() queued after it', () =>
    runIn(make, async (loop) => {
      const q = new Queue<number>();
      const t = loop.createTask(() => waitFor(q.get(), 10));
      await sleep(0);
      const returned = cancelAfterWakeUp(loop, t, () => q.shutdown());
      expect(await rejection(t)).toBeInstanceOf(QueueShutDown);
      expect(returned).toEqual([false]);
    }));

  it('a task past the call when the cancel() comes is cancelled at its next await, the item taken', () =>
    runIn(make, async (loop) => {
      const q = new Queue<number>();
      const got: number[] = [];
      const t = loop.createTask(async () => {
        got.push(await waitFor(q.get(), 10));
        await sleep(0);
        return 'not reached';
      });
      await sleep(0);
      const returned = cancelAfterWakeUp(loop, t, () => q.putNowait(1));
      expect(((await rejection(t)) as CancelledError).message).toBe('');
      expect(returned).toEqual([true]);
      expect(got).toEqual([1]);
      expect(q.qsize()).toBe(0);
      expect(t.cancelling()).toBe(1);
    }));

  it('a cancel() in the callback that finished the call still wins: the item stays queued', () =>
    runIn(make, async (loop) => {
      const q = new Queue<number>();
      const t = loop.createTask(() => waitFor(q.get(), 10));
      await sleep(0);
      let returned: boolean | null = null;
      loop.callSoon(() => {
        q.putNowait(1);
        returned = t.cancel();
      });
      expect(await rejection(t)).toBeInstanceOf(CancelledError);
      expect(returned).toBe(true);
      expect(q.qsize()).toBe(1);
    }));
});

/** The state part of a Barrier's repr: `filling, waiters:1/3`. */
function barrierState(b: Barrier): string {
  return /\[(.*)\]/.exec(String(b))![1]!;
}

onEachLoop('test_locks.py: Semaphore FIFO and Barrier cycles (3.13.0 printed the same)', (make) => {
  it('test_acquire_fifo_order / _2 / _3 / _4: a release wakes the longest waiter, even past a newcomer', () =>
    runIn(make, async () => {
      let sem = new Semaphore(1);
      let result: string[] = [];
      const coro = async (tag: string): Promise<void> => {
        for (const round of [1, 2]) {
          await sem.acquire();
          result.push(`${tag}_${round}`);
          await sleep(0.01);
          sem.release();
        }
      };
      await taskGroup(async (tg) => {
        for (const tag of ['c1', 'c2', 'c3']) tg.createTask(() => coro(tag));
      });
      expect(result).toEqual(['c1_1', 'c2_1', 'c3_1', 'c1_2', 'c2_2', 'c3_2']);

      sem = new Semaphore(1);
      const order: number[] = [];
      const t1 = createTask(async () => void (await sem.acquire(), order.push(1)));
      const t2 = createTask(async () => {
        await sem.acquire();
        order.push(2);
        sem.release();
        await sem.acquire();
        order.push(4);
      });
      const t3 = createTask(async () => void (await sem.acquire(), order.push(3)));
      await sleep(0);
      sem.release();
      sem.release();
      await gather(t1, t2, t3);
      expect(order).toEqual([1, 2, 3, 4]);

      sem = new Semaphore(0);
      order.length = 0;
      const waiters = [1, 2, 3].map((n) => createTask(async () => void (await sem.acquire(), order.push(n))));
      await sleep(0);
      waiters[0]!.cancel();
      await sleep(0);
      sem.release();
      sem.release();
      await gather(...waiters, { returnExceptions: true });
      expect(order).toEqual([2, 3]);

      sem = new Semaphore(0);
      order.length = 0;
      let t4: Task<void> | null = null;
      const lockedSeen: boolean[] = [];
      const c1 = createTask(async () => {
        await sem.acquire();
        t4 = createTask(async () => void order.push(4));
        order.push(1);
      });
      const c2 = createTask(async () => {
        sem.release();
        sem.release();
        sem.release();
        lockedSeen.push(sem.locked()); // c1 has not woken yet
        await sem.acquire();
        order.push(2);
      });
      const c3 = createTask(async () => {
        await sem.acquire();
        lockedSeen.push(sem.locked());
        order.push(3);
      });
      await sleep(0);
      await sleep(0);
      await gather(c1, c2, c3, t4!);
      expect(order).toEqual([1, 2, 3, 4]);
      expect(lockedSeen).toEqual([true, true]);
    }));

  it('Barrier: draining then filling again, reset while waiting or draining, abort mid-cycle, a filler cancelled, wait on a broken barrier', () =>
    runIn(make, async () => {
      let b = new Barrier(2);
      const log: Array<[number, number, string]> = [];
      await gather(...[0, 1, 2, 3].map((n) => createTask(async () => void log.push([n, await b.wait(), barrierState(b)]))));
      expect(log).toEqual([
        [1, 1, 'draining, waiters:0/2'],
        [0, 0, 'filling, waiters:0/2'],
        [3, 1, 'draining, waiters:0/2'],
        [2, 0, 'filling, waiters:0/2'],
      ]);

      b = new Barrier(3);
      const outcome = async (): Promise<string> => {
        try {
          await b.wait();
          return 'passed';
        } catch (error) {
          if (error instanceof BrokenBarrierError) return 'broken';
          throw error;
        }
      };
      const waiting = [0, 1].map(() => createTask(outcome));
      await sleep(0);
      await b.reset();
      expect(await gather(...waiting)).toEqual(['broken', 'broken']);
      expect([b.nWaiting, b.broken, barrierState(b)]).toEqual([0, false, 'filling, waiters:0/3']);

      b = new Barrier(2);
      const passed: Array<[number, number]> = [];
      await gather(
        ...[0, 1].map((n) =>
          createTask(async () => {
            const index = await b.wait();
            if (index === 0) await b.reset();
            passed.push([n, index]);
          }),
        ),
      );
      expect(passed).toEqual([
        [1, 1],
        [0, 0],
      ]);
      expect(barrierState(b)).toBe('filling, waiters:0/2');

      b = new Barrier(2);
      const events: string[] = [];
      await gather(
        ...[0, 1, 2].map((n) =>
          createTask(async () => {
            try {
              events.push(`${n} passed ${await b.wait()}`);
              if (n === 0) await b.abort();
            } catch (error) {
              if (!(error instanceof BrokenBarrierError)) throw error;
              events.push(`${n} broken`);
            }
          }),
        ),
      );
      expect(events).toEqual(['1 passed 1', '0 passed 0', '2 broken']);
      expect(barrierState(b)).toBe('broken');

      b = new Barrier(3);
      const first = createTask(() => b.wait());
      const second = createTask(() => b.wait());
      await sleep(0);
      expect(b.nWaiting).toBe(2);
      first.cancel();
      await sleep(0);
      expect(barrierState(b)).toBe('filling, waiters:1/3');
      const later = [createTask(() => b.wait()), createTask(() => b.wait())];
      // The cancelled filler's index is given again (3.13.0 printed [1, 1, 2] too).
      expect((await gather(second, ...later)).sort()).toEqual([1, 1, 2]);

      b = new Barrier(2);
      await b.abort();
      expect(await rejection(b.wait())).toBeInstanceOf(BrokenBarrierError);
      await b.reset();
      expect(barrierState(b)).toBe('filling, waiters:0/2');
    }));
});

onEachLoop('test_tasks.py / test_waitfor.py cancellation cases (3.13.0 printed the same)', (make) => {
  it('test_cancel_gather_1: a gather whose children are all done refuses cancel() and gives the results', async () => {
    const loop = make();
    try {
      const fut = loop.createFuture<number>();
      // In an array: an async function returning a Future would give its result (the language unwraps thenables).
      const [gathering] = await loop.runUntilComplete(async () => [ensureFuture(gather(async () => await fut))]);
      let cancelResult: boolean | null = null;
      fut.addDoneCallback(() => (cancelResult = gathering!.cancel()));
      fut.setResult(42);
      expect(await loop.runUntilComplete(gathering!)).toEqual([42]);
      expect(cancelResult).toBe(false);
      expect(gathering!.cancelled()).toBe(false);
    } finally {
      loop.close();
    }
  });

  it('test_cancel_task_ignoring / test_cancel_both_task_and_inner_future / test_cancellation_broadcast', () =>
    runIn(make, async (loop) => {
      const [f1, f2, f3] = [loop.createFuture(), loop.createFuture(), loop.createFuture<number>()];
      const ignoring = createTask(async () => {
        await f1;
        try {
          await f2;
        } catch (error) {
          if (!(error instanceof CancelledError)) throw error;
        }
        return await f3;
      });
      await sleep(0);
      f1.setResult(null);
      await sleep(0);
      await sleep(0);
      expect(ignoring.cancel()).toBe(true);
      expect(f2.cancelled()).toBe(true);
      await sleep(0);
      f3.setResult(42);
      expect(await ignoring).toBe(42);
      expect([f3.cancelled(), ignoring.cancelled()]).toEqual([false, false]);

      const f = loop.createFuture();
      const both = createTask(async () => (await f, 12));
      await sleep(0);
      f.cancel();
      both.cancel();
      expect(await rejection(both)).toBeInstanceOf(CancelledError);
      expect([both.cancelled(), f.cancelled()]).toEqual([true, true]);

      let proof = 0;
      const waiter = loop.createFuture();
      const inner = async (): Promise<void> => {
        await waiter;
        proof += 1;
      };
      const [child1, child2] = [ensureFuture(inner), ensureFuture(inner)];
      let gatherer: ReturnType<typeof gather> | null = null;
      const outer = ensureFuture(async () => {
        gatherer = gather(child1, child2);
        await gatherer;
        proof += 100;
      });
      await sleep(0);
      expect(outer.cancel()).toBe(true);
      expect(await rejection(outer)).toBeInstanceOf(CancelledError);
      expect(gatherer!.cancel()).toBe(false);
      expect([waiter.cancelled(), child1.cancelled(), child2.cancelled()]).toEqual([true, true, true]);
      await sleep(0);
      expect(proof).toBe(0);
    }));

  it('test_wait_for_waits_for_task_cancellation_w_timeout_0 / test_asyncio_wait_for_timeout: the inner task finishes its cleanup first', () =>
    runIn(make, async () => {
      let taskDone = false;
      const innerTask = createTask(async () => {
        try {
          await sleep(10);
        } catch (error) {
          await sleep(0.001);
          throw error;
        } finally {
          taskDone = true;
        }
      });
      await sleep(0.001);
      const error = await rejection(waitFor(innerTask, 0));
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as Error).cause).toBeInstanceOf(CancelledError);
      expect(taskDone).toBe(true);

      // SlowTask: swallows every cancel until its time is up; waitFor returns only once it exited.
      let exited = false;
      const slow = async (): Promise<void> => {
        const until = performance.now() + 100;
        for (let left = 100; left > 0; left = until - performance.now()) {
          try {
            await sleep(left / 1000);
          } catch (cancelled) {
            if (!(cancelled instanceof CancelledError)) throw cancelled;
          }
        }
        exited = true;
      };
      // 3.13 returns the inner value when the inner code swallowed the cancel (None there).
      expect(await waitFor(slow, 0.05)).toBeUndefined();
      expect(exited).toBe(true);
      expect(currentTask()!.cancelling()).toBe(0);
    }));
});

onEachLoop('test_queues.py: test_format, test_shutdown_nonempty (3.13.0 printed the same)', (make) => {
  it("a queue's repr through its life, and a shut-down queue drained by get()", () =>
    runIn(make, async () => {
      const q = new Queue<number>(2);
      expect(String(q)).toBe('<Queue maxsize=2>');
      q.putNowait(1);
      expect(String(q)).toBe('<Queue maxsize=2 _queue=[1] tasks=1>');
      const empty = new Queue<number>();
      const getter = createTask(() => empty.get());
      await sleep(0);
      expect(String(empty)).toBe('<Queue maxsize=0 _getters[1]>');
      q.putNowait(2);
      const putter = createTask(() => q.put(3));
      await sleep(0);
      expect(String(q)).toBe('<Queue maxsize=2 _queue=[1, 2] _putters[1] tasks=2>');
      q.shutdown();
      expect(String(q)).toBe('<Queue maxsize=2 _queue=[1, 2] tasks=2 shutdown>');
      expect(await rejection(putter)).toBeInstanceOf(QueueShutDown);
      expect([await q.get(), q.getNowait()]).toEqual([1, 2]);
      expect(await rejection(q.get())).toBeInstanceOf(QueueShutDown);
      expect(() => q.putNowait(5)).toThrow(QueueShutDown);
      getter.cancel();
      const pq = new PriorityQueue<[number, string]>();
      pq.putNowait([2, 'b']);
      pq.putNowait([1, 'a']);
      // Python 3.13.0: `_queue=[(1, 'a'), (2, 'b')]`; a JavaScript tuple is an array (session 25: Python's spelling, not Node's `[ 1, 'a' ]`).
      expect(String(pq)).toBe("<PriorityQueue maxsize=0 _queue=[[1, 'a'], [2, 'b']] tasks=2>");
    }));
});
