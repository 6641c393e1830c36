// What a Future, a Task and an Event waiter weigh (heap snapshot of a fresh process), and the
// states that now share one field: a Future's result and exception, a task's name and number.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BaseEventLoop, CancelledError, Future, InvalidStateError, Task } from '@loopkit/core';

const CORE = new URL('../packages/core/dist/index.js', import.meta.url).href;
const LOOPKIT = new URL('../packages/loopkit/dist/index.js', import.meta.url).href;

describe('object sizes', () => {
  it('a Task is at most 104 bytes, a Future 72, an Event waiter 96 (heap snapshot)', () => {
    // 120, 80 and 112 with a field each for a Future's exception and a task's number and generator;
    // the waiter 104 with a field for its task (the task is the one in its _awaitedBy).
    const program = `
import v8 from 'node:v8';
import { BaseEventLoop, Event, Future } from '${CORE}';
const loop = new BaseEventLoop();
const gate = new Event();
const count = 2000;
const kept = [];
await loop.runUntilComplete(async () => {
  for (let i = 0; i < count; i++) {
    kept.push(loop.createTask(() => gate.wait()), new Future({ loop }));
  }
  await new Promise((resolve) => loop.callSoon(resolve));
});
const stream = v8.getHeapSnapshot();
let text = '';
for (let chunk; (chunk = stream.read()) !== null; ) text += chunk;
const snapshot = JSON.parse(text);
const fields = snapshot.snapshot.meta.node_fields;
const sizes = {};
for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
  const name = snapshot.strings[snapshot.nodes[i + fields.indexOf('name')]];
  if (name !== 'Task' && name !== 'Future' && name !== 'PromiseWaiter') continue;
  const key = name + ' ' + snapshot.nodes[i + fields.indexOf('self_size')];
  sizes[key] = (sizes[key] ?? 0) + 1;
}
console.log(JSON.stringify(Object.keys(sizes).filter((key) => sizes[key] >= count).sort()));
process.exit(0);
`;
    const dir = mkdtempSync(join(tmpdir(), 'loopkit-task-layout-'));
    const file = join(dir, 'layout.mjs');
    writeFileSync(file, program);
    const run = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    // At most these (a later cut may go below); one size per class (no object of a class grew a field late).
    const found = (JSON.parse(run.stdout) as string[]).map((key) => key.split(' '));
    expect(found.map(([name]) => name)).toEqual(['Future', 'PromiseWaiter', 'Task']);
    const sizes = Object.fromEntries(found.map(([name, size]) => [name!, Number(size)]));
    expect(sizes['Future']).toBeLessThanOrEqual(72);
    expect(sizes['PromiseWaiter']).toBeLessThanOrEqual(96);
    expect(sizes['Task']).toBeLessThanOrEqual(104);
  }, 60_000); // as long as its child may take (a heap snapshot walked: 8.5 s at load 25)
});

describe("the task path's V8 maps outlive the objects of a run (shape-keepers.ts)", () => {
  it('keeps one object in the map of each hot class, and a full GC after a burst throws no optimized code away', () => {
    // Without them, a full GC after 3 bursts of 10k tasks and a gather collected the Task,
    // RareState, DoneWatcher, GatheringFuture and sleep(0) wake-up maps (the last not checked by
    // name: it lives in the ready queue only): 13-16 functions' optimized code dropped.
    const program = `
import { BaseEventLoop, currentTask, gather, sleep } from '${CORE}';
import { _shapeKeepers } from '${new URL('../packages/core/dist/shape-keepers.js', import.meta.url).href}';
const seen = {};
async function burst(n) {
  const loop = new BaseEventLoop();
  const body = async () => {
    await sleep(0);
  };
  await loop.runUntilComplete(async () => {
    const tasks = [];
    for (let i = 0; i < n; i++) tasks.push(loop.createTask(body));
    const gathering = gather(...tasks);
    Object.assign(seen, { Task: tasks[0], DoneWatcher: tasks[0]._callbacks, GatheringFuture: gathering, RareState: currentTask()._rare });
    await gathering;
  });
  loop.close();
}
await burst(10);
const sameMaps = Object.keys(seen).filter((name) => %HaveSameMap(seen[name], _shapeKeepers[name]));
for (const key of Object.keys(seen)) delete seen[key];
for (let i = 0; i < 3; i++) await burst(10000);
console.log('=== GC');
globalThis.gc();
console.log('=== after', JSON.stringify(sameMaps.sort()));
`;
    const dir = mkdtempSync(join(tmpdir(), 'loopkit-task-shapes-'));
    const file = join(dir, 'shapes.mjs');
    writeFileSync(file, program);
    const flags = ['--allow-natives-syntax', '--expose-gc', '--single-threaded', '--trace-deopt'];
    const run = spawnSync(process.execPath, [...flags, file], { encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 28 });
    expect(run.stderr).toBe('');
    const afterGc = run.stdout.slice(run.stdout.indexOf('=== GC'));
    expect(afterGc).toContain('=== after ["DoneWatcher","GatheringFuture","RareState","Task"]');
    expect(afterGc.split('\n').filter((line) => line.includes('reason: weak objects'))).toEqual([]);
  });
});

describe("the fields the task path writes after a constructor are mutable in their maps from the start", () => {
  it('a fresh process has them so before any run (their first second write threw compiled code away)', () => {
    // V8 marks a field "const data field" until one object of its map has it written a second
    // time; that first write, in the middle of a first run, threw away the code compiled around
    // it (Task's constructor, callSoonEntry, _addCallback, runBatch: "dependent field type
    // constness changed"), which the next run then compiled again.
    const program = `
import { BaseEventLoop } from '${CORE}';
import { _shapeKeepers } from '${new URL('../packages/core/dist/shape-keepers.js', import.meta.url).href}';
const loop = new BaseEventLoop();
const task = loop.createTask(async () => {});
const objects = { Task: task, RareState: _shapeKeepers.RareState, DoneWatcher: _shapeKeepers.DoneWatcher, GatheringFuture: _shapeKeepers.GatheringFuture, ReadyQueue: loop.ready, BaseEventLoop: loop };
console.log(JSON.stringify(Object.keys(objects)));
for (const object of Object.values(objects)) %DebugPrint(object);
`;
    const dir = mkdtempSync(join(tmpdir(), 'loopkit-task-fields-'));
    const file = join(dir, 'fields.mjs');
    writeFileSync(file, program);
    // To a file: V8 prints with C's stdio, whose buffer flushed into a pipe Node made non-blocking at exit loses its end.
    const outFile = join(dir, 'fields.out');
    const out = openSync(outFile, 'w');
    const run = spawnSync(process.execPath, ['--allow-natives-syntax', file], { stdio: ['ignore', out, 'pipe'], encoding: 'utf8', timeout: 60_000 });
    closeSync(out);
    expect(run.stderr).toBe('');
    const stdout = readFileSync(outFile, 'utf8');
    // The names first (console.log), then one "DebugPrint:" each, in that order (V8's own stdout).
    const names = JSON.parse(/^\[.*\]$/m.exec(stdout)![0]) as string[];
    const printed = new Map(stdout.split('DebugPrint: ').slice(1).map((part, i) => [names[i]!, part]));
    /** How `field` is described in the map of the object printed under `name`: "const data field" or "data field". */
    const kindOf = (name: string, field: string): string | undefined => {
      const line = printed.get(name)?.split('\n').find((text) => text.includes(`#${field}: `));
      return line === undefined ? undefined : /\((const data field|data field) \d+/.exec(line)?.[1];
    };
    const future = ['_state', '_result', '_callbacks', '_awaitedBy', '_rare'];
    const expected: Record<string, string[]> = {
      Task: [...future, '_label', '_futWaiter', '_aged'],
      GatheringFuture: [...future, '_cancelRequested'],
      RareState: ['cancelMessage', 'cancelledExc', 'unretrieved', 'sourceTraceback', 'gen', 'mustCancel', 'numCancelsRequested', 'abort', 'reportIfPending', 'context'],
      DoneWatcher: ['doneFutures', 'nextDone'],
      ReadyQueue: ['length', 'tail'],
      BaseEventLoop: ['stopping', 'sleeping', 'closed'],
    };
    for (const [name, fields] of Object.entries(expected)) {
      for (const field of fields) expect(`${name}.${field}: ${kindOf(name, field)}`).toBe(`${name}.${field}: data field`);
    }
    // What is written once stays const (V8 may fold it): a task's coroutine function, the queue's chunk list.
    expect(kindOf('Task', '_coro')).toBe('const data field');
    expect(kindOf('ReadyQueue', 'chunks')).toBe('const data field');
  });
});

describe("a loop's first close() throws no compiled code away (base-events.ts' loosened `closed`)", () => {
  it('closing the first loop of a program after a burst of tasks deoptimizes nothing that depended on the field', () => {
    // close() wrote `closed` a second time, so V8 made the field mutable in the loops' map and
    // threw away the code compiled while it was const: Task's constructor, createTask,
    // checkClosed, callSoonEntry, yieldingPromise (Node 24: "dependent field type constness
    // changed"; Node 20: "code dependencies"), compiled again by the program's next loop.
    const program = `
import { gather, newEventLoop, sleep } from '${LOOPKIT}';
const body = async () => {
  await sleep(0);
};
for (let run = 0; run < 2; run++) {
  const loop = newEventLoop();
  await loop.runUntilComplete(async () => {
    const all = [];
    for (let i = 0; i < 10000; i++) all.push(loop.createTask(body));
    await gather(...all);
  });
  console.log('CLOSING');
  loop.close();
  console.log('CLOSED');
}
`;
    const dir = mkdtempSync(join(tmpdir(), 'loopkit-first-close-'));
    const file = join(dir, 'close.mjs');
    writeFileSync(file, program);
    const run = spawnSync(process.execPath, ['--single-threaded', '--trace-deopt', file], { encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 28 });
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('deoptimizing'); // the trace is there (Node's own modules deoptimize some)
    const closes = run.stdout.split('CLOSING\n').slice(1).map((part) => part.split('CLOSED\n')[0]!);
    expect(closes).toHaveLength(2);
    const thrownAway = closes.flatMap((part) => part.split('\n').filter((line) => line.includes('marking dependent code')));
    expect(thrownAway).toEqual([]);
  });
});

describe("the ready queue's second chunk is seen at load (ready-queue.ts)", () => {
  it("a first burst past one chunk (4,096 entries) deoptimizes nothing for push's allocation of it", () => {
    // Without it, code inlining push (Task's constructor, optimized within the first 4,096
    // tasks) was thrown away for "Insufficient type feedback for construct" at the chunk's
    // `new Array`, and compiled again in the next burst.
    const program = `
import { BaseEventLoop } from '${CORE}';
const loop = new BaseEventLoop();
const body = async () => {};
await loop.runUntilComplete(async () => {
  for (let i = 0; i < 20000; i++) loop.createTask(body);
});
loop.close();
`;
    const dir = mkdtempSync(join(tmpdir(), 'loopkit-queue-chunks-'));
    const file = join(dir, 'chunks.mjs');
    writeFileSync(file, program);
    const flags = ['--single-threaded', '--trace-deopt-verbose'];
    const run = spawnSync(process.execPath, [...flags, file], { encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 28 });
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('deoptimize at'); // the trace is there (Node's own modules deoptimize some)
    expect(run.stdout.split('\n').filter((line) => /deoptimize at <[^>]*ready-queue\.js/.test(line))).toEqual([]);
  });
});

describe("the ready queue's push chain is small where the optimizing compiler inlines it (handles.ts, base-events.ts, ready-queue.ts)", () => {
  it("a task's scheduling inlines callSoonEntry, the loop's _callSoonEntry and push alone, in at most 150 bytecodes, and a closed loop still refuses a task", () => {
    // TurboFan inlines this chain into each compile of the scheduling paths (Task's
    // constructor, createTask, sleep's yield, a future's callbacks, the bench's loop): seven
    // copies in (c)'s timed run. It was 199 bytecodes (checkClosed and _addCallback called,
    // the queue's growth in push itself).
    const program = `
import { BaseEventLoop, Task } from '${CORE}';
const loop = new BaseEventLoop();
const body = async () => {};
for (let run = 0; run < 3; run++) {
  await loop.runUntilComplete(async () => {
    const tasks = [];
    for (let i = 0; i < 20000; i++) tasks.push(loop.createTask(body));
    for (const task of tasks) await task;
  });
}
loop.close();
try {
  new Task(body, { loop });
  console.log('REFUSED none');
} catch (error) {
  console.log('REFUSED ' + error.constructor.name + ': ' + error.message);
}
`;
    const dir = mkdtempSync(join(tmpdir(), 'loopkit-push-chain-'));
    const file = join(dir, 'chain.mjs');
    writeFileSync(file, program);
    const run = spawnSync(process.execPath, ['--single-threaded', '--trace-turbo-inlining', file], { encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 28 });
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('REFUSED RuntimeError: Event loop is closed');
    const chain = new Set(['callSoonEntry', '_callSoonEntry', 'checkClosed', '_addCallback', 'push', 'addChunk']);
    const bytecodes = new Map<string, number>(); // from the trace's candidates: a function's size
    const inlined = new Map<string, number>(); // what Task's constructor inlined of the chain
    for (const line of run.stdout.split('\n')) {
      const candidate = /target: .*<SharedFunctionInfo ([\w$]+)>\}, bytecode size: (\d+)/.exec(line);
      if (candidate !== null) bytecodes.set(candidate[1]!, Number(candidate[2]));
      const inlining = /^Inlining .*<SharedFunctionInfo ([\w$]+)>\} into .*<SharedFunctionInfo ([\w$]+)>\}/.exec(line);
      if (inlining !== null && chain.has(inlining[1]!) && (inlining[2] === 'Task' || chain.has(inlining[2]!))) {
        inlined.set(inlining[1]!, bytecodes.get(inlining[1]!)!);
      }
    }
    expect(bytecodes.size).toBeGreaterThan(0); // the trace is there
    expect([...inlined.keys()].sort()).toEqual(['_callSoonEntry', 'callSoonEntry', 'push']);
    expect([...inlined.values()].reduce((sum, size) => sum + size, 0)).toBeLessThanOrEqual(150);
  });
});

describe("a second run of (c)'s shape deoptimizes none of the first run's code for feedback it could have had (tasks.ts, futures.ts, gather.ts)", () => {
  it('no missing feedback for the rare state of runUntilComplete\'s own task; no new map for a watcher\'s first push, a gathered task, a gather\'s future; no body closure or null the first run did not see', () => {
    // Without the changes (session 18), on Node 20 Task._run and _mustCancel, on Node 24 the
    // _context getter, were thrown away at the second run's first task for "Insufficient type
    // feedback for generic named access" (in the first run that task started before V8 gave the
    // getters feedback vectors); and on Node 24 (as in bench/sched.js (c) on both) _watchedDone
    // (a new watcher's first push onto an empty array of small integers), isThenable (gather's
    // check of its last argument, a task) and Future's constructor (the map of a gathering
    // future's `{ loop }` options, which died with the first run) for "wrong map". Session 19:
    // firstStep (Node 24) for "wrong call target" (it had inlined the first run's body
    // closure), and Task._run (both) at its comparison of the step that suspended with
    // the second run's main task's null ("not a JavaScript object", "wrong instance type").
    const program = `
import { gather, newEventLoop, sleep } from '${LOOPKIT}';
const body = async () => {
  await sleep(0);
};
async function once(count) {
  const loop = newEventLoop();
  await loop.runUntilComplete(async () => {
    const all = [];
    for (let i = 0; i < count; i++) all.push(loop.createTask(body));
    await gather(...all);
  });
  loop.close();
}
await once(10000);
globalThis.gc();
console.log('SECOND RUN');
await once(20000);
`;
    const dir = mkdtempSync(join(tmpdir(), 'loopkit-second-run-'));
    const file = join(dir, 'runs.mjs');
    writeFileSync(file, program);
    const flags = ['--expose-gc', '--single-threaded', '--trace-deopt'];
    const run = spawnSync(process.execPath, [...flags, file], { encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 28 });
    expect(run.stderr).toBe('');
    const second = run.stdout.split('SECOND RUN\n')[1]!;
    expect(run.stdout).toContain('deoptimizing'); // the trace is there (the first run's own deoptimizations; since session 24 the second run may have none)
    const avoidable = second
      .split('\n')
      .filter(
        (line) =>
          line.includes('reason: Insufficient type feedback for generic named access') ||
          /reason: wrong map\).*<JSFunction (_watchedDone|isThenable|Future) /.test(line) ||
          /reason: wrong call target\).*<JSFunction (firstStep|runFirstStep|runBatch) /.test(line) ||
          /reason: (not a JavaScript object|wrong instance type|Insufficient type feedback for call)\).*<JSFunction (_run|resumeUnlessSuspended) /.test(line),
      );
    expect(avoidable).toEqual([]);
  });
});

describe('a Future finished with an exception (held where a result would be)', () => {
  it('gives it as the exception, throws it as the result, and shows it, also when it is undefined', async () => {
    const loop = new BaseEventLoop();
    const task = loop.createTask(async () => {
      throw undefined;
    });
    let rejectedWith: unknown = 'nothing';
    await loop.runUntilComplete(task).catch((error: unknown) => {
      rejectedWith = error;
    });
    loop.close();
    expect(rejectedWith).toBeUndefined();
    expect(task.done()).toBe(true);
    expect(task.cancelled()).toBe(false);
    expect(task.exception()).toBeUndefined();
    expect(() => task.result()).toThrow();
    let thrown: unknown = 'nothing';
    try {
      task.result();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeUndefined();
    expect(String(task)).toContain('finished');
    expect(String(task)).toContain('exception=undefined');
  });

  it('keeps a result and an exception apart: setResult of an Error is a result', () => {
    const loop = new BaseEventLoop();
    const withResult = new Future<Error>({ loop });
    const error = new Error('a value, not a failure');
    withResult.setResult(error);
    expect(withResult.result()).toBe(error);
    expect(withResult.exception()).toBeNull();
    expect(String(withResult)).toContain('result=');
    const failed = new Future({ loop });
    failed.setException(error);
    expect(failed.exception()).toBe(error);
    expect(() => failed.result()).toThrow(error);
    expect(String(failed)).toBe('<Future finished exception=Error: a value, not a failure>');
    expect(() => failed.setResult(1)).toThrow(InvalidStateError);
    expect(() => failed.setResult(1)).toThrow(/^invalid state$/);
    const cancelled = new Future({ loop });
    cancelled.cancel('stop');
    expect(() => cancelled.exception()).toThrow(CancelledError);
    loop.close();
  });
});

describe('a task\'s label: its name once given, else its number', () => {
  it('is "Task-N" until renamed, and the given name after, at creation or later', () => {
    const loop = new BaseEventLoop();
    const unnamed = new Task(async () => {}, loop);
    const named = new Task(async () => {}, { loop, name: 'worker' });
    const next = new Task(async () => {}, loop);
    const n = Number(/^Task-(\d+)$/.exec(unnamed.getName())![1]);
    // A task named at creation takes no number.
    expect(next.getName()).toBe(`Task-${n + 1}`);
    expect(named.getName()).toBe('worker');
    unnamed.setName(42);
    expect(unnamed.getName()).toBe('42');
    expect(String(unnamed)).toContain("name='42'");
    for (const task of [unnamed, named, next]) task.cancel();
    loop.close();
  });
});
