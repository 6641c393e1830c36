/**
 * The async context a task or a callback runs in: a copy of its creator's, as asyncio's
 * create_task and call_soon take `contextvars.copy_context()` and as Node's own promises and
 * setImmediate carry AsyncLocalStorage's stores. `captureContext(loop)` is called where the
 * task or handle is made; it returns null when nothing needs entering (no store of any
 * AsyncLocalStorage in use, or the creator's context is the one the loop runs in), else a
 * runner that calls a function in the captured context (what createTask's `context` takes).
 *
 * How the creator's context is read, by the world's task tracking (task-slot.ts):
 * - task frames (Node 24): the frame in the continuation slot, without the creator's task
 *   (one addon call); it is immutable (Node copies a frame to enter a store), so keeping the
 *   reference is the copy. The runner puts it back in the slot around the call. The slot is
 *   read only once a store was entered in the thread (see noticeStores, below).
 * - the continuation slot (Node 20 to 23) and AsyncLocalStorage (the fallback): users'
 *   stores live on async resources there, and `run()` changes the current resource's store
 *   in place, so a copy is an AsyncResource (which copies them when made), made only once a
 *   store was entered in the thread.
 * Which stores were entered: `AsyncLocalStorage.prototype` is wrapped once per thread to
 * notice the first entered store of any AsyncLocalStorage other than loopkit's own
 * (noticeStores); one entered before loopkit loaded counts where it can be seen then. A
 * task whose code enters a store runs in a context of its own from then on (Task._enteredStore).
 */
import { AsyncLocalStorage, AsyncResource } from './node-builtins.js';
import type { AbstractEventLoop, ContextRunner } from './events.js';
import { ContextHandle, ContextTimerHandle, Handle, TimerHandle, type HandleOwner } from './handles.js';
import { currentTaskOrUndefined, runInTask } from './task-context.js';
import { world } from './world.js';

/** Where the running loop's turns run, for a loop that says (BaseEventLoop). */
interface LoopWithFrame {
  readonly _runFrame?: unknown;
}

/** Whether a store of some AsyncLocalStorage other than loopkit's own was entered in this thread. */
interface StoresSeen {
  entered: boolean;
}

const STORES_SEEN = Symbol.for('loopkit.storesEntered');
/** The type async hooks see for the resource a copied context is kept in. */
const CONTEXT_RESOURCE = 'loopkit.Context';

const tracking = world.taskTracking;
const contextFrame = tracking?.mechanism === 'task-frame' ? tracking.contextFrame : undefined;

/**
 * Whether some store was entered in this thread: until then no context needs copying. The
 * hot paths read this flag first and copy out of line (handleInContext): reading the slot on
 * every callSoon cost the 1M-callSoon chain 20% of its CPU on Node 24, and both handle classes
 * written into callSoon 9% on Node 20.
 */
export const storesSeen: StoresSeen = noticeStores(
  contextFrame !== undefined ? tracking!.slot!.get() !== undefined : Object.getOwnPropertySymbols(Promise.resolve()).length > 0,
);

/**
 * A copy of the running code's async context for work `loop` runs later, or null when it
 * is the loop's own; call it when `storesSeen.entered` (before that it is always null).
 */
export const captureContext: (loop: AbstractEventLoop) => ContextRunner | null =
  contextFrame !== undefined ? frameCapture(contextFrame, tracking!.slot!.set) : snapshotCapture();

function frameCapture(current: () => unknown, set: (value: unknown) => unknown): (loop: AbstractEventLoop) => ContextRunner | null {
  return (loop) => {
    const frame = current();
    if (frame === undefined || frame === (loop as LoopWithFrame)._runFrame) return null;
    return frameRunner(frame, set);
  };
}

function frameRunner(frame: unknown, set: (value: unknown) => unknown): ContextRunner {
  return (fn, ...args) => {
    const outer = set(frame);
    try {
      return fn(...args);
    } finally {
      set(outer);
    }
  };
}

/**
 * Task frames: the context a task's code is in now, as its context from now on (its steps,
 * a report about it), after it entered a store; elsewhere null (a task's own context is an
 * async resource whose stores enterWith changes in place, or it has none).
 */
const contextNow: (() => ContextRunner) | null = contextFrame !== undefined ? () => frameRunner(contextFrame(), tracking!.slot!.set) : null;

function snapshotCapture(): (loop: AbstractEventLoop) => ContextRunner | null {
  // An AsyncResource copies every store's value when made, and runInAsyncScope enters them:
  // what AsyncLocalStorage.snapshot() does, at a hundredth of its cost on Node 20 (its bound
  // function's property definitions cost ~19 µs a call there).
  if (!(world.taskContext instanceof AsyncLocalStorage)) {
    return () => {
      const resource = new AsyncResource(CONTEXT_RESOURCE);
      return (fn, ...args) => resource.runInAsyncScope(fn, null, ...args);
    };
  }
  // Tasks tracked by an AsyncLocalStorage: the copy holds the creator's task too, which a
  // callback must not see (a task's step enters its own task inside it).
  return () => {
    const resource = new AsyncResource(CONTEXT_RESOURCE);
    return <R>(fn: (...args: any[]) => R, ...args: any[]): R => resource.runInAsyncScope(runInTask<undefined, R>, null, undefined, () => fn(...args));
  };
}

/**
 * Wraps the method of AsyncLocalStorage.prototype through which every store is entered
 * (`_enable` where AsyncLocalStorage runs on async hooks, else `enterWith`, which `run`
 * calls) to set `entered`, once per thread; every copy of core shares the result through
 * globalThis. `enteredBefore` says whether a store may have been entered before loopkit
 * loaded (async hooks already on; on Node 24 a frame in the slot now).
 */
function noticeStores(enteredBefore: boolean): StoresSeen {
  const holder = globalThis as unknown as Record<symbol, StoresSeen | undefined>;
  const known = holder[STORES_SEEN];
  if (known !== undefined) return known;
  const stores: StoresSeen = { entered: enteredBefore };
  Object.defineProperty(globalThis, STORES_SEEN, { value: stores, enumerable: false, writable: false, configurable: false });
  const own = world.taskContext;
  const prototype = AsyncLocalStorage.prototype as unknown as Record<string, (this: unknown, ...args: unknown[]) => unknown>;
  const name = typeof prototype._enable === 'function' ? '_enable' : 'enterWith';
  const enter = prototype[name]!;
  Object.defineProperty(prototype, name, {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function noticeStore(this: unknown, ...args: unknown[]): unknown {
      if (this === own) return enter.apply(this, args);
      stores.entered = true;
      const task = currentTaskOrUndefined();
      const result = enter.apply(this, args);
      task?._enteredStore?.(contextNow?.() ?? null); // a task of an older copy of core has no such method
      return result;
    },
  });
  return stores;
}

/** callSoon's handle once a store was entered: it runs in the context current now, unless that is the loop's. */
export function handleInContext(callback: (...args: any[]) => unknown, args: unknown[], loop: HandleOwner & AbstractEventLoop): Handle {
  const context = captureContext(loop);
  return context === null ? new Handle(callback, args, loop) : new ContextHandle(callback, args, loop, context);
}

/** callLater's and callAt's handle once a store was entered, as handleInContext. */
export function timerInContext(when: number, callback: (...args: any[]) => unknown, args: unknown[], loop: HandleOwner & AbstractEventLoop): TimerHandle {
  const context = captureContext(loop);
  return context === null ? new TimerHandle(when, callback, args, loop) : new ContextTimerHandle(when, callback, args, loop, context);
}

/**
 * A Future's done callback added once a store was entered, as a handle that runs
 * `callback(future)` in the context current now; null when that is the loop's own.
 */
export function doneCallbackInContext(callback: (future: any) => unknown, future: unknown, loop: AbstractEventLoop): ContextHandle | null {
  const context = captureContext(loop);
  return context === null ? null : new ContextHandle(callback, [future], loop as unknown as HandleOwner, context);
}
