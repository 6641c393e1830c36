// A lost task is reported after the full collection that took it, also while no loop runs
// to age tasks, once per task, and a live task never.
import { setTimeout as nodeSleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { BaseEventLoop, Future, allTasks, sleep, type ExceptionContext, type Task } from '@loopkit/core';

const gc = (globalThis as { gc?: () => void }).gc;

/**
 * Full collections with a turn of Node's loop after each, until `done()` or 200 rounds (the
 * registry's callback is a task of its own: on a loaded machine 30 rounds were sometimes short).
 */
async function collectUntil(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) {
    gc!();
    await nodeSleep(5);
  }
}

describe.skipIf(gc === undefined)('lost tasks, found after full collections', () => {
  it('reports tasks lost one per collection after their loop stopped, and never one still pending', async () => {
    const reports: ExceptionContext[] = [];
    const loop = new BaseEventLoop();
    loop.setExceptionHandler((_loop, context) => reports.push(context));
    const gate = loop.createFuture();
    const names = ['first', 'second', 'third'];
    const { kept, lost } = await loop.runUntilComplete(async () => {
      const lost: Array<Task<unknown> | null> = names.map((name) =>
        loop.createTask(
          async () => {
            await new Future({ loop }); // nobody else holds it
          },
          { name },
        ),
      );
      const kept = loop.createTask(async () => gate, { name: 'kept' });
      await sleep(0.005); // the loop idles: the tasks age
      return { kept, lost };
    });
    // The loop is stopped: nothing ages tasks now, so only the registry's own watch can tell.
    for (let i = 0; i < names.length; i++) {
      lost[i] = null;
      await collectUntil(() => reports.length > i);
      expect(reports).toHaveLength(i + 1);
    }
    for (let i = 0; i < 3; i++) {
      gc!();
      await nodeSleep(5);
    }
    expect(allTasks(loop).has(kept)).toBe(true);
    gate.setResult(null);
    await loop.runUntilComplete(kept);
    loop.close();
    expect(reports.map((r) => r.message)).toEqual(Array(3).fill('Task was destroyed but it is pending!'));
    expect(reports.map((r) => r.taskDescription)).toEqual(names.map((name) => `<Task pending name='${name}' coro=<anonymous>()>`));
  });
});
