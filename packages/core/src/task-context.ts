/**
 * The running task, as the loop world tracks it (task-slot.ts made the choice): the two
 * operations core needs, and the addon's check of the language's resolving functions. Read
 * once at load, so the hot paths call the mechanism directly.
 */
import type { AsyncLocalStorage } from 'node:async_hooks';
import type { Task } from './tasks.js';
import { world } from './world.js';

const tracking = world.taskTracking; // absent in a world made by a copy older than task tracking
const slot = tracking?.slot ?? null;
const storage = world.taskContext as AsyncLocalStorage<Task<unknown>>;

/** The task whose code is running, or undefined (in a loop callback, outside any loop). */
export const currentTaskOrUndefined: () => Task<unknown> | undefined =
  tracking?.current ?? (slot !== null ? (slot.get as () => Task<unknown> | undefined) : () => storage.getStore());

/** Call `fn(arg)` with `task` as the running task (undefined: none), and restore the outer one after. */
export const runInTask: <A, R>(task: Task<unknown> | undefined, fn: (arg: A) => R, arg?: A) => R =
  tracking?.runIn ??
  (slot !== null
    ? (task, fn, arg) => {
        const outer = slot.set(task);
        try {
          return fn(arg!);
        } finally {
          slot.set(outer);
        }
      }
    : (task, fn, arg) => storage.run(task as Task<unknown>, fn, arg!));

/**
 * Call `fn()` with no running task, from a promise reaction job that ends when `fn` returns
 * (the loop going on from the end of a task's step): the slot is left without the task for
 * the rest of the job instead of being put back, as V8 empties the continuation slot when
 * each job ends (Node 20 and 24 alike: tests/task-tracking.test.ts). With AsyncLocalStorage,
 * whose store stays with the job's async resource, it is runInTask's run.
 */
export const leaveTaskForJob: (fn: () => void) => void =
  tracking?.leaveForJob ??
  (tracking?.mechanism === 'continuation-slot' && slot !== null
    ? (fn) => {
        slot.set(undefined);
        fn();
      }
    : (fn) => runInTask(undefined, fn));

/**
 * Whether a function is one of the engine's anonymous built-ins, as the resolving functions
 * the language passes a thenable's then() are (`await x`, Promise.resolve(x)): the addon's
 * check, ~10 ns where Function.prototype.toString makes a string. null without the addon
 * (or with an addon built before it), where callers fall back to the string.
 */
export const isAnonymousBuiltin: ((fn: unknown) => boolean) | null = tracking?.slot?.isAnonymousBuiltin ?? null;

/**
 * The continuation slot when it holds the frame AsyncLocalStorage reads (Node 24's task
 * frames), else null: then the slot's value is a whole async context, which a promise
 * reaction made while it is set runs in.
 */
export const frameSlot = tracking?.mechanism === 'task-frame' ? slot : null;

type ThenMethod = (this: unknown, onFulfilled?: unknown, onRejected?: unknown) => unknown;

/**
 * V8 11 (Node 20) leaves the continuation slot empty in the job where `await` calls a
 * thenable's then(), so then() could not tell which task awaits. The language reads `then`
 * synchronously in the awaiting code, where the slot still holds the task: on that V8 with
 * the slot in use, `then` becomes a getter giving a then() that runs in the reading task
 * (or the plain then() where `readsTask` says this thenable's then() would not ask).
 * Elsewhere (V8 12 carries the slot into that job; AsyncLocalStorage's hooks do too) the
 * prototype is left as it is.
 */
export function carryTaskIntoThen<P extends { then: unknown }>(prototype: P, readsTask: (thenable: P) => boolean = () => true): void {
  if (slot === null || Number(process.versions.v8.split('.')[0]) >= 12) return;
  const then = prototype.then as ThenMethod;
  const { get, set } = slot;
  Object.defineProperty(prototype, 'then', {
    configurable: true,
    enumerable: false,
    get(this: P): ThenMethod {
      if (!readsTask(this)) return then;
      const task = get();
      if (task === undefined) return then;
      return function thenInTask(this: unknown, onFulfilled?: unknown, onRejected?: unknown): unknown {
        const outer = set(task);
        try {
          return then.call(this, onFulfilled, onRejected);
        } finally {
          set(outer);
        }
      };
    },
  });
}
