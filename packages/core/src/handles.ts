/** Callbacks scheduled on a loop: Handle (callSoon) and TimerHandle (callLater/callAt). */
import { watchRejection } from './async-result.js';
import type { AbstractEventLoop, ContextRunner } from './events.js';
import { formatCallback } from './format.js';
import { keepShape, shapeLoop } from './shape-keepers.js';

/** What a handle needs of its loop: report errors, and hear about timer cancellation. */
export interface HandleOwner {
  callExceptionHandler: AbstractEventLoop['callExceptionHandler'];
  /** Called once, by the first cancel(), whether or not the timer is still scheduled. */
  _timerHandleCancelled(handle: TimerEntry): void;
}

/** What a cancelled handle keeps as arguments: nothing, without allocating. */
const NO_ARGS: unknown[] = [];

/**
 * What the loop's ready queue holds: a Handle, or an internal object that is its own
 * entry (a task's first step, a `sleep(0)` wake-up), so scheduling it allocates nothing more.
 * `_run` never throws; a cancelled entry does nothing.
 */
export interface ReadyEntry {
  _run(): void;
  /** How the slow-callback warning names this run, as asyncio names the Handle it ran (default: its toString). */
  _runRepr?(): string;
}

/**
 * What the loop's timer heap holds (timer-heap.ts): a TimerHandle, or an internal object that
 * is its own timer (a timed sleep's future), so a sleep allocates no handle. `_slot` is its
 * place in the heap while there.
 */
export interface TimerEntry extends ReadyEntry {
  _slot: number;
}

/** A callback scheduled with callSoon (asyncio.Handle): cancel() keeps it from running. */
export class Handle implements ReadyEntry {
  // Declared, and set once in the constructor: a class field would be defined first, then
  // set again (handles are made by the hundred thousand).
  /** @internal null once cancelled: that is how a handle knows it was (see _cancelled) */
  declare _callback: ((...args: any[]) => unknown) | null;
  /** @internal */ declare _args: unknown[];
  /** @internal */ declare readonly _loop: HandleOwner;
  /**
   * @internal creation stack, kept in debug mode only: then an own property, else the
   * prototype's null (one field less in every handle: they are made by the hundred thousand)
   */
  declare _sourceTraceback: string | null;

  constructor(callback: (...args: any[]) => unknown, args: unknown[], loop: HandleOwner) {
    this._callback = callback;
    this._args = args;
    this._loop = loop;
  }

  /**
   * @internal Whether cancel() was called: read from the callback it dropped rather than kept
   * in a field of its own, so every handle is 8 bytes smaller (a million queued handles are 8
   * MB less fresh memory to fault in and for the GC to copy, see bench/README.md).
   */
  get _cancelled(): boolean {
    return this._callback === null;
  }

  /** Prevent the callback from running; harmless once it ran. */
  cancel(): void {
    // Dropping the references keeps nothing alive and marks the handle cancelled.
    this._callback = null;
    this._args = NO_ARGS;
  }

  /** Whether cancel() was called. */
  cancelled(): boolean {
    return this._callback === null;
  }

  /** @internal Run the callback (unless cancelled); an exception goes to the loop's exception handler. */
  _run(): void {
    const cb = this._callback;
    if (cb === null) return;
    const args = this._args;
    try {
      const result = args.length === 0 ? cb() : cb(...args);
      if (result !== undefined) watchResult(this, result, cb, args);
    } catch (exception) {
      this._report(exception, cb, args);
    }
  }

  /** @internal report that `cb(...args)`, run by this handle, failed with `exception`. */
  _report(exception: unknown, cb: (...args: any[]) => unknown, args: unknown[]): void {
    const context: Parameters<HandleOwner['callExceptionHandler']>[0] = {
      // asyncio's words: `Exception in callback name()`; a handle made in debug mode
      // (it kept its creation stack) shows its arguments too.
      message: `Exception in callback ${formatCallback(cb, args, this._sourceTraceback !== null)}`,
      exception,
      handle: this,
    };
    if (this._sourceTraceback) context.sourceTraceback = this._sourceTraceback;
    this._loop.callExceptionHandler(context);
  }

  /** A description for logs and debugging, as asyncio's repr(). */
  toString(): string {
    return `<${this._reprInfo().join(' ')}>`;
  }

  /** @internal asyncio's _repr_info: the class, 'cancelled', then the callback (a cancelled handle has none). */
  _reprInfo(): string[] {
    const info = [this.constructor.name];
    if (this._callback === null) info.push('cancelled');
    else info.push(formatCallback(this._callback, this._args, this._sourceTraceback !== null));
    return info;
  }
}

Handle.prototype._sourceTraceback = null;

/** A callback scheduled with callLater or callAt (asyncio.TimerHandle): when() says when it runs. */
export class TimerHandle extends Handle implements TimerEntry {
  /** @internal */ declare readonly _when: number;
  /** @internal its slot in the loop's timer heap while there (see timer-heap.ts) */ declare _slot: number;

  constructor(when: number, callback: (...args: any[]) => unknown, args: unknown[], loop: HandleOwner) {
    super(callback, args, loop);
    this._when = when;
    this._slot = -1;
  }

  /** The absolute loop time (seconds) at which the callback is due. */
  when(): number {
    return this._when;
  }

  override cancel(): void {
    if (this._callback === null) return;
    this._loop._timerHandleCancelled(this);
    // Handle.cancel's body, written out: one function less for the JIT to compile on its own
    // when many timers are cancelled (see timer-heap.ts).
    this._callback = null;
    this._args = NO_ARGS;
  }

  /** A description for logs and debugging, as asyncio's repr(). */
  override _reprInfo(): string[] {
    const info = super._reprInfo();
    info.splice(this._callback === null ? 2 : 1, 0, `when=${this._when}`);
    return info;
  }
}

/**
 * `callback(arg)` queued by core itself (a Future's done callback): what `callSoon(callback,
 * arg)` queues, without its argument checks, its Handle and its argument array. A failure is
 * reported exactly as that Handle would report it (the Handle is made then).
 */
export class CallbackEntry implements ReadyEntry {
  constructor(
    private readonly callback: (arg: any) => unknown,
    private readonly arg: unknown,
    private readonly loop: HandleOwner,
  ) {}

  /** @internal */
  _run(): void {
    const cb = this.callback;
    try {
      const result = cb(this.arg);
      if (result !== undefined) watchEntryResult(this, result);
    } catch (exception) {
      this._report(exception);
    }
  }

  /** @internal */
  _report(exception: unknown): void {
    const args = [this.arg];
    new Handle(this.callback, args, this.loop)._report(exception, this.callback, args);
  }

  /** A description for logs and debugging, as the Handle's. */
  toString(): string {
    return `<Handle ${this.callback.name || '<anonymous>'}()>`;
  }
}

/**
 * Queue `callback(arg)` on `loop` from core's own code: as a CallbackEntry on loopkit's loops,
 * in debug mode as a Handle with its creation stack (not through callSoon, whose debug mode
 * refuses the async done callbacks this allows), through callSoon on any other loop.
 */
export function callSoonInternal(loop: AbstractEventLoop, callback: (arg: any) => unknown, arg: unknown): void {
  const direct = (loop as Partial<EntryQueue>)._callSoonEntry;
  if (direct === undefined) loop.callSoon(callback, arg);
  // a loop with _callSoonEntry is a BaseEventLoop, hence a HandleOwner
  else if (!loop.getDebug()) direct.call(loop, new CallbackEntry(callback, arg, loop as unknown as HandleOwner));
  else (loop as unknown as EntryQueue)._callSoonWithStack(callback, arg);
}

/** What a loop offers for core's own entries and callbacks (BaseEventLoop has it). */
interface EntryQueue {
  _callSoonEntry(entry: ReadyEntry): void;
  _callSoonWithStack(callback: (arg: any) => unknown, arg: unknown): void;
}

/** Queue `entry` on `loop`: directly on loopkit's loops, through callSoon on any other loop. */
export function callSoonEntry(loop: AbstractEventLoop, entry: ReadyEntry): void {
  const direct = (loop as Partial<EntryQueue>)._callSoonEntry;
  if (direct !== undefined) direct.call(loop, entry);
  else loop.callSoon(runEntry, entry);
}

function runEntry(entry: ReadyEntry): void {
  entry._run();
}

/** A Handle (callSoon) whose callback runs in the context captured when it was scheduled. */
export class ContextHandle extends Handle {
  /** @internal */ declare _context: ContextRunner;

  constructor(callback: (...args: any[]) => unknown, args: unknown[], loop: HandleOwner, context: ContextRunner) {
    super(callback, args, loop);
    this._context = context;
  }

  override _run(): void {
    runHandleIn(this, this._context);
  }

  override cancel(): void {
    super.cancel();
    this._context = callDirectly; // keeps the captured context alive no longer
  }

  override _reprInfo(): string[] {
    const info = super._reprInfo();
    info[0] = 'Handle'; // asyncio's repr names the class users know
    return info;
  }
}

/** A TimerHandle (callLater, callAt) whose callback runs in the context captured when it was scheduled. */
export class ContextTimerHandle extends TimerHandle {
  /** @internal */ declare _context: ContextRunner;

  constructor(when: number, callback: (...args: any[]) => unknown, args: unknown[], loop: HandleOwner, context: ContextRunner) {
    super(when, callback, args, loop);
    this._context = context;
  }

  override _run(): void {
    runHandleIn(this, this._context);
  }

  override cancel(): void {
    super.cancel();
    this._context = callDirectly;
  }

  override _reprInfo(): string[] {
    const info = super._reprInfo();
    info[0] = 'TimerHandle';
    return info;
  }
}

const callDirectly: ContextRunner = (fn, ...args) => fn(...args);

/**
 * Handle._run with the callback called through `context`; a failure is reported outside it,
 * as asyncio's Handle._run calls the exception handler after `context.run` returned.
 */
function runHandleIn(handle: Handle, context: ContextRunner): void {
  const cb = handle._callback;
  if (cb === null) return;
  const args = handle._args;
  try {
    const result = context(cb, ...args);
    if (result !== undefined) watchResult(handle, result, cb, args);
  } catch (exception) {
    handle._report(exception, cb, args);
  }
}

/*
 * The closures reporting an async callback's rejection (its exception: see async-result.ts)
 * are made in these functions, not in the _run methods: a closure there would make V8
 * allocate the method's context at every run, though almost no callback returns anything.
 */

function watchResult(handle: Handle, result: unknown, cb: (...args: any[]) => unknown, args: unknown[]): void {
  watchRejection(result, (exception) => handle._report(exception, cb, args));
}

function watchEntryResult(entry: CallbackEntry, result: unknown): void {
  watchRejection(result, (exception) => entry._report(exception));
}

// The maps of the handles a program makes by the hundred thousand, kept (see shape-keepers.ts):
// a full GC after a burst of timers or callbacks would otherwise collect them, and with them
// the optimized code of callLater, callSoon, the timer heap and the run. The deadline is not
// a whole number, so the field holds doubles from the start (as loop times are).
const shapeOwner = shapeLoop as unknown as HandleOwner;
keepShape('Handle', new Handle(runEntry, NO_ARGS, shapeOwner));
keepShape('TimerHandle', new TimerHandle(0.5, runEntry, NO_ARGS, shapeOwner));
keepShape('CallbackEntry', new CallbackEntry(runEntry, undefined, shapeOwner));
