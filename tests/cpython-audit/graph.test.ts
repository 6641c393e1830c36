/**
 * Scenarios of CPython's test_asyncio/test_graph.py (3.14's call graph; API.md's
 * captureCallGraph): who awaits whom through a TaskGroup, gather, shield, timeout, wait, a
 * named task and a plain future awaited by two tasks. The call stacks are compared by function
 * name (the innermost ones each scenario names), the awaited-by tree exactly.
 */
import { expect, it } from 'vitest';
import {
  Future,
  Task,
  captureCallGraph,
  createTask,
  formatCallGraph,
  gather,
  shield,
  sleep,
  taskGroup,
  timeout,
  wait,
  type FutureCallGraph,
} from 'loopkit';
import { onEachLoop, runIn } from './loops.js';

type Walked = [string, string[], Walked[]];

/** test_graph's capture_test_stack: `T<name>` for a named task, `T<anon>` for a default name, `F` for a future; frames by name. */
function walk(graph: FutureCallGraph): Walked {
  const fut = graph.future;
  const label = fut instanceof Task ? (/^Task-\d+$/.test(fut.getName()) ? 'T<anon>' : `T<${fut.getName()}>`) : 'F';
  const frames = graph.callStack.map((entry) => entry.functionName);
  return [label, frames, graph.awaitedBy.map(walk).sort((a, b) => a[0].localeCompare(b[0]))];
}

/** The frames named in `names`, in order (our stacks also hold the runner's and the library's). */
function named(frames: string[], names: string[]): string[] {
  return frames.filter((f) => names.includes(f));
}

function capture(fut?: Future<unknown>): Walked {
  return walk(captureCallGraph(fut ?? undefined)!);
}

onEachLoop('test_graph', (make) => {
  it('test_stack_tgroup: a task awaited by its group\'s parent and by two sibling tasks', () =>
    runIn(make, async () => {
      let graph: Walked | null = null;
      const c5 = () => (graph = capture());
      async function c4() {
        await sleep(0);
        c5();
      }
      async function c3() {
        await c4();
      }
      async function c2() {
        await c3();
      }
      async function c1(task: Task<unknown>) {
        await task;
      }
      await taskGroup(async (tg) => {
        const task = tg.createTask(c2, { name: 'c2_root' });
        tg.createTask(() => c1(task), { name: 'sub_main_1' });
        tg.createTask(() => c1(task), { name: 'sub_main_2' });
      });
      const [label, frames, awaitedBy] = graph!;
      expect(label).toBe('T<c2_root>');
      expect(named(frames, ['c4', 'c3', 'c2'])).toEqual(['c4', 'c3', 'c2']);
      expect(awaitedBy.map((g) => g[0])).toEqual(['T<anon>', 'T<sub_main_1>', 'T<sub_main_2>']);
      expect(awaitedBy[1]![2].map((g) => g[0])).toEqual(['T<anon>']);
      expect(awaitedBy[2]![2].map((g) => g[0])).toEqual(['T<anon>']);
    }));

  it('test_stack_gather / test_stack_shield / test_stack_timeout: the inner task is awaited by the calling task', () =>
    runIn(make, async () => {
      const seen: Walked[] = [];
      async function deep() {
        await sleep(0);
        seen.push(capture());
      }
      async function c1() {
        await sleep(0);
        await deep();
      }
      async function c2() {
        await sleep(0);
      }
      async function withTimeout() {
        await timeout(1, async () => {
          await sleep(0);
          await deep();
        });
      }
      await gather(c1, c2);
      await shield(createTask(c1));
      await shield(createTask(withTimeout));
      for (const [label, frames, awaitedBy] of seen) {
        expect(label).toBe('T<anon>');
        expect(frames).toContain('deep');
        expect(awaitedBy.length).toBe(1);
        expect(awaitedBy[0]![0]).toBe('T<anon>');
        expect(awaitedBy[0]![2]).toEqual([]);
      }
      expect(seen.length).toBe(3);
    }));

  it('test_stack_wait: tasks in wait() are awaited by the waiting task', () =>
    runIn(make, async () => {
      let graph: Walked | null = null;
      async function inner() {
        await sleep(0);
        graph = capture();
      }
      const t1 = createTask(async () => {
        await timeout(1, async () => {
          await sleep(0);
          await inner();
        });
      });
      const t2 = createTask(async () => {
        for (let i = 0; i < 3; i++) await sleep(0);
      });
      for (;;) {
        const [, pending] = await wait([t1, t2]);
        if (pending.size === 0) break;
      }
      expect(graph![0]).toBe('T<anon>');
      expect(graph![2].map((g) => g[0])).toEqual(['T<anon>']);
    }));

  it('test_stack_task: a named task awaited by an anonymous one', () =>
    runIn(make, async () => {
      let graph: Walked | null = null;
      async function inner() {
        await sleep(0);
        graph = capture();
      }
      async function c1() {
        await inner();
      }
      async function c2() {
        await createTask(c1, { name: 'there there' });
      }
      await c2();
      expect(graph![0]).toBe('T<there there>');
      expect(named(graph![1], ['inner', 'c1'])).toEqual(['inner', 'c1']);
      expect(graph![2].map((g) => g[0])).toEqual(['T<anon>']);
    }));

  it('test_stack_future: a plain future awaited by two group tasks, each awaited by the parent', () =>
    runIn(make, async (loop) => {
      let graph: Walked | null = null;
      let text = '';
      const fut = loop.createFuture<void>();
      async function a2() {
        await fut;
      }
      async function a1() {
        await a2();
      }
      async function b1() {
        await fut;
      }
      await taskGroup(async (g) => {
        g.createTask(a1, { name: 'task A' });
        g.createTask(b1, { name: 'task B' });
        for (let i = 0; i < 5; i++) await sleep(0);
        graph = capture(fut);
        text = formatCallGraph(fut);
        fut.setResult(undefined);
      });
      expect(graph![0]).toBe('F');
      expect(graph![1]).toEqual([]);
      expect(graph![2].map((g) => [g[0], g[2].map((p) => p[0])])).toEqual([
        ['T<task A>', ['T<anon>']],
        ['T<task B>', ['T<anon>']],
      ]);
      expect(text.startsWith('* Future(id=')).toBe(true);
    }));

  it.skip('test_stack_async_gen: async generator frames ("ag gen") have no counterpart in V8 stack traces', () => {});
});
