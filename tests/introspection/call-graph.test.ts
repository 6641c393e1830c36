/** captureCallGraph / formatCallGraph / printCallGraph and the awaited-by relation behind them. */
import { describe, expect, it } from 'vitest';
import {
  Future,
  RuntimeError,
  TaskGroup,
  TestLoop,
  asCompleted,
  captureCallGraph,
  createTask,
  currentTask,
  formatCallGraph,
  gather,
  introspectionId,
  printCallGraph,
  shield,
  sleep,
  taskGroup,
  wait,
  waitFor,
  type Task,
} from '@loopkit/core';

const id = (fut: Future<unknown>): string => `0x${introspectionId(fut).toString(16)}`;
const task = (t: Task<unknown>): string => `Task(name='${t.getName()}', id=${id(t)})`;
// A frame names this file by URL, or by path where the test runner's source maps rewrite stacks.
const THIS_FILE = new URL(import.meta.url);
const THIS_FILE_RE = `(?:file://)?${THIS_FILE.pathname.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`;
/** The futures of a graph's awaitedBy (vitest's toEqual would iterate a Future: yield*). */
const awaiters = (fut: Future<unknown>): Future<unknown>[] => captureCallGraph(fut)!.awaitedBy.map((g) => g.future);

/** Run `body` as the main task of a TestLoop named 'main'. */
async function inLoop<T>(body: (loop: TestLoop) => Promise<T>, debug = false): Promise<T> {
  const loop = new TestLoop();
  loop.setDebug(debug);
  try {
    return await loop.runUntilComplete(loop.createTask(() => body(loop), { name: 'main' }));
  } finally {
    loop.close();
  }
}

describe('the awaited-by relation and the call graph', () => {
  it('a task awaiting a task: the child is awaited by the parent, and no longer once done', async () => {
    await inLoop(async () => {
      const child = createTask(() => sleep(1), { name: 'child' });
      const parent = createTask(async () => {
        await child;
      }, { name: 'parent' });
      await sleep(0.5);
      expect(formatCallGraph(child)).toBe(
        [`* ${task(child)}`, '  + Awaited by:', `    * ${task(parent)}`].join('\n'),
      );
      await parent;
      expect(awaiters(child)).toHaveLength(0);
    });
  });

  it('gather: each child is awaited by the task calling gather (asyncio 3.14), as is the gathering future', async () => {
    await inLoop(async () => {
      const main = currentTask()!;
      const a = createTask(() => sleep(1), { name: 'a' });
      const b = createTask(() => sleep(2), { name: 'b' });
      const outer = gather(a, b);
      const waiting = outer.then(() => 'done');
      await sleep(0.5);
      expect(formatCallGraph(b)).toBe([`* ${task(b)}`, '  + Awaited by:', `    * ${task(main)}`].join('\n'));
      await waiting;
      expect(awaiters(a)).toHaveLength(0);
      expect(awaiters(outer)).toHaveLength(0);
    });
  });

  it('TaskGroup: the group tasks are awaited by the task that entered it', async () => {
    await inLoop(async () => {
      const main = currentTask()!;
      let inner!: Task<unknown>;
      await taskGroup(async (tg) => {
        inner = tg.createTask(() => sleep(1), { name: 'inner' });
        await sleep(0);
        expect(formatCallGraph(inner)).toBe([`* ${task(inner)}`, '  + Awaited by:', `    * ${task(main)}`].join('\n'));
      });
      expect(awaiters(inner)).toHaveLength(0);
      const tg = new TaskGroup();
      const late = tg.createTask(() => sleep(1), { name: 'late' });
      expect(awaiters(late)).toHaveLength(1);
      expect(awaiters(late)[0]).toBe(main);
      await tg[Symbol.asyncDispose]();
    });
  });

  it('shield: the inner work is awaited by the task awaiting the shield', async () => {
    await inLoop(async () => {
      const inner = createTask(() => sleep(1), { name: 'inner' });
      const holder = createTask(async () => {
        await shield(inner);
      }, { name: 'holder' });
      await sleep(0.5);
      expect(formatCallGraph(inner)).toBe([`* ${task(inner)}`, '  + Awaited by:', `    * ${task(holder)}`].join('\n'));
      holder.cancel();
      await sleep(0);
      // The shield was cancelled, the inner work runs on, and the holder no longer waits for it.
      expect(holder.cancelled()).toBe(true);
      expect(inner.done()).toBe(false);
      expect(awaiters(inner)).toHaveLength(0);
      await inner;
    });
  });

  it('wait, waitFor (timeout) and asCompleted: the futures are awaited by the calling task', async () => {
    await inLoop(async (loop) => {
      const f1 = loop.createFuture<number>();
      const f2 = loop.createFuture<number>();
      const waiter = createTask(() => wait([f1, f2]), { name: 'waiter' });
      const limited = createTask(() => waitFor(f1, 10), { name: 'limited' });
      let iterator!: Task<unknown>;
      const seen: number[] = [];
      iterator = createTask(async () => {
        for await (const fut of asCompleted([f1, f2])) seen.push(await fut);
      }, { name: 'iterator' });
      await sleep(0);
      const awaitersOf = (f: Future<unknown>): string[] =>
        captureCallGraph(f)!.awaitedBy.map((g) => (g.future as Task<unknown>).getName());
      expect(awaitersOf(f1)).toEqual(['waiter', 'limited', 'iterator']);
      expect(awaitersOf(f2)).toEqual(['waiter', 'iterator']);
      f1.setResult(1);
      await sleep(0);
      f2.setResult(2);
      await gather(waiter, limited, iterator);
      expect(seen).toEqual([1, 2]);
      expect(awaitersOf(f1)).toEqual([]);
      expect(awaitersOf(f2)).toEqual([]);
      expect(iterator.done()).toBe(true);
    });
  });

  it('a generator task yielding a future is recorded too', async () => {
    await inLoop(async (loop) => {
      const fut = loop.createFuture<number>();
      const gen = loop.createTask(function* () {
        return yield* fut;
      }, { name: 'gen' });
      await sleep(0);
      expect(formatCallGraph(fut)).toBe([`* Future(id=${id(fut)})`, '  + Awaited by:', `    * ${task(gen)}`].join('\n'));
      fut.setResult(5);
      expect(await gen).toBe(5);
      expect(awaiters(fut)).toHaveLength(0);
    });
  });

  it('an await cycle between two tasks ends the graph where it closes', async () => {
    await inLoop(async () => {
      let second!: Task<unknown>;
      const first = createTask(async () => {
        await sleep(0);
        await second;
      }, { name: 'first' });
      second = createTask(async () => {
        await sleep(0);
        await first;
      }, { name: 'second' });
      await sleep(0.1);
      expect(formatCallGraph(first)).toBe(
        [`* ${task(first)}`, '  + Awaited by:', `    * ${task(second)}`].join('\n'),
      );
      // Nothing can end a cycle (cancelling either would cancel the other, and so on): the
      // two stay pending when the loop closes, and are not to be reported as lost.
      (first as unknown as { _noPendingReport(): void })._noPendingReport();
      (second as unknown as { _noPendingReport(): void })._noPendingReport();
    });
  });

  it('the current task: its live frames, innermost first, down to its coroutine', async () => {
    await inLoop(async () => {
      async function helper(): Promise<string> {
        await sleep(0);
        return formatCallGraph();
      }
      const child = createTask(async function body() {
        return await helper();
      }, { name: 'child' });
      const text = await child;
      const lines = text.split('\n');
      expect(lines[0]).toBe(`* ${task(child)}`);
      expect(lines[1]).toBe('  + Call stack:');
      expect(lines[2]).toMatch(new RegExp(`^  \\|   File '${THIS_FILE_RE}', line \\d+, in helper\\(\\)$`));
      // Plain Node says 'in async body()'; the test runner's source-mapped stacks drop the 'async'.
      expect(lines[3]).toMatch(new RegExp(`^  \\|   File '${THIS_FILE_RE}', line \\d+, in (?:async )?body\\(\\)$`));
      expect(lines[4]).toBe('  + Awaited by:');
      expect(lines[5]).toBe(`    * ${task(currentTask()!)}`);
      expect(lines).toHaveLength(6);
    });
  });

  it('depth skips callers, limit keeps the innermost (positive) or outermost (negative) entries', async () => {
    await inLoop(async () => {
      function inner(options: object): string[] {
        return captureCallGraph(null, options)!.callStack.map((e) => e.functionName);
      }
      function outer(options: object): string[] {
        return inner(options);
      }
      const all = outer({});
      expect(all.slice(0, 2)).toEqual(['inner', 'outer']);
      expect(outer({ depth: 2 })[0]).toBe('outer');
      expect(outer({ limit: 1 })).toEqual(['inner']);
      expect(outer({ limit: -1 })).toEqual(all.slice(-1));
      expect(outer({ limit: 0 })).toEqual([]);
    });
  });

  it('in debug mode a future carries its creation site', async () => {
    await inLoop(async (loop) => {
      expect(loop.getDebug()).toBe(true);
      const fut = loop.createFuture(); // the creation site
      const graph = captureCallGraph(fut)!;
      expect(graph.callStack).toHaveLength(0);
      expect(graph.createdAt[0]!.fileName).toMatch(new RegExp(`^${THIS_FILE_RE}$`));
      expect(formatCallGraph(fut, { limit: 1 })).toMatch(
        new RegExp(`^\\* Future\\(id=${id(fut)}\\)\\n  \\+ Created at:\\n  \\|   File '${THIS_FILE_RE}', line \\d+, in .*\\(\\)$`),
      );
    }, true);
  });

  it('printCallGraph writes formatCallGraph and a newline', async () => {
    await inLoop(async (loop) => {
      const fut = loop.createFuture();
      let written = '';
      printCallGraph(fut, { file: { write: (text: string) => (written += text) } });
      expect(written).toBe(`* Future(id=${id(fut)})\n`);
    });
  });

  it('outside a task: null and an empty string; outside a loop: RuntimeError; not a future: TypeError', async () => {
    const loop = new TestLoop();
    await loop.runUntilComplete(
      new Promise<void>((resolve) => {
        loop.callSoon(() => {
          expect(captureCallGraph()).toBeNull();
          expect(formatCallGraph()).toBe('');
          resolve();
        });
      }),
    );
    expect(() => captureCallGraph()).toThrow(RuntimeError);
    expect(() => captureCallGraph({} as Future<unknown>)).toThrow(TypeError);
    expect(() => captureCallGraph(null, { depth: 0 })).toThrow(RangeError);
    const fut = new Future({ loop });
    const graph = captureCallGraph(fut)!;
    expect(graph.future).toBe(fut);
    expect([graph.callStack, graph.awaitedBy, graph.createdAt]).toEqual([[], [], []]);
    loop.close();
  });
});
