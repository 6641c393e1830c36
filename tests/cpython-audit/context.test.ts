/**
 * Scenarios of CPython's test_asyncio/test_context.py (3.13) with Node's contextvars,
 * AsyncLocalStorage (DESIGN.md): each task keeps its own context across awaits, a task's
 * changes do not leak into its creator, createTask's `context` runs the task in the one given.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { expect, it } from 'vitest';
import { createTask, gather, sleep } from 'loopkit';
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
      // Python 3.13 printed these values in this order (the first task started with 'main': see the skip below).
      expect(got.slice(1)).toEqual([
        ['child-after', 'child'],
        ['main-after-child', 'main'],
        ['child-start', 'c2'],
        ['child-after', 'child'],
        ['main-after-c2', 'main'],
      ]);
    }));

  it.skip('a task made without context starts in a copy of its creator\'s (asyncio): here it runs in the loop\'s context, a documented difference (README)', () => {});

  it('createTask refuses a context that is not a runner function', () =>
    runIn(make, async () => {
      expect(() => createTask(async () => 1, { context: 'ctx' as never })).toThrow(TypeError);
    }));
});
