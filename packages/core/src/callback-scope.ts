/**
 * Each callback of the loop's batch in a context of its own, as asyncio's Handle._run runs
 * its callback in `context.run()`: a ContextVar set in one callback never reaches the next.
 * Node's counterpart, `AsyncLocalStorage.enterWith()`, changes the context for the rest of
 * the synchronous execution, and a batch is one execution: a store entered by one callback
 * (or a task's step, or a done callback) would be seen by every later callback of the batch.
 * So while a batch runs, `enterWith` notes what it changes, and the loop puts that back after
 * the callback (runBatch opens the scope and reads the batch's frame or resource). `run()`
 * restores its store itself; a callback that enters no store costs one flag read.
 *
 * What is put back, by how AsyncLocalStorage keeps its stores:
 * - on async resources (Node 20 and 22): `enterWith` writes the current resource's property
 *   for the store; when that resource is the batch's own (read as the batch opens, once a
 *   store was entered in the thread; before that every resource is), the note keeps the
 *   resource, the key and the value before, undone in reverse order. A task or handle with a
 *   context of its own runs in a resource of its own: what it enters there stays its own, as
 *   in asyncio's task context.
 * - in frames in the continuation slot (Node 24 with core's addon, task-frame tracking): the
 *   frame the batch runs in is read as the batch opens (only once a store was entered in the
 *   thread; before that it is the loop's own run frame) and set again after the callback.
 * - in frames without the addon (Node 24's fallback): no slot to set, so nothing is put back
 *   (packages/core's README says so).
 *
 * The note is kept per thread on globalThis, as creator-context.ts' flag, so every copy of
 * core sees the enterWith of the one wrapper.
 */
import { AsyncLocalStorage, executionAsyncResource } from './node-builtins.js';
import { frameSlot } from './task-context.js';
import { world } from './world.js';

/** What enterWith changed during the callback now running. */
export interface CallbackScope {
  /** a batch is running: enterWith is noted */
  open: boolean;
  /** something was entered since the callback began: put it back after it */
  changed: boolean;
  /** the frame the batch runs in (task-frame tracking) */
  frame: unknown;
  /** the async resource the batch runs in (stores on resources), null: not read (no store was entered yet) */
  resource: object | null;
  /** resource, key, value before: triples, for stores kept on async resources */
  readonly undo: unknown[];
}

const SCOPE = Symbol.for('loopkit.callbackScope.v1');

type Prototype = Record<string, (this: { kResourceStore?: symbol }, ...args: unknown[]) => unknown>;

/** Whether AsyncLocalStorage keeps its stores on async resources (else in frames). */
export const storesOnResources = typeof (AsyncLocalStorage.prototype as unknown as Prototype)._enable === 'function';

export const callbackScope: CallbackScope = watchEnterWith();

function watchEnterWith(): CallbackScope {
  const holder = globalThis as unknown as Record<symbol, CallbackScope | undefined>;
  const known = holder[SCOPE];
  if (known !== undefined) return known;
  const scope: CallbackScope = { open: false, changed: false, frame: undefined, resource: null, undo: [] };
  Object.defineProperty(globalThis, SCOPE, { value: scope, enumerable: false, writable: false, configurable: false });
  if (!storesOnResources && frameSlot === null) return scope;
  const own = world.taskContext;
  const prototype = AsyncLocalStorage.prototype as unknown as Prototype;
  const enterWith = prototype.enterWith!;
  Object.defineProperty(prototype, 'enterWith', {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function enterWithInCallback(this: { kResourceStore?: symbol }, ...args: unknown[]): unknown {
      if (scope.open && this !== own) {
        if (!storesOnResources) scope.changed = true;
        else {
          const resource = executionAsyncResource() as Record<symbol, unknown>;
          if (scope.resource === null || resource === scope.resource) {
            const key = this.kResourceStore!;
            scope.undo.push(resource, key, resource[key]);
            scope.changed = true;
          }
        }
      }
      return enterWith.apply(this, args);
    },
  });
  return scope;
}

/** Put back what the callback that just ran entered with enterWith. */
export function putBack(): void {
  const scope = callbackScope;
  scope.changed = false;
  if (frameSlot !== null) {
    frameSlot.set(scope.frame);
    return;
  }
  const undo = scope.undo;
  for (let i = undo.length - 3; i >= 0; i -= 3) (undo[i] as Record<symbol, unknown>)[undo[i + 1] as symbol] = undo[i + 2];
  undo.length = 0;
}

/** The batch paused or ended (or a callback threw out of it): enterWith is no longer noted. */
export function closeBatch(): void {
  if (callbackScope.changed) putBack();
  callbackScope.open = false;
}
