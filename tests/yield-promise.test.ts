/**
 * A first step's `sleep(0)` returns a native promise (sleep.ts' yieldingPromise). With the
 * task-tracking addon that promise has no resolving functions (native/task_slot.cc:
 * newPromise, resolvePromise) and the task itself is its wake-up entry: what a burst of
 * yielding tasks keeps until its wake-ups, and that programs see the same settlements in the
 * same order as with `new Promise` and a wake-up entry of its own (the path without the
 * addon, taken here with LOOPKIT_TASK_TRACKING=async-local-storage).
 */
import { describe, expect, it } from 'vitest';
import { _world } from '@loopkit/core';
import { jsonPrograms } from './support/json-program.js';

const CORE = new URL('../packages/core/dist/index.js', import.meta.url).href;
const slot = _world.taskTracking?.slot ?? null;
// Taken wherever the addon is (the continuation slot on Node 20 and 22, task frames on Node 24 since session 19).
const hasBarePromises = typeof slot?.newPromise === 'function' && typeof slot?.resolvePromise === 'function';
const ALS = { LOOPKIT_TASK_TRACKING: 'async-local-storage' };

/** Runs `source` as a module in a fresh process; its JSON output. */
const { run: runProgram, dir } = jsonPrograms('loopkit-yield-promise-');

describe("a first step's sleep(0) promise", () => {
  // The anonymous closures (V8's resolving functions, and its await closures) in the heap
  // while 2000 tasks yield, counted in a snapshot from a callback queued after the first steps.
  const YIELDING = `
import v8 from 'node:v8';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BaseEventLoop, gather, sleep } from '${CORE}';
const loop = new BaseEventLoop();
const count = 2000;
let anonymous = 0;
let wakeups = 0;
const body = async () => {
  await sleep(0);
};
await loop.runUntilComplete(async () => {
  const tasks = [];
  for (let i = 0; i < count; i++) tasks.push(loop.createTask(body));
  loop.callSoon(() => {
    const file = v8.writeHeapSnapshot(join(${JSON.stringify(dir)}, 'yielding-' + process.pid + '.heapsnapshot'));
    const snapshot = JSON.parse(readFileSync(file, 'utf8'));
    const fields = snapshot.snapshot.meta.node_fields;
    const closure = snapshot.snapshot.meta.node_types[0].indexOf('closure');
    const object = snapshot.snapshot.meta.node_types[0].indexOf('object');
    const [typeAt, nameAt] = [fields.indexOf('type'), fields.indexOf('name')];
    for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
      if (snapshot.nodes[i + typeAt] === closure && snapshot.strings[snapshot.nodes[i + nameAt]] === '') anonymous += 1;
      if (snapshot.nodes[i + typeAt] === object && snapshot.strings[snapshot.nodes[i + nameAt]] === 'FirstStepYield') wakeups += 1;
    }
    rmSync(file);
  });
  await gather(...tasks);
});
console.log(JSON.stringify({ count, anonymous, wakeups }));
`;

  // Two child processes, each walking a heap snapshot: 7-11 s at load 12, past the default
  // 20 s at load 18 with two test files at once.
  const HEAP_PROGRAMS_TIMEOUT = 60_000;

  it.skipIf(!hasBarePromises)('keeps no resolving function while its task yields (with the addon; without it, one a task)', () => {
    const bare = runProgram('yielding.mjs', YIELDING) as { count: number; anonymous: number };
    // Without the addon each wake-up keeps its promise's resolve function (V8 names it '').
    const withResolve = runProgram('yielding-als.mjs', YIELDING, ALS) as { count: number; anonymous: number };
    const perTask = (withResolve.anonymous - bare.anonymous) / bare.count;
    expect(perTask).toBeGreaterThan(0.95);
    expect(perTask).toBeLessThan(1.05);
  }, HEAP_PROGRAMS_TIMEOUT);

  it.skipIf(!hasBarePromises)('queues the yielding task itself as its wake-up (with the addon; without it, an entry object a task)', () => {
    const bare = runProgram('wakeups.mjs', YIELDING) as { count: number; wakeups: number };
    const withResolve = runProgram('wakeups-als.mjs', YIELDING, ALS) as { count: number; wakeups: number };
    // The one FirstStepYield kept for its map (shape-keepers.ts) is there either way.
    expect(bare.wakeups).toBe(1);
    expect(withResolve.wakeups).toBe(withResolve.count + 1);
  }, HEAP_PROGRAMS_TIMEOUT);

  // Settlements with and without the addon: a result, a thenable result followed, a
  // cancellation at the await, a cancelled promise its task never awaited, and two yields
  // made before the first is awaited (the second gets a wake-up entry of its own).
  const ORDER = `
import { BaseEventLoop, CancelledError, sleep } from '${CORE}';
const loop = new BaseEventLoop();
const STALL_MS = 20;
const busyWait = (ms) => { const until = performance.now() + ms; while (performance.now() < until); };
const log = [];
const unhandled = [];
process.on('unhandledRejection', (reason) => unhandled.push(String(reason)));
await loop.runUntilComplete(async () => {
  const plain = loop.createTask(async () => {
    log.push(['plain got', await sleep(0, 'result')]);
  });
  const followed = loop.createTask(async () => {
    log.push(['followed got', await sleep(0, Promise.resolve('inner'))]);
  });
  const cancelled = loop.createTask(async () => {
    try {
      await sleep(0);
    } catch (error) {
      log.push(['cancelled at its await', error instanceof CancelledError, error.message]);
    }
  });
  const unawaited = loop.createTask(async () => {
    void sleep(0);
    // A plain promise settled two iterations on, after the yield took the cancel: a timer of
    // Node's here raced the iteration at load, and the body returning first with the cancel
    // still pending ends the task cancelled (as a body returning with asyncio's _must_cancel set).
    await new Promise((resolve) => loop.callSoon(() => loop.callSoon(resolve)));
    log.push(['unawaited went on']);
  });
  const twice = loop.createTask(async () => {
    const first = sleep(0);
    const second = sleep(0);
    await first;
    await second;
    log.push(['twice went on']);
  });
  loop.callSoon(() => {
    log.push(['after the first steps']);
    cancelled.cancel('stop');
    unawaited.cancel('stop too');
    busyWait(STALL_MS); // an iteration stalled at load: what no timing may change
  });
  await Promise.all([plain, followed, cancelled, unawaited, twice]);
  await new Promise((resolve) => setTimeout(resolve, 5));
});
console.log(JSON.stringify({ log, unhandled }));
`;

  // The first step names its task (firstStepHandOff): sleep(0) in its synchronous code asks no
  // slot or store which task runs. Counted through the world's AsyncLocalStorage, which answers
  // currentTask() under LOOPKIT_TASK_TRACKING=async-local-storage (and task frames on Node 24).
  const READS = `
import { _world, BaseEventLoop, gather, sleep } from '${CORE}';
const storage = _world.taskContext;
const getStore = storage.getStore;
let reads = 0;
storage.getStore = function () {
  reads += 1;
  return getStore.call(this);
};
const loop = new BaseEventLoop();
const firstStep = [];
let resumed = 0;
const body = async () => {
  const before = reads;
  const yielded = sleep(0);
  firstStep.push(reads - before);
  await yielded;
  await sleep(0); // a resumed step's yield, which asks
  resumed += 1;
};
await loop.runUntilComplete(async () => {
  const tasks = [];
  for (let i = 0; i < 5; i++) tasks.push(loop.createTask(body));
  await gather(...tasks);
});
console.log(JSON.stringify({ firstStep, resumed }));
`;

  it("asks nobody which task runs in a first step's synchronous code", () => {
    expect(runProgram('reads-als.mjs', READS, ALS)).toEqual({ firstStep: [0, 0, 0, 0, 0], resumed: 5 });
  });

  it('settles alike with and without the addon, in the same order', () => {
    const without = runProgram('order-als.mjs', ORDER, ALS);
    expect(without).toEqual({
      log: [
        ['after the first steps'],
        ['plain got', 'result'],
        ['followed got', 'inner'],
        ['cancelled at its await', true, 'stop'],
        ['twice went on'],
        ['unawaited went on'],
      ],
      unhandled: [],
    });
    expect(runProgram('order.mjs', ORDER)).toEqual(without);
  });
});
