// A lost task is reported after the full collection that took it, also while no loop runs
// to age tasks, once per task, and a live task never; found by a sweep of the aged tasks,
// which holds no FinalizationRegistry entry per task. Young tasks age 1024 per host task.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as nodeSleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { BaseEventLoop, Future, _world, allTasks, gather, sleep, type ExceptionContext, type Task } from '@loopkit/core';

import { ageIdleTasks } from '../packages/core/dist/task-registry.js';
import { OLDER_WORLD_SOURCE } from './support/older-world.js';

const CORE = new URL('../packages/core/dist/index.js', import.meta.url).href;

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
      // The loop idles: the tasks age (under load a first iteration can outlast a 5 ms sleep).
      while (_world.youngTasks.length > 0) await sleep(0.005);
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

describe.skipIf(gc === undefined)('the sweep of aged tasks', () => {
  it('finds lost tasks among more aged tasks than one host task of the sweep reads, and only those', async () => {
    const reports: ExceptionContext[] = [];
    const loop = new BaseEventLoop();
    loop.setExceptionHandler((_loop, context) => reports.push(context));
    const gate = loop.createFuture();
    const keptCount = 3000; // the sweep reads 1024 records per host task: these span three
    const { kept, lost } = await loop.runUntilComplete(async () => {
      const kept = Array.from({ length: keptCount }, () => loop.createTask(async () => gate));
      // Made last, so the sweep reaches them only in its third host task.
      const lost: Array<Task<unknown> | null> = ['late one', 'late two'].map((name) =>
        loop.createTask(
          async () => {
            await new Future({ loop }); // nobody else holds it
          },
          { name },
        ),
      );
      // The loop idles: the tasks age (a first iteration slower than a sleep, under load, idles later).
      while (_world.youngTasks.length > 0) await sleep(0.005);
      return { kept, lost };
    });
    lost[0] = null;
    lost[1] = null;
    await collectUntil(() => reports.length >= 2);
    for (let i = 0; i < 3; i++) {
      gc!();
      await nodeSleep(5);
    }
    expect(reports.map((r) => r.taskDescription).sort()).toEqual([
      "<Task pending name='late one' coro=<anonymous>()>",
      "<Task pending name='late two' coro=<anonymous>()>",
    ]);
    const pending = allTasks(loop);
    expect(pending.size).toBe(keptCount);
    expect(kept.every((task) => pending.has(task))).toBe(true);
    gate.setResult(null);
    await loop.runUntilComplete(gather(...kept));
    loop.close();
    expect(reports).toHaveLength(2);
  });

  it('gives an idle aged task no FinalizationRegistry cell, a record of 48 bytes and a slot in an AgedSet (heap snapshot of a fresh process)', () => {
    // 72 bytes a task: the sixth of an idle task's heap the per-task finalizer cost. A record
    // keeps its completion in the field of the coroutine's name, and its loop in its class: 48
    // bytes, not 64 (completion) or 56 (a loop field).
    const program = `
import v8 from 'node:v8';
import { BaseEventLoop, Event, _world } from '${CORE}';
function heapCounts() {
  const snapshot = JSON.parse(readSnapshot());
  const fields = snapshot.snapshot.meta.node_fields;
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const weakCell = snapshot.strings.indexOf('system / WeakCell');
  const record = snapshot.strings.indexOf('LoopAgedRecord');
  let weakCells = 0;
  // LoopAgedRecord instances by size (each class and prototype carry the name too, one each).
  const recordSizes = {};
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    if (snapshot.nodes[i + nameAt] === weakCell) weakCells++;
    else if (snapshot.nodes[i + nameAt] === record) {
      const size = snapshot.nodes[i + sizeAt];
      recordSizes[size] = (recordSizes[size] ?? 0) + 1;
    }
  }
  return { weakCells, recordSizes };
}
function readSnapshot() {
  const stream = v8.getHeapSnapshot();
  let text = '';
  for (let chunk; (chunk = stream.read()) !== null; ) text += chunk;
  return text;
}
const loop = new BaseEventLoop();
const gate = new Event();
const idle = 2000;
const tasks = [];
await loop.runUntilComplete(async () => {
  for (let i = 0; i < idle; i++) tasks.push(loop.createTask(() => gate.wait()));
  // The loop idles: the tasks age.
  while (_world.youngTasks.length > 0) await new Promise((resolve) => loop.callLater(0.005, resolve));
});
const agedSet = { kind: _world.agedTasks.constructor.name, size: _world.agedTasks.size };
console.log(JSON.stringify({ idle, aged: tasks.filter((task) => task._aged !== null).length, agedSet, ...heapCounts() }));
process.exit(0);
`;
    const dir = mkdtempSync(join(tmpdir(), 'loopkit-task-registry-'));
    const file = join(dir, 'idle.mjs');
    writeFileSync(file, program);
    const run = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    const { idle, aged, agedSet, weakCells, recordSizes } = JSON.parse(run.stdout) as {
      idle: number;
      aged: number;
      agedSet: { kind: string; size: number };
      weakCells: number;
      recordSizes: Record<string, number>;
    };
    expect(aged).toBe(idle);
    // The records in an array (aged-set.ts: 8 bytes a record), not a Set's table (20 or more).
    expect(agedSet).toEqual({ kind: 'AgedSet', size: idle });
    expect(weakCells).toBeLessThan(idle / 10);
    expect(Object.keys(recordSizes).filter((size) => recordSizes[size]! >= idle)).toEqual(['48']);
  }, 60_000); // as long as its child may take (a heap snapshot walked: 7.4 s at load 25)
});

describe.skipIf(gc === undefined)('the sweep when an exception handler throws', () => {
  it('goes on with the records after it, and reports the next lost task', () => {
    // In its own process: the handler's error is an uncaught exception there, as it was
    // from a FinalizationRegistry callback.
    const program = `
import { setTimeout as nodeSleep } from 'node:timers/promises';
import { BaseEventLoop, Future, _world } from '${CORE}';
const uncaught = [];
process.on('uncaughtException', (error) => uncaught.push(error.message));
class ThrowingLoop extends BaseEventLoop {
  callExceptionHandler() { throw new Error('handler failed'); }
}
const reports = [];
const throwing = new ThrowingLoop();
const recording = new BaseEventLoop();
recording.setExceptionHandler((_loop, context) => reports.push(context.taskDescription));
const holder = {};
for (const [loop, name] of [[throwing, 'first'], [recording, 'second']]) {
  await loop.runUntilComplete(async () => {
    holder[name] = loop.createTask(async () => { await new Future({ loop }); }, { name });
    while (_world.youngTasks.length > 0) await new Promise((resolve) => loop.callLater(0.005, resolve));
  });
}
holder.first = null;
holder.second = null;
for (let i = 0; i < 200 && reports.length === 0; i++) {
  gc();
  await nodeSleep(5);
}
console.log(JSON.stringify({ uncaught, reports }));
process.exit(0);
`;
    const dir = mkdtempSync(join(tmpdir(), 'loopkit-task-registry-'));
    const file = join(dir, 'throwing-handler.mjs');
    writeFileSync(file, program);
    const run = spawnSync(process.execPath, ['--expose-gc', file], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ uncaught: ['handler failed'], reports: ["<Task pending name='second' coro=<anonymous>()>"] });
  });
});

describe('aging young tasks', () => {
  const agedCount = (tasks: Array<Task<unknown>>) => tasks.filter((task) => (task as unknown as { _aged: object | null })._aged !== null).length;

  it('gives at most 1024 young tasks their records per host task once a loop is idle, and the rest in the host tasks after', async () => {
    const loop = new BaseEventLoop();
    const gate = loop.createFuture();
    const youngBefore = _world.youngTasks.length;
    const tasks = Array.from({ length: 3000 }, () => loop.createTask(async () => gate));
    ageIdleTasks();
    expect(agedCount(tasks)).toBe(1024);
    expect(_world.youngTasks.length).toBe(youngBefore + 3000 - 1024);
    for (let i = 0; i < 200 && _world.youngTasks.length > 0; i++) await nodeSleep(1);
    expect(agedCount(tasks)).toBe(3000);
    expect(allTasks(loop).size).toBe(3000);
    gate.setResult(null);
    await loop.runUntilComplete(gather(...tasks));
    loop.close();
    expect(allTasks(loop).size).toBe(0);
  });

  it('stops aging in host tasks once a task is made (a busy loop), until a loop is idle again', async () => {
    const loop = new BaseEventLoop();
    const gate = loop.createFuture();
    const tasks = Array.from({ length: 3000 }, () => loop.createTask(async () => gate));
    ageIdleTasks();
    tasks.push(loop.createTask(async () => gate)); // made before the next chunk's host task
    await nodeSleep(20);
    expect(agedCount(tasks)).toBe(1024);
    ageIdleTasks();
    for (let i = 0; i < 200 && _world.youngTasks.length > 0; i++) await nodeSleep(1);
    expect(agedCount(tasks)).toBe(3001);
    gate.setResult(null);
    await loop.runUntilComplete(gather(...tasks));
    loop.close();
  });
});

type SlotWithHint = { moderateMemoryPressure?: () => void };
const slotWithHint = (_world.taskTracking?.slot ?? null) as SlotWithHint | null;

describe.skipIf(slotWithHint?.moderateMemoryPressure === undefined)('telling V8 a burst of aged tasks is over (moderate memory pressure)', () => {
  /** Run `body(hints)` with the addon's call counted in `hints.count` in place of made; returns the count. */
  async function countHints(body: (hints: { count: number }) => Promise<void>): Promise<number> {
    const made = slotWithHint!.moderateMemoryPressure!;
    const hints = { count: 0 };
    slotWithHint!.moderateMemoryPressure = () => {
      hints.count++;
    };
    try {
      await body(hints);
    } finally {
      slotWithHint!.moderateMemoryPressure = made;
    }
    return hints.count;
  }

  const ageAll = async () => {
    ageIdleTasks();
    for (let i = 0; i < 2000 && _world.youngTasks.length > 0; i++) await nodeSleep(1);
    expect(_world.youngTasks.length).toBe(0);
  };

  it('tells it once, when the idle aging of 16384 pending tasks or more has ended', async () => {
    const loop = new BaseEventLoop();
    const gate = loop.createFuture();
    const tasks = Array.from({ length: 20000 }, () => loop.createTask(async () => gate));
    let hintsBeforeTheEnd = -1;
    const hints = await countHints(async (counted) => {
      ageIdleTasks();
      // The host task of the last chunk is still to come.
      for (let i = 0; i < 2000 && _world.youngTasks.length > 1024; i++) await nodeSleep(1);
      hintsBeforeTheEnd = counted.count;
      await ageAll();
    });
    expect(hintsBeforeTheEnd).toBe(0);
    expect(hints).toBe(1);
    gate.setResult(null);
    await loop.runUntilComplete(gather(...tasks));
    loop.close();
  });

  it('does not for fewer pending tasks, nor for tasks done before the loop was idle', async () => {
    const loop = new BaseEventLoop();
    const gate = loop.createFuture();
    const hints = await countHints(async () => {
      const pending = Array.from({ length: 3000 }, () => loop.createTask(async () => gate));
      await ageAll();
      const done = Array.from({ length: 20000 }, () => loop.createTask(async () => 1));
      await loop.runUntilComplete(gather(...done));
      await ageAll();
      gate.setResult(null);
      await loop.runUntilComplete(gather(...pending));
    });
    expect(hints).toBe(0);
    loop.close();
  });

  it('gives back the young generation the burst grew, in a program that only idles after it (fresh process)', () => {
    // Without the hint V8 keeps it: its memory reducer finds the burst's allocation rate high
    // every 8 s (bench/README.md, "Session 16 (s16-idle24)").
    const program = `
import v8 from 'node:v8';
import { BaseEventLoop, Event, _world } from '${CORE}';
const newSpace = () => v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space').space_size;
const loop = new BaseEventLoop();
const gate = new Event();
const tasks = [];
let grown = 0;
await loop.runUntilComplete(async () => {
  for (let i = 0; i < 100000; i++) tasks.push(loop.createTask(() => gate.wait()));
  grown = newSpace();
  while (_world.youngTasks.length > 0) await new Promise((resolve) => loop.callLater(0.005, resolve));
  const until = Date.now() + 10000; // V8's memory reducer looks first after 8 s (and finds the rate high)
  while (newSpace() >= grown / 4 && Date.now() < until) await new Promise((resolve) => loop.callLater(0.02, resolve));
});
console.log(JSON.stringify({ grown, after: newSpace(), aged: tasks.filter((task) => task._aged !== null).length }));
process.exit(0);
`;
    const dir = mkdtempSync(join(tmpdir(), 'loopkit-task-registry-'));
    const file = join(dir, 'burst.mjs');
    writeFileSync(file, program);
    const run = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    const { grown, after, aged } = JSON.parse(run.stdout) as { grown: number; after: number; aged: number };
    expect(aged).toBe(100000);
    expect(grown).toBeGreaterThanOrEqual(16 * 1024 * 1024);
    expect(after).toBeLessThan(grown / 4);
  });
});

describe.skipIf(gc === undefined)('the aged records in a world an older copy of core made (a Set)', () => {
  it('lists, forgets and reports lost aged tasks through that Set as through an AgedSet', () => {
    // The world as a copy older than AgedSet makes it: agedTasks is a Set. The records of
    // this copy go into it; completion takes them out; a lost task is still reported.
    const program = `${OLDER_WORLD_SOURCE}
import { setTimeout as nodeSleep } from 'node:timers/promises';
const { BaseEventLoop, Event, Future, _world, allTasks, gather } = await import('${CORE}');
const loop = new BaseEventLoop();
const reports = [];
loop.setExceptionHandler((_loop, context) => reports.push(context.taskDescription));
const gate = new Event();
const kept = [];
let lost = null;
await loop.runUntilComplete(async () => {
  for (let i = 0; i < 3000; i++) kept.push(loop.createTask(() => gate.wait()));
  lost = loop.createTask(async () => { await new Future({ loop }); }, { name: 'lost' });
  while (_world.youngTasks.length > 0) await new Promise((resolve) => loop.callLater(0.005, resolve));
});
const seen = { kind: _world.agedTasks.constructor.name, aged: _world.agedTasks.size, listed: allTasks(loop).size };
lost = null;
for (let i = 0; i < 200 && reports.length === 0; i++) {
  gc();
  await nodeSleep(5);
}
await loop.runUntilComplete(async () => {
  gate.set();
  await gather(...kept);
});
seen.afterCompletion = _world.agedTasks.size;
loop.close();
console.log(JSON.stringify({ ...seen, reports }));
process.exit(0);
`;
    const dir = mkdtempSync(join(tmpdir(), 'loopkit-task-registry-'));
    const file = join(dir, 'older-world.mjs');
    writeFileSync(file, program);
    const run = spawnSync(process.execPath, ['--expose-gc', file], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({
      kind: 'Set',
      aged: 3001,
      listed: 3001,
      afterCompletion: 0,
      reports: ["<Task pending name='lost' coro=<anonymous>()>"],
    });
  });
});
