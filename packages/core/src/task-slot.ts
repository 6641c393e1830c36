/**
 * How the thread's loop world tracks the running task across awaits: the choice, made once
 * per thread by the copy of core that makes the world (see world.ts and the README's
 * "Tracking the running task").
 *
 * - Node 24 and later: AsyncLocalStorage, which runs on V8's continuation slot there
 *   (AsyncContextFrame) and costs nothing per promise.
 * - Node 20 to 23 with the addon built (native/task_slot.cc): the continuation slot itself.
 *   Every await of a native promise carries the slot's value to its continuation, so the task
 *   is found after awaits of Futures, fs and timers promises, with no promise hooks.
 * - Otherwise (no addon, another ABI, Windows, a Node 22 run with
 *   --experimental-async-context-frame, which takes the slot, or
 *   LOOPKIT_TASK_TRACKING=async-local-storage): AsyncLocalStorage, whose promise hooks cost
 *   every promise of the process on Node 20 and 22.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import type { Task } from './tasks.js';

/**
 * The task context as the loop world holds it: an AsyncLocalStorage, or an object with the
 * same two methods over the continuation slot (so a copy of core that only knows
 * AsyncLocalStorage still runs and reads tasks through it). `getStore` needs no receiver.
 */
export interface TaskContext {
  /** Call `fn(...args)` with `task` as the running task, and restore the outer one after. */
  run<R, A extends unknown[]>(task: Task<unknown> | undefined, fn: (...args: A) => R, ...args: A): R;
  /** The running task, or undefined. */
  getStore(): Task<unknown> | undefined;
}

/** The mechanism that carries the running task across awaits. */
export type TaskTracking = 'continuation-slot' | 'async-local-storage';

/** How the world tracks tasks: the loop world's `taskTracking`. */
export interface TaskTrackingChoice {
  readonly mechanism: TaskTracking;
  /** why the continuation slot is not used (null when it is) */
  readonly reason: string | null;
  /** the addon's functions, when the slot is used */
  readonly slot: SlotAddon | null;
}

/** The addon's two functions (native/task_slot.cc). */
export interface SlotAddon {
  /** the slot's value (undefined when empty) */
  get(): unknown;
  /** writes the slot and returns what it held */
  set(value: unknown): unknown;
}

const ENV = 'LOOPKIT_TASK_TRACKING';

/** Loads the addon, or says why it is not used. */
function loadSlot(): SlotAddon | string {
  const requested = process.env[ENV];
  if (requested !== undefined && requested !== '') {
    if (requested !== 'async-local-storage') {
      throw new RangeError(`${ENV} must be 'async-local-storage' or unset, got '${requested}'`);
    }
    return `${ENV}=async-local-storage`;
  }
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 24) return `Node ${process.version} runs AsyncLocalStorage on the continuation slot (AsyncContextFrame)`;
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (flags.includes('--experimental-async-context-frame')) {
    return '--experimental-async-context-frame: AsyncLocalStorage holds the continuation slot';
  }
  try {
    return createRequire(import.meta.url)('../build/Release/task_slot.node') as SlotAddon;
  } catch (error) {
    return `the addon did not load: ${(error as Error).message.split('\n')[0]}`;
  }
}

function slotContext(slot: SlotAddon): TaskContext {
  const { get, set } = slot;
  return {
    run<R, A extends unknown[]>(task: Task<unknown> | undefined, fn: (...args: A) => R, ...args: A): R {
      const outer = set(task);
      try {
        return fn(...args);
      } finally {
        set(outer);
      }
    },
    getStore: get as () => Task<unknown> | undefined,
  };
}

/** The task context a new loop world gets, and how it tracks tasks. */
export function chooseTaskContext(): { context: TaskContext; tracking: TaskTrackingChoice } {
  const slot = loadSlot();
  if (typeof slot === 'string') {
    return {
      context: new AsyncLocalStorage<Task<unknown>>(),
      tracking: { mechanism: 'async-local-storage', reason: slot, slot: null },
    };
  }
  return { context: slotContext(slot), tracking: { mechanism: 'continuation-slot', reason: null, slot } };
}
