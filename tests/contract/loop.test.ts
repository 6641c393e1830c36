/**
 * API.md's AbstractEventLoop, Future, Task and Handle, and the settled details about them
 * (errors, absent values, the exception handler, close, time in seconds), on each loop.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { expect, it } from 'vitest';
import {
  CancelledError,
  Future,
  Handle,
  InvalidStateError,
  NotImplementedError,
  Task,
  TimerHandle,
  currentTask,
  sleep,
  type AbstractEventLoop,
  type ExceptionContext,
} from 'loopkit';
import { onEachLoop, rejection, runIn, thrown } from './loops.js';

onEachLoop('loop: running', (make) => {
  it('runForever() and runUntilComplete() return Promises; runUntilComplete takes a Future, a Promise or a coroutine function', async () => {
    const loop = make();
    try {
      const forever = loop.runForever();
      expect(forever).toBeInstanceOf(Promise);
      loop.stop();
      await forever;
      const fromFunction = loop.runUntilComplete(async () => 'fn');
      expect(fromFunction).toBeInstanceOf(Promise);
      expect(await fromFunction).toBe('fn');
      expect(await loop.runUntilComplete(Promise.resolve('promise'))).toBe('promise');
      const fut = loop.createFuture<string>();
      loop.callSoon(() => fut.setResult('future'));
      expect(await loop.runUntilComplete(fut)).toBe('future');
      expect(await loop.runUntilComplete(function* () {
        const x: number = yield* sleep(0, 3) as unknown as Generator<unknown, number>;
        return x + 1;
      } as never)).toBe(4);
    } finally {
      loop.close();
    }
  });

  it('isRunning() is true only inside a run; isClosed() after close(); close() is synchronous and returns nothing', async () => {
    const loop = make();
    expect(loop.isRunning()).toBe(false);
    expect(await loop.runUntilComplete(async () => loop.isRunning())).toBe(true);
    expect(loop.isRunning()).toBe(false);
    expect(loop.isClosed()).toBe(false);
    expect(loop.close()).toBeUndefined();
    expect(loop.isClosed()).toBe(true);
  });

  it('misuse rejects the returned promise with an Error saying so: closed, already running, stopped before the future completed', async () => {
    const loop = make();
    const stopped = await rejection(loop.runUntilComplete(async () => {
      loop.stop();
      await sleep(0.05);
    }));
    expect(stopped).toBeInstanceOf(Error);
    expect(stopped.message).toMatch(/stopped before Future completed/);
    await loop.runUntilComplete(async () => {
      const nested = loop.runUntilComplete(async () => 1);
      expect(nested).toBeInstanceOf(Promise);
      expect((await rejection(nested)).message).toMatch(/already running/);
      expect((await rejection(loop.runForever())).message).toMatch(/already running/);
    });
    loop.close();
    const closedRun = loop.runForever();
    expect(closedRun).toBeInstanceOf(Promise);
    expect((await rejection(closedRun)).message).toBe('Event loop is closed');
    expect((await rejection(loop.runUntilComplete(async () => 1))).message).toBe('Event loop is closed');
    expect(thrown(() => loop.callSoon(() => {})).message).toBe('Event loop is closed');
  });

  it('a closed loop refuses close() while running (an Error), and close() twice is harmless', async () => {
    const loop = make();
    await loop.runUntilComplete(async () => {
      expect(thrown(() => loop.close()).message).toMatch(/running/);
    });
    loop.close();
    loop.close();
    expect(loop.isClosed()).toBe(true);
  });

  it('shutdownDefaultExecutor() resolves (a Promise)', async () => {
    await runIn(make, async (loop) => {
      const done = loop.shutdownDefaultExecutor();
      expect(done).toBeInstanceOf(Promise);
      await done;
    });
  });
});

onEachLoop('loop: scheduling, in seconds', (make) => {
  it('callSoon returns a Handle, callLater and callAt a TimerHandle whose when() is loop.time() seconds; args are passed', async () => {
    await runIn(make, async (loop) => {
      const seen: unknown[] = [];
      const handle = loop.callSoon((a: number, b: string) => seen.push([a, b]), 1, 'x');
      expect(handle).toBeInstanceOf(Handle);
      expect(handle).not.toBeInstanceOf(TimerHandle);
      const before = loop.time();
      const later = loop.callLater(0.05, (a: number) => seen.push(a), 2);
      expect(later).toBeInstanceOf(TimerHandle);
      expect(later.when() - before).toBeGreaterThanOrEqual(0.05);
      expect(later.when() - before).toBeLessThan(0.5);
      // From the same `before`: a stall between the two calls (a loaded machine) must not put
      // this deadline past callLater's.
      const at = loop.callAt(before + 0.01, (a: number) => seen.push(a), 3);
      expect(at).toBeInstanceOf(TimerHandle);
      const threadsafe = loop.callSoonThreadsafe((a: number) => seen.push(a), 4);
      expect(threadsafe).toBeInstanceOf(Handle);
      await sleep(0.1);
      expect(seen).toEqual([[1, 'x'], 4, 3, 2]);
      expect(loop.time() - before).toBeGreaterThanOrEqual(0.05);
      expect(loop.time() - before).toBeLessThan(5);
    });
  });

  it("a callback's enterWith does not reach the callbacks after it (asyncio runs each in its own context)", async () => {
    const loop = make();
    try {
      const store = new AsyncLocalStorage<string>();
      const seen: Array<string | undefined> = [];
      loop.callSoon(() => {
        store.enterWith('entered by the first');
        seen.push(store.getStore());
      });
      loop.callSoon(() => {
        seen.push(store.getStore());
        loop.stop();
      });
      await loop.runForever();
      expect(seen).toEqual(['entered by the first', undefined]);
    } finally {
      loop.close();
    }
  });

  it('Handle.cancel() stops the callback and cancelled() says so', async () => {
    await runIn(make, async (loop) => {
      let ran = false;
      const handle = loop.callSoon(() => (ran = true));
      expect(handle.cancelled()).toBe(false);
      handle.cancel();
      expect(handle.cancelled()).toBe(true);
      const timer = loop.callLater(0.01, () => (ran = true));
      timer.cancel();
      expect(timer.cancelled()).toBe(true);
      await sleep(0.03);
      expect(ran).toBe(false);
    });
  });

  it('bad arguments throw TypeError naming the argument', async () => {
    await runIn(make, async (loop) => {
      expect(thrown(() => loop.callSoon(5 as never))).toBeInstanceOf(TypeError);
      expect(thrown(() => loop.callSoon(5 as never)).message).toMatch(/callback/);
      expect(thrown(() => loop.callLater('x' as never, () => {}))).toBeInstanceOf(TypeError);
      expect(thrown(() => loop.callLater('x' as never, () => {})).message).toMatch(/delay/);
      expect(thrown(() => loop.callAt(null as never, () => {})).message).toMatch(/when/);
      expect(thrown(() => loop.createTask(5 as never))).toBeInstanceOf(TypeError);
    });
  });

  it("slowCallbackDuration defaults to 0.1 seconds; getDebug() defaults to false and setDebug(b) sets it", () => {
    const loop = make();
    try {
      expect(loop.slowCallbackDuration).toBe(0.1);
      expect(loop.getDebug()).toBe(false);
      loop.setDebug(true);
      expect(loop.getDebug()).toBe(true);
    } finally {
      loop.close();
    }
  });
});

onEachLoop('loop: futures and tasks', (make) => {
  it('createFuture() is a Future of this loop; createTask(coroFn, {name}) a named Task; unknown options are refused naming them', async () => {
    await runIn(make, async (loop) => {
      const fut = loop.createFuture();
      expect(fut).toBeInstanceOf(Future);
      expect(fut.getLoop()).toBe(loop);
      const task = loop.createTask(async () => 'v', { name: 'worker' });
      expect(task).toBeInstanceOf(Task);
      expect(task.getName()).toBe('worker');
      task.setName('renamed');
      expect(task.getName()).toBe('renamed');
      expect(await task).toBe('v');
      const error = thrown(() => loop.createTask(async () => 1, { nmae: 'x' } as never));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toContain('nmae');
    });
  });

  it('setTaskFactory(f) is used by createTask and getTaskFactory() returns it (null by default)', async () => {
    await runIn(make, async (loop) => {
      expect(loop.getTaskFactory()).toBeNull();
      const made: unknown[] = [];
      const factory = (l: AbstractEventLoop, coro: () => Promise<unknown>, opts?: object) => {
        made.push(coro);
        return new Task(coro, { loop: l, ...opts } as never);
      };
      loop.setTaskFactory(factory as never);
      expect(loop.getTaskFactory()).toBe(factory);
      const coro = async () => 7;
      expect(await loop.createTask(coro)).toBe(7);
      expect(made).toEqual([coro]);
      loop.setTaskFactory(null);
      expect(loop.getTaskFactory()).toBeNull();
    });
  });

  it('Future: result()/exception() of a pending future throw InvalidStateError; exception() of a success is null', async () => {
    await runIn(make, async (loop) => {
      const fut = loop.createFuture<number>();
      expect(fut.done()).toBe(false);
      expect(thrown(() => fut.result())).toBeInstanceOf(InvalidStateError);
      expect(thrown(() => fut.exception())).toBeInstanceOf(InvalidStateError);
      fut.setResult(1);
      expect(fut.done()).toBe(true);
      expect(fut.result()).toBe(1);
      expect(fut.exception()).toBeNull();
      expect(thrown(() => fut.setResult(2))).toBeInstanceOf(InvalidStateError);
      const failed = loop.createFuture();
      const error = new Error('boom');
      failed.setException(error);
      expect(failed.exception()).toBe(error);
      expect(thrown(() => failed.result())).toBe(error);
    });
  });

  it('Future: cancel(msg) gives CancelledError.message === msg; cancel() of a done future is false', async () => {
    await runIn(make, async (loop) => {
      const fut = loop.createFuture();
      expect(fut.cancel('the reason')).toBe(true);
      expect(fut.cancelled()).toBe(true);
      const error = thrown(() => fut.result());
      expect(error).toBeInstanceOf(CancelledError);
      expect(error.message).toBe('the reason');
      expect(fut.cancel()).toBe(false);
      expect(thrown(() => fut.exception())).toBeInstanceOf(CancelledError);
    });
  });

  it('Future: addDoneCallback(cb) calls cb(fut) soon after; removeDoneCallback(cb) returns how many it removed', async () => {
    await runIn(make, async (loop) => {
      const fut = loop.createFuture<number>();
      const seen: unknown[] = [];
      const kept = (f: Future<number>) => seen.push(f);
      const removed = () => seen.push('removed');
      fut.addDoneCallback(kept);
      fut.addDoneCallback(removed);
      fut.addDoneCallback(removed);
      expect(fut.removeDoneCallback(removed)).toBe(2);
      expect(fut.removeDoneCallback(removed)).toBe(0);
      fut.setResult(1);
      expect(seen).toEqual([]);
      await sleep(0);
      expect(seen).toEqual([fut]);
    });
  });

  it('Futures are thenables and iterable (yield* in a generator coroutine); an async function returning a Future yields its result', async () => {
    await runIn(make, async (loop) => {
      const fut = loop.createFuture<string>();
      expect(typeof fut.then).toBe('function');
      expect(typeof (fut as unknown as Iterable<unknown>)[Symbol.iterator]).toBe('function');
      loop.callSoon(() => fut.setResult('r'));
      const returning = async () => fut;
      expect(await returning()).toBe('r');
      const gen = loop.createTask(function* () {
        const f = loop.createFuture<number>();
        loop.callSoon(() => f.setResult(41));
        const x: number = yield* f as unknown as Generator<unknown, number>;
        return x + 1;
      } as never);
      expect(await gen).toBe(42);
    });
  });

  it('Task: getCoro() is the function given, setResult/setException throw, signal is an AbortSignal aborted by cancel()', async () => {
    await runIn(make, async (loop) => {
      const coro = async () => {
        await sleep(10);
      };
      const task = loop.createTask(coro);
      expect(task.getCoro()).toBe(coro);
      expect(thrown(() => task.setResult(undefined))).toBeInstanceOf(Error);
      expect(thrown(() => task.setException(new Error('x')))).toBeInstanceOf(Error);
      expect(task.signal).toBeInstanceOf(AbortSignal);
      await sleep(0);
      expect(task.signal.aborted).toBe(false);
      expect(task.cancelling()).toBe(0);
      task.cancel('stop');
      expect(task.cancelling()).toBe(1);
      expect(task.signal.aborted).toBe(true);
      const error = await rejection(task);
      expect(error).toBeInstanceOf(CancelledError);
      expect(error.message).toBe('stop');
    });
  });

  it('Task: uncancel() counts cancel requests down', async () => {
    await runIn(make, async (loop) => {
      const task = loop.createTask(async () => {
        try {
          await sleep(10);
        } catch {
          return currentTask()!.uncancel();
        }
        return -1;
      });
      await sleep(0);
      task.cancel();
      expect(await task).toBe(0);
      expect(task.cancelled()).toBe(false);
    });
  });

  it("an AbortError thrown into a task by its signal (aborted by cancel()) ends the task cancelled", async () => {
    await runIn(make, async (loop) => {
      const task = loop.createTask(async () => {
        const signal = currentTask()!.signal;
        await new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason ?? new DOMException('aborted', 'AbortError'))));
      });
      await sleep(0);
      task.cancel();
      await rejection(task);
      expect(task.cancelled()).toBe(true);
    });
  });

  it('new Future() binds to the running loop, else the policy loop', async () => {
    await runIn(make, async (loop) => {
      expect(new Future().getLoop()).toBe(loop);
    });
  });
});

onEachLoop('loop: the exception handler', (make) => {
  it('getExceptionHandler() is null by default; setExceptionHandler((loop, ctx)) is called synchronously by callExceptionHandler(ctx)', () => {
    const loop = make();
    try {
      expect(loop.getExceptionHandler()).toBeNull();
      const calls: Array<[unknown, ExceptionContext]> = [];
      const handler = (l: AbstractEventLoop, ctx: ExceptionContext) => calls.push([l, ctx]);
      loop.setExceptionHandler(handler);
      expect(loop.getExceptionHandler()).toBe(handler);
      const ctx = { message: 'm', exception: new Error('e'), extra: 1 };
      loop.callExceptionHandler(ctx);
      expect(calls).toEqual([[loop, ctx]]);
      loop.setExceptionHandler(null);
      expect(loop.getExceptionHandler()).toBeNull();
    } finally {
      loop.close();
    }
  });

  it('a handler that throws is logged and the loop runs on', async () => {
    const loop = make();
    const logged: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void logged.push(args);
    try {
      loop.setExceptionHandler(() => {
        throw new Error('handler broke');
      });
      const result = await loop.runUntilComplete(async () => {
        loop.callSoon(() => {
          throw new Error('callback broke');
        });
        await sleep(0.01);
        return 'ran on';
      });
      expect(result).toBe('ran on');
      expect(JSON.stringify(logged.map(String))).not.toBe('[]');
      expect(logged.flat().map((x) => String(x instanceof Error ? x.message : x)).join(' ')).toMatch(/handler broke|Unhandled error in exception handler/);
    } finally {
      console.error = original;
      loop.close();
    }
  });

  it("a callback that throws reaches the handler with {message, exception, handle}", async () => {
    await runIn(make, async (loop, reports) => {
      const error = new Error('cb');
      const handle = loop.callSoon(() => {
        throw error;
      });
      await sleep(0.01);
      expect(reports).toHaveLength(1);
      expect(reports[0]!.exception).toBe(error);
      expect(typeof reports[0]!.message).toBe('string');
      expect(reports[0]!.handle).toBe(handle);
    });
  });

  it('defaultExceptionHandler(ctx) is callable directly', () => {
    const loop = make();
    const original = console.error;
    const logged: unknown[] = [];
    console.error = (...args: unknown[]) => void logged.push(args);
    try {
      loop.defaultExceptionHandler({ message: 'reported by hand' });
      expect(JSON.stringify(logged.map(String))).toContain('reported by hand');
    } finally {
      console.error = original;
      loop.close();
    }
  });
});

onEachLoop('loop: readiness and signals', (make, name) => {
  it(name === 'newEventLoop()' ? 'addReader/removeReader work (the selector): removeReader returns a boolean' : 'addReader/addWriter/removeReader/removeWriter throw NotImplementedError (a proactor)', async () => {
    await runIn(make, async (loop) => {
      if (name !== 'newEventLoop()') {
        for (const call of [() => loop.addReader(0, () => {}), () => loop.addWriter(0, () => {}), () => loop.removeReader(0), () => loop.removeWriter(0)]) {
          expect(thrown(call)).toBeInstanceOf(NotImplementedError);
        }
        return;
      }
      const { socketpair } = await import('loopkit');
      const [a, b] = socketpair();
      try {
        const got = loop.createFuture<string>();
        loop.addReader(b.fileno(), (tag: string) => got.setResult(tag), 'readable');
        a.send(Buffer.from('x'));
        expect(await got).toBe('readable');
        expect(loop.removeReader(b.fileno())).toBe(true);
        expect(loop.removeReader(b.fileno())).toBe(false);
        const writable = loop.createFuture<boolean>();
        loop.addWriter(a.fileno(), () => writable.setResult(true));
        expect(await writable).toBe(true);
        expect(loop.removeWriter(a.fileno())).toBe(true);
        expect(loop.removeWriter(a.fileno())).toBe(false);
      } finally {
        a.close();
        b.close();
      }
    });
  });

  it('addSignalHandler(sig, cb, ...args) runs cb with the args; removeSignalHandler returns a boolean', async () => {
    await runIn(make, async (loop) => {
      const got = loop.createFuture<string>();
      loop.addSignalHandler('SIGUSR2', (arg: string) => got.setResult(arg), 'usr2');
      process.kill(process.pid, 'SIGUSR2');
      expect(await got).toBe('usr2');
      expect(loop.removeSignalHandler('SIGUSR2')).toBe(true);
      expect(loop.removeSignalHandler('SIGUSR2')).toBe(false);
    });
  });
});
