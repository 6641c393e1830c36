/**
 * asyncio's everyday surface (issue 17): the module-level createTask, `await using` where
 * asyncio has `async with` (locks, servers, stream writers), and "Task exception was never
 * retrieved" reported by the time the loop closes.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as nodeSleep } from 'node:timers/promises';
import { expect } from './expect.js';
import { describe, it } from './kit.js';
import {
  BoundedSemaphore,
  CancelledError,
  Condition,
  ConnectionRefusedError,
  Lock,
  RuntimeError,
  Semaphore,
  Task,
  TaskGroup,
  createTask,
  currentTask,
  gather,
  logger,
  openConnection,
  run,
  sleep,
  startServer,
  type AbstractEventLoop,
  type ExceptionContext,
} from '@loopkit/core';
import { lacks, withLoop, type LoopUnderTest } from './context.js';
import { collectUntil, noGc } from './gc.js';
import { failure } from './helpers.js';
import { streamPair } from './streams.js';

export function everydaySuite(subject: LoopUnderTest): void {
  describe('createTask (asyncio.create_task)', () => {
    it('starts a named task on the running loop', () =>
      withLoop(subject, async (loop) => {
        const task = createTask(
          async () => {
            await sleep(0);
            return currentTask()!.getName();
          },
          { name: 'worker' },
        );
        expect(task).toBeInstanceOf(Task);
        expect(task.getLoop()).toBe(loop);
        expect(await task).toBe('worker');
        expect(await createTask(async () => 7)).toBe(7);
      }));

    it('outside a running loop throws RuntimeError, and a misspelt option a TypeError naming it', async () => {
      expect(() => createTask(async () => 1)).toThrow(RuntimeError);
      expect(() => createTask(async () => 1)).toThrow('no running event loop');
      await withLoop(subject, async () => {
        expect(() => createTask(async () => 1, { nmae: 'x' } as never)).toThrow(TypeError);
        expect(() => createTask(async () => 1, { nmae: 'x' } as never)).toThrow(/unexpected option 'nmae'/);
        expect(() => createTask(async () => 1, { context: 'ctx' } as never)).toThrow(/context must be a function/);
        expect(() => createTask('main' as never)).toThrow(/^a coroutine was expected for coro /);
      });
    });

    it('context: the task runs, across awaits, in the async context given (AsyncLocalStorage.snapshot())', () =>
      withLoop(subject, async () => {
        const request = new AsyncLocalStorage<string>();
        const context = request.run('req-1', () => AsyncLocalStorage.snapshot());
        const seen: unknown[] = [];
        const genSeen: unknown[] = [];
        const task = createTask(
          async () => {
            seen.push(request.getStore());
            await sleep(0.001);
            seen.push(request.getStore(), currentTask()?.getName());
          },
          { name: 'handler', context },
        );
        const gen = createTask(
          function* () {
            genSeen.push(request.getStore());
            yield* sleep(0);
            genSeen.push(request.getStore(), currentTask()?.getName());
          },
          { name: 'gen', context },
        );
        const plain = createTask(async () => request.getStore());
        await task;
        await gen;
        expect(seen).toEqual(['req-1', 'req-1', 'handler']);
        expect(genSeen).toEqual(['req-1', 'req-1', 'gen']);
        expect(await plain).toBeUndefined();
        expect(request.getStore()).toBeUndefined();
      }));

    it('context: a task started from inside such a task, after a Node promise woke the loop, runs in a copy of that context; the loop stays in its own', () =>
      withLoop(subject, async () => {
        const request = new AsyncLocalStorage<string>();
        const context = request.run('req-2', () => AsyncLocalStorage.snapshot());
        let seenByLoop: unknown = 'not run';
        const [inner] = await createTask(
          async () => {
            await nodeSleep(5); // the loop sleeps meanwhile; the next line wakes it
            return [createTask(async () => request.getStore())]; // in an array: not unwrapped
          },
          { context },
        );
        // Added here, outside any store: run by the loop in its own context, which the
        // wake-up from inside 'req-2' must not have changed.
        inner.addDoneCallback(() => (seenByLoop = request.getStore()));
        expect(await inner).toBe('req-2');
        await sleep(0);
        expect(seenByLoop).toBeUndefined();
      }));

    it('TaskGroup.createTask takes the same context option', () =>
      withLoop(subject, async () => {
        const store = new AsyncLocalStorage<number>();
        const context = store.run(42, () => AsyncLocalStorage.snapshot());
        await using tg = new TaskGroup();
        const child = tg.createTask(async () => store.getStore(), { context });
        expect(await child).toBe(42);
      }));
  });

  describe('await using (asyncio\'s async with)', () => {
    it('Lock.hold() acquires; the scope\'s end releases, also when the body throws', () =>
      withLoop(subject, async () => {
        const lock = new Lock();
        const order: string[] = [];
        const worker = (name: string) => async () => {
          await using _held = await lock.hold();
          order.push(`${name} in`);
          await sleep(0);
          order.push(`${name} out`);
          if (name === 'b') throw new Error('b failed');
        };
        const tasks = ['a', 'b', 'c'].map((name) => createTask(worker(name)));
        await sleep(0);
        expect(lock.locked()).toBe(true);
        await gather(...tasks, { returnExceptions: true });
        expect(order).toEqual(['a in', 'a out', 'b in', 'b out', 'c in', 'c out']);
        expect((tasks[1]!.exception() as Error).message).toBe('b failed');
        expect(lock.locked()).toBe(false);
      }));

    it('a Held releases once: an early release() and the scope\'s end do not release twice', () =>
      withLoop(subject, async () => {
        const lock = new Lock();
        {
          await using held = await lock.hold();
          expect(held.held()).toBe(true);
          held.release();
          expect(lock.locked()).toBe(false);
          await lock.acquire(); // someone else's turn now: the scope's end must not release it
        }
        expect(lock.locked()).toBe(true);
        lock.release();
        const sem = new BoundedSemaphore(1);
        {
          using _sync = await sem.hold(); // release is synchronous: plain `using` works too
          expect(sem.locked()).toBe(true);
        }
        expect(sem.locked()).toBe(false);
      }));

    it('a task cancelled while waiting in hold() never holds the lock', () =>
      withLoop(subject, async () => {
        const lock = new Lock();
        await lock.acquire();
        let entered = false;
        const waiter = createTask(async () => {
          await using _held = await lock.hold();
          entered = true;
        });
        await sleep(0);
        waiter.cancel();
        expect(await failure(waiter)).toBeInstanceOf(CancelledError);
        lock.release();
        expect(entered).toBe(false);
        expect(lock.locked()).toBe(false);
      }));

    it('Semaphore and BoundedSemaphore: hold() takes a slot, the scope\'s end gives it back', () =>
      withLoop(subject, async () => {
        for (const sem of [new Semaphore(2), new BoundedSemaphore(2)]) {
          let inside = 0;
          let most = 0;
          const worker = async (): Promise<void> => {
            await using _slot = await sem.hold();
            inside += 1;
            most = Math.max(most, inside);
            await sleep(0);
            inside -= 1;
          };
          await Promise.all([1, 2, 3, 4, 5].map(() => createTask(worker)));
          expect(most).toBe(2);
          expect(String(sem)).toMatch(/unlocked, value:2/);
        }
      }));

    it('Condition.hold() holds its lock around wait() and notify()', () =>
      withLoop(subject, async () => {
        const cond = new Condition();
        const items: number[] = [];
        const consumer = createTask(async () => {
          await using _held = await cond.hold();
          await cond.waitFor(() => items.length > 0);
          expect(cond.locked()).toBe(true);
          return items.shift();
        });
        await sleep(0);
        {
          await using _held = await cond.hold();
          items.push(7);
          cond.notify();
        }
        expect(await consumer).toBe(7);
        expect(cond.locked()).toBe(false);
      }));

    it('StreamWriter: the scope\'s end closes the writer and waits until it is closed', () =>
      withLoop(subject, async (loop) => {
        const [[, writer], [peerReader]] = await streamPair(loop);
        let closed = false;
        void writer.waitClosed().then(() => (closed = true));
        {
          await using w = writer;
          w.write(Buffer.from('bye'));
        }
        expect(closed).toBe(true);
        expect(writer.isClosing()).toBe(true);
        expect(String(await peerReader.read())).toBe('bye');
        expect((await peerReader.read()).length).toBe(0);
      }));

    it.skipIf(lacks(subject, 'network'))('Server: the scope\'s end closes it and waits for its connections (3.12+)', () =>
      withLoop(subject, async () => {
        const log: string[] = [];
        let port = 0;
        {
          await using server = await startServer(async (reader, writer) => {
            await using _w = writer;
            writer.write(await reader.read(100));
            log.push('handler done');
          }, '127.0.0.1', 0);
          port = (server.sockets[0] as { getsockname(): { port: number } }).getsockname().port;
          const [reader, writer] = await openConnection('127.0.0.1', port);
          await using _client = writer;
          writer.write(Buffer.from('ping'));
          expect(String(await reader.read(100))).toBe('ping');
        }
        log.push('scope left');
        expect(log).toEqual(['handler done', 'scope left']);
        expect(await failure(openConnection('127.0.0.1', port))).toBeInstanceOf(ConnectionRefusedError);
      }));
  });

  describe('"Task exception was never retrieved" by the time the loop closes', () => {
    /** A loop of the subject whose exception handler records into `reports`. */
    const recording = (reports: ExceptionContext[]) => (): AbstractEventLoop => {
      const loop = subject.make();
      loop.setExceptionHandler((_loop, context) => void reports.push(context));
      return loop;
    };

    it.skipIf(noGc)('run() reports a failed task nobody awaited before it returns, once, with the task and the stack', async () => {
      // The handler keeps only strings, so that nothing but `kept` holds the task.
      const reports: Array<{ message: string; future: string; isKept: boolean; stack: string }> = [];
      const kept: Task<unknown>[] = []; // held until run() ends, so no collection reports it first
      const makeLoop = (): AbstractEventLoop => {
        const loop = subject.make();
        loop.setExceptionHandler((_loop, context) => {
          reports.push({
            message: context.message,
            future: String(context.future),
            isKept: context.future !== undefined && context.future === kept[0],
            stack: String((context.exception as Error).stack),
          });
        });
        return loop;
      };
      await run(
        async () => {
          kept.push(createTask(async () => {
            throw new Error('lost in worker');
          }, { name: 'worker' }));
          await sleep(0);
          await sleep(0);
          expect(reports).toEqual([]); // not while the loop runs: someone may still look
        },
        { loopFactory: makeLoop },
      );
      expect(reports).toHaveLength(1);
      expect(reports[0]!.message).toBe('Task exception was never retrieved');
      expect(reports[0]!.isKept).toBe(true);
      expect(reports[0]!.future).toContain("name='worker'");
      expect(reports[0]!.stack).toMatch(/lost in worker\n\s+at /);
      // Once V8 collects the task too, it is not reported a second time. (A registry, not a
      // WeakRef, tells: deref() keeps its target alive until the current job ends.)
      let collected = false;
      const watcher = new FinalizationRegistry(() => (collected = true));
      watcher.register(kept.pop()!, null);
      await collectUntil(() => collected);
      expect(collected).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 10)); // other finalizers of that collection
      expect(reports).toHaveLength(1);
    });

    it('a task whose exception was awaited, asked for or cancelled is not reported', async () => {
      const reports: ExceptionContext[] = [];
      await run(
        async () => {
          const fail = async (): Promise<never> => {
            throw new Error('seen');
          };
          await failure(createTask(fail));
          const asked = createTask(fail);
          await sleep(0);
          expect((asked.exception() as Error).message).toBe('seen');
          const grouped = await gather(createTask(fail), { returnExceptions: true });
          expect(grouped).toHaveLength(1);
          createTask(fail).cancel(); // cancelled before it ran: nothing failed
        },
        { loopFactory: recording(reports) },
      );
      expect(reports).toEqual([]);
    });

    it('loop.close() reports; the default handler prints the name and the stack', async () => {
      const logged: unknown[][] = [];
      const original = logger.error;
      const loop = subject.make();
      logger.error = (...args: unknown[]) => void logged.push(args);
      try {
        let task: Task<unknown> | null = null;
        await loop.runUntilComplete(async () => {
          task = loop.createTask(async () => {
            throw new Error('boom at close');
          }, { name: 'closing-worker' });
          await sleep(0);
          await sleep(0);
        });
        expect(task!.done()).toBe(true);
        expect(logged).toEqual([]);
        loop.close();
        loop.close(); // idempotent: no second report
      } finally {
        logger.error = original;
      }
      expect(logged).toHaveLength(1);
      const [text, error] = logged[0]!;
      expect(String(text)).toMatch(/^Task exception was never retrieved\nfuture: <Task finished name='closing-worker'/);
      expect(String((error as Error).stack)).toMatch(/boom at close\n\s+at /);
    });
  });
}
