/**
 * The loop world: the state that ties code to the loop running it (the running loop, the
 * current-loop resolver, the running task's context, the task registry, the TLS provider,
 * the policy), kept in one place per thread rather than in this module's scope.
 *
 * Why: npm installs two copies of @loopkit/core whenever two dependents pin different
 * versions. With module state, each copy would see no loop of the other, and a library's
 * `new Future()` would fail with "There is no current event loop" inside an application's
 * running loop. So the first copy to load puts the world on globalThis under a versioned
 * `Symbol.for` key, and every later copy in the thread uses that same object. Worker threads
 * have their own globalThis, hence their own world, as they have their own running loop.
 *
 * The key's version is the layout's: a copy whose world layout differs uses another key, and
 * rather than run beside a world it cannot see, it refuses to load, naming both copies.
 *
 * Cost: each module reads the world once into module constants; the objects it holds
 * (the task context, the resume signal, the registry's collections) never change, so hot
 * paths read them as before and only the running loop is one property load on `world`.
 */
import { AgedSet } from './aged-set.js';
import type { AbstractEventLoop } from './events.js';
import type { AgedRecord, LostTaskWatch, TrackedTask } from './task-registry.js';
import type { Task } from './tasks.js';
import { chooseTaskContext, type TaskContext, type TaskTrackingChoice } from './task-slot.js';
import type { TLSProvider } from './tls/engine.js';

const PREFIX = 'loopkit.world.';
const KEY = Symbol.for(`${PREFIX}v1`);

/** What a callback that resumed awaiting code tells the loop running it (see events.ts). */
export interface ResumeSignal {
  pending: boolean;
  /** the task the current callback resumed, if any */
  task: Task<unknown> | null;
  /** the task a paused loop waits for */
  waitingFor: Task<unknown> | null;
  /**
   * continues the paused loop's batch; `endsJob`: called at the end of a promise job, whose
   * rest may run without the running task (a loop of an older copy ignores it)
   */
  goOn: ((endsJob?: boolean) => void) | null;
  /** the last task whose first step suspended synchronously (on `sleep(0)` or a returned Future) */
  lastEnded: Task<unknown> | null;
}

/** Layout v1 of the shared state. Fields are only ever added to a version, never changed. */
export interface World {
  /** where the copy of @loopkit/core that made this world lives (its module URL) */
  readonly createdBy: string;
  /** every copy that joined, by module URL, the maker first */
  readonly copies: string[];
  runningLoop: AbstractEventLoop | null;
  /** How `new Future()` finds a loop when none runs (installed by @loopkit/policy). */
  currentLoopResolver: (() => AbstractEventLoop) | null;
  /** How run() and Runner make a loop without a loopFactory (installed by @loopkit/policy). */
  defaultLoopFactory: (() => AbstractEventLoop) | null;
  /** How a Runner makes its loop the current one (installed by @loopkit/policy). */
  currentLoopSetter: ((loop: AbstractEventLoop | null) => void) | null;
  /**
   * The running task across awaits: an AsyncLocalStorage, or (Node 20 to 23 with the addon)
   * an object with its run/getStore over V8's continuation slot, so copies that only know
   * AsyncLocalStorage still agree on the running task.
   */
  readonly taskContext: TaskContext;
  readonly resumeSignal: ResumeSignal;
  /** the last number given to an unnamed task ("Task-N") */
  taskCounter: number;
  readonly youngTasks: TrackedTask[];
  /** an AgedSet (aged-set.ts) in a world this copy made; a Set in one an older copy made */
  readonly agedTasks: Set<AgedRecord>;
  /**
   * the per-task finalizer of copies older than the sweep (they register their aged tasks in
   * it); this copy never makes it
   */
  finalizer: FinalizationRegistry<AgedRecord> | null;
  tlsProvider: TLSProvider | null;
  /** @loopkit/policy's slots: its event loop policy and its root tsyringe container */
  policy: unknown;
  container: unknown;
  /** how taskContext tracks tasks (task-slot.ts); absent in a world made by a copy older than it */
  readonly taskTracking?: TaskTrackingChoice;
  /** finds lost aged tasks after full collections (task-registry.ts); absent in a world made by a copy older than it */
  lostTaskWatch?: LostTaskWatch;
}

function makeWorld(): World {
  const { context, tracking } = chooseTaskContext();
  return {
    createdBy: import.meta.url,
    copies: [import.meta.url],
    runningLoop: null,
    currentLoopResolver: null,
    defaultLoopFactory: null,
    currentLoopSetter: null,
    taskContext: context,
    resumeSignal: { pending: false, task: null, waitingFor: null, goOn: null, lastEnded: null },
    taskCounter: 0,
    youngTasks: [],
    agedTasks: new AgedSet(),
    finalizer: null,
    tlsProvider: null,
    policy: null,
    container: null,
    taskTracking: tracking,
    lostTaskWatch: undefined,
  };
}

function join(): World {
  const holder = globalThis as unknown as Record<symbol, World | undefined>;
  for (const key of Object.getOwnPropertySymbols(globalThis)) {
    const name = key.description ?? '';
    if (key !== KEY && name.startsWith(PREFIX)) {
      const other = holder[key] as { createdBy?: unknown } | undefined;
      throw new Error(
        `two incompatible copies of @loopkit/core are loaded in one thread: ${import.meta.url} (loop world v1) ` +
          `and ${String(other?.createdBy ?? 'an unknown copy')} (loop world ${name.slice(PREFIX.length)}). ` +
          'They cannot share a running loop; install one version (npm dedupe, or an override in package.json).',
      );
    }
  }
  let world = holder[KEY];
  if (world === undefined) {
    world = makeWorld();
    // Not enumerable, not writable: no copy can swap the world for its own.
    Object.defineProperty(globalThis, KEY, { value: world, enumerable: false, writable: false, configurable: false });
  } else if (!world.copies.includes(import.meta.url)) {
    world.copies.push(import.meta.url);
  }
  return world;
}

/** This thread's loop world, shared by every copy of @loopkit/core loaded in it. */
export const world: World = join();
