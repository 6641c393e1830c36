/**
 * Future: a result that will exist later, bound to one loop (asyncio.Future).
 * Done callbacks always go through `loop.callSoon`, in registration order; a Future is a
 * thenable (so `await fut` works) and an iterable (so `yield* fut` works in generator tasks).
 */
import { CancelledError, InvalidStateError, RuntimeError } from './errors.js';
import { _getCurrentLoop, resumeSignal, resumeStep, stepEndsIfAwaited, type AbstractEventLoop, type ContextRunner } from './events.js';
import {
  cancelWaitingCall,
  finishedKeeper,
  finishedSerial,
  giveBack,
  isWaitingCall,
  keeperOf,
  wasGivenBack,
  type GivingBack,
  type ValueKeeper,
} from './waiting-calls.js';
import { carryTaskIntoThen, currentTaskOrUndefined, isAnonymousBuiltin } from './task-context.js';
import { checkCallback, describe } from './validate.js';
import { Chain, type Chainable } from './chain.js';
import { formatValue, reprOnce } from './format.js';
import { ContextHandle, Handle, callSoonEntry, callSoonInternal, type HandleOwner, type ReadyEntry } from './handles.js';
import { watchRejection } from './async-result.js';
import { doneCallbackInContext, storesSeen } from './creator-context.js';
import type { Task } from './tasks.js';
import { forgetUnretrieved, watchUnretrieved, type UnretrievedReport } from './unretrieved.js';
import { futureAddToAwaitedBy, futureDiscardFromAwaitedBy } from './awaited-by.js';
import { keepShape, shapeLoop } from './shape-keepers.js';

const PENDING = 0;
/** finished with a result */
const FINISHED = 1;
const CANCELLED = 2;
/** finished with an exception, which `_result` holds (asyncio's FINISHED, with _exception set) */
const FAILED = 3;
type State = typeof PENDING | typeof FINISHED | typeof CANCELLED | typeof FAILED;
const stateNames = ['PENDING', 'FINISHED', 'CANCELLED', 'FINISHED'];

type DoneCallback<T> = (future: Future<T>) => unknown;
/**
 * A done callback, a ready-queue entry run once done (an await's continuation, a
 * PromiseWaiter), or a DoneWatcher told which of its futures is done.
 */
type FutureCallback = ((future: any) => unknown) | ReadyEntry;

/**
 * An empty list of a DoneWatcher's done futures, already in the elements kind a pushed future
 * gives it (an empty `[]` holds small integers, and its first push changes its map): code
 * compiled over one watcher's pushes met the next watcher's first push with a map it had no
 * feedback for, and was thrown away ("wrong map" in _watchedDone, bench/README.md, session 18).
 */
function noDoneFutures(): Future<any>[] {
  const list: Future<any>[] = [null as unknown as Future<any>];
  list.pop();
  return list;
}

/**
 * One done callback shared by many futures of one loop (gather's children): registered on
 * each as it is, and told which one is done when that one schedules its callbacks. It then
 * queues itself, where a plain function needs an entry per future to carry the future along
 * (a CallbackEntry: 100k of them, all alive for an iteration, in a gather of 100k tasks). The
 * futures wait in the order they were done and each run takes the oldest: the ready queue
 * runs the watcher's entries in that same order, so `callback(future)` runs exactly where its
 * own entry would have. In debug mode, and on a loop without a direct entry queue, each
 * future gets its own entry (a Handle with its creation stack) as a function's would.
 */
export class DoneWatcher implements ReadyEntry {
  /** the futures done whose callback has not run yet, oldest first from `nextDone` */
  private doneFutures: Future<any>[] = noDoneFutures();
  private nextDone = 0;

  constructor(
    /** @internal */ readonly _callback: (future: Future<any>) => unknown,
    private readonly loop: AbstractEventLoop,
  ) {}

  /** @internal `future`, one of those it watches, is done: run the callback for it in its turn. */
  _watchedDone(future: Future<any>): void {
    const loop = this.loop;
    if (loop.getDebug() || (loop as Partial<{ _callSoonEntry: unknown }>)._callSoonEntry === undefined) {
      callSoonInternal(loop, this._callback, future);
      return;
    }
    this.doneFutures.push(future);
    callSoonEntry(loop, this);
  }

  /** @internal */
  _run(): void {
    const future = this.doneFutures[this.nextDone]!;
    if (++this.nextDone === this.doneFutures.length) {
      this.doneFutures = noDoneFutures();
      this.nextDone = 0;
    }
    try {
      const result = this._callback(future);
      if (result !== undefined) this.watchResult(result, future);
    } catch (exception) {
      this.report(exception, future);
    }
  }

  // Its own method: a closure in _run would make V8 allocate _run's context at every run.
  private watchResult(result: unknown, future: Future<any>): void {
    watchRejection(result, (exception) => this.report(exception, future));
  }

  /** As a CallbackEntry of `callback(future)` reports a failure. */
  private report(exception: unknown, future: Future<any>): void {
    const args = [future];
    new Handle(this._callback, args, this.loop as unknown as HandleOwner)._report(exception, this._callback, args);
  }

  /** A description for logs and debugging, as the Handle's. */
  toString(): string {
    return `<Handle ${this._callback.name || '<anonymous>'}()>`;
  }
}

/** Options of `new Future()`: the loop it belongs to (default: the running loop, else the policy's current one). */
export interface FutureOptions {
  loop?: AbstractEventLoop;
}

function resolveLoop(options: FutureOptions | AbstractEventLoop | undefined): AbstractEventLoop {
  if (options === undefined) return _getCurrentLoop();
  if (typeof (options as AbstractEventLoop).callSoon === 'function') return options as AbstractEventLoop;
  const loop = (options as FutureOptions).loop;
  if (loop === undefined || loop === null) return _getCurrentLoop();
  if (typeof loop.callSoon !== 'function') throw new TypeError(`loop must be an event loop, got ${describe(loop)}`);
  return loop;
}

/** What then() gives back after settling the language's resolving function itself (it returned undefined). */
const settledUndefined: Promise<undefined> = Promise.resolve(undefined);

/** A result that is not there yet (asyncio.Future): await it, or add done callbacks; set by setResult/setException, or cancelled. */
export class Future<T = unknown> implements PromiseLike<T> {
  // Declared, and set once in the constructor: class fields would be defined by an
  // initializer function of their own first, then set again (see Handle). Futures and tasks
  // are made by the hundred thousand, many of them before the JIT has compiled anything.
  /** @internal */ declare _state: State;
  /**
   * @internal the result, or the exception once FAILED: one field where two were (a Future
   * or Task is made by the hundred thousand, and none has both)
   */
  declare _result: unknown;
  /** @internal */ declare _loop: AbstractEventLoop;
  /**
   * @internal the done callbacks: a done callback, or a ready-queue entry (an await's
   * continuation, a FutureAwaiter; a PromiseWaiter itself). null until the first (most
   * futures of tasks never get one), then the one itself, and an array only from the second
   * on (most get at most one).
   */
  declare _callbacks: FutureCallback | FutureCallback[] | null;
  /** @internal the futures waiting on this one (awaited-by.ts): null, one, or a Set of several */
  declare _awaitedBy: Future<unknown> | Set<Future<unknown>> | null;
  /** @internal what few futures and tasks ever need (see RareState); null until first written */
  declare _rare: RareState | null;

  /** Binds to `loop`, else the running loop, else the policy's current loop. */
  constructor(options?: FutureOptions | AbstractEventLoop) {
    const loop = resolveLoop(options);
    this._state = PENDING;
    this._result = undefined;
    this._loop = loop;
    this._callbacks = null;
    this._awaitedBy = null;
    this._rare = null;
    if (loop.getDebug()) this._sourceTraceback = new Error().stack ?? null;
  }

  /** @internal the state few futures need, made on first write. */
  _rareState(): RareState {
    return (this._rare ??= new RareState());
  }

  /** @internal */
  get _cancelMessage(): string | undefined {
    return this._rare === null ? undefined : this._rare.cancelMessage;
  }
  set _cancelMessage(msg: string | undefined) {
    if (this._rare !== null || msg !== undefined) this._rareState().cancelMessage = msg;
  }

  /** @internal the exception it finished with, else null */
  get _exception(): unknown {
    return this._state === FAILED ? this._result : null;
  }
  /**
   * @internal a finished future fails with `exception` instead: a woken waiter the caller's
   * cancel() reached too late (promise-waiter.ts). A pending or cancelled one is left as it is.
   */
  set _exception(exception: unknown) {
    if (this._state === PENDING || this._state === CANCELLED) return;
    this._result = exception;
    this._state = FAILED;
  }

  /** @internal the CancelledError to raise, when one was caught from a task body */
  get _cancelledExc(): CancelledError | null {
    return this._rare === null ? null : this._rare.cancelledExc;
  }
  set _cancelledExc(error: CancelledError | null) {
    this._rareState().cancelledExc = error;
  }

  /** @internal an exception is set and nobody has looked at it yet: its report (unretrieved.ts) */
  get _unretrieved(): UnretrievedReport | null {
    return this._rare === null ? null : this._rare.unretrieved;
  }
  set _unretrieved(report: UnretrievedReport | null) {
    if (this._rare !== null || report !== null) this._rareState().unretrieved = report;
  }

  /** @internal creation stack, kept in debug mode only */
  get _sourceTraceback(): string | null {
    return this._rare === null ? null : this._rare.sourceTraceback;
  }
  set _sourceTraceback(stack: string | null) {
    if (this._rare !== null || stack !== null) this._rareState().sourceTraceback = stack;
  }

  /** The loop this future belongs to. */
  getLoop(): AbstractEventLoop {
    return this._loop;
  }

  /** Whether it has a result, an exception, or was cancelled. */
  done(): boolean {
    return this._state !== PENDING;
  }

  /** Whether it was cancelled. */
  cancelled(): boolean {
    return this._state === CANCELLED;
  }

  /** The result; throws the exception, CancelledError, or InvalidStateError while pending. */
  result(): T {
    const state = this._state;
    if (state === CANCELLED) throw this._makeCancelledError();
    // The C Future's words (CPython runs _asyncio), not futures.py's 'Result is not ready.'.
    if (state === PENDING) throw new InvalidStateError('Result is not set.');
    this._retrieved();
    if (state === FAILED) throw this._result;
    return this._result as T;
  }

  /** The exception (null when it succeeded); throws CancelledError, or InvalidStateError while pending. */
  exception(): unknown {
    if (this._state === CANCELLED) throw this._makeCancelledError();
    if (this._state === PENDING) throw new InvalidStateError('Exception is not set.');
    this._retrieved();
    return this._exception;
  }

  /** Mark it done with `result` and schedule its callbacks; InvalidStateError if it is done already. */
  setResult(result: T): void {
    // The C Future's words, where futures.py says the state and the repr.
    if (this._state !== PENDING) throw new InvalidStateError('invalid state');
    this._setResultNow(result);
  }

  /** Mark it done with `exception` and schedule its callbacks; InvalidStateError if it is done already. */
  setException(exception: unknown): void {
    if (this._state !== PENDING) throw new InvalidStateError('invalid state');
    if (exception === null || exception === undefined) {
      throw new TypeError(`exception must be an error, got ${describe(exception)}`);
    }
    this._setExceptionNow(exception);
  }

  /** Cancel the future; returns false when it was already done. */
  cancel(msg?: string): boolean {
    this._retrieved();
    if (this._state !== PENDING) return false;
    this._cancelNow(msg);
    return true;
  }

  /**
   * Schedule `callback(future)` with callSoon once done (at once if done already). It runs in
   * the async context current now, as asyncio's add_done_callback copies the context and as
   * a Promise's then() callback runs (see creator-context.ts).
   */
  addDoneCallback(callback: DoneCallback<T>): void {
    checkCallback(callback, 'callback');
    const inContext = storesSeen.entered ? doneCallbackInContext(callback, this, this._loop) : null;
    if (inContext !== null) {
      if (this._state !== PENDING) callSoonEntry(this._loop, inContext);
      else this._addCallback(inContext);
    } else if (this._state !== PENDING) callSoonInternal(this._loop, callback, this);
    else this._addCallback(callback);
  }

  /** Remove every registration of `callback`; returns how many were removed. */
  removeDoneCallback(callback: DoneCallback<T>): number {
    const callbacks = this._callbacks;
    if (callbacks === null) return 0;
    if (!Array.isArray(callbacks)) {
      if (userCallbackOf(callbacks) !== callback) return 0;
      this._callbacks = null;
      return 1;
    }
    const kept = callbacks.filter((cb) => userCallbackOf(cb) !== callback);
    this._callbacks = kept.length === 0 ? null : kept.length === 1 ? kept[0]! : kept;
    return callbacks.length - kept.length;
  }

  /**
   * Thenable protocol. Awaiting a done future resolves without waiting for a loop
   * iteration; otherwise the continuation is a done callback, run through callSoon.
   */
  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: any) => R2 | PromiseLike<R2>) | null,
  ): Chainable<R1 | R2> {
    // A done future gives its outcome to anyone, as asyncio's `await` of a done future never
    // suspends (so never checks the awaiting task): no context lookup on this path.
    if (this._state !== PENDING) {
      // The language's own resolving functions (`await fut`) are settled now: calling one only
      // settles its promise, whose reactions still run later, so nobody sees the difference
      // but the promise and the microtask saved. They return undefined, as `settledUndefined`
      // gives to anyone chaining on (a hand-written `new Promise((r) => fut.then(r))`).
      if (isAnonymousBuiltin !== null) {
        const succeeded = this._state === FINISHED;
        const reaction = succeeded ? onFulfilled : onRejected;
        if (isAnonymousBuiltin(reaction)) {
          (reaction as (value: unknown) => void)(succeeded ? this._result : this._outcomeError());
          return settledUndefined as unknown as Chainable<R1 | R2>;
        }
      }
      const settled = this._state === FINISHED
        ? Promise.resolve(this._result as T)
        : Promise.reject(this._outcomeError());
      return settled.then(onFulfilled, onRejected);
    }
    const task = currentTaskOrUndefined();
    if (task !== undefined) {
      let misuse: RuntimeError | null = null;
      if (task === (this as unknown)) misuse = new RuntimeError(`Task cannot await on itself: ${task}`);
      else if (task._loop !== this._loop) {
        misuse = new RuntimeError(`Task ${task} got Future ${this} attached to a different loop`);
      }
      if (misuse !== null) return Promise.reject(misuse).then(onFulfilled, onRejected);
    }
    const awaiter = new FutureAwaiter<R1 | R2>(this, task ?? null, onFulfilled, onRejected);
    this._addCallback(awaiter);
    if (task !== undefined) {
      task._futWaiter = this as Future<unknown>;
      if (this._awaitedBy === null) this._awaitedBy = task;
      else futureAddToAwaitedBy(this, task);
      if (task._mustCancel && this.cancel(task._cancelMessage)) task._mustCancel = false;
      stepEndsIfAwaited(task, onFulfilled);
    }
    return awaiter;
  }

  /**
   * @internal `task`'s coroutine function returned this pending future of its loop
   * (`() => sleep(5)`): the task awaits it, as then() would make it, and the future's outcome
   * becomes the task's through one small entry, where then() and two closures took four objects.
   */
  _awaitAsTaskBody(task: Task<unknown>): void {
    this._addCallback(new TaskBodyAwaiter(this, task));
    task._futWaiter = this as Future<unknown>;
    futureAddToAwaitedBy(this, task);
    if (task._mustCancel && this.cancel(task._cancelMessage)) task._mustCancel = false;
  }

  /**
   * @internal `task` resumes from this done future: the CancelledError that a cancel()
   * requested meanwhile raises at this await instead of the outcome, or null. The request is
   * consumed either way; as asyncio's step, a CancelledError the future itself gives (it was
   * cancelled: the first cancel()'s message) is kept.
   */
  _cancelAtResume(task: Task<unknown>): CancelledError | null {
    const cancelled = task._takeCancel();
    if (cancelled === null || this._state === CANCELLED || this._exception instanceof CancelledError) return null;
    this._retrieved();
    return cancelled;
  }

  /** @internal add a done callback (or entry) to a pending future, unchecked. */
  _addCallback(callback: FutureCallback): void {
    const callbacks = this._callbacks;
    if (callbacks === null) this._callbacks = callback;
    else if (Array.isArray(callbacks)) callbacks.push(callback);
    else this._callbacks = [callbacks, callback];
  }

  /** @internal the error a failed or cancelled future gives to awaiting code (marks it retrieved). */
  _outcomeError(): unknown {
    if (this._state === CANCELLED) return this._makeCancelledError();
    this._retrieved();
    return this._result;
  }

  /** `const x = yield* fut` in a generator task: suspend until done, then give the result. */
  *[Symbol.iterator](): Generator<Future<T>, T, unknown> {
    if (this._state === PENDING) yield this;
    if (this._state === PENDING) throw new RuntimeError('yield* was not used with the future inside a task');
    return this.result();
  }

  /** A description for logs and debugging, as asyncio's repr(). */
  toString(): string {
    return reprOnce(this, futureRepr);
  }

  /** @internal the class a repr names (asyncio's plain Future for loopkit's own kinds of it). */
  _reprClassName(): string {
    return this.constructor.name;
  }

  /** @internal the state part of the repr, e.g. `finished result=3` (asyncio's order). */
  _stateInfo(details = ''): string {
    const state = stateNames[this._state]!.toLowerCase();
    if (this._state === PENDING || this._state === CANCELLED) return `${state}${details}${this._callbacksInfo()}`;
    const outcome = this._state === FAILED ? `exception=${String(this._result)}` : `result=${formatValue(this._result)}`;
    return `${state}${details} ${outcome}`;
  }

  /** asyncio's cb=[...] of a pending future: the first and last callbacks, the rest counted. */
  private _callbacksInfo(): string {
    const callbacks = this._callbacks;
    if (callbacks === null) return '';
    const list = Array.isArray(callbacks) ? callbacks : [callbacks];
    // Any other ready-queue entry here is the continuation of a task awaiting this future.
    const name = (cb: FutureCallback): string => {
      const user = userCallbackOf(cb);
      return user !== null ? `${user.name || '<anonymous>'}()` : 'Task.task_wakeup()';
    };
    const shown =
      list.length <= 2 ? list.map(name).join(', ') : `${name(list[0]!)}, <${list.length - 2} more>, ${name(list[list.length - 1]!)}`;
    return ` cb=[${shown}]`;
  }

  /**
   * @internal the CancelledError a read of this cancelled future raises. A task's own (its body
   * threw it) is handed out once, as asyncio's `_make_cancelled_error` consumes `_cancelled_exc`:
   * later reads get a new one with the message `cancel(msg)` left, none for such a task.
   */
  _makeCancelledError(): CancelledError {
    const own = this._cancelledExc;
    if (own === null) return this._newCancelledError();
    this._cancelledExc = null;
    return own;
  }

  /** @internal a new CancelledError with the message `cancel(msg)` left (none for a task whose body raised its own). */
  _newCancelledError(): CancelledError {
    return new CancelledError(this._cancelMessage ?? '');
  }

  /** @internal */
  _setResultNow(result: T): void {
    this._result = result;
    this._state = FINISHED;
    this._scheduleCallbacks();
  }

  /** @internal */
  _setExceptionNow(exception: unknown): void {
    this._result = exception;
    this._state = FAILED;
    // Format the stack now: until then V8 keeps the frames' receivers (this very future or
    // task among them) alive, and the report below could never fire.
    if (exception instanceof Error) void exception.stack;
    this._unretrieved = watchUnretrieved(
      this,
      this._loop,
      exception,
      `${this.constructor.name} exception was never retrieved`,
      this._sourceTraceback,
      this._reportedAtClose(),
    );
    this._scheduleCallbacks();
  }

  /** @internal */
  _cancelNow(msg: string | undefined): void {
    this._state = CANCELLED;
    this._cancelMessage = msg;
    this._scheduleCallbacks();
  }

  /** @internal the exception has been seen: no "never retrieved" report. */
  _retrieved(): void {
    const report = this._unretrieved;
    if (report !== null) {
      this._unretrieved = null;
      forgetUnretrieved(report);
    }
  }

  /**
   * @internal whether a failure nobody retrieved is reported when the loop closes, not
   * only when collected: true for tasks (see unretrieved.ts). A plain future is reported
   * when collected only, as before.
   */
  _reportedAtClose(): boolean {
    return false;
  }

  private _scheduleCallbacks(): void {
    const callbacks = this._callbacks;
    if (callbacks === null) return;
    this._callbacks = null;
    if (!Array.isArray(callbacks)) this._schedule(callbacks);
    else for (const cb of callbacks) this._schedule(cb);
  }

  private _schedule(callback: FutureCallback): void {
    if (typeof callback === 'function') callSoonInternal(this._loop, callback, this);
    else if (callback instanceof DoneWatcher) callback._watchedDone(this);
    else callSoonEntry(this._loop, callback);
  }
}
/** The function a user gave addDoneCallback for a done callback, or null for core's own entries. */
function userCallbackOf(cb: FutureCallback): ((...args: any[]) => unknown) | null {
  if (typeof cb === 'function') return cb;
  if (cb instanceof DoneWatcher) return cb._callback;
  return cb instanceof ContextHandle ? cb._callback : null;
}

/**
 * Leaves `then` (and the constructor) alone on `prototype` and moves its other methods and
 * accessors to a prototype of their own just above it. `await fut` and Promise.resolve(fut)
 * read `then` through V8's generic property lookup on every await (ResolvePromise has no
 * inline cache): in a prototype of ~35 entries that search was 7% of the CPU of awaiting a
 * done Future (issue 13 (d), perf on Node 24), in a prototype of two it is half that. Every
 * other call finds its method through its inline cache as before; subclasses, `super` and
 * `instanceof` see the same chain, one link longer.
 */
function keepThenAlone(prototype: object): void {
  const methods = Object.create(Object.getPrototypeOf(prototype) as object | null) as object;
  for (const key of Reflect.ownKeys(prototype)) {
    if (key === 'then' || key === 'constructor') continue;
    Object.defineProperty(methods, key, Object.getOwnPropertyDescriptor(prototype, key)!);
    Reflect.deleteProperty(prototype, key);
  }
  Object.setPrototypeOf(prototype, methods);
}
keepThenAlone(Future.prototype);

carryTaskIntoThen(Future.prototype, (future) => future._state === PENDING); // a done future's then() reads no task
keepShape('Future', new Future(shapeLoop)); // see shape-keepers.ts

/**
 * The fields of a Future or Task that most never set (a cancellation, an unretrieved
 * exception, debug mode, a generator, an abort signal, an async context): one object made on the
 * first write, read through accessors of the same names, so a task carries one pointer where
 * it carried ten fields (80 bytes, on every one of 100k idle or short-lived tasks).
 */
export class RareState {
  cancelMessage: string | undefined = undefined;
  cancelledExc: CancelledError | null = null;
  unretrieved: UnretrievedReport | null = null;
  sourceTraceback: string | null = null;
  // a Task's
  /** the generator of a task running a generator function */
  gen: Generator<unknown, unknown, unknown> | null = null;
  mustCancel = false;
  numCancelsRequested = 0;
  abort: AbortController | null = null;
  reportIfPending = true;
  context: ContextRunner | null = null;
  /** made done by Future's own setResult/setException/cancel, not by its coroutine: its next step is refused */
  finishedFromOutside = false;
}

/**
 * What then() on a pending future returns and registers: the continuation of the code awaiting
 * it, queued as a done callback would be (it is its own ready-queue entry), and the thenable
 * handed back. One object per await where a closure, its context, a Chain and, once done, a
 * Handle with its argument array were.
 */
class FutureAwaiter<T> extends Chain<T> implements ReadyEntry {
  constructor(
    private readonly future: Future<any>,
    private readonly task: Task<unknown> | null,
    private readonly onFulfilled: ((value: any) => unknown) | null | undefined,
    private readonly onRejected: ((reason: any) => unknown) | null | undefined,
  ) {
    super();
  }

  /** @internal the future is done: resume the awaiting code (a loop callback, so the reactions may be called directly). */
  _run(): void {
    const future = this.future;
    const task = this.task;
    // Whether the task still awaits this future: code the task left behind awaiting it (a
    // Promise wrapped in a Future that was cancelled, so only detached) must not take a cancel() meant for the task.
    const awaited = task !== null && task._futWaiter === future;
    if (task !== null) {
      if (awaited) task._futWaiter = null;
      if (future._awaitedBy !== null) futureDiscardFromAwaitedBy(future, task);
    }
    resumeStep(task);
    // cancel() came after this future finished but before the task resumed: raise at
    // this await, as asyncio's step does (a Lock waiter then passes its turn on).
    const cancelled = awaited ? future._cancelAtResume(task) : null;
    if (cancelled !== null) {
      this.rejected(cancelled, this.onRejected);
    } else if (future._state === FINISHED) {
      this.fulfilled(future._result, this.onFulfilled);
    } else this.rejected(future._outcomeError(), this.onRejected);
  }

  /**
   * @internal resume the awaiting code now, inside the promise job that finished the future,
   * not from the ready queue: the loop is already paused for this step (resumeStep was called
   * by whatever resumed it), so it is not paused again.
   */
  _runInThisJob(): void {
    const { pending, task } = resumeSignal;
    this._run();
    resumeSignal.pending = pending;
    resumeSignal.task = task;
  }
}

// A task awaiting a pending future queues one, as a run's main task awaiting its gather does:
// with the loop's entries few kinds, runBatch's code checks for each kind's map (see shape-keepers.ts).
keepShape('FutureAwaiter', new FutureAwaiter(new Future(shapeLoop), null, undefined, undefined));

/** The continuation of a task whose coroutine function returned a pending future: see _awaitAsTaskBody. */
class TaskBodyAwaiter implements ReadyEntry {
  constructor(
    private readonly future: Future<any>,
    private readonly task: Task<unknown>,
  ) {}

  /** @internal the future is done: it ends the task, as FutureAwaiter would resume it. */
  _run(): void {
    const future = this.future;
    const task = this.task;
    if (task._futWaiter === future) task._futWaiter = null;
    if (future._awaitedBy !== null) futureDiscardFromAwaitedBy(future, task);
    resumeStep(task);
    const cancelled = future._cancelAtResume(task);
    if (cancelled !== null) {
      task._bodyThrew(cancelled);
    } else if (future._state === FINISHED) task._bodyReturned(future._result);
    else task._bodyThrew(future._outcomeError());
  }
}

/** True for loopkit Futures (and Tasks). */
export function isFuture(obj: unknown): obj is Future<unknown> {
  // A Future of another copy of @loopkit/core (another version in node_modules) is one too,
  // as asyncio.isfuture duck-types: it carries the brand every copy puts on Future.prototype.
  return obj instanceof Future || (typeof obj === 'object' && obj !== null && (obj as Branded)[FUTURE_BRAND] === true);
}

const FUTURE_BRAND = Symbol.for('loopkit.Future');
type Branded = { [FUTURE_BRAND]?: boolean };
Object.defineProperty(Future.prototype, FUTURE_BRAND, { value: true });

/** Type guard for thenables (PromiseLike). */
export function isThenable(obj: unknown): obj is PromiseLike<unknown> {
  return (
    (typeof obj === 'object' || typeof obj === 'function') &&
    obj !== null &&
    typeof (obj as PromiseLike<unknown>).then === 'function'
  );
}

/** Mark `fut` done with `result` unless it was cancelled meanwhile (timers, wrapped promises). */
export function setResultUnlessCancelled<T>(fut: Future<T>, result: T): void {
  if (!fut.cancelled()) fut.setResult(result);
}

/**
 * A Future wrapping a waiting call's promise (waiting-calls.ts), as a Task wraps an asyncio
 * coroutine: cancel() cancels the call and returns true, and the Future settles with the
 * call's outcome once the call has finished its cleanup (cancelled when it ended with
 * CancelledError), so `waitFor(cond.wait(), t)` throws only once the lock is held again. A
 * call that finished with a value before it heard of the cancel (it did not wait, or it was
 * resuming) gives the value back to its keeper and the Future ends cancelled, as the task
 * asyncio makes of the coroutine would have taken nothing; with no keeper, the value.
 */
class WaitingCallFuture<T> extends Future<T> implements GivingBack {
  private cancelRequested = false;
  private requestedMessage: string | undefined = undefined;
  /** @internal awaited by waitFor in its caller's task, as asyncio's wait_for awaits a coroutine (see _inlineAwaiter) */
  _awaitedInline = false;

  constructor(
    options: FutureOptions,
    private readonly call: object,
    private readonly keeper: ValueKeeper | null,
    /** The call's serial if it finished without waiting (waiting-calls.ts' finishedSerial), else -1. */
    private readonly serial: number,
  ) {
    super(options);
  }

  override cancel(msg?: string): boolean {
    this._retrieved();
    if (this._state !== PENDING) return false;
    if (!this.cancelRequested) this.requestedMessage = msg;
    this.cancelRequested = true;
    cancelWaitingCall(this.call, msg);
    return true;
  }

  /** @internal the call returned `value`: a cancel() that came first gives it back to its keeper (see the class), once for all wrappers. */
  _callReturned(value: T): void {
    const awaiter = this._inlineAwaiter();
    const keeper = this.keeper;
    if (
      keeper !== null &&
      (wasGivenBack(this.call) || (this.cancelRequested && giveBack(this.call, keeper, value, this.serial, this)))
    ) {
      this._cancelNow(this.cancelRequested ? this.requestedMessage : undefined);
    } else this.setResult(value);
    awaiter?._runInThisJob();
  }

  /**
   * @internal waitFor's caller awaiting this call as the one done callback: taken off, to be
   * resumed in the job that settles the call. asyncio's wait_for awaits the coroutine in the
   * caller's task, so the call returning and the caller going on are one step: a cancel() made
   * after the call's wake-up (a callback queued behind it, a timer due in that iteration)
   * finds the caller past that await, or done, as there (cancel() then returns false).
   */
  private _inlineAwaiter(): FutureAwaiter<unknown> | null {
    const callbacks = this._callbacks;
    if (!this._awaitedInline || !(callbacks instanceof FutureAwaiter)) return null;
    this._callbacks = null;
    return callbacks;
  }

  /** @internal what the keeper threw when it took the value back goes to the loop's exception handler, as a callback's would. */
  _takeBackFailed(error: unknown): void {
    this._loop.callExceptionHandler({
      message: 'Exception while giving back what a call took for its cancelled wrapper',
      exception: error,
      future: this,
    });
  }

  /** @internal the call failed with `error`: a CancelledError cancels this Future, as it ends a Task. */
  _callFailed(error: unknown): void {
    const awaiter = this._inlineAwaiter();
    if (!(error instanceof CancelledError)) this.setException(error);
    else this._cancelNow(this.cancelRequested ? this.requestedMessage : error.message || undefined);
    awaiter?._runInThisJob();
  }
}
// It is a Future to everyone who looks (repr, reports).
Object.defineProperty(WaitingCallFuture, 'name', { value: 'Future' });

/** @internal waitFor awaits `fut` in its caller's task: a waiting call's outcome is not dropped for a cancel() that came after it. */
export function awaitInline(fut: Future<unknown>): void {
  if (fut instanceof WaitingCallFuture) fut._awaitedInline = true;
}

/**
 * A Future following a thenable: settles when it does. Cancelling the Future detaches it
 * (a Promise cannot be cancelled; its outcome is then ignored). A Future is returned as is.
 */
export function wrapFuture<T>(aw: Future<T> | PromiseLike<T>, options: FutureOptions = {}): Future<T> {
  if (isFuture(aw)) {
    if (options.loop && aw.getLoop() !== options.loop) {
      throw new RangeError('The future belongs to a different loop than the one specified as the loop argument');
    }
    return aw as Future<T>;
  }
  if (!isThenable(aw)) throw new TypeError(`aw must be a Future or a thenable, got ${describe(aw)}`);
  // A waiting call of loopkit's (queue.get(), reader.readline(), lock.acquire()) is cancelled
  // with its wrapper, as asyncio cancels the coroutine; any other Promise is only detached.
  const serial = finishedSerial(aw);
  const fut =
    serial >= 0
      ? new WaitingCallFuture<T>(options, aw, finishedKeeper(serial), serial)
      : isWaitingCall(aw)
        ? new WaitingCallFuture<T>(options, aw, keeperOf(aw), -1)
        : new Future<T>(options);
  // Once the future is cancelled (detached) or its loop closed, the outcome has nowhere to go.
  const gone = (): boolean => fut.done() || fut.getLoop().isClosed();
  aw.then(
    (value) => {
      if (gone()) return;
      if (fut instanceof WaitingCallFuture) fut._callReturned(value);
      else fut.setResult(value);
    },
    (error) => {
      if (gone()) return;
      if (fut instanceof WaitingCallFuture) fut._callFailed(error);
      else fut.setException(error);
    },
  );
  return fut;
}

function futureRepr(future: Future<unknown>): string {
  return `<${future._reprClassName()} ${future._stateInfo()}>`;
}

export type { Task };
