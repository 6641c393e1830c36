/**
 * The examples of Python 3.13's asyncio documentation, continued: asyncio-queue.rst's workers,
 * asyncio-sync.rst (Event, Lock, Condition, Semaphore, Barrier), asyncio-future.rst,
 * asyncio-runner.rst, asyncio-subprocess.rst and asyncio-dev.rst's never-retrieved exception,
 * written as a user ports them to loopkit, on every loop of loops.ts. The Python originals are in
 * docs-examples/misc.py; the expected lines are what Python 3.13.0 printed for them (delays
 * shortened, the queue example's random sleeps a fixed list).
 */
import * as process from 'node:process';
import { format } from 'node:util';
import { expect, it } from 'vitest';
import {
  Barrier,
  Condition,
  Event,
  Lock,
  PIPE,
  Queue,
  Runner,
  Semaphore,
  createSubprocessExec,
  createSubprocessShell,
  createTask,
  gather,
  getRunningLoop,
  run,
  sleep,
  type Future,
} from 'loopkit';
import { onEachLoop, type MakeLoop } from './loops.js';

/** Runs one example as `asyncio.run(main())` on the loop `make` gives; what it printed. */
async function example(make: MakeLoop, main: (print: (...parts: unknown[]) => void) => Promise<unknown>, debug = false): Promise<string[]> {
  const out: string[] = [];
  const print = (...parts: unknown[]) => out.push(parts.map(String).join(' '));
  await run(() => main(print), { loopFactory: make, debug });
  return out;
}

onEachLoop('asyncio-queue/sync/future/runner/subprocess/dev.rst examples (compared with Python 3.13)', (make) => {
  it('Queue: three workers share the sleeps, join() then cancel them', async () => {
    const out = await example(make, async (print) => {
      const worker = async (name: string, queue: Queue<number>) => {
        for (;;) {
          const sleepFor = await queue.get();
          await sleep(sleepFor);
          queue.taskDone();
          print(`${name} has slept for ${sleepFor.toFixed(2)} seconds`);
        }
      };
      const queue = new Queue<number>();
      let totalSleepTime = 0;
      // The fixed list keeps the docs' shape (the first free worker takes the next item, worker-0
      // does three) and holds on a loaded machine: each sleep started after another ends after it,
      // so a late wake-up only delays later lines; worker-2's 0.7 s outlasts worker-0's chain by 0.35 s.
      for (const sleepFor of [0.05, 0.1, 0.7, 0.1, 0.15, 0.2]) {
        totalSleepTime += sleepFor;
        queue.putNowait(sleepFor);
      }
      const tasks = [];
      for (let i = 0; i < 3; i++) tasks.push(createTask(() => worker(`worker-${i}`, queue)));
      const startedAt = performance.now() / 1000;
      await queue.join();
      const totalSleptFor = performance.now() / 1000 - startedAt;
      for (const task of tasks) task.cancel();
      await gather(...tasks, { returnExceptions: true });
      print('====');
      print(`3 workers slept in parallel for ${totalSleptFor < totalSleepTime ? '<= total' : totalSleptFor} seconds`);
      print(`total expected sleep time: ${totalSleepTime.toFixed(2)} seconds`);
    });
    expect(out).toEqual([
      'worker-0 has slept for 0.05 seconds',
      'worker-1 has slept for 0.10 seconds',
      'worker-0 has slept for 0.10 seconds',
      'worker-1 has slept for 0.15 seconds',
      'worker-0 has slept for 0.20 seconds',
      'worker-2 has slept for 0.70 seconds',
      '====',
      '3 workers slept in parallel for <= total seconds',
      'total expected sleep time: 1.30 seconds',
    ]);
  });

  it('Event: a waiter woken by set()', async () => {
    const out = await example(make, async (print) => {
      const waiter = async (event: Event) => {
        print('waiting for it ...');
        await event.wait();
        print('... got it!');
      };
      const event = new Event();
      const waiterTask = createTask(() => waiter(event));
      await sleep(0.01);
      event.set();
      await waiterTask;
    });
    expect(out).toEqual(['waiting for it ...', '... got it!']);
  });

  it('Lock, Condition and Semaphore used as `async with`', async () => {
    const out = await example(make, async (print) => {
      const lock = new Lock();
      {
        await using _ = await lock.hold();
        print('locked:', lock.locked() ? 'True' : 'False');
      }
      print('locked:', lock.locked() ? 'True' : 'False');
      const cond = new Condition();
      const consumer = async () => {
        await using _ = await cond.hold();
        await cond.wait();
        print('consumer notified');
      };
      const t = createTask(consumer);
      await sleep(0);
      {
        await using _ = await cond.hold();
        cond.notify();
      }
      await t;
      const sem = new Semaphore(10);
      {
        await using _ = await sem.hold();
        print('semaphore acquired:', sem.locked() ? 'True' : 'False');
      }
    });
    expect(out).toEqual(['locked: True', 'locked: False', 'consumer notified', 'semaphore acquired: False']);
  });

  it('Barrier: its state printed while filling, draining and filling again', async () => {
    const out = await example(make, async (print) => {
      const b = new Barrier(3);
      createTask(() => b.wait());
      createTask(() => b.wait());
      await sleep(0);
      print(b);
      await b.wait();
      print(b);
      print('barrier passed');
      await sleep(0);
      print(b);
    });
    // Python: <asyncio.locks.Barrier object at 0x7f... [filling, waiters:2/3]> (no address here).
    expect(out).toEqual(['<Barrier [filling, waiters:2/3]>', '<Barrier [draining, waiters:0/3]>', 'barrier passed', '<Barrier [filling, waiters:0/3]>']);
  });

  it('Future: set_after() sets a future another coroutine awaits', async () => {
    const out = await example(make, async (print) => {
      const setAfter = async (fut: Future<string>, delay: number, value: string) => {
        await sleep(delay);
        fut.setResult(value);
      };
      const loop = getRunningLoop();
      const fut = loop.createFuture<string>();
      loop.createTask(() => setAfter(fut, 0.01, '... world'));
      print('hello ...');
      print(await fut);
    });
    expect(out).toEqual(['hello ...', '... world']);
  });

  it('Runner: two runs on one loop, closed by the `with` block', async () => {
    const out: string[] = [];
    const print = (...parts: unknown[]) => out.push(parts.map(String).join(' '));
    const main = async () => {
      await sleep(0.01);
      print('done');
    };
    let runner: Runner;
    {
      await using r = new Runner({ loopFactory: make });
      runner = r;
      await runner.run(main);
      await runner.run(main);
      print('loop closed:', runner.getLoop().isClosed() ? 'True' : 'False');
    }
    try {
      runner.getLoop();
    } catch (error) {
      print(`${(error as Error).name}:`, (error as Error).message);
    }
    expect(out).toEqual(['done', 'done', 'loop closed: False', 'RuntimeError: Runner is closed']);
  });

  it('subprocess: run shell commands, one then two with gather', async () => {
    const out = await example(make, async (print) => {
      const runCmd = async (cmd: string) => {
        const proc = await createSubprocessShell(cmd, { stdout: PIPE, stderr: PIPE });
        const [stdout, stderr] = await proc.communicate();
        print(`['${cmd}' exited with ${proc.returncode}]`);
        if (stdout!.length) print(`[stdout]\n${stdout!.toString()}`);
        if (stderr!.length) print(`[stderr]\n${stderr!.toString()}`);
      };
      await runCmd('ls /zzz');
      await gather(runCmd('ls /zzz'), runCmd('sleep 0.05; echo "hello"'));
    });
    const lsFailed = ["['ls /zzz' exited with 2]", "[stderr]\nls: cannot access '/zzz': No such file or directory\n"];
    expect(out).toEqual([...lsFailed, ...lsFailed, `['sleep 0.05; echo "hello"' exited with 0]`, '[stdout]\nhello\n']);
  });

  it('subprocess: read the date a child prints on its stdout', async () => {
    const out = await example(make, async (print) => {
      const code = 'console.log("2026-12-07 09:00:00.000000")';
      const proc = await createSubprocessExec(process.execPath, ['-e', code], { stdout: PIPE });
      const data = await proc.stdout!.readline();
      const line = data.toString('ascii').trimEnd();
      await proc.wait();
      print(`Current date: ${line}`);
    });
    expect(out).toEqual(['Current date: 2026-12-07 09:00:00.000000']);
  });

  // What a user reads (asyncio's default handler through logging, loopkit's through logger.error
  // to console.error). Python 3.13.0 printed, for misc.py's dev_never_retrieved:
  //   Task exception was never retrieved
  //   future: <Task finished name='Task-2' coro=<bug() done, defined at misc.py:118> exception=Exception('not consumed')>
  //   Traceback (most recent call last): ... Exception: not consumed
  // and with PYTHONASYNCIODEBUG=1, between the two, where the task was created:
  //   source_traceback: Object created at (most recent call last): ... line 121, in main ...
  for (const debug of [false, true]) {
    it(`asyncio-dev: a task's exception never retrieved, as printed${debug ? ' in debug mode (where the task was created)' : ''}`, async () => {
      const printed: string[] = [];
      const original = console.error;
      console.error = (...args: unknown[]) => void printed.push(format(...args));
      try {
        await example(make, async () => {
          const bug = async () => {
            throw new Error('not consumed');
          };
          const main = async () => {
            createTask(bug);
          };
          await main();
        }, debug);
      } finally {
        console.error = original;
      }
      expect(printed).toHaveLength(1);
      const lines = printed[0]!.split('\n');
      expect(lines[0]).toBe('Task exception was never retrieved');
      expect(lines[1]).toMatch(/^future: <Task finished name='Task-\d+' coro=bug\(\) exception=Error: not consumed>$/);
      // The error's stack starts a line of its own, as Python's traceback under the report.
      const errorLine = lines.indexOf('Error: not consumed');
      expect(errorLine).toBeGreaterThan(1);
      expect(lines[errorLine + 1]).toMatch(/^\s+at .*bug.*docs-examples-3\.test\.ts/);
      if (debug) {
        // The creation stack begins at the user's createTask call, not inside loopkit.
        expect(lines[2]).toBe('sourceTraceback: Object created at (most recent call first):');
        expect(lines[3]).toMatch(/^\s+at main .*docs-examples-3\.test\.ts/);
      } else {
        expect(errorLine).toBe(2);
      }
    });
  }
});
