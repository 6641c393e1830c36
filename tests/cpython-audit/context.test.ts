/**
 * Scenarios of CPython's test_asyncio/test_context.py (3.13) with Node's contextvars,
 * AsyncLocalStorage (DESIGN.md), and test_tasks.py's test_context_1 to 3: a task starts in a
 * copy of its creator's context and keeps its own across awaits, a task's changes do not leak
 * into its creator or siblings, loop callbacks run in the context they were scheduled in,
 * createTask's `context` runs the task in the one given.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { expect, it } from 'vitest';
import { ProactorEventLoop, createTask, currentTask, gather, sleep, socketpair } from 'loopkit';
import { onEachLoop, runIn } from './loops.js';

onEachLoop('test_context', (make) => {
  it('test_asyncio_task_decimal_context: two gathered tasks each keep the precision they set across a sleep', () =>
    runIn(make, async () => {
      const precision = new AsyncLocalStorage<number>();
      const fractions = async (t: number, prec: number, x: number, y: number) => {
        precision.enterWith(prec);
        const a = (x / y).toFixed(precision.getStore());
        await sleep(t);
        const b = (x / (y * y)).toFixed(precision.getStore());
        return [a, b];
      };
      const [r1, r2] = await gather(() => fractions(0.01, 3, 1, 3), () => fractions(0.02, 6, 1, 3));
      expect(r1).toEqual(['0.333', '0.111']);
      expect(r2).toEqual(['0.333333', '0.111111']);
      expect(precision.getStore()).toBeUndefined();
    }));

  it('what a task sets stays its own; createTask\'s context runs the task in the one given', () =>
    runIn(make, async () => {
      const v = new AsyncLocalStorage<string>();
      const got: Array<[string, string | undefined]> = [];
      v.enterWith('main');
      const child = async () => {
        got.push(['child-start', v.getStore()]);
        v.enterWith('child');
        await sleep(0);
        got.push(['child-after', v.getStore()]);
      };
      await createTask(child);
      got.push(['main-after-child', v.getStore()]);
      const c2 = v.run('c2', () => AsyncLocalStorage.snapshot());
      await createTask(child, { context: c2 });
      got.push(['main-after-c2', v.getStore()]);
      // Python 3.13 printed these values in this order.
      expect(got).toEqual([
        ['child-start', 'main'],
        ['child-after', 'child'],
        ['main-after-child', 'main'],
        ['child-start', 'c2'],
        ['child-after', 'child'],
        ['main-after-c2', 'main'],
      ]);
    }));

  it('a task made without context starts in a copy of its creator\'s: run() and enterWith both reach it', () =>
    runIn(make, async () => {
      const v = new AsyncLocalStorage<string>();
      const seen = await v.run('A', () => createTask(async () => v.getStore()));
      v.enterWith('B');
      const child = createTask(async () => {
        const first = v.getStore();
        await sleep(0);
        return [first, v.getStore()];
      });
      v.enterWith('B2'); // after createTask: the copy was taken already
      expect([seen, await child]).toEqual(['A', ['B', 'B']]);
    }));

  it('test_context_1: a subtask sees its creator\'s value, its own set leaks neither to the creator nor to a sibling', () =>
    runIn(make, async () => {
      const cvar = new AsyncLocalStorage<string>();
      const seen: Array<string | undefined> = [];
      const sub = async () => {
        await sleep(0.01);
        seen.push(cvar.getStore());
        cvar.enterWith('something else');
        await sleep(0);
        seen.push(cvar.getStore());
      };
      cvar.enterWith('nope');
      const subtask = createTask(sub);
      const sibling = createTask(async () => {
        await sleep(0.02);
        return cvar.getStore();
      });
      cvar.enterWith('yes');
      expect(cvar.getStore()).toBe('yes');
      await subtask;
      expect(cvar.getStore()).toBe('yes');
      expect(seen).toEqual(['nope', 'something else']);
      expect(await sibling).toBe('nope');
    }));

  it('test_context_2: a value a loop callback sets does not reach the task that scheduled it', () =>
    runIn(make, async (loop) => {
      const cvar = new AsyncLocalStorage<string>();
      const futOnDone = () => cvar.enterWith('something else');
      expect(cvar.getStore()).toBeUndefined();
      for (let j = 0; j < 2; j++) {
        const fut = loop.createFuture();
        fut.addDoneCallback(futOnDone);
        cvar.enterWith(`yes${j}`);
        loop.callSoon(() => {
          cvar.enterWith('set by callSoon'); // in the callback's own copy
          fut.setResult(null);
        });
        await fut;
        expect(cvar.getStore()).toBe(`yes${j}`);
        for (let i = 0; i < 3; i++) {
          cvar.enterWith(`yes${i}-${j}`);
          await sleep(0.001);
          expect(cvar.getStore()).toBe(`yes${i}-${j}`);
        }
      }
    }));

  it('test_context_3: 100 tasks in parallel, each keeps the value it set across sleeps', () =>
    runIn(make, async (loop) => {
      const cvar = new AsyncLocalStorage<number>();
      const wrong: string[] = [];
      const sub = async (num: number) => {
        for (let i = 0; i < 10; i++) {
          cvar.enterWith(num + i);
          await sleep(0.001 + ((num * 7 + i * 3) % 10) / 2000);
          if (cvar.getStore() !== num + i) wrong.push(`${num}+${i}: ${cvar.getStore()}`);
        }
      };
      const tasks = Array.from({ length: 100 }, (_, n) => loop.createTask(() => sub(n % 11)));
      await gather(...tasks);
      expect(wrong).toEqual([]);
      expect(cvar.getStore()).toBeUndefined();
    }));

  it('callSoon, callLater, callAt and callSoonThreadsafe run in the context current when they were scheduled, with no task', () =>
    runIn(make, async (loop) => {
      const v = new AsyncLocalStorage<string>();
      const seen: Array<[string, string | undefined, boolean]> = [];
      const record = (what: string) => seen.push([what, v.getStore(), currentTask() === null]);
      const done = loop.createFuture();
      v.run('soon', () => loop.callSoon(record, 'callSoon'));
      v.run('later', () => loop.callLater(0.001, record, 'callLater'));
      v.run('at', () => loop.callAt(loop.time() + 0.002, record, 'callAt'));
      v.run('threadsafe', () => loop.callSoonThreadsafe(record, 'callSoonThreadsafe'));
      loop.callSoon(record, 'outside any store');
      v.run('cancelled', () => loop.callSoon(record, 'cancelled')).cancel();
      loop.callLater(0.005, () => done.setResult(null));
      await done;
      expect(seen).toEqual([
        ['callSoon', 'soon', true],
        ['callSoonThreadsafe', 'threadsafe', true],
        ['outside any store', undefined, true],
        ['callLater', 'later', true],
        ['callAt', 'at', true],
      ]);
    }));

  it('a Future\'s done callbacks run in the context current at addDoneCallback (pending or done), and removeDoneCallback still finds them', () =>
    runIn(make, async (loop) => {
      const v = new AsyncLocalStorage<string>();
      const seen: Array<[string, string | undefined]> = [];
      const record = (what: string) => () => seen.push([what, v.getStore()]);
      const pending = loop.createFuture<number>();
      v.run('pending', () => pending.addDoneCallback(record('pending')));
      const removed = record('removed');
      v.run('removed', () => pending.addDoneCallback(removed));
      pending.addDoneCallback(record('outside any store'));
      expect(String(pending)).toMatch(/cb=\[<anonymous>\(\), <1 more>, <anonymous>\(\)\]/);
      expect(pending.removeDoneCallback(removed)).toBe(1);
      v.run('settler', () => pending.setResult(1)); // not where the callbacks were added
      const done = loop.createFuture<number>();
      done.setResult(2);
      v.run('done', () => done.addDoneCallback(record('done')));
      await sleep(0);
      expect(seen).toEqual([
        ['pending', 'pending'],
        ['outside any store', undefined],
        ['done', 'done'],
      ]);
    }));

  it('addReader and addWriter callbacks run in the context current when they were added', () =>
    runIn(make, async (loop) => {
      if (loop instanceof ProactorEventLoop) return; // no readiness callbacks there (NotImplementedError, as asyncio)
      const [readable, writable] = socketpair();
      const v = new AsyncLocalStorage<string>();
      const got = loop.createFuture<Array<string | undefined>>();
      const seen: Array<string | undefined> = [];
      v.run('writer', () =>
        loop.addWriter(writable, () => {
          loop.removeWriter(writable);
          seen.push(v.getStore());
          writable.send(Buffer.from('x'));
        }),
      );
      v.run('reader', () =>
        loop.addReader(readable, () => {
          loop.removeReader(readable);
          seen.push(v.getStore());
          got.setResult(seen);
        }),
      );
      try {
        expect(await got).toEqual(['writer', 'reader']);
      } finally {
        readable.close();
        writable.close();
      }
    }));

  it('a signal handler runs in the context current at addSignalHandler', () =>
    runIn(make, async (loop) => {
      const v = new AsyncLocalStorage<string>();
      const got = loop.createFuture<[string | undefined, boolean]>();
      v.run('signals', () => loop.addSignalHandler('SIGUSR2', () => got.setResult([v.getStore(), currentTask() === null])));
      try {
        process.kill(process.pid, 'SIGUSR2');
        expect(await got).toEqual(['signals', true]);
      } finally {
        loop.removeSignalHandler('SIGUSR2');
      }
    }));

  it('test_handle_exc_handler_correct_context (test_futures2): a callback\'s error reaches a custom handler run in that callback\'s context (asyncio 3.12+ call_exception_handler)', () =>
    runIn(make, async (loop, reports) => {
      const v = new AsyncLocalStorage<string>();
      let storeInHandler: string | undefined = 'not called';
      loop.setExceptionHandler((_loop, context) => {
        storeInHandler = v.getStore();
        reports.push(context);
      });
      const boom = new Error('boom');
      const handle = v.run('ctx', () =>
        loop.callSoon(() => {
          throw boom;
        }),
      );
      expect(String(handle)).toMatch(/^<Handle /);
      expect(String(v.run('ctx', () => loop.callLater(10, () => {})))).toMatch(/^<TimerHandle when=/);
      await sleep(0);
      expect(reports.map((r) => [r.exception, r.handle])).toEqual([[boom, handle]]);
      // Python 3.13.0 on the same program: the handler reads 'ctx'; the loop's own context is untouched.
      expect(storeInHandler).toBe('ctx');
      expect(v.getStore()).toBeUndefined();
    }));

  it('test_task_exc_handler_correct_context (test_futures2): a task\'s unretrieved error reaches a custom handler run in the task\'s context', async () => {
    const v = new AsyncLocalStorage<string>();
    const seen: Array<[unknown, string | undefined]> = [];
    const loop = make();
    loop.setExceptionHandler((_loop, context) => seen.push([context.exception, v.getStore()]));
    const failure = new RangeError('in task');
    try {
      await loop.runUntilComplete(async () => {
        loop.createTask(async () => {
          v.enterWith('bar');
          throw failure;
        });
        await sleep(0);
      });
    } finally {
      loop.close();
    }
    // Reported at the latest when the loop closes (asyncio: when the task is collected).
    expect(seen).toEqual([[failure, 'bar']]);
    expect(v.getStore()).toBeUndefined();
  });

  it('a generator task runs every step in the copy of its creator\'s context', () =>
    runIn(make, async () => {
      const v = new AsyncLocalStorage<string>();
      const task = v.run('gen', () =>
        createTask(function* () {
          const first = v.getStore();
          yield* sleep(0);
          return [first, v.getStore()];
        }),
      );
      expect(await task).toEqual(['gen', 'gen']);
    }));

  it('createTask refuses a context that is not a runner function', () =>
    runIn(make, async () => {
      expect(() => createTask(async () => 1, { context: 'ctx' as never })).toThrow(TypeError);
    }));
});
