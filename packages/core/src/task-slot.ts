/**
 * How the thread's loop world tracks the running task across awaits: the choice, made once
 * per thread by the copy of core that makes the world (see world.ts and the README's
 * "Tracking the running task").
 *
 * - Node 20 to 23 (and 24 run with --no-async-context-frame) with the addon built
 *   (native/task_slot.cc): the continuation slot itself.
 *   Every await of a native promise carries the slot's value to its continuation, so the task
 *   is found after awaits of Futures, fs and timers promises, with no promise hooks.
 * - Node 24 and later with the addon built: the slot holds Node's AsyncContextFrame there
 *   (the Map AsyncLocalStorage reads), so the addon puts a TaskFrame in it: the frame the
 *   step began in plus the task, read by Node's AsyncLocalStorage as a frame like its own.
 *   AsyncLocalStorage.run copies the frame's Map twice per call (entering and leaving);
 *   a TaskFrame is one small object per step, and leaving a step restores the frame as it was.
 *   Checked once at load (framesRead): a Node whose AsyncLocalStorage reads frames otherwise
 *   gets AsyncLocalStorage, and says why.
 * - Otherwise (no addon, another ABI, Windows, a Node 22 run with
 *   --experimental-async-context-frame, which takes the slot, or
 *   LOOPKIT_TASK_TRACKING=async-local-storage): AsyncLocalStorage, whose promise hooks cost
 *   every promise of the process on Node 20 and 22.
 */
import { AsyncLocalStorage } from './node-builtins.js';
import { createRequire } from 'node:module';
import type { Task } from './tasks.js';
import { keepShape } from './shape-keepers.js';

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
export type TaskTracking = 'continuation-slot' | 'task-frame' | 'async-local-storage';

/** How the world tracks tasks: the loop world's `taskTracking`. */
export interface TaskTrackingChoice {
  readonly mechanism: TaskTracking;
  /** why the continuation slot is not used (null when it is) */
  readonly reason: string | null;
  /** the addon's functions, when the slot is used */
  readonly slot: SlotAddon | null;
  /**
   * The running task: a hot path made once per world, so every copy of core in the thread
   * reads tasks alike (absent in a world made by a copy older than it).
   */
  readonly current?: () => Task<unknown> | undefined;
  /**
   * Run `fn(arg)` with `task` as the running task (undefined: none) and restore the outer
   * one after: made once per world with `current` (absent in a world made by an older copy).
   */
  readonly runIn?: <A, R>(task: Task<unknown> | undefined, fn: (arg: A) => R, arg?: A) => R;
  /**
   * Task frames only: the async context the running code is in, without its task (what a
   * task or callback made now runs in: see creator-context.ts). Undefined while no store of
   * any AsyncLocalStorage was entered. Absent in a world made by a copy older than it.
   */
  readonly contextFrame?: () => unknown;
  /**
   * Task frames only: run `fn` with no running task, from a promise job with nothing after it,
   * leaving the slot so for the rest of the job (V8 empties the slot as each job ends): one
   * addon call where runIn makes two. Absent in a world made by a copy older than it.
   */
  readonly leaveForJob?: (fn: () => void) => void;
}

/** The addon's functions (native/task_slot.cc). */
export interface SlotAddon {
  /** the slot's value (undefined when empty) */
  get(): unknown;
  /** writes the slot and returns what it held */
  set(value: unknown): unknown;
  /**
   * whether `fn` is one of the engine's anonymous built-in functions (the resolving functions
   * `await` hands a thenable's then()); absent from a build older than it
   */
  isAnonymousBuiltin?(fn: unknown): boolean;
  /** a pending native promise without resolving functions (promise-waiter.ts); absent from a build older than it */
  newPromise?(): Promise<unknown>;
  /** resolves a promise newPromise made, as its resolve function would; absent from a build older than it */
  resolvePromise?(promise: Promise<unknown>, value: unknown): void;
  /** moderate memory pressure: V8 starts a full collection that reduces memory (task-registry.ts); absent from a build older than it */
  moderateMemoryPressure?(): void;
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
  if (Number(process.versions.node.split('.')[0]) < 24 && nodeFlags().includes('--experimental-async-context-frame')) {
    return '--experimental-async-context-frame: AsyncLocalStorage holds the continuation slot';
  }
  const require = createRequire(import.meta.url);
  try {
    // One build per Node ABI (install.mjs), so a Node 20 and a Node 24 can share an install.
    return require(`../build/abi-${process.versions.modules}/task_slot.node`) as SlotAddon;
  } catch {
    try {
      return require('../build/Release/task_slot.node') as SlotAddon;
    } catch (error) {
      return `the addon did not load: ${(error as Error).message.split('\n')[0]}`;
    }
  }
}

function nodeFlags(): string[] {
  return [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
}

/** Node 24 and later keep AsyncContextFrame, the frame AsyncLocalStorage reads, in the slot (unless told not to). */
function framesInSlot(): boolean {
  return Number(process.versions.node.split('.')[0]) >= 24 && !nodeFlags().includes('--no-async-context-frame');
}

/** What Node's AsyncLocalStorage calls on the frame in the slot (a Map of store -> value). */
interface Frame {
  has(store: unknown): boolean;
  get(store: unknown): unknown;
  delete(store: unknown): boolean;
  /** AsyncLocalStorage.disable() calls this on the current frame */
  disable(store: unknown): void;
  [Symbol.iterator](): Iterator<[unknown, unknown]>;
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

/**
 * Task frames in the slot (Node 24 and later): `storage` is the world's AsyncLocalStorage,
 * the key a TaskFrame answers for. Node's AsyncLocalStorage (users' stores, and an older copy
 * of core calling `storage.run`) reads a TaskFrame through has/get, copies it by iterating it
 * when it enters a store of its own, and calls its disable() on disable(): as its own frames.
 */
function frameTracking(slot: SlotAddon, storage: AsyncLocalStorage<Task<unknown>>): TaskTrackingChoice {
  const { get, set } = slot;

  /** The frame `outer` (the slot's value when the step began), with `task` as the running task (undefined: none). */
  class TaskFrame implements Frame {
    constructor(
      /** written once more right after a task's frame enters the slot (see runIn) */
      public outer: Frame | undefined,
      readonly task: Task<unknown> | undefined,
    ) {}

    has(store: unknown): boolean {
      if (store === storage) return this.task !== undefined;
      return this.outer !== undefined && this.outer.has(store);
    }

    get(store: unknown): unknown {
      if (store === storage) return this.task;
      return this.outer?.get(store);
    }

    delete(store: unknown): boolean {
      return store !== storage && this.outer !== undefined && this.outer.delete(store);
    }

    disable(store: unknown): void {
      this.delete(store);
    }

    *[Symbol.iterator](): Iterator<[unknown, unknown]> {
      if (this.outer !== undefined) {
        for (const entry of this.outer) if (entry[0] !== storage) yield entry;
      }
      if (this.task !== undefined) yield [storage, this.task];
    }
  }

  keepShape('TaskFrame', new TaskFrame(undefined, undefined), ['outer']); // see shape-keepers.ts

  // Node's own read of the slot (AsyncLocalStorage.getStore) costs a third of the addon's call.
  const current = (): Task<unknown> | undefined => storage.getStore();

  /** The frame to run code of no task in, from the slot's `outer`: the frame its task began in. */
  const frameWithoutTask = (outer: Frame | undefined): Frame | undefined => {
    let frame = outer;
    while (frame instanceof TaskFrame && frame.task !== undefined) frame = frame.outer;
    // A frame AsyncLocalStorage made inside a task holds the task too: hide it (rare).
    if (frame !== undefined && !(frame instanceof TaskFrame) && frame.get(storage) !== undefined) {
      frame = new TaskFrame(frame, undefined);
    }
    return frame;
  };

  const runIn = <A, R>(task: Task<unknown> | undefined, fn: (arg: A) => R, arg?: A): R => {
    if (task !== undefined) {
      // A task's frame wraps whatever the slot holds: set() returns that, so the frame enters
      // first and learns its outer frame after (nothing reads it in between), one addon call
      // less than reading the slot before (every task's first step).
      const frame = new TaskFrame(undefined, task);
      const outer = set(frame) as Frame | undefined;
      frame.outer = outer;
      try {
        return fn(arg!);
      } finally {
        set(outer);
      }
    }
    // No task asked and none running (every loop turn): nothing to change.
    if (storage.getStore() === undefined) return fn(arg!);
    const outer = get() as Frame | undefined;
    const frame = frameWithoutTask(outer);
    if (frame === outer) return fn(arg!);
    set(frame);
    try {
      return fn(arg!);
    } finally {
      set(outer);
    }
  };

  const contextFrame = (): unknown => frameWithoutTask(get() as Frame | undefined);

  // Called at the end of a task's step, where the slot holds the task's frame: read it once
  // (storage.getStore() would read the slot and ask the frame twice before this read).
  const leaveForJob = (fn: () => void): void => {
    const frame = get() as Frame | undefined;
    if (frame instanceof TaskFrame ? frame.task !== undefined : frame !== undefined && frame.get(storage) !== undefined) {
      set(frameWithoutTask(frame));
    }
    fn();
  };

  return { mechanism: 'task-frame', reason: null, slot, current, runIn, contextFrame, leaveForJob };
}

/**
 * Whether this Node's AsyncLocalStorage reads task frames as its own frames (checked once, as
 * task frames stand on how Node 24 reads and copies its frames): a user's store is seen in a
 * task and in a store the task enters, the task in both, and neither leaks out.
 */
function framesRead(tracking: TaskTrackingChoice): boolean {
  const runIn = tracking.runIn!;
  const current = tracking.current!;
  const user = new AsyncLocalStorage<string>();
  const standIn = {} as Task<unknown>;
  // run() leaves a frame of its own behind (Node 24's run ends with enterWith(prior)): put
  // back the exact frame, so the code loading core goes on in its own context.
  const before = tracking.slot!.get();
  const seen = user.run('outer', () => [
    ...runIn(standIn, () => [current(), user.getStore(), ...user.run('inner', () => [current(), user.getStore()])]),
    current(),
    user.getStore(),
  ]);
  tracking.slot!.set(before);
  const expected = [standIn, 'outer', standIn, 'inner', undefined, 'outer'];
  return seen.length === expected.length && seen.every((value, i) => value === expected[i]);
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
  if (framesInSlot()) {
    const storage = new AsyncLocalStorage<Task<unknown>>();
    const tracking = frameTracking(slot, storage);
    if (framesRead(tracking)) return { context: storage, tracking };
    return {
      context: new AsyncLocalStorage<Task<unknown>>(),
      tracking: { mechanism: 'async-local-storage', reason: `Node ${process.version}'s AsyncLocalStorage did not read a task frame as its own`, slot: null },
    };
  }
  return { context: slotContext(slot), tracking: { mechanism: 'continuation-slot', reason: null, slot } };
}
