/**
 * asyncio.gather: run awaitables concurrently; a Future of their results in argument order.
 * Without returnExceptions the first error (or a child's cancellation, as CancelledError)
 * fails the gather at once while the other children keep running. Cancelling the gather
 * cancels every child.
 */
import { _getCurrentLoop, type AbstractEventLoop, type Awaitable, type CoroFn } from './events.js';
import { DoneWatcher, Future, isThenable } from './futures.js';
import { currentTask, ensureFuture, Task } from './tasks.js';
import { checkOptions } from './validate.js';
import { futureAddToAwaitedBy, futureDiscardFromAwaitedBy } from './awaited-by.js';
import { futureFieldsWrittenLater, keepShape, shapeLoop } from './shape-keepers.js';

/** Options of gather(): with `returnExceptions`, errors become results instead of failing the whole. */
export interface GatherOptions {
  /** Put errors (and CancelledError for cancelled children) in the results instead of failing. */
  returnExceptions?: boolean;
}

/** What helpers accept: a Future, a thenable, or a coroutine function (run as a Task). */
export type AwaitableLike<T = unknown> = Awaitable<T> | CoroFn<T>;

/**
 * An iterable of awaitables, never one awaitable: a Future is iterable itself (for
 * `yield*`), so without this `wait(fut)` would type-check where it throws, as asyncio's
 * "expect an iterable of futures, not Future".
 */
export type AwaitablesOf<A> = Iterable<A> & { readonly then?: undefined };

/** The value an AwaitableLike gives. */
export type ResultOf<A> = A extends (...args: any[]) => PromiseLike<infer R>
  ? R
  : A extends (...args: any[]) => Generator<any, infer R, any>
    ? R
    : A extends PromiseLike<infer R>
      ? R
      : never;

type Results<A extends readonly unknown[]> = { -readonly [K in keyof A]: ResultOf<A[K]> };
type ResultsOrErrors<A extends readonly unknown[]> = { -readonly [K in keyof A]: ResultOf<A[K]> | unknown };

/** The gather's Future: cancelling it cancels the children. */
class GatheringFuture<T> extends Future<T> {
  /** @internal */ _cancelRequested = false;

  constructor(
    private readonly children: Future<unknown>[],
    loop: AbstractEventLoop,
  ) {
    super(loop); // the loop itself: an options object literal's map dies with the run's last gather, and the next run's new one threw Future's constructor away ("wrong map")
  }

  override cancel(msg?: string): boolean {
    if (this.done()) return false;
    let cancelledAny = false;
    for (const child of this.children) if (child.cancel(msg)) cancelledAny = true;
    // The gather itself ends when the children's cancellations arrive.
    if (cancelledAny) this._cancelRequested = true;
    return cancelledAny;
  }
}

// See shape-keepers.ts.
keepShape('GatheringFuture', new GatheringFuture([], shapeLoop), [...futureFieldsWrittenLater, '_cancelRequested']);

/**
 * The trailing options object, checked: a plain object (an array is an awaitable mistaken
 * for a list of them: see checkNotArray).
 */
function takeOptions(args: unknown[]): GatherOptions {
  const last = args[args.length - 1];
  // A Future (a task) first: isThenable's code, compiled over the promises task bodies return, met
  // the one task a gather of tasks passed it with a map it had no feedback for ("wrong map").
  if (args.length === 0 || typeof last !== 'object' || last === null || last instanceof Future || isThenable(last) || Array.isArray(last)) {
    return {};
  }
  args.pop();
  return checkOptions(last as GatherOptions, ['returnExceptions'], 'gather');
}

/**
 * An array is a mistake worth naming (asyncio's `gather(*aws)` is `gather(...aws)` here,
 * never `gather(aws)`). Checked where an argument is neither a Future nor a function, so a
 * gather of 100k tasks does not look at each one twice; as asyncio's ensure_future, the
 * children made before a bad argument are left running.
 */
function checkNotArray(arg: unknown): void {
  if (Array.isArray(arg)) {
    throw new TypeError('gather() takes the awaitables as separate arguments, got an array: spread it, gather(...aws)');
  }
}

function outcomeOf(child: Future<unknown>): unknown {
  // A new error with the message cancel(msg) left, as asyncio's gather: the child's own
  // CancelledError stays for whoever reads the child (see Future._makeCancelledError).
  if (child.cancelled()) return child._newCancelledError();
  return child.exception() ?? child.result();
}

/** Run the awaitables concurrently (a function becomes a Task); a Future of their results in order. The first error fails it, and the others go on. */
export function gather<A extends readonly AwaitableLike[]>(...aws: A): Future<Results<A>>;
/** With `{returnExceptions: true}` last: each error is its awaitable's result. */
export function gather<A extends readonly AwaitableLike[]>(
  ...args: [...A, GatherOptions & { returnExceptions: true }]
): Future<ResultsOrErrors<A>>;
/** With options last (see GatherOptions). */
export function gather<A extends readonly AwaitableLike[]>(...args: [...A, GatherOptions]): Future<Results<A>>;
export function gather(...args: unknown[]): Future<unknown[]> {
  const options = takeOptions(args);
  const returnExceptions = Boolean(options.returnExceptions);
  if (args.length === 0) {
    const empty = new Future<unknown[]>({ loop: _getCurrentLoop() });
    empty.setResult([]);
    return empty;
  }

  let loop: AbstractEventLoop | undefined;
  // Declared before any child exists: a child made before a bad argument throws below may
  // complete, and its callback must then find no gathering future rather than a TDZ error.
  let outer: GatheringFuture<unknown[]> | null = null;
  let finished = 0;
  /** how many times onChildDone will run: once per watched child */
  let watched = 0;
  // The same function twice is one task, as asyncio's same coroutine twice: only functions
  // need looking up. A Future passed twice is watched twice (its outcome counts twice, in
  // `finished` and `watched` alike), which gives the same results with no lookup per argument.
  let taskByFunction: Map<unknown, Future<unknown>> | null = null;
  // Each argument's child takes the argument's place: the rest array is gather's own and has
  // the length the children need, where pushing each into a list of its own grew it and
  // called the push builtin per child until the loop below was optimized (Node 24 runs it
  // in baseline code for most of a 100k gather).
  const children = args as Future<unknown>[];
  const alreadyDone: Future<unknown>[] = [];
  const awaiting = currentTask();
  /** onChildDone, registered on every child once for all (see DoneWatcher) */
  let watcher: DoneWatcher | null = null;
  // Indexed, not for-of: gather runs once per call, so mostly unoptimized, where for-of
  // makes an iterator result per argument (40 bytes a child on Node 24 in a 100k gather).
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    let child: Future<unknown> | undefined;
    /** whether child is a Future of this copy of core (one instanceof a child: each is a generic call in baseline code) */
    let ours = true;
    if (arg instanceof Future) {
      if (loop !== undefined && arg.getLoop() !== loop) {
        throw new RangeError('The future belongs to a different loop than the one specified as the loop argument');
      }
      child = arg;
    } else if (typeof arg === 'function') {
      child = (taskByFunction ??= new Map()).get(arg);
      if (child !== undefined) {
        if (awaiting !== null && !child.done()) futureAddToAwaitedBy(child, awaiting);
        children[i] = child;
        continue;
      }
      child = ensureFuture(arg as CoroFn<unknown>, loop);
      // A task we made fails loudly through the gather: no "destroyed pending" report too.
      if (child instanceof Task) child._noPendingReport();
      else ours = child instanceof Future; // the running loop may be another copy's
      taskByFunction.set(arg, child);
    } else {
      checkNotArray(arg);
      child = ensureFuture(arg as AwaitableLike, loop);
      ours = child instanceof Future;
    }
    loop ??= child.getLoop();
    watched += 1;
    if (child.done()) alreadyDone.push(child);
    else {
      if (ours) child._addCallback((watcher ??= new DoneWatcher(onChildDone, child._loop)));
      else child.addDoneCallback(onChildDone); // a Future of another copy of core
      // For the call graph each pending child is awaited by the task calling gather, as in
      // asyncio 3.14 (the gathering future is only what that task awaits); done ones never were.
      if (awaiting !== null) futureAddToAwaitedBy(child, awaiting);
    }
    children[i] = child;
  }
  const gathering = new GatheringFuture<unknown[]>(children, loop!);
  outer = gathering;

  function onChildDone(child: Future<unknown>): void {
    finished += 1;
    if (awaiting !== null) futureDiscardFromAwaitedBy(child, awaiting);
    if (outer === null || outer.done()) {
      // Nobody will look at this child's error now: mark it retrieved.
      if (!child.cancelled()) child.exception();
      return;
    }
    if (!returnExceptions) {
      if (child.cancelled()) {
        outer.setException(child._makeCancelledError());
        return;
      }
      const error = child.exception();
      if (error !== null) {
        outer.setException(error);
        return;
      }
    }
    if (finished < watched) return;
    // The outcomes filled into a copy of the children: TurboFan's inlined `children.map`
    // allocates its result only up to ~16k elements and deoptimizes beyond ("out of bounds"),
    // which threw away the code of the done watcher's run, where this is inlined, at the end
    // of every gather of more children (bench/README.md, session 24).
    const results: unknown[] = children.slice();
    for (let i = 0; i < results.length; i++) results[i] = outcomeOf(results[i] as Future<unknown>);
    if (outer._cancelRequested) outer.setException(child._makeCancelledError());
    else outer.setResult(results);
  }

  for (const child of alreadyDone) onChildDone(child);
  return gathering;
}
