/**
 * Task: a Future that runs a coroutine function on its loop (asyncio.Task).
 *
 * An async function runs its first step inside a loop callback; after that the language
 * resumes it when an awaited Future's done callback settles the await. The loop lets
 * microtasks drain right after such a callback, so the step runs at the same point of the
 * iteration as in asyncio. A generator function is stepped by the task itself (`yield*`).
 */
import { CancelledError, InvalidStateError, RuntimeError } from './errors.js';
import {
  getRunningLoop,
  resumeSignal,
  resumeStep,
  stepEnded,
  _getCurrentLoop,
  type AbstractEventLoop,
  type Awaitable,
  type ContextRunner,
  type CoroFn,
  type CreateTaskOptions,
  type ExceptionContext,
} from './events.js';
import { DoneWatcher, Future, RareState, isFuture, isThenable, wrapFuture, type FutureOptions } from './futures.js';
import { callSoonEntry, type ReadyEntry } from './handles.js';
import { checkOptions, describe } from './validate.js';
import { reprOnce } from './format.js';
import { futureAddToAwaitedBy, futureDiscardFromAwaitedBy } from './awaited-by.js';
import { world } from './world.js';
import { currentTaskOrUndefined, runInTask } from './task-context.js';
import { captureContext, storesSeen } from './creator-context.js';
import { ageTasks, pendingTasks, trackTask, untrackTask, type AgedRecord } from './task-registry.js';
import { endTaskWithWaiter, firstStepHandOff } from './promise-waiter.js';
import { futureFieldsWrittenLater, keepShape, shapeLoop } from './shape-keepers.js';
import { wakeYield } from './sleep.js';

/** The context of a task whose own store lives where its code runs (see _enteredStore). */
const runInPlace: ContextRunner = (fn, ...args) => fn(...args);

function isGenerator(obj: unknown): obj is Generator<unknown, unknown, unknown> {
  return (
    typeof obj === 'object' &&
    obj !== null &&
    typeof (obj as Generator).next === 'function' &&
    typeof (obj as Generator).throw === 'function'
  );
}

/** Options of `new Task()`: its name (default "Task-N") and loop. */
export interface TaskOptions extends FutureOptions {
  name?: string;
  /** The async context the task's code runs in (AsyncLocalStorage.snapshot()); default: a copy of its creator's. */
  context?: ContextRunner | null;
}

/** A coroutine function running on a loop (asyncio.Task): a Future of its result, cancellable at any await. */
export class Task<T = unknown> extends Future<T> implements ReadyEntry {
  // Declared, and set once in the constructor (see Future).
  /** @internal */ declare readonly _coro: CoroFn<T>;
  /**
   * @internal its name once given, else the N of "Task-N": one field where a name and a
   * number were two (a task is made by the hundred thousand; see _name, _number).
   */
  declare _label: string | number;
  /** @internal the Future whose then() this task called last, in its context: the one it awaits */
  declare _futWaiter: Future<unknown> | null;
  /** @internal see task-registry.ts */ declare _aged: AgedRecord | null;

  /**
   * `options` may be the loop alone (what createTask without options passes: no object per
   * task). A context goes to the rare state (futures.ts' RareState).
   */
  constructor(coro: CoroFn<T>, options: TaskOptions | AbstractEventLoop = {}) {
    if (typeof coro !== 'function') {
      throw new TypeError(`a coroutine was expected for coro (an async or generator function), got ${describe(coro)}`);
    }
    const isLoop = typeof (options as AbstractEventLoop).callSoon === 'function';
    const name = isLoop ? undefined : (options as TaskOptions).name;
    const context = isLoop ? null : ((options as TaskOptions).context ?? null);
    if (context !== null && typeof context !== 'function') {
      throw new TypeError(`context must be a function running a callback in an async context (AsyncLocalStorage.snapshot()), got ${describe(context)}`);
    }
    super(options);
    this._coro = coro;
    this._label = name !== undefined ? String(name) : ++world.taskCounter;
    this._futWaiter = null;
    this._aged = null;
    // Without a context given, a copy of the creator's (asyncio's copy_context()), when it needs one.
    const runsIn = context ?? (storesSeen.entered ? captureContext(this._loop) : null);
    if (runsIn !== null) this._rareState().context = runsIn;
    trackTask(this);
    callSoonEntry(this._loop, this); // the task is its own ready-queue entry: see _run
  }

  /** @internal its name if set, else null (it is then "Task-N") */
  get _name(): string | null {
    return typeof this._label === 'string' ? this._label : null;
  }

  /** @internal the N of "Task-N" (0 once named) */
  get _number(): number {
    return typeof this._label === 'number' ? this._label : 0;
  }

  /**
   * @internal the generator a generator function gave, which the task steps (null for an
   * async function): in the rare state, as async functions are the everyday kind.
   */
  get _gen(): Generator<unknown, T, unknown> | null {
    return this._rare === null ? null : (this._rare.gen as Generator<unknown, T, unknown> | null);
  }

  /** @internal cancel at the next suspension point */
  get _mustCancel(): boolean {
    return this._rare !== null && this._rare.mustCancel;
  }
  set _mustCancel(value: boolean) {
    if (this._rare !== null || value) this._rareState().mustCancel = value;
  }

  /** @internal */
  get _numCancelsRequested(): number {
    return this._rare === null ? 0 : this._rare.numCancelsRequested;
  }

  /** @internal */
  get _abort(): AbortController | null {
    return this._rare === null ? null : this._rare.abort;
  }

  /** @internal false for tasks whose loss is reported otherwise (runUntilComplete raises) */
  get _reportIfPending(): boolean {
    return this._rare === null || this._rare.reportIfPending;
  }

  /** @internal where each step runs; null: the loop's async context (the creator's was the loop's) */
  get _context(): ContextRunner | null {
    return this._rare === null ? null : this._rare.context;
  }

  /**
   * @internal Its code entered a store (AsyncLocalStorage `run`/`enterWith`): that store is its
   * own now, as a ContextVar set in an asyncio task is its context's. `context` is where its
   * code is now (task frames: its later steps and a report about it run there); null where
   * its context changed in place, or where it had none, the loop's, which it must no longer
   * share: a paused loop does not go on from inside its steps (events.ts stepEnded).
   */
  _enteredStore(context: ContextRunner | null): void {
    if (context !== null) this._rareState().context = context;
    else if (this._context === null) this._rareState().context = runInPlace;
  }

  /** The task's name ("Task-N" unless named). */
  getName(): string {
    const label = this._label;
    return typeof label === 'string' ? label : `Task-${label}`;
  }

  /** Rename the task. */
  setName(name: unknown): void {
    this._label = String(name);
    // Renamed after aging (rare): the record, whichever copy of core made it, takes the text.
    if (this._aged !== null) this._aged.description = this._describe();
  }

  /** The coroutine function the task runs. */
  getCoro(): CoroFn<T> {
    return this._coro;
  }

  /** Aborted when the task is cancelled, so cancellation reaches Node APIs that take a signal. */
  get signal(): AbortSignal {
    const rare = this._rareState();
    if (rare.abort === null) {
      rare.abort = new AbortController();
      // Peeked, not taken: the signal's reason must not use up the error a read of the task gets.
      if (rare.numCancelsRequested > 0 || this.cancelled()) rare.abort.abort(this._cancelledExc ?? this._newCancelledError());
    }
    return rare.abort.signal;
  }

  /** How many cancellation requests are pending (cancel() calls minus uncancel() calls). */
  cancelling(): number {
    return this._numCancelsRequested;
  }

  /** Take back one cancellation request; returns the remaining count. */
  uncancel(): number {
    const rare = this._rare;
    if (rare === null) return 0;
    if (rare.numCancelsRequested > 0) {
      rare.numCancelsRequested -= 1;
      if (rare.numCancelsRequested === 0) rare.mustCancel = false;
    }
    return rare.numCancelsRequested;
  }

  /** Not allowed: a task's result is its coroutine's (throws RuntimeError). */
  override setResult(_result: T): never {
    throw new RuntimeError('Task does not support setResult operation');
  }

  /** Not allowed: a task's exception is its coroutine's (throws RuntimeError). */
  override setException(_exception: unknown): never {
    throw new RuntimeError('Task does not support setException operation');
  }

  /**
   * Request cancellation: the awaited future is cancelled, so CancelledError is thrown at
   * that await (or at the next one). Returns false when the task is already done.
   */
  override cancel(msg?: string): boolean {
    this._retrieved();
    if (this.done()) return false;
    this._rareState().numCancelsRequested += 1;
    if (this._abort !== null && !this._abort.signal.aborted) this._abort.abort(new CancelledError(msg ?? ''));
    if (this._futWaiter !== null && this._futWaiter.cancel(msg)) return true;
    this._mustCancel = true;
    this._cancelMessage = msg;
    return true;
  }

  /** @internal don't report this task as destroyed while pending (runUntilComplete's own tasks). */
  _noPendingReport(): void {
    this._rareState().reportIfPending = false;
    if (this._aged !== null) this._aged.completed = true;
  }

  /** A description for logs and debugging, as asyncio's repr(). */
  override toString(): string {
    return reprOnce(this, describeTask);
  }

  /** @internal a failed task nobody awaited is reported by the time its loop closes. */
  override _reportedAtClose(): boolean {
    return true;
  }

  /** @internal */
  _describe(): string {
    const waitFor = this._futWaiter !== null && !this.done() ? ` wait_for=${this._futWaiter}` : '';
    return `<Task ${this._stateInfo(` name='${this.getName()}' coro=${coroName(this._coro)}${waitFor}`)}>`;
  }

  /**
   * @internal a cancellation requested while the task could not be interrupted (it was
   * yielding, awaiting a plain promise, or not started): the CancelledError to raise at
   * its next resumption point, now consumed; null when none is pending.
   */
  _takeCancel(): CancelledError | null {
    if (!this._mustCancel) return null;
    this._mustCancel = false;
    return this._makeCancelledError();
  }

  /**
   * @internal first step, run from the ready queue: call the coroutine function (not at all
   * when cancelled before). Run again as the wake-up of that step's `sleep(0)` when it holds
   * the yield's promise in its result field (sleep.ts' yieldingPromise).
   */
  _run(): void {
    if (this.done()) {
      this._refuseStep('Task.__step()', undefined);
      return;
    }
    const yielded = this._result;
    if (yielded !== undefined) {
      this._result = undefined;
      wakeYield(this as Task<unknown>, yielded as Promise<undefined>, null, undefined);
      return;
    }
    const cancelled = this._takeCancel();
    if (cancelled !== null) {
      this._finishCancelled(cancelled);
      return;
    }
    let body: unknown;
    try {
      resumeSignal.lastEnded = null;
      body = this._context === null ? runFirstStep(this) : this._context(runFirstStep, this);
    } catch (error) {
      this._bodyThrew(error);
      return;
    }
    if (isGenerator(body)) {
      this._rareState().gen = body;
      this._genStep(undefined);
    } else if (!isThenable(body)) {
      this._bodyReturned(body as T);
    } else resumeUnlessSuspended(this as Task<unknown>);
  }

  /** @internal one step of a generator coroutine, resumed with nothing or with an error. */
  _genStep(error: unknown): void {
    if (this.done()) {
      // Only after Future's own setResult/setException/cancel on the task: its generator is not stepped, as asyncio's coroutine.
      this._refuseStep('Task.task_wakeup()', error);
      return;
    }
    const cancelled = this._takeCancel();
    if (cancelled !== null && !(error instanceof CancelledError)) error = cancelled;
    this._futWaiter = null;
    const gen = this._gen!;
    let step: IteratorResult<unknown, T>;
    try {
      const resume = (): IteratorResult<unknown, T> =>
        runInTask(this as Task<unknown>, () => (error === undefined ? gen.next() : gen.throw(error)));
      step = this._context === null ? resume() : this._context(resume);
    } catch (thrown) {
      this._bodyThrew(thrown);
      return;
    }
    if (step.done) {
      this._bodyReturned(step.value);
      return;
    }
    this._waitFor(step.value);
  }

  private _waitFor(yielded: unknown): void {
    if (yielded === null || yielded === undefined) {
      this._loop.callSoon(genWakeup, this, undefined); // a bare yield: one loop iteration
      return;
    }
    let fut: Future<unknown>;
    if (isFuture(yielded)) fut = yielded;
    else if (isThenable(yielded)) fut = wrapFuture(yielded, { loop: this._loop });
    else {
      this._loop.callSoon(genWakeup, this, new RuntimeError(`Task got bad yield: ${describe(yielded)}`));
      return;
    }
    if (fut.getLoop() !== this._loop) {
      this._loop.callSoon(genWakeup, this, new RuntimeError(`Task ${this} got Future ${fut} attached to a different loop`));
    } else if (fut === (this as unknown)) {
      this._loop.callSoon(genWakeup, this, new RuntimeError(`Task cannot await on itself: ${this}`));
    } else {
      fut.addDoneCallback(() => this._genWakeupFrom(fut));
      this._futWaiter = fut;
      futureAddToAwaitedBy(fut, this as Task<unknown>);
      if (this._mustCancel && fut.cancel(this._cancelMessage)) this._mustCancel = false;
    }
  }

  private _genWakeupFrom(fut: Future<unknown>): void {
    futureDiscardFromAwaitedBy(fut, this as Task<unknown>);
    let error: unknown = undefined;
    try {
      fut.result();
    } catch (thrown) {
      error = thrown;
    }
    this._genStep(error);
  }

  /** @internal `endsJob`: called by a promise reaction with nothing after it (see stepEnded) */
  _bodyReturned(value: T, endsJob = false): void {
    if (this.done()) {
      // Made done from outside (Future.prototype.setResult on the task): its body resumed anyway.
      this._refuseStep('Task.task_wakeup()', undefined);
    } else {
      const cancelled = this._takeCancel();
      if (cancelled !== null) this._finishCancelled(cancelled);
      else {
        this._completed();
        super._setResultNow(value);
      }
    }
    stepEnded(this as Task<unknown>, endsJob);
  }

  /** @internal `endsJob`: as _bodyReturned's */
  _bodyThrew(error: unknown, endsJob = false): void {
    if (this.done()) {
      this._refuseStep('Task.task_wakeup()', error);
    } else if (error instanceof CancelledError) {
      this._finishCancelled(error);
    } else if (this._abort?.signal.aborted && isAbortError(error, this._abort.signal)) {
      // Our own cancel() aborted the signal and a Node API rejected with AbortError.
      this._finishCancelled(this._makeCancelledError());
    } else {
      this._completed();
      super._setExceptionNow(error);
    }
    stepEnded(this as Task<unknown>, endsJob);
  }

  private _finishCancelled(error: CancelledError): void {
    this._cancelledExc = error;
    this._completed();
    // No message of its own, as asyncio's step calls Future.cancel() bare: the body's error
    // carries it, to the first read only (see _makeCancelledError).
    super._cancelNow(undefined);
  }

  private _completed(): void {
    untrackTask(this);
  }

  /**
   * @internal Future's own setResult, setException and cancel reach these with a task only
   * when called on it directly (`Future.prototype.setResult.call(task, x)`, asyncio's
   * `Future.set_result(task, x)`): the task is done, and its coroutine's next step is refused
   * (_refuseStep). The task's own ends call Future's through `super`.
   */
  override _setResultNow(result: T): void {
    this._finishFromOutside();
    super._setResultNow(result);
  }

  /** @internal see _setResultNow */
  override _setExceptionNow(exception: unknown): void {
    this._finishFromOutside();
    super._setExceptionNow(exception);
  }

  /** @internal see _setResultNow */
  override _cancelNow(msg: string | undefined): void {
    this._finishFromOutside();
    super._cancelNow(msg);
  }

  private _finishFromOutside(): void {
    this._rareState().finishedFromOutside = true;
    this._completed(); // done: neither pending for allTasks() nor "destroyed but pending" when collected
  }

  /**
   * A step of a done task: nothing if its coroutine ended it (its loop closed under it, say);
   * if it was made done from outside, asyncio's step raises InvalidStateError
   * `_step(): already done: <task> <exc>` in its callback, so the loop's exception handler
   * gets it. `exc` is what the step would have thrown in (undefined: None).
   */
  private _refuseStep(callback: string, exc: unknown): void {
    if (this._rare === null || !this._rare.finishedFromOutside) return;
    const error = new InvalidStateError(`_step(): already done: ${this} ${exc === undefined ? 'None' : String(exc)}`);
    const context: ExceptionContext = { message: `Exception in callback ${callback}`, exception: error };
    if (this._sourceTraceback !== null) context.sourceTraceback = this._sourceTraceback;
    this._loop.callExceptionHandler(context);
  }
}

/**
 * After a first step that returned a promise: unless it suspended where the loop sees it
 * (resumeSignal.lastEnded), it goes on in microtasks (it awaits a done future, say): let it,
 * before the loop's next callback, as asyncio runs a whole step inside one callback.
 * Its own function, given feedback for both ways at load (below): a run's main task, whose
 * first step leaves lastEnded null (it awaits a Future), is the first task of a process, run
 * before Task._run has a feedback vector, so the code compiled with only suspended tasks seen
 * there was thrown away at the next run's main task ("not a JavaScript object" on Node 20,
 * "wrong instance type" on Node 24; bench/README.md, session 19).
 */
function resumeUnlessSuspended(task: Task<unknown>): void {
  if (resumeSignal.lastEnded !== task) resumeStep(task);
}

function runFirstStep(task: Task<any>): unknown {
  return runInTask(task, firstStep, task);
}

/**
 * The language's own then(): a body whose then() it is (an async function's promise, or a
 * subclass's that keeps it) is watched by reactions that find their task in their context.
 * Read as one property, where `instanceof Promise` and Object.getPrototypeOf were two calls
 * the JIT does not inline for a promise of unknown map (issue 13 (c), counted in bench/README.md).
 */
const promiseThen = Promise.prototype.then;

/**
 * Call the coroutine function, in the task's context, and watch what it returns from there.
 * The reactions on an async function's promise run in the context they were attached in, so
 * they find their task there: no closures per task. A pending Future of the task's loop
 * returned by `() => sleep(5)` becomes the task's awaited future (_awaitAsTaskBody); any other
 * thenable gets closures.
 */
function firstStep(task: Task<unknown>): unknown {
  firstStepHandOff.task = task;
  let body: unknown;
  let endedByWaiter = false;
  try {
    body = task._coro();
  } finally {
    // A waiting call's promise returned as it is ends the task through its waiter (promise-waiter.ts).
    endedByWaiter = endTaskWithWaiter(task, body);
  }
  if (endedByWaiter) {
    resumeSignal.lastEnded = task; // it suspends on its waiter at once
  } else if (typeof body === 'object' && body !== null && (body as Promise<unknown>).then === promiseThen) {
    (body as Promise<unknown>).then(bodyReturned, bodyThrew);
  } else if (body instanceof Future && body !== task && body._loop === task._loop && !body.done()) {
    body._awaitAsTaskBody(task);
    resumeSignal.lastEnded = task; // it suspends on that future at once
  } else if (isThenable(body) && !isGenerator(body)) {
    watchOtherThenable(task, body);
    if (isFuture(body)) resumeSignal.lastEnded = task; // it suspends on that future at once
  }
  return body;
}

/**
 * The task ends with what `body` (a thenable other than a native promise) gives. Its own
 * function: closures made in firstStep would make V8 allocate firstStep's context for every
 * task, whichever branch it takes.
 */
function watchOtherThenable(task: Task<unknown>, body: PromiseLike<unknown>): void {
  body.then(
    (value) => task._bodyReturned(value),
    (error) => task._bodyThrew(error),
  );
}

// The reactions on an async function's promise: each is a whole promise job.
function bodyReturned(value: unknown): void {
  currentTaskOrUndefined()!._bodyReturned(value, true);
}

function bodyThrew(error: unknown): void {
  currentTaskOrUndefined()!._bodyThrew(error, true);
}

function genWakeup(task: Task<unknown>, error: unknown): void {
  task._genStep(error);
}

function isAbortError(error: unknown, signal: AbortSignal): boolean {
  return error === signal.reason || (error as { name?: unknown } | null)?.name === 'AbortError';
}

function describeTask(task: Task<unknown>): string {
  return task._describe();
}

function coroName(coro: CoroFn<unknown>): string {
  return `${coro.name || '<anonymous>'}()`;
}

/**
 * A task in the shape of every task (see shape-keepers.ts): Future's constructor with
 * new.target Task, then Task's own fields in its constructor's order.
 */
function taskShape(coro: CoroFn<unknown> = shapeCoro): Task<unknown> {
  const task = Reflect.construct(Future, [shapeLoop], Task) as Task<unknown> & { _coro: CoroFn<unknown> };
  task._coro = coro;
  task._label = 0;
  task._futWaiter = null;
  task._aged = null;
  return task;
}
async function shapeCoro(): Promise<void> {}
keepShape('Task', taskShape(), [...futureFieldsWrittenLater, '_label', '_futWaiter', '_aged']);

/**
 * Feedback for the rare-state branch of the getters every step reads. runUntilComplete's own
 * task (rare state: _noPendingReport) is the first task each run starts, and in a process's
 * first run it starts before V8 has given these getters a feedback vector (after their first
 * ~8 calls): the code compiled in that run, with them inlined, met the branch without
 * feedback at the next run's first task and was thrown away ("Insufficient type feedback for
 * generic named access": Task._run on Node 20, its `_context` on Node 24, and `_unretrieved`
 * when the run's result is read), then compiled again in that run (bench/README.md, session 18).
 */
function giveRareBranchFeedback(): void {
  const task = taskShape();
  task._rareState();
  for (let i = 0; i < 32; i++) {
    if (task._mustCancel || task._context !== null || task._gen !== null || task._unretrieved !== null) throw new RuntimeError('a fresh rare state reads as set');
  }
}
giveRareBranchFeedback();

/**
 * firstStep's call of the coroutine function made megamorphic at load, as a program's many
 * coroutine functions make it. Having seen one closure there, V8 compiled firstStep for that
 * very closure, and the next one (a benchmark's next run makes its body anew) threw the code
 * away ("wrong call target" on Node 24; bench/README.md, session 19). Two functions of their
 * own returning nothing: no task starts.
 */
function giveFirstStepAnyCoro(): void {
  const tasks = [taskShape((() => undefined) as unknown as CoroFn<unknown>), taskShape(function other() {} as unknown as CoroFn<unknown>)];
  for (let i = 0; i < 32; i++) firstStep(tasks[i & 1]!);
}
giveFirstStepAnyCoro();

function giveResumeUnlessSuspendedFeedback(): void {
  const task = taskShape();
  const { lastEnded, pending, task: resumed } = resumeSignal;
  for (let i = 0; i < 32; i++) {
    resumeSignal.lastEnded = (i & 1) === 0 ? null : task;
    resumeUnlessSuspended(task);
  }
  Object.assign(resumeSignal, { lastEnded, pending, task: resumed });
}
giveResumeUnlessSuspendedFeedback();
const rareState = new RareState();
keepShape('RareState', rareState, Object.keys(rareState));
keepShape('DoneWatcher', new DoneWatcher(() => undefined, shapeLoop), ['doneFutures', 'nextDone']);

/**
 * asyncio.create_task: run `coro` as a Task of the running loop (RuntimeError outside one).
 * `name` names it; `context` (an `AsyncLocalStorage.snapshot()`) is the async context its
 * code runs in, where asyncio takes a contextvars.Context.
 */
export function createTask<T>(coro: CoroFn<T>, options?: CreateTaskOptions): Task<T> {
  const checked = checkOptions(options, ['name', 'context'], 'createTask');
  return getRunningLoop().createTask(coro, checked);
}

/** The task whose code is running, or null outside a task. */
export function currentTask(loop?: AbstractEventLoop): Task<unknown> | null {
  const task = currentTaskOrUndefined();
  if (task === undefined) return null;
  if (loop !== undefined && task._loop !== loop) return null;
  return task;
}

/** The tasks of `loop` (default: the running loop) that are not done yet. */
export function allTasks(loop?: AbstractEventLoop): Set<Task<unknown>> {
  return pendingTasks(loop ?? getRunningLoop()) as Set<Task<unknown>>;
}

export { ageTasks };

/**
 * asyncio.ensure_future: a Future stays itself, a coroutine function becomes a Task of
 * `loop`, a thenable becomes a Future that follows it.
 */
export function ensureFuture<T>(aw: Awaitable<T> | CoroFn<T>, loop?: AbstractEventLoop): Future<T> {
  if (isFuture(aw)) return wrapFuture(aw, { loop });
  if (typeof aw === 'function') {
    return (loop ?? _getCurrentLoop()).createTask(aw as CoroFn<T>);
  }
  if (isThenable(aw)) return wrapFuture(aw, loop ? { loop } : {});
  // asyncio 3.13's words first, then what aw may be here and what it was.
  throw new TypeError(`An asyncio.Future, a coroutine or an awaitable is required (aw: a Future, a coroutine function or a thenable), got ${describe(aw)}`);
}
