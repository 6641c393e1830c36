/**
 * The examples of Python 3.13's asyncio documentation, continued: asyncio-task.rst (coroutines,
 * create_task, TaskGroup, sleep, gather, shield, timeouts, wait_for, wait, as_completed,
 * to_thread, run_coroutine_threadsafe, cancellation), written as a user ports them to loopkit, on every loop of loops.ts.
 * The Python originals are in docs-examples/task.py; the expected lines are what Python 3.13.0
 * printed for them (delays shortened, clock times printed as <time>).
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { expect, it } from 'vitest';
import {
  CancelledError,
  ExceptionGroup,
  TaskGroup,
  TimeoutError,
  asCompleted,
  createTask,
  gather,
  getRunningLoop,
  run,
  shield,
  sleep,
  taskGroup,
  threadsafeHandle,
  timeout,
  timeoutAt,
  toThread,
  wait,
  waitFor,
  type Timeout,
} from 'loopkit';
import { onEachLoop, type MakeLoop } from './loops.js';

/** The example's print(): its lines, to compare with what Python printed. */
function printer(): { out: string[]; print: (...parts: unknown[]) => void } {
  const out: string[] = [];
  return { out, print: (...parts) => out.push(parts.map(String).join(' ')) };
}

/** `time.strftime('%X')`, normalised as the .py files print it. */
const now = (): string => {
  void new Date().toLocaleTimeString();
  return '<time>';
};

/** Runs one example as `asyncio.run(main())` on the loop `make` gives; what it printed. */
async function example(make: MakeLoop, main: (print: (...parts: unknown[]) => void) => Promise<unknown>): Promise<string[]> {
  const { out, print } = printer();
  await run(() => main(print), { loopFactory: make });
  return out;
}

onEachLoop('asyncio-task.rst examples (compared with Python 3.13)', (make) => {
  it('coroutines: say_after awaited one after the other', async () => {
    const out = await example(make, async (print) => {
      const sayAfter = async (delay: number, what: string) => {
        await sleep(delay);
        print(what);
      };
      print(`started at ${now()}`);
      await sayAfter(0.02, 'hello');
      await sayAfter(0.04, 'world');
      print(`finished at ${now()}`);
    });
    expect(out).toEqual(['started at <time>', 'hello', 'world', 'finished at <time>']);
  });

  it('createTask: say_after run concurrently', async () => {
    const out = await example(make, async (print) => {
      const sayAfter = async (delay: number, what: string) => {
        await sleep(delay);
        print(what);
      };
      const task1 = createTask(() => sayAfter(0.02, 'hello'));
      const task2 = createTask(() => sayAfter(0.04, 'world'));
      print(`started at ${now()}`);
      await task1;
      await task2;
      print(`finished at ${now()}`);
    });
    expect(out).toEqual(['started at <time>', 'hello', 'world', 'finished at <time>']);
  });

  it('TaskGroup: say_after in a group', async () => {
    const out = await example(make, async (print) => {
      const sayAfter = async (delay: number, what: string) => {
        await sleep(delay);
        print(what);
      };
      await taskGroup(async (tg) => {
        tg.createTask(() => sayAfter(0.02, 'hello'));
        tg.createTask(() => sayAfter(0.04, 'world'));
        print(`started at ${now()}`);
      });
      print(`finished at ${now()}`);
    });
    expect(out).toEqual(['started at <time>', 'hello', 'world', 'finished at <time>']);
  });

  it('awaitables: a coroutine and a task of it', async () => {
    const out = await example(make, async (print) => {
      const nested = async () => 42;
      print(await nested());
      const task = createTask(nested);
      print(await task);
    });
    expect(out).toEqual(['42', '42']);
  });

  it('terminating a TaskGroup by raising from a task (except* TerminateTaskGroup)', async () => {
    const out = await example(make, async (print) => {
      class TerminateTaskGroup extends Error {}
      const forceTerminateTaskGroup = async () => {
        throw new TerminateTaskGroup();
      };
      const job = async (taskId: number, sleepTime: number) => {
        print(`Task ${taskId}: start`);
        await sleep(sleepTime);
        print(`Task ${taskId}: done`);
      };
      try {
        await using group = new TaskGroup();
        group.createTask(() => job(1, 0.01));
        group.createTask(() => job(2, 0.2));
        await sleep(0.05);
        group.createTask(forceTerminateTaskGroup);
      } catch (error) {
        // except* TerminateTaskGroup: pass (anything else goes on).
        const [, rest] = (error as ExceptionGroup).split(TerminateTaskGroup);
        if (rest !== null) throw rest;
      }
    });
    expect(out).toEqual(['Task 1: start', 'Task 2: start', 'Task 1: done']);
  });

  it('sleep: a coroutine displaying the date until a deadline', async () => {
    const out = await example(make, async (print) => {
      const loop = getRunningLoop();
      const endTime = loop.time() + 0.05;
      let n = 0;
      for (;;) {
        n += 1;
        if (loop.time() + 0.01 >= endTime) break;
        await sleep(0.01);
      }
      print('displayed dates:', n > 1 ? 'several' : n);
    });
    expect(out).toEqual(['displayed dates: several']);
  });

  it('gather: three factorials interleaved', async () => {
    const out = await example(make, async (print) => {
      const factorial = async (name: string, number: number) => {
        let f = 1;
        for (let i = 2; i <= number; i++) {
          print(`Task ${name}: Compute factorial(${number}), currently i=${i}...`);
          await sleep(0.01);
          f *= i;
        }
        print(`Task ${name}: factorial(${number}) = ${f}`);
        return f;
      };
      const L = await gather(factorial('A', 2), factorial('B', 3), factorial('C', 4));
      print(`[${L.join(', ')}]`);
    });
    expect(out).toEqual([
      'Task A: Compute factorial(2), currently i=2...',
      'Task B: Compute factorial(3), currently i=2...',
      'Task C: Compute factorial(4), currently i=2...',
      'Task A: factorial(2) = 2',
      'Task B: Compute factorial(3), currently i=3...',
      'Task C: Compute factorial(4), currently i=3...',
      'Task B: factorial(3) = 6',
      'Task C: Compute factorial(4), currently i=4...',
      'Task C: factorial(4) = 24',
      '[2, 6, 24]',
    ]);
  });

  it('shield: the outer task cancelled, the shielded one goes on', async () => {
    const out = await example(make, async (print) => {
      let finished = false;
      const something = async () => {
        await sleep(0.02);
        finished = true;
        return 'result';
      };
      const outer = async () => await shield(something);
      const t = createTask(outer);
      await sleep(0.005);
      t.cancel();
      try {
        await t;
      } catch (error) {
        if (!(error instanceof CancelledError)) throw error;
        print('outer cancelled; shielded task goes on');
      }
      await sleep(0.03);
      expect(finished).toBe(true);
    });
    expect(out).toEqual(['outer cancelled; shielded task goes on']);
  });

  it('timeout(): a long operation timed out and handled', async () => {
    const out = await example(make, async (print) => {
      const longRunningTask = async () => {
        await sleep(3600);
      };
      try {
        await timeout(0.01, async () => {
          await longRunningTask();
        });
      } catch (error) {
        if (!(error instanceof TimeoutError)) throw error;
        print("The long operation timed out, but we've handled it.");
      }
      print('This statement will run regardless.');
    });
    expect(out).toEqual(["The long operation timed out, but we've handled it.", 'This statement will run regardless.']);
  });

  it('timeout(null) rescheduled, then expired()', async () => {
    const out = await example(make, async (print) => {
      const longRunningTask = async () => {
        await sleep(0.05);
        return 'done';
      };
      let cm!: Timeout;
      try {
        await timeout(null, async (scope) => {
          cm = scope;
          const newDeadline = getRunningLoop().time() + 0.01;
          cm.reschedule(newDeadline);
          await longRunningTask();
        });
      } catch (error) {
        if (!(error instanceof TimeoutError)) throw error;
      }
      if (cm.expired()) print("Looks like we haven't finished on time.");
    });
    expect(out).toEqual(["Looks like we haven't finished on time."]);
  });

  it('timeoutAt(): a deadline in loop time', async () => {
    const out = await example(make, async (print) => {
      const longRunningTask = async () => {
        await sleep(3600);
      };
      const loop = getRunningLoop();
      const deadline = loop.time() + 0.01;
      try {
        await timeoutAt(deadline, async () => {
          await longRunningTask();
        });
      } catch (error) {
        if (!(error instanceof TimeoutError)) throw error;
        print("The long operation timed out, but we've handled it.");
      }
      print('This statement will run regardless.');
    });
    expect(out).toEqual(["The long operation timed out, but we've handled it.", 'This statement will run regardless.']);
  });

  it('waitFor: eternity() timed out', async () => {
    const out = await example(make, async (print) => {
      const eternity = async () => {
        await sleep(3600);
        print('yay!');
      };
      try {
        await waitFor(eternity, 0.01);
      } catch (error) {
        if (!(error instanceof TimeoutError)) throw error;
        print('timeout!');
      }
    });
    expect(out).toEqual(['timeout!']);
  });

  it('wait: a task found in done', async () => {
    const out = await example(make, async (print) => {
      const foo = async () => 42;
      const task = createTask(foo);
      const [done] = await wait([task]);
      if (done.has(task)) print('task in done');
    });
    expect(out).toEqual(['task in done']);
  });

  it('asCompleted: the earliest of two connects, then results in completion order', async () => {
    const out = await example(make, async (print) => {
      const delayed = async (delay: number, value: string) => {
        await sleep(delay);
        return value;
      };
      const ipv4Connect = createTask(() => delayed(0.02, 'ipv4'));
      const ipv6Connect = createTask(() => delayed(0.01, 'ipv6'));
      for await (const earliestConnect of asCompleted([ipv4Connect, ipv6Connect])) {
        const reader = await earliestConnect;
        print(reader);
        break;
      }
      const tasks = [() => delayed(0.02, 'b'), () => delayed(0.01, 'a')];
      for (const coro of asCompleted(tasks)) {
        const earliestResult = await coro;
        print(earliestResult);
      }
    });
    expect(out).toEqual(['ipv6', 'a', 'b']);
  });

  it('toThread: blocking IO in a worker thread beside a sleep', async () => {
    const out = await example(make, async (print) => {
      // The function runs in a worker thread from its source text: it reports what it printed.
      const blockingIo = () => {
        const lines = ['start blocking_io at <time>'];
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
        lines.push('blocking_io complete at <time>');
        return lines;
      };
      print(`start main at ${now()}`);
      const [lines] = await gather(toThread(blockingIo), sleep(0.01));
      for (const line of lines) print(line);
      print(`finished main at ${now()}`);
    });
    expect(out).toEqual(['start main at <time>', 'start blocking_io at <time>', 'blocking_io complete at <time>', 'finished main at <time>']);
  });

  it('runCoroutineThreadsafe: another thread submits a coroutine to this loop and reads its result', async () => {
    const out = await example(make, async (print) => {
      // Functions cannot cross threads: the coroutine is named by module and export (docs-examples/*.mjs).
      const handle = threadsafeHandle(getRunningLoop());
      const worker = new Worker(new URL('./docs-examples/threadsafe-worker.mjs', import.meta.url), { workerData: { handle }, transferList: [handle.port] });
      try {
        const [line] = (await once(worker, 'message')) as [string];
        print(line);
      } finally {
        await worker.terminate();
      }
    });
    expect(out).toEqual(['result from the thread: 3']);
  });

  it('task cancellation: cancel_me() sees CancelledError, its finally runs', async () => {
    const out = await example(make, async (print) => {
      const cancelMe = async () => {
        print('cancel_me(): before sleep');
        try {
          await sleep(3600);
        } catch (error) {
          if (error instanceof CancelledError) print('cancel_me(): cancel sleep');
          throw error;
        } finally {
          print('cancel_me(): after sleep');
        }
      };
      const task = createTask(cancelMe);
      await sleep(0.01);
      task.cancel();
      try {
        await task;
      } catch (error) {
        if (!(error instanceof CancelledError)) throw error;
        print('main(): cancel_me is cancelled now');
      }
    });
    expect(out).toEqual(['cancel_me(): before sleep', 'cancel_me(): cancel sleep', 'cancel_me(): after sleep', 'main(): cancel_me is cancelled now']);
  });
});
