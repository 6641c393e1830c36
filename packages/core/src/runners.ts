/**
 * asyncio.run and asyncio.Runner: make a loop, run a main coroutine function on it, then
 * clean up: cancel the tasks left over (reporting their errors to the loop's exception
 * handler), shut the default executor down, close the loop.
 */
import { BaseEventLoop } from './base-events.js';
import { CancelledError, KeyboardInterrupt, RuntimeError } from './errors.js';
import { _getRunningLoop, type AbstractEventLoop, type ContextRunner, type CoroFn, type ExceptionContext } from './events.js';
import { gather } from './gather.js';
import { keyboardInterrupt, watchSigint } from './sigint.js';
import { allTasks, Task } from './tasks.js';
import { world } from './world.js';
import { checkOptions, describe } from './validate.js';

/** How long close() lets the default executor's threads finish, as asyncio's THREAD_JOIN_TIMEOUT. */
const EXECUTOR_JOIN_TIMEOUT = 300;

/**
 * Installed by @loopkit/policy: how run() and Runner make a loop when given no loopFactory
 * (the policy's newEventLoop). Without it core makes a BaseEventLoop. Returns the factory
 * it replaces, so a caller can put it back.
 */
export function _setDefaultLoopFactory(factory: (() => AbstractEventLoop) | null): (() => AbstractEventLoop) | null {
  if (factory !== null && typeof factory !== 'function') {
    throw new TypeError(`factory must be a function or null, got ${describe(factory)}`);
  }
  const previous = world.defaultLoopFactory;
  world.defaultLoopFactory = factory;
  return previous;
}

/**
 * Installed by @loopkit/policy: how a Runner that made its loop with the default factory
 * makes it the thread's current loop (the policy's setEventLoop), once, and unsets it on
 * close, as asyncio.Runner does. Returns the setter it replaces.
 */
export function _setCurrentLoopSetter(
  setter: ((loop: AbstractEventLoop | null) => void) | null,
): ((loop: AbstractEventLoop | null) => void) | null {
  if (setter !== null && typeof setter !== 'function') {
    throw new TypeError(`setter must be a function or null, got ${describe(setter)}`);
  }
  const previous = world.currentLoopSetter;
  world.currentLoopSetter = setter;
  return previous;
}

/** Options of run() and Runner. */
export interface RunnerOptions {
  /** Set the loop's debug mode (null/absent: leave it). */
  debug?: boolean | null;
  /** Makes the loop (default: the policy's newEventLoop). */
  loopFactory?: (() => AbstractEventLoop) | null;
}

/** Options of `Runner.run()` (asyncio's `run(coro, *, context=None)`). */
export interface RunOptions {
  /**
   * The async context main runs in, an `AsyncLocalStorage.snapshot()` (createTask's
   * `context`); by default a copy of the caller's. asyncio's Runner runs every call in its one
   * Context, so a contextvar set in one run is seen by the next; a store a run enters stays its
   * own here, as in any task: a run returning `AsyncLocalStorage.snapshot()` hands its stores
   * to the next run given it (core's README, "Runner").
   */
  context?: ContextRunner | null;
}

function checkMain(main: unknown): void {
  if (typeof main !== 'function') {
    throw new TypeError(`a coroutine was expected for main (an async or generator function), got ${describe(main)}`);
  }
}

/** Cancel every task left on `loop`, wait for them, and report the ones that failed. */
async function cancelAllTasks(loop: AbstractEventLoop): Promise<void> {
  const leftover = [...allTasks(loop)];
  if (leftover.length === 0) return;
  for (const task of leftover) task.cancel();
  await loop.runUntilComplete(gather(...leftover, { returnExceptions: true }));
  for (const task of leftover) {
    if (task.cancelled()) continue;
    const exception = task.exception();
    if (exception !== null) {
      loop.callExceptionHandler({ message: 'unhandled exception during loopkit.run() shutdown', exception, task });
    }
  }
}

/**
 * Tasks still pending once the runner closed its loop (made while the others were being
 * cancelled, say) can never run again. asyncio reports each as "Task was destroyed but it is
 * pending!" when it is freed: for such a task, at the next cyclic collection or the
 * interpreter's exit. V8 may never collect it in a short program and nothing runs at exit, so
 * they are reported here, once each, with asyncio's keys: the task, and in debug mode its
 * creation stack.
 */
function reportLeftPending(loop: AbstractEventLoop): void {
  for (const task of allTasks(loop)) {
    task._noPendingReport(); // not again when collected
    const context: ExceptionContext = { message: 'Task was destroyed but it is pending!', task };
    if (task._sourceTraceback !== null) context.sourceTraceback = task._sourceTraceback;
    loop.callExceptionHandler(context);
  }
}

/** Runs coroutine functions on one loop it owns; close() (or `await using`) cleans up. */
export class Runner {
  /** 'closing' while close() (async) runs: a run() then would race its loop.close(). */
  private state: 'created' | 'initialized' | 'closing' | 'closed' = 'created';
  private loop: AbstractEventLoop | null = null;
  private readonly debug: boolean | null;
  private readonly loopFactory: (() => AbstractEventLoop) | null;
  /** The setter that made this runner's loop current, to unset it on close. */
  private unsetCurrentLoop: ((loop: AbstractEventLoop | null) => void) | null = null;

  constructor(options: RunnerOptions = {}) {
    const { debug = null, loopFactory = null } = checkOptions(options, ['debug', 'loopFactory'], 'run');
    if (debug !== null && typeof debug !== 'boolean') throw new TypeError(`debug must be a boolean, got ${describe(debug)}`);
    if (loopFactory !== null && typeof loopFactory !== 'function') {
      throw new TypeError(`loopFactory must be a function returning an event loop, got ${describe(loopFactory)}`);
    }
    this.debug = debug;
    this.loopFactory = loopFactory;
  }

  /** The runner's loop (made on first use). */
  getLoop(): AbstractEventLoop {
    this.lazyInit();
    return this.loop!;
  }

  /**
   * Run `main` as a task on the runner's loop until it completes; gives its result. Ctrl-C
   * cancels it, and a second one stops the loop: either rejects with KeyboardInterrupt
   * (see sigint.ts for when SIGINT is handled here).
   */
  async run<T>(main: CoroFn<T>, options: RunOptions = {}): Promise<T> {
    // asyncio checks the argument first: a bad main is the error even inside a running loop.
    checkMain(main);
    if (_getRunningLoop() !== null) throw new RuntimeError('Runner.run() cannot be called from a running event loop');
    const { context = null } = checkOptions(options, ['context'], 'Runner.run');
    this.lazyInit();
    const loop = this.loop!;
    const task = context === null ? loop.createTask(main) : loop.createTask(main, { context });
    // runUntilComplete fails loudly if it is left unfinished: no "destroyed pending" report too.
    if (task instanceof Task) task._noPendingReport();
    const sigint = watchSigint(loop, task);
    try {
      const result = await loop.runUntilComplete(task);
      if (sigint?.stopped) throw keyboardInterrupt(null); // a SIGINT after main finished, as asyncio
      return result;
    } catch (error) {
      if (error instanceof KeyboardInterrupt) throw error;
      // The loop was stopped under main ("stopped before Future completed"): no cause worth showing.
      if (sigint?.stopped) throw keyboardInterrupt(null);
      // The main task ended cancelled by our SIGINT alone: it did not catch the CancelledError.
      // A task factory's task without uncancel() cannot say so: its CancelledError goes out, as asyncio's.
      if (sigint !== null && sigint.count > 0 && error instanceof CancelledError) {
        if (typeof task.uncancel === 'function' && task.uncancel() === 0) throw keyboardInterrupt(error);
      }
      throw error;
    } finally {
      sigint?.restore();
    }
  }

  /** Cancel the tasks left, shut the default executor down and close the loop. Idempotent. */
  async close(): Promise<void> {
    if (this.state !== 'initialized') return;
    this.state = 'closing';
    const loop = this.loop!;
    try {
      await cancelAllTasks(loop);
      await loop.runUntilComplete(() => loop.shutdownDefaultExecutor(EXECUTOR_JOIN_TIMEOUT));
    } finally {
      const unset = this.unsetCurrentLoop;
      this.unsetCurrentLoop = null;
      try {
        unset?.(null);
      } finally {
        // A loop that cannot close (close() called from inside a run) leaves the runner usable, as asyncio.
        this.state = 'initialized';
        loop.close();
        this.loop = null;
        this.state = 'closed';
        reportLeftPending(loop);
      }
    }
  }

  /** Same as close(), for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private lazyInit(): void {
    if (this.state === 'closed' || this.state === 'closing') throw new RuntimeError('Runner is closed');
    if (this.state === 'initialized') return;
    if (this.loopFactory !== null) {
      const loop: unknown = this.loopFactory();
      if (!isEventLoop(loop)) throw new TypeError(`loopFactory must return an event loop, it returned ${describe(loop)}`);
      this.loop = loop;
    }
    else {
      this.loop = world.defaultLoopFactory !== null ? world.defaultLoopFactory() : new BaseEventLoop();
      if (world.currentLoopSetter !== null) {
        world.currentLoopSetter(this.loop);
        this.unsetCurrentLoop = world.currentLoopSetter;
      }
    }
    if (this.debug !== null) this.loop.setDebug(this.debug);
    this.state = 'initialized';
  }
}

/**
 * Run `main` on a new loop and clean up after it (asyncio.run). Rejects with RuntimeError
 * when called while a loop is running.
 */
export async function run<T>(main: CoroFn<T>, options: RunnerOptions = {}): Promise<T> {
  if (_getRunningLoop() !== null) throw new RuntimeError('run() cannot be called from a running event loop');
  checkMain(main);
  const runner = new Runner(options);
  try {
    return await runner.run(main);
  } finally {
    await runner.close();
  }
}

/** What run() needs of a loop: the methods it calls (any AbstractEventLoop-shaped object will do). */
function isEventLoop(value: unknown): value is AbstractEventLoop {
  const loop = value as Partial<Record<string, unknown>> | null;
  return (
    typeof loop === 'object' && loop !== null &&
    ['runUntilComplete', 'createTask', 'close', 'setDebug', 'shutdownDefaultExecutor'].every((m) => typeof loop[m] === 'function')
  );
}
