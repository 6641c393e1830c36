/**
 * Session 22: asyncio 3.13 behaviours a ported program meets, each run beside Python 3.13.0
 * (the outcome each test asserts is what Python printed for the same scenario), on every loop.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { expect, it } from 'vitest';
import {
  Barrier,
  BoundedSemaphore,
  CancelledError,
  IncompleteReadError,
  Runner,
  Semaphore,
  StreamReader,
  TaskGroup,
  TimeoutError,
  asCompleted,
  createTask,
  gather,
  shield,
  sleep,
  taskGroup,
  timeout,
  waitFor,
  type Task,
} from 'loopkit';
import { onEachLoop, rejection, runIn } from './loops.js';

/** The message of the CancelledError `read` throws or rejects with. */
async function cancelMessage(read: () => unknown): Promise<string> {
  let error: unknown = null;
  try {
    await read();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(CancelledError);
  return (error as CancelledError).message;
}

onEachLoop('a cancelled task hands its CancelledError (with the message) to the first read only', (make) => {
  it('await twice, result(), exception(); a body raising its own; cancelled before starting; a body returning a future', () =>
    runIn(make, async () => {
      const sleeper = async (): Promise<void> => {
        await sleep(10);
      };
      // In an array: an async function returning the task itself would await it.
      const cancelledWith = async (body: () => PromiseLike<unknown>, msg: string, started = true): Promise<[Task<unknown>]> => {
        const task = createTask(body);
        if (started) await sleep(0);
        task.cancel(msg);
        return [task];
      };
      let [task] = await cancelledWith(sleeper, 'stop');
      expect(await cancelMessage(() => task)).toBe('stop');
      expect(await cancelMessage(() => task)).toBe('');
      expect(await cancelMessage(() => task.result())).toBe('');
      expect(await cancelMessage(() => task.exception())).toBe('');

      [task] = await cancelledWith(sleeper, 'read by result() first');
      await sleep(0);
      await sleep(0);
      expect(await cancelMessage(() => task.result())).toBe('read by result() first');
      expect(await cancelMessage(() => task)).toBe('');

      task = createTask(async () => {
        throw new CancelledError('own');
      });
      expect(await cancelMessage(() => task)).toBe('own');
      expect(await cancelMessage(() => task)).toBe('');

      [task] = await cancelledWith(sleeper, 'early', false);
      expect(await cancelMessage(() => task)).toBe('early');
      expect(await cancelMessage(() => task)).toBe('');

      [task] = await cancelledWith(() => sleep(10), 'body returned a future');
      expect(await cancelMessage(() => task)).toBe('body returned a future');
      expect(await cancelMessage(() => task)).toBe('');

      // A plain future keeps its message on every read.
      const fut = createTask(sleeper);
      const plain = fut.getLoop().createFuture();
      plain.cancel('plain');
      expect([await cancelMessage(() => plain), await cancelMessage(() => plain)]).toEqual(['plain', 'plain']);
      fut.cancel();
    }));

  it("gather with returnExceptions gives a new error and leaves the task's own; shield and waitFor over a cancelled task", () =>
    runIn(make, async () => {
      const sleeper = async (): Promise<void> => {
        await sleep(10);
      };
      let task = createTask(sleeper);
      await sleep(0);
      task.cancel('m2');
      const [outcome] = await gather(task, { returnExceptions: true });
      expect(outcome).toBeInstanceOf(CancelledError);
      expect((outcome as CancelledError).message).toBe('');
      expect(await cancelMessage(() => task.result())).toBe('m2');

      // gather cancelled: the outer future raises the child's error, the child's next read none.
      task = createTask(sleeper);
      const quick = createTask(async () => 1);
      const outer = gather(task, quick);
      await sleep(0);
      await sleep(0);
      expect(outer.cancel('g')).toBe(true);
      expect(await cancelMessage(() => outer)).toBe('g');
      expect(await cancelMessage(() => task)).toBe('');

      // shield cancels its outer future bare when the inner one is cancelled.
      task = createTask(sleeper);
      await sleep(0);
      const shielded = shield(task);
      task.cancel('inner');
      expect(await cancelMessage(() => shielded)).toBe('');

      task = createTask(sleeper);
      await sleep(0);
      task.cancel('wf');
      expect(await cancelMessage(() => waitFor(task, 5))).toBe('wf');
      expect(await rejection(task)).toBeInstanceOf(CancelledError);
    }));
});

onEachLoop("errors say asyncio 3.13's words where a ported test compares them", (make) => {
  it('test_readuntil_eof, separators, the limit, Barrier(0), Semaphore(-1), a timeout, run(123)', () =>
    runIn(make, async () => {
      const reader = new StreamReader();
      reader.feedData(Buffer.from('some dataAA'));
      reader.feedEof();
      const incomplete = await rejection(reader.readuntil(Buffer.from('AAA')));
      expect(incomplete).toBeInstanceOf(IncompleteReadError);
      expect((incomplete as Error).message).toBe('11 bytes read on a total of undefined expected bytes');

      const empty = new StreamReader();
      await expect(empty.readuntil(Buffer.alloc(0))).rejects.toThrow(/^Separator should be at least one-byte string/);
      await expect(empty.readuntil([Buffer.from('a'), Buffer.alloc(0)])).rejects.toThrow(/^Separator should be/);
      await expect(empty.readuntil([])).rejects.toThrow(/^Separator should contain at least one element/);
      expect(() => new StreamReader({ limit: 0 })).toThrow(/^Limit cannot be <= 0/);

      expect(() => new Barrier(0)).toThrow(/^parties must be > 0/);
      expect(() => new Semaphore(-1)).toThrow(/^Semaphore initial value must be >= 0/);
      expect(() => new BoundedSemaphore(-1)).toThrow(/^Semaphore initial value must be >= 0/);

      // str() of the TimeoutError of timeout(), wait_for() and as_completed() is ''.
      const scoped = await rejection(timeout(0.01, () => sleep(1)));
      expect(scoped).toBeInstanceOf(TimeoutError);
      expect((scoped as Error).message).toBe('');
      expect((scoped as Error).cause).toBeInstanceOf(CancelledError);
      expect(((await rejection(waitFor(sleep(1), 0.01))) as Error).message).toBe('');
      const [first] = asCompleted([createTask(() => sleep(1))], { timeout: 0.01 });
      const late = await rejection(first!);
      expect(late).toBeInstanceOf(TimeoutError);
      expect((late as Error).message).toBe('');
    }));
});

it('test_run_non_coro: Runner.run(123) says a coroutine was expected', async () => {
  const runner = new Runner();
  try {
    await expect(runner.run(123 as never)).rejects.toThrow(/a coroutine was expected/);
  } finally {
    runner.close();
  }
});

it("test_run_keeps_context: a store one run enters reaches the next through Runner.run's context", async () => {
  const cvar = new AsyncLocalStorage<number>();
  type Snapshot = ReturnType<typeof AsyncLocalStorage.snapshot>;
  const f = (val: number) => async (): Promise<[number, Snapshot]> => {
    const old = cvar.getStore() ?? -1;
    await sleep(0);
    cvar.enterWith(val);
    return [old, AsyncLocalStorage.snapshot()];
  };
  const runner = new Runner();
  // Each run called with the store at -1 in its caller's context: a run without a context starts from there.
  const fromCaller = <T>(call: () => Promise<T>): Promise<T> => cvar.run(-1, call);
  try {
    // Python 3.13.0: -1, then 1, then 2 (one Context for every run).
    const [first, afterFirst] = await fromCaller(() => runner.run(f(1)));
    expect(first).toBe(-1);
    const [second, afterSecond] = await fromCaller(() => runner.run(f(2), { context: afterFirst }));
    expect(second).toBe(1);
    expect(await fromCaller(() => runner.run(async () => cvar.getStore(), { context: afterSecond }))).toBe(2);
    expect((await fromCaller(() => runner.run(f(3))))[0]).toBe(-1);
    await expect(runner.run(async () => 1, { context: 'ctx' } as never)).rejects.toThrow(TypeError);
    await expect(runner.run(async () => 1, { contxt: null } as never)).rejects.toThrow(/unexpected option 'contxt'/);
  } finally {
    await runner.close();
  }
});

onEachLoop("a TaskGroup's repr and misuse errors in asyncio 3.13's words", (make) => {
  it('<TaskGroup>, <TaskGroup entered>, tasks= only while some run; "TaskGroup <...> is finished" / "has not been entered"', () =>
    runIn(make, async (loop) => {
      let group: TaskGroup | null = null;
      const seen: string[] = [];
      await taskGroup(async (tg) => {
        group = tg;
        seen.push(String(tg));
        tg.createTask(() => sleep(0));
        seen.push(String(tg));
      });
      seen.push(String(group));
      // Python 3.13.0 printed these four lines for the same program.
      expect(seen).toEqual(['<TaskGroup entered>', '<TaskGroup tasks=1 entered>', '<TaskGroup entered>']);
      expect(() => group!.createTask(() => sleep(0))).toThrow(/^TaskGroup <TaskGroup entered> is finished$/);
      const [outside] = await new Promise<[TaskGroup]>((resolve) => loop.callSoon(() => resolve([new TaskGroup()])));
      expect(String(outside)).toBe('<TaskGroup>');
      expect(() => outside.createTask(() => sleep(0))).toThrow(/^TaskGroup <TaskGroup> has not been entered/);
    }));
});
