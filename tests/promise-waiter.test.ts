/**
 * A waiting call's promise (Event.wait, Lock.acquire, Semaphore.acquire) made by the
 * continuation-slot addon without resolving functions (native/task_slot.cc: newPromise,
 * resolvePromise): what an idle waiter then keeps, and that programs see the same
 * settlements in the same order as with `new Promise` (the path without the addon, taken
 * here with LOOPKIT_TASK_TRACKING=async-local-storage).
 */
import { describe, expect, it } from 'vitest';
import { _world } from '@loopkit/core';
import { jsonPrograms } from './support/json-program.js';

const CORE = new URL('../packages/core/dist/index.js', import.meta.url).href;
const slot = _world.taskTracking?.slot ?? null;
const hasBarePromises = typeof slot?.newPromise === 'function';

/** Runs `source` as a module in a fresh process; its JSON output. */
const { run: runProgram } = jsonPrograms('loopkit-promise-waiter-');

const ALS = { LOOPKIT_TASK_TRACKING: 'async-local-storage' };

describe.skipIf(!hasBarePromises)("the addon's promises", () => {
  it('newPromise gives a pending native promise; resolvePromise resolves it once, follows thenables, rejects with a rejected promise', async () => {
    const { newPromise, resolvePromise } = slot as Required<NonNullable<typeof slot>>;
    const plain = newPromise();
    expect(plain).toBeInstanceOf(Promise);
    const seen: unknown[] = [];
    void plain.then((value) => seen.push(value));
    await null;
    expect(seen).toEqual([]);
    resolvePromise(plain, 1);
    resolvePromise(plain, 2);
    await plain;
    expect(seen).toEqual([1]);

    const following = newPromise();
    resolvePromise(following, { then: (resolve: (v: string) => void) => resolve('from a thenable') });
    await expect(following).resolves.toBe('from a thenable');

    const rejected = newPromise();
    resolvePromise(rejected, Promise.reject(new Error('failed')));
    await expect(rejected).rejects.toThrow('failed');

    expect(() => resolvePromise({} as Promise<unknown>, 1)).toThrow(TypeError);
    expect(() => resolvePromise({} as Promise<unknown>, 1)).toThrow('resolvePromise: the first argument must be a promise');
  });
});

describe('a waiting call', () => {
  // Every kind of settlement a waiting call's promise has, watched from outside the task.
  const ORDER = `
import { BaseEventLoop, CancelledError, Event, Lock, Semaphore, _world } from '${CORE}';
const log = [];
const loop = new BaseEventLoop();
await loop.runUntilComplete(async () => {
  const ev = new Event();
  const lock = new Lock();
  const sem = new Semaphore(0);
  let kept = null;
  const ends = loop.createTask(() => (kept = ev.wait()));
  const awaits = loop.createTask(async () => { log.push(['awaits', await ev.wait()]); });
  await lock.acquire();
  const locking = loop.createTask(() => lock.acquire());
  const cancelled = loop.createTask(() => sem.acquire());
  await new Promise((resolve) => loop.callSoon(resolve));
  kept.then((v) => log.push(['kept', v]));
  ends.addDoneCallback((t) => log.push(['ends done', t.result()]));
  locking.addDoneCallback((t) => log.push(['locking done', t.result()]));
  cancelled.addDoneCallback((t) => log.push(['cancelled done', t.cancelled()]));
  ev.set();
  lock.release();
  cancelled.cancel();
  for (let i = 0; i < 5; i++) await new Promise((resolve) => loop.callSoon(resolve));
  log.push(['lock held', lock.locked()]);
});
loop.close();
console.log(JSON.stringify({ bare: typeof _world.taskTracking?.slot?.newPromise === 'function', log }));
`;

  it('settles its promise and ends its task in the same order with the addon and without', () => {
    const withAddon = runProgram('order.mjs', ORDER) as { bare: boolean; log: unknown[] };
    const without = runProgram('order-als.mjs', ORDER, ALS) as { bare: boolean; log: unknown[] };
    expect(without.bare).toBe(false);
    expect(withAddon.bare).toBe(hasBarePromises);
    expect(without.log).toEqual([
      ['kept', true],
      ['awaits', true],
      ['ends done', true],
      ['locking done', true],
      ['cancelled done', true],
      ['lock held', true],
    ]);
    expect(withAddon.log).toEqual(without.log);
  });

  // The closures an idle `() => gate.wait()` task keeps, by name, counted in a heap snapshot.
  const IDLE = `
import v8 from 'node:v8';
import { BaseEventLoop, Event, _world } from '${CORE}';
const loop = new BaseEventLoop();
const gate = new Event();
const idle = 2000;
const tasks = [];
const body = () => gate.wait();
await loop.runUntilComplete(async () => {
  for (let i = 0; i < idle; i++) tasks.push(loop.createTask(body));
  await new Promise((resolve) => loop.callSoon(resolve));
});
const stream = v8.getHeapSnapshot();
let text = '';
for (let chunk; (chunk = stream.read()) !== null; ) text += chunk;
const snapshot = JSON.parse(text);
const fields = snapshot.snapshot.meta.node_fields;
const closure = snapshot.snapshot.meta.node_types[0].indexOf('closure');
const [typeAt, nameAt] = [fields.indexOf('type'), fields.indexOf('name')];
const closures = {};
for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
  if (snapshot.nodes[i + typeAt] !== closure) continue;
  const name = snapshot.strings[snapshot.nodes[i + nameAt]];
  closures[name] = (closures[name] ?? 0) + 1;
}
const perTask = Object.entries(closures).filter(([, count]) => count >= idle).map(([name]) => name);
console.log(JSON.stringify({ perTask }));
process.exit(0);
`;

  // Two child processes, each walking a heap snapshot: 6 s at load 12, past the default 20 s
  // at load 18 with two test files at once: 60 s.
  it.skipIf(!hasBarePromises)('keeps no resolving function while it waits (with the addon; without it, one a waiter)', () => {
    expect(runProgram('idle.mjs', IDLE)).toEqual({ perTask: [] });
    // Without the addon each waiter keeps its promise's resolve function (V8 names it '').
    expect(runProgram('idle-als.mjs', IDLE, ALS)).toEqual({ perTask: [''] });
  }, 60_000);
});
