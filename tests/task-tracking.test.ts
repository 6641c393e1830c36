/**
 * How core tracks the running task (packages/core/src/task-slot.ts): V8's continuation slot
 * on Node 20 to 23 when the addon is built, a TaskFrame per step in that slot on Node 24 and
 * later (where it holds the frame Node's AsyncLocalStorage reads), AsyncLocalStorage otherwise. Each mechanism runs
 * the same program in its own process (the choice is made once per thread, at load) and must
 * give the same answers: the task after every kind of await, none in loop callbacks, the
 * awaited Future cancelled with its task, the awaiting task in the call graph.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BaseEventLoop, Task, _world, currentTask } from '@loopkit/core';
import { OLDER_WORLD_SOURCE } from './support/older-world.js';

const CORE = new URL('../packages/core/dist/index.js', import.meta.url).href;

const PROGRAM = `
import { readFile } from 'node:fs/promises';
import { setTimeout as nodeSleep } from 'node:timers/promises';
import { EventEmitter } from 'node:events';
import { AsyncLocalStorage } from 'node:async_hooks';
import { BaseEventLoop, CancelledError, Future, _world, captureCallGraph, currentTask, sleep } from '${CORE}';

const seen = {};
const name = () => currentTask()?.getName() ?? null;
const loop = new BaseEventLoop();

// asyncio runs each callback in a context of its own: what a callback, a done callback or a
// task enters stays its own, never seen by the callbacks after it in the loop's batch.
const ownContexts = async () => {
  const store = new AsyncLocalStorage();
  const out = [];
  const read = (what) => out.push(what + ':' + (store.getStore() ?? null));
  const fut = new Future();
  fut.addDoneCallback(() => store.enterWith('done callback'));
  fut.addDoneCallback(() => read('next done callback'));
  loop.callSoon(() => store.enterWith('callback'));
  loop.callSoon(() => read('next callback'));
  const entering = loop.createTask(async () => { store.enterWith('task'); await sleep(0); read('task after await'); });
  loop.callSoon(() => read('callback after the task'));
  const running = loop.createTask(async () => store.run('run', async () => { await sleep(0); await sleep(0); read('task inside run'); }));
  loop.callSoon(() => fut.setResult(1));
  loop.callSoon(() => read('callback after run'));
  const generator = loop.createTask(function* () { store.enterWith('generator'); yield* sleep(0); read('generator after yield'); });
  await entering;
  await running;
  await generator;
  read('creator');
  const later = new Future();
  loop.callSoon(() => { read('later callback'); later.setResult(1); });
  await later;
  return out;
};

await loop.runUntilComplete(async () => {
  seen.ownContextsFirst = await ownContexts(); // before any store was entered in the process
  seen.start = name();
  await readFile(new URL(import.meta.url));
  seen.afterFs = name();
  await nodeSleep(1);
  seen.afterTimersPromise = name();
  await new Promise((resolve) => setImmediate(resolve));
  seen.afterPromise = name();
  const fut = new Future();
  loop.callLater(0.001, () => { seen.inCallLater = name(); fut.setResult(1); });
  await fut;
  seen.afterFuture = name();
  await Promise.all([sleep(0.001), sleep(0)]);
  seen.afterPromiseAll = name();
  await { then(resolve) { resolve(1); } };
  seen.afterThenable = name();
  loop.callSoon(() => { seen.inCallSoon = name(); });
  await sleep(0);

  // Node's own callbacks started from the task (see the README: asyncio has no task there).
  await new Promise((resolve) => {
    const emitter = new EventEmitter();
    emitter.on('ping', () => { seen.inEmitterFromTimer = name(); resolve(); });
    setTimeout(() => { seen.inSetTimeout = name(); emitter.emit('ping'); }, 1);
  });

  // Cancellation reaches the Future a task awaits after a step resumed by Node (fs).
  const awaited = new Future();
  const victim = loop.createTask(async () => {
    await readFile('/dev/null');
    try { await awaited; } catch (error) { seen.victimGot = error instanceof CancelledError ? 'CancelledError' : String(error); throw error; }
  }, { name: 'victim' });
  while (captureCallGraph(awaited).awaitedBy.length === 0) await sleep(0);
  seen.awaitedBy = captureCallGraph(awaited).awaitedBy.map((g) => g.future.getName());
  victim.cancel();
  await Promise.allSettled([victim]);
  seen.awaitedCancelled = awaited.cancelled();

  // Two tasks interleaving through fs, each sees itself.
  const names = await Promise.all(['A', 'B'].map((n) => loop.createTask(async () => {
    const out = [];
    for (let i = 0; i < 3; i++) { await readFile('/dev/null'); out.push(name()); await sleep(0); out.push(name()); }
    return out.join(',');
  }, { name: n })));
  seen.interleaved = names;

  // A user's own store: one set around createTask is the task's too (a task runs in a copy of
  // its creator's async context), a store the task enters is seen there with the task
  // still current, and none leaks out of the task.
  const user = new AsyncLocalStorage();
  const inner = new AsyncLocalStorage();
  const storeTask = user.run('outer', () => loop.createTask(async () => {
    const out = [user.getStore() ?? null];
    await readFile('/dev/null');
    out.push(user.getStore() ?? null);
    user.disable(); // on the frame the task runs in (a task frame on Node 24)
    out.push((user.getStore() ?? 'disabled') + ':' + name());
    await inner.run('inner', async () => {
      await sleep(0);
      out.push(inner.getStore() + ':' + name());
      await readFile('/dev/null');
      out.push(inner.getStore() + ':' + name());
    });
    out.push((inner.getStore() ?? null) + ':' + name());
    loop.callSoon(() => out.push('callSoon:' + name()));
    await sleep(0);
    const disabled = new AsyncLocalStorage();
    disabled.enterWith('entered');
    disabled.disable();
    out.push((disabled.getStore() ?? 'disabled') + ':' + name());
    return out;
  }, { name: 'S' }));
  seen.userStores = await storeTask;
  seen.userStoreAfter = user.getStore() ?? null;

  // A copy of the creator's context (asyncio's copy_context()): for a task, kept across its
  // steps and its own to change; for loop callbacks, the context they were scheduled in.
  const copied = {};
  const request = new AsyncLocalStorage();
  const record = (what) => { copied[what] = (request.getStore() ?? null) + ':' + name(); };
  await request.run('r1', async () => {
    const child = loop.createTask(async () => {
      record('child');
      request.enterWith('child-own');
      await readFile('/dev/null');
      record('child-after-fs');
      await sleep(0);
      record('child-after-sleep');
    }, { name: 'C' });
    loop.callSoon(record, 'callSoon');
    loop.callLater(0.001, record, 'callLater');
    await child;
    record('creator');
    await sleep(0.002);
  });
  record('outside');
  const generator = request.run('r2', () => loop.createTask(function* () { record('generator'); yield* sleep(0); record('generator-after'); }, { name: 'G' }));
  await generator;
  seen.copiedContexts = copied;
  seen.ownContextsLater = await ownContexts();
});
loop.close();
seen.outside = name();
const tracking = _world.taskTracking ?? { mechanism: 'none: a world made by an older copy', reason: null };
console.log(JSON.stringify({ mechanism: tracking.mechanism, reason: tracking.reason, seen }));
`;

const dir = mkdtempSync(join(tmpdir(), 'loopkit-task-tracking-'));
const program = join(dir, 'program.mjs');
writeFileSync(program, PROGRAM);
// Every .node file fails to load, as an addon built for another Node would.
const breakAddons = join(dir, 'break-addons.cjs');
writeFileSync(breakAddons, "require('node:module')._extensions['.node'] = () => { throw new Error('simulated load failure'); };\n");

// The loop world as a copy of core older than task tracking makes it: an AsyncLocalStorage
// as taskContext, no taskTracking.
const olderWorld = join(dir, 'older-world.mjs');
writeFileSync(olderWorld, OLDER_WORLD_SOURCE);

function runProgram(env: Record<string, string>, nodeArgs: string[] = []): { mechanism: string; reason: string | null; seen: Record<string, unknown> } {
  const r = spawnSync(process.execPath, [...nodeArgs, program], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout);
}

const major = Number(process.versions.node.split('.')[0]);
const mechanismExpected = major < 24 ? 'continuation-slot' : 'task-frame';

const ownContexts = [
  'next callback:null',
  'callback after the task:null',
  'callback after run:null',
  'task after await:task',
  'next done callback:null',
  'generator after yield:generator',
  'task inside run:run',
  'creator:null',
  'later callback:null',
];

const everywhere = {
  start: 'Task-1',
  afterFs: 'Task-1',
  afterTimersPromise: 'Task-1',
  afterPromise: 'Task-1',
  inCallLater: null,
  afterFuture: 'Task-1',
  afterPromiseAll: 'Task-1',
  afterThenable: 'Task-1',
  inCallSoon: null,
  victimGot: 'CancelledError',
  awaitedBy: ['victim'],
  awaitedCancelled: true,
  interleaved: ['A,A,A,A,A,A', 'B,B,B,B,B,B'],
  userStores: ['outer', 'outer', 'disabled:S', 'inner:S', 'inner:S', 'null:S', 'callSoon:null', 'disabled:S'],
  userStoreAfter: null,
  copiedContexts: {
    child: 'r1:C',
    'child-after-fs': 'child-own:C',
    'child-after-sleep': 'child-own:C',
    callSoon: 'r1:null',
    callLater: 'r1:null',
    creator: 'r1:Task-1',
    outside: 'null:Task-1',
    generator: 'r2:G',
    'generator-after': 'r2:G',
  },
  outside: null,
  ownContextsFirst: ownContexts,
  ownContextsLater: ownContexts,
};

// Node 24 without core's addon: AsyncLocalStorage keeps frames there and nothing can set one
// back, so what a callback or task entered reaches the rest of its batch until stores were
// seen (then every handle and task carries a copy of its own). The README says so,
const framesWithoutSlot = major >= 24
  ? {
      ownContextsFirst: ownContexts.map((entry) =>
        ({ 'next callback:null': 'next callback:callback', 'callback after the task:null': 'callback after the task:task', 'callback after run:null': 'callback after run:task', 'next done callback:null': 'next done callback:done callback' })[entry] ?? entry),
      // and a generator task's steps run through AsyncLocalStorage's run(), whose end drops
      // what the step entered
      ownContextsLater: ownContexts.map((entry) => (entry === 'generator after yield:generator' ? 'generator after yield:null' : entry)),
    }
  : {};

describe('task tracking', () => {
  it(`uses ${mechanismExpected} on Node ${major} in this process`, () => {
    expect(_world.taskTracking?.mechanism).toBe(mechanismExpected);
  });

  // AsyncLocalStorage carries the task into every Node callback made in it (timers,
  // emitters of resources made in it): a difference the README states. So do task frames,
  // which Node carries as its own frames.
  const alsCallbacks = { inSetTimeout: 'Task-1', inEmitterFromTimer: 'Task-1' };

  it(`${mechanismExpected}: the task across every await, none in loop callbacks, users' stores as they were`, () => {
    const { mechanism, seen } = runProgram({});
    expect(mechanism).toBe(mechanismExpected);
    const nodeCallbacks = mechanismExpected === 'task-frame' ? alsCallbacks : { inSetTimeout: null, inEmitterFromTimer: null };
    expect(seen).toEqual({ ...everywhere, ...nodeCallbacks });
  });

  it.runIf(major >= 24)('a Node 24 run with --no-async-context-frame keeps the task itself in the slot', () => {
    const { mechanism, seen } = runProgram({}, ['--no-async-context-frame']);
    expect(mechanism).toBe('continuation-slot');
    expect(seen).toEqual({ ...everywhere, inSetTimeout: null, inEmitterFromTimer: null });
  });

  it('LOOPKIT_TASK_TRACKING=async-local-storage falls back to AsyncLocalStorage, same answers', () => {
    const { mechanism, reason, seen } = runProgram({ LOOPKIT_TASK_TRACKING: 'async-local-storage' });
    expect(mechanism).toBe('async-local-storage');
    expect(reason).toBe('LOOPKIT_TASK_TRACKING=async-local-storage');
    expect(seen).toEqual({ ...everywhere, ...alsCallbacks, ...framesWithoutSlot });
  });

  it('an addon that fails to load falls back to AsyncLocalStorage and says why', () => {
    const { mechanism, reason, seen } = runProgram({}, ['--require', breakAddons]);
    expect(mechanism).toBe('async-local-storage');
    expect(reason).toBe('the addon did not load: simulated load failure');
    expect(seen).toEqual({ ...everywhere, ...alsCallbacks, ...framesWithoutSlot });
  });

  it("joining a world made by an older copy of core, it uses that copy's AsyncLocalStorage", () => {
    const { mechanism, seen } = runProgram({}, ['--import', olderWorld]);
    expect(mechanism).toBe('none: a world made by an older copy');
    expect(seen).toEqual({ ...everywhere, ...alsCallbacks, ...framesWithoutSlot });
  });

  it("the world's taskContext, which an older copy calls, sets and reads the task this copy sees", async () => {
    const task = {} as Task<unknown>;
    expect(_world.taskContext.run(task, () => currentTask())).toBe(task);
    expect(currentTask()).toBe(null);
    const loop = new BaseEventLoop();
    const [mine, theirs] = await loop.runUntilComplete(async () => {
      await readFile('/dev/null');
      return [currentTask(), _world.taskContext.getStore()];
    });
    loop.close();
    expect(mine).toBeInstanceOf(Task);
    expect(theirs).toBe(mine);
  });

  it('V8 empties the continuation slot as each promise job ends (what leaveTaskForJob stands on)', () => {
    // The loop going on from the end of a task's step (goOn from the body's reaction) leaves
    // the slot without the task for the rest of that job, not put back: the next job must
    // begin with what it was queued with, whatever the last one left.
    const source = `
import { _world } from '${CORE}';
const slot = _world.taskTracking.slot;
const before = slot.get();
const seen = [];
slot.set('first');
Promise.resolve().then(() => { seen.push(slot.get()); slot.set('left behind'); });
slot.set(before);
Promise.resolve().then(() => seen.push(slot.get() === before ? 'as queued' : String(slot.get())));
slot.set('second');
Promise.resolve().then(() => { seen.push(slot.get()); slot.set('left behind'); });
slot.set(before);
queueMicrotask(() => seen.push(slot.get() === before ? 'as queued' : String(slot.get())));
setImmediate(() => console.log(JSON.stringify(seen)));
`;
    const file = join(dir, 'slot-per-job.mjs');
    writeFileSync(file, source);
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual(['first', 'as queued', 'second', 'as queued']);
  });

  it.skipIf(mechanismExpected !== 'task-frame')("task frames: a first step reads no slot to make its frame; a step's end reads the slot, not Node's store", () => {
    // set() returns what the slot held, the frame's outer frame: one addon call a first step
    // less than reading the slot first; and the end of a step reads the slot itself, not
    // through AsyncLocalStorage.getStore() and then the slot (bench/README.md, session 20).
    // The addon's exports are wrapped before core loads them (require shares the module).
    const source = `
import { createRequire } from 'node:module';
const addon = createRequire('${CORE}')('../build/abi-' + process.versions.modules + '/task_slot.node');
const get = addon.get;
let slotReads = 0;
addon.get = () => {
  slotReads += 1;
  return get();
};
const { BaseEventLoop, _world, gather, sleep } = await import('${CORE}');
const storage = _world.taskContext;
const getStore = storage.getStore;
let storeReads = 0;
storage.getStore = function () {
  storeReads += 1;
  return getStore.call(this);
};
const count = 50;
const loop = new BaseEventLoop();
const marks = {};
const mark = (name) => { marks[name] = { slotReads, storeReads }; };
await loop.runUntilComplete(async () => {
  const tasks = [];
  loop.callSoon(mark, 'before first steps');
  for (let i = 0; i < count; i++) tasks.push(loop.createTask(async () => { await sleep(0); }));
  loop.callSoon(mark, 'after first steps');
  await gather(...tasks);
  mark('after wake-ups');
});
const [before, between, after] = [marks['before first steps'], marks['after first steps'], marks['after wake-ups']];
console.log(JSON.stringify({
  firstStepSlotReads: (between.slotReads - before.slotReads) / count,
  wakeupStoreReads: (after.storeReads - between.storeReads) / count,
}));
`;
    const file = join(dir, 'frame-reads.mjs');
    writeFileSync(file, source);
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    const reads = JSON.parse(r.stdout) as { firstStepSlotReads: number; wakeupStoreReads: number };
    expect(reads.firstStepSlotReads).toBe(0);
    // One a task (bodyReturned's, which finds the task whose body settled), and the main task's.
    expect(reads.wakeupStoreReads).toBeLessThan(1.5);
  });

  it('a LOOPKIT_TASK_TRACKING it does not know is a RangeError naming it', () => {
    const r = spawnSync(process.execPath, [program], { encoding: 'utf8', env: { ...process.env, LOOPKIT_TASK_TRACKING: 'slot' }, timeout: 30_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("RangeError: LOOPKIT_TASK_TRACKING must be 'async-local-storage' or unset, got 'slot'");
  });
});
