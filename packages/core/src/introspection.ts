/**
 * The process-wide introspection registry that `loopkit ps`/`pstree` read from outside.
 *
 * The CLI evaluates one expression in the target through its inspector, with no module
 * access there, so the registry sits on globalThis under `Symbol.for(KEY)`. Each copy of
 * @loopkit/core loaded in a thread adds a source of pending tasks; the first copy's
 * snapshot() reads them all (worker threads have their own globalThis, so their own
 * registry, reached through the inspector's worker sessions). The key's name does not
 * start with 'loopkit.world.': that prefix is the loop world's own.
 *
 * Ids: futures have no address to print (asyncio prints id()), so each gets a small
 * number the first time it is introspected, kept in a WeakMap shared by every copy in
 * the thread; the same future keeps its id across calls. A loop gets one the same way.
 */
import { workerThreads } from './node-builtins.js';
import type { AbstractEventLoop } from './events.js';
import type { Future } from './futures.js';
import { awaitersOf } from './awaited-by.js';
import { pendingTasks } from './task-registry.js';
import type { Task } from './tasks.js';

/** The `Symbol.for` key under which the introspection registry that `loopkit ps`/`pstree` read sits on globalThis. */
export const INTROSPECTION_KEY = 'loopkit.introspection.v1';

/** One future or task as `loopkit ps` sees it. */
export interface FutureRecord {
  id: number;
  /** 'Task', or the future's class: 'Future', 'GatheringFuture', ... */
  kind: string;
  /** the task's name; '' for other futures */
  name: string;
  /** 'pending', or 'cancelling' for a task with cancellation requested */
  state: string;
  /** the loop's label, e.g. 'SelectorEventLoop#1' */
  loop: string;
  /** the future a task is suspended on (its last awaited Future), or null */
  awaiting: number | null;
  /** ids of the futures waiting on this one */
  awaitedBy: number[];
}

/** What the expression evaluated in a target returns for one thread. */
export interface ThreadSnapshot {
  pid: number;
  threadId: number;
  /** every pending task, then the other futures met on the way (awaited-by links) */
  futures: FutureRecord[];
}

interface Registry {
  readonly version: 1;
  readonly sources: Array<() => Iterable<unknown>>;
  readonly ids: WeakMap<object, number>;
  nextId: number;
  snapshot(): ThreadSnapshot;
}

function makeRegistry(): Registry {
  return {
    version: 1,
    sources: [],
    ids: new WeakMap(),
    nextId: 0,
    snapshot: () => takeSnapshot(),
  };
}

const holder = globalThis as unknown as Record<symbol, Registry | undefined>;
const registryKey = Symbol.for(INTROSPECTION_KEY);
let registry = holder[registryKey];
if (registry === undefined) {
  registry = makeRegistry();
  Object.defineProperty(globalThis, registryKey, { value: registry, enumerable: false, writable: false, configurable: false });
}
const shared: Registry = registry;
shared.sources.push(() => pendingTasks(null));

/** A small number naming `obj` in call graphs and `loopkit ps`, stable for its lifetime. */
export function introspectionId(obj: object): number {
  let id = shared.ids.get(obj);
  if (id === undefined) {
    id = ++shared.nextId;
    shared.ids.set(obj, id);
  }
  return id;
}

function loopLabel(loop: AbstractEventLoop): string {
  return `${loop.constructor.name}#${introspectionId(loop)}`;
}

/** Duck-typed, so the tasks of another copy of core count too. */
function isTaskLike(fut: Future<unknown>): fut is Task<unknown> {
  return typeof (fut as Task<unknown>).getCoro === 'function' && typeof (fut as Task<unknown>).getName === 'function';
}

function record(fut: Future<unknown>): FutureRecord {
  const isTask = isTaskLike(fut);
  const waiting = isTask ? fut._futWaiter : null;
  return {
    id: introspectionId(fut),
    kind: isTask ? 'Task' : fut.constructor.name,
    name: isTask ? fut.getName() : '',
    state: isTask && fut.cancelling() > 0 ? 'cancelling' : 'pending',
    loop: loopLabel(fut.getLoop()),
    awaiting: waiting === null ? null : introspectionId(waiting),
    awaitedBy: awaitersOf(fut).map(introspectionId),
  };
}

/** Every pending task of the thread, and the futures linking them (read only, but for ids). */
export function takeSnapshot(): ThreadSnapshot {
  const seen = new Set<Future<unknown>>();
  const order: Future<unknown>[] = [];
  const visit = (fut: Future<unknown>): void => {
    if (seen.has(fut)) return;
    seen.add(fut);
    order.push(fut);
  };
  for (const source of shared.sources) {
    for (const task of source()) visit(task as Future<unknown>);
  }
  // Follow awaited-by links upward so the futures between tasks (a gather's) are listed too,
  // and take in the future each task is suspended on, so it can be named.
  for (let i = 0; i < order.length; i++) {
    const fut = order[i]!;
    for (const waiter of awaitersOf(fut)) visit(waiter);
    if (isTaskLike(fut) && fut._futWaiter !== null) visit(fut._futWaiter);
  }
  return { pid: process.pid, threadId: workerThreads().threadId, futures: order.map(record) };
}
