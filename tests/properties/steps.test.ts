/**
 * Property: a task's step runs whole, where asyncio runs it, however many microtasks it
 * takes. A program is a list of tasks; each task is a list of steps separated by
 * `await sleep(0)`; a step logs, awaits settled promises and nested async functions (which
 * take extra microtasks but do not end the step), awaits a done Future, and schedules plain
 * callbacks. A reference model with asyncio's rules (one ready queue; a step is one entry;
 * an iteration runs what was ready when it began) predicts the whole log.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BaseEventLoop, TestLoop, sleep, type AbstractEventLoop } from '@loopkit/core';
import { NET_LOOPS } from '../faults/helpers.js';

type Item =
  | { kind: 'log' }
  | { kind: 'micro' } // await Promise.resolve(): one microtask, same step
  | { kind: 'nested' } // await an async function that awaits a settled promise, then logs
  | { kind: 'doneFuture' } // await a Future that is already done: no iteration either
  | { kind: 'soon' }; // loop.callSoon(a callback that logs)

type Task = Item[][]; // steps

const itemArb: fc.Arbitrary<Item> = fc.oneof(
  fc.constant({ kind: 'log' as const }),
  fc.constant({ kind: 'micro' as const }),
  fc.constant({ kind: 'nested' as const }),
  fc.constant({ kind: 'doneFuture' as const }),
  fc.constant({ kind: 'soon' as const }),
);
const taskArb: fc.Arbitrary<Task> = fc.array(fc.array(itemArb, { maxLength: 4 }), { minLength: 1, maxLength: 4 });
const programArb = fc.array(taskArb, { minLength: 1, maxLength: 5 });

/** What asyncio would log: `t<task>.<step>.<item>` for step items, `cb:<that label>` for callbacks. */
function model(program: Task[]): string[] {
  type Entry = { task: number; step: number } | { callback: string };
  const log: string[] = [];
  let ready: Entry[] = program.map((_, task) => ({ task, step: 0 }));
  while (ready.length > 0) {
    const batch = ready;
    ready = [];
    for (const entry of batch) {
      if ('callback' in entry) {
        log.push(`cb:${entry.callback}`);
        continue;
      }
      const steps = program[entry.task]!;
      steps[entry.step]!.forEach((item, i) => {
        const label = `t${entry.task}.${entry.step}.${i}`;
        if (item.kind === 'soon') ready.push({ callback: label });
        else log.push(label);
      });
      if (entry.step + 1 < steps.length) ready.push({ task: entry.task, step: entry.step + 1 });
    }
  }
  return log;
}

async function run(loop: AbstractEventLoop, program: Task[]): Promise<string[]> {
  const log: string[] = [];
  const nested = async (label: string): Promise<void> => {
    await Promise.resolve();
    log.push(label);
  };
  const done = loop.createFuture<void>();
  done.setResult();
  const tasks = program.map((steps, t) =>
    loop.createTask(async () => {
      for (let s = 0; s < steps.length; s++) {
        if (s > 0) await sleep(0);
        for (let i = 0; i < steps[s]!.length; i++) {
          const label = `t${t}.${s}.${i}`;
          const item = steps[s]![i]!;
          if (item.kind === 'log') log.push(label);
          else if (item.kind === 'micro') {
            await Promise.resolve();
            log.push(label);
          } else if (item.kind === 'nested') await nested(label);
          else if (item.kind === 'doneFuture') {
            await done;
            log.push(label);
          } else loop.callSoon(() => log.push(`cb:${label}`));
        }
      }
    }),
  );
  await loop.runUntilComplete(async () => {
    for (const task of tasks) await task;
  });
  // Callbacks scheduled by the last steps run after the main task finished: one more turn.
  await loop.runUntilComplete(() => sleep(0));
  return log;
}

describe('property: task steps', () => {
  const loops: Array<{ name: string; make: (() => AbstractEventLoop) | null }> = [
    { name: 'TestLoop', make: () => new TestLoop() },
    { name: 'BaseEventLoop', make: () => new BaseEventLoop() },
    ...NET_LOOPS.map((l) => ({ name: l.name, make: l.make })),
  ];
  for (const subject of loops) {
    it.skipIf(subject.make === null)(`${subject.name}: every step runs whole, in asyncio's order`, async () => {
      await fc.assert(
        fc.asyncProperty(programArb, async (program) => {
          const loop = subject.make!();
          try {
            const log = await run(loop, program);
            // The main task's own steps add no log lines; the trailing callbacks all ran.
            expect(log).toEqual(model(program));
          } finally {
            loop.close();
          }
        }),
        { numRuns: subject.name === 'TestLoop' || subject.name === 'BaseEventLoop' ? 150 : 20 },
      );
    }, 60_000);
  }
});
