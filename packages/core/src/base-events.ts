/**
 * BaseEventLoop: everything portable about an event loop (asyncio's base_events.py).
 *
 * Guest mode. Node's libuv loop owns the thread, so iterations run as microtasks or
 * nextTick callbacks and runForever() returns a Promise. After a callback that resumed
 * awaiting code (a Future's continuation), the batch pauses so the resumed task's step
 * happens at that point of the iteration, as in asyncio. It goes on when that task reports
 * the end of its step (stepEnded in events.ts), from inside that report; otherwise once
 * every pending microtask ran (a nextTick queued from a microtask runs only then: one such
 * tick serves all pauses until the queue drains). Between iterations the loop hops once,
 * alternating the two queues, and every HOST_SLICE_MS through setImmediate instead, so
 * Node's timers and I/O run even when the loop always has work. With nothing ready it
 * idles on one host timer plus the backend's watchers: no CPU is spent, and the armed
 * timer keeps the process alive while the loop runs.
 *
 * One iteration (DESIGN.md): 1. drop cancelled timers, 2. the timeout is decided by
 * scheduleNext (0 when callbacks are ready or stopping), 3. poll the backend, 4. move due
 * timers to the ready queue, 5. run exactly the callbacks that were ready when step 5 began.
 */
import { AsyncLocalStorage, executionAsyncResource, monotonicMs, os } from './node-builtins.js';
import { watchRejection } from './async-result.js';
import type { EventLoopBackend } from './backend.js';
import { NotImplementedError, RuntimeError, SendfileNotAvailableError } from './errors.js';
import {
  _getRunningLoop,
  _setRunningLoop,
  AbstractEventLoop,
  resumeSignal,
  type Awaitable,
  type ContextRunner,
  type CoroFn,
  type CreateTaskOptions,
  type FileDescriptorLike,
  type ExceptionContext,
  type ExceptionHandler,
  type TaskFactory,
} from './events.js';
import { Future, isFuture } from './futures.js';
import { currentTaskOrUndefined, frameSlot, leaveTaskForJob, runInTask } from './task-context.js';
import { captureContext, handleInContext, storesSeen, timerInContext } from './creator-context.js';
import { callbackScope, closeBatch, putBack, storesOnResources } from './callback-scope.js';
import { Handle, TimerHandle, type ReadyEntry, type TimerEntry } from './handles.js';
import { formatCreationStack } from './graph.js';
import { logger } from './log.js';
import { ageTasks, ensureFuture, Task } from './tasks.js';
import { ageIdleTasks } from './task-registry.js';
import { ReadyQueue } from './ready-queue.js';
import { loosenFields } from './shape-keepers.js';
import { TimerHeap } from './timer-heap.js';
import { reportUnretrievedAtClose } from './unretrieved.js';
import { checkCallback, checkFiniteNumber, checkLoopCallback, checkNotCoroutineFunction, checkOptions, describe, isCoroutineFunction, notCallable } from './validate.js';
import { getDefaultExecutor, startJob, type Executor, type FunctionRef } from './executor.js';
import { isFunctionRef } from './executor-checks.js';
import { threadsafeHandle, type LoopHandle } from './threads.js';
import type { BaseSubprocessTransport } from './subprocess/base-subprocess.js';
import { connectPipe, nodePipeTransport, nodeSubprocessTransport, subprocessExec, subprocessShell } from './subprocess/loop.js';
import type { PipeDirection } from './subprocess/node-pipe.js';
import type { SubprocessProtocol } from './subprocess/protocols.js';
import type { SubprocessOptions, SubprocessSpec } from './subprocess/spec.js';
import type { BaseProtocol, DatagramProtocol } from './protocols.js';
import type { DatagramTransport, Transport } from './transports.js';
import type { BaseStreamTransport } from './base-transport.js';
import { checkSendfileArgs, checkSendfileSocket, sendfileByWrites, sendfileMode, sockSendfileBySends } from './sendfile.js';
import type { AbstractServer } from './server.js';
import type { TLSProvider } from './tls/engine.js';
import type { AddrInfo } from './names.js';
import type { SSLOption } from './tls/contexts.js';
import { getTLSProvider } from './tls/provider.js';
import { startTls, type StartTlsOptions } from './tls/start-tls.js';

/** How long the loop may keep the thread before letting Node's own loop turn. */
const HOST_SLICE_MS = 4;
/**
 * A hop reads the clock (for the host slice and a backend's poll pacing) once this many
 * callbacks ran since the last read, an iteration counting as at least one: a read costs
 * about what a short iteration does, and no timer needs it (steps 2 and 4 read their own).
 * So a slice ends at most this many callbacks after HOST_SLICE_MS.
 */
const CALLBACKS_PER_CLOCK_READ = 8;
/** Node's largest timer delay; an idle loop with no timer re-arms after this long. */
const MAX_HOST_TIMER_MS = 2 ** 31 - 1;
/** What a wake-up's turn is queued on: a reaction to it is a microtask without queueMicrotask's AsyncResource. */
const SETTLED = Promise.resolve();
/** Shared by every handle scheduled without arguments; never mutated. */
const NO_ARGS: unknown[] = [];
/** What createTask without options uses (a task factory gets its own `{}`); never mutated. */
const NO_OPTIONS: CreateTaskOptions = Object.freeze({});

export class BaseEventLoop extends AbstractEventLoop implements EventLoopBackend {
  private slowCallbackSeconds = 0.1;
  /** Timers due within this many seconds of now run in the current iteration. */
  protected clockResolution = 1e-6;

  private ready = new ReadyQueue();
  /** The iteration's callbacks (step 5); empty between iterations. The two queues swap roles. */
  private batch = new ReadyQueue();
  private batchIndex = 0;
  private inIteration = false;
  private readonly timers = new TimerHeap();

  private running = false;
  private stopping = false;
  private closed = false;
  private sleeping = false;
  private hostTimer: NodeJS.Timeout | null = null;
  private hostTimerDeadline = Infinity;
  // The clock fields start as doubles (-Infinity: never): a field first holding a small
  // integer changes representation at its first monotonicMs(), which deprecates the
  // loop's maps and throws away the optimized code that uses them, once per fresh loop.
  private sliceStart = -Infinity;
  /**
   * monotonicMs() (ms) as this iteration was scheduled: the host-slice check reads the
   * clock there anyway, so a backend paces its polling by it without a clock read of its own.
   * A busy loop reads it every CALLBACKS_PER_CLOCK_READ callbacks, so it lags by fewer than that.
   */
  protected iterationScheduledAt = -Infinity;
  /** Callbacks run since the clock was last read (see CALLBACKS_PER_CLOCK_READ). */
  private ranSinceClockRead = 0;
  private settleRun: { resolve: () => void; reject: (error: unknown) => void } | null = null;
  /** The async context runForever was called in: where a wake-up resumes the loop (see wake). */
  private runContext: ContextRunner | null = null;
  /** That context as the continuation slot holds it, where the slot holds frames (frameSlot). */
  private runFrame: unknown = undefined;
  /** @internal the frame the loop's turns run in while it runs (task frames): work made in it needs no context of its own */
  get _runFrame(): unknown {
    return this.runFrame;
  }

  private debug = Boolean(process.env.LOOPKIT_DEBUG);
  private exceptionHandler: ExceptionHandler | null = null;
  private taskFactory: TaskFactory | null = null;
  private defaultExecutor: Executor | null = null;
  private executorShutdownCalled = false;
  private readonly signalListeners = new Map<string, () => void>();
  /** Children whose transport has not finished: loop.close() kills and reaps them. */
  private readonly subprocesses = new Set<BaseSubprocessTransport>();

  constructor() {
    super();
    // A run's stop() and its end write these a second time, which makes V8 mark them mutable
    // in the loops' map and throw away the code compiled around them (callSoon's, a task's
    // start) at the end of the first run of a program that never idled, or (`closed`) at the
    // first close(): done here instead, at the first loop (shape-keepers.ts; bench/README.md,
    // sessions 17 and 24).
    loosenFields(this, ['stopping', 'sleeping', 'closed']);
  }

  // ---- the backend contract: no I/O by default (see backend.ts) ----
  ioPoll(): void {}
  ioStart(_wake: () => void): void {}
  ioStop(): void {}
  ioClose(): void {}
  idle(deadline: number | null): void {
    // A host timer armed by an earlier idle stays armed across I/O wake-ups: if it fires no
    // later than needed it is kept (an early fire only costs one empty iteration), since
    // re-arming on every wake-up costs more than that on a busy connection.
    const wanted = deadline ?? Infinity;
    if (this.hostTimer !== null) {
      if (this.hostTimerDeadline <= wanted) return;
      clearTimeout(this.hostTimer);
    }
    const ms = deadline === null ? MAX_HOST_TIMER_MS : Math.ceil((deadline - this.time()) * 1000);
    this.hostTimer = setTimeout(this.wakeFromTimer, Math.min(Math.max(ms, 1), MAX_HOST_TIMER_MS));
    this.hostTimerDeadline = wanted;
  }

  // ---- running ----
  runForever(): Promise<void> {
    try {
      this.checkClosed();
      this.checkNotRunning();
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<void>((resolve, reject) => {
      this.settleRun = { resolve, reject };
      this.runContext = AsyncLocalStorage.snapshot();
      this.runFrame = frameSlot?.get();
      this.running = true;
      _setRunningLoop(this);
      this.sliceStart = this.iterationScheduledAt = monotonicMs();
      for (const transport of this.subprocesses) transport._keepAlive(true);
      try {
        this.ioStart(this.wakeFromHostCallback);
      } catch (error) {
        this.finishRun(error); // a backend that cannot watch leaves the loop stopped, not stuck
        return;
      }
      queueMicrotask(this.turn);
    });
  }

  async runUntilComplete<T>(aw: Awaitable<T> | CoroFn<T>): Promise<T> {
    this.checkClosed();
    this.checkNotRunning();
    const newTask = !isFuture(aw);
    const future = ensureFuture(aw, this);
    // A task made here fails loudly below if unfinished: no "destroyed pending" report too.
    if (newTask && future instanceof Task) future._noPendingReport();
    future.addDoneCallback(runUntilCompleteCb);
    try {
      await this.runForever();
    } finally {
      future.removeDoneCallback(runUntilCompleteCb);
    }
    if (!future.done()) throw new RuntimeError('Event loop stopped before Future completed.');
    return future.result();
  }

  /** Stop after the current iteration (before runForever: run exactly one iteration). */
  stop(): void {
    this.stopping = true;
    if (this.sleeping) this.wake();
  }

  isRunning(): boolean {
    return this.running;
  }

  isClosed(): boolean {
    return this.closed;
  }

  /** Close a stopped loop: drop pending callbacks, close what the backend owns. Synchronous. */
  close(): void {
    if (this.running) throw new RuntimeError('Cannot close a running event loop');
    if (this.closed) return;
    if (this.debug) logger.debug(`Close ${this}`);
    // Before the loop counts as closed: a pipe's connectionLost wakes a task awaiting its
    // StreamReader, which must not be refused with "Event loop is closed".
    for (const transport of [...this.subprocesses]) transport._closeNow();
    this.closed = true;
    ageTasks(); // pending tasks of a closed loop must become collectable (and reported)
    this.ready.clear();
    this.batch.clear();
    this.timers.clear();
    for (const [name, listener] of this.signalListeners) process.off(name, listener);
    this.signalListeners.clear();
    this.ioClose();
    const executor = this.defaultExecutor;
    this.defaultExecutor = null;
    if (executor !== null) void executor.shutdown(false);
    reportUnretrievedAtClose(this); // at the latest now: V8 may never collect them
  }

  /**
   * asyncio 3.13: wait (up to `timeout` seconds) for the default executor's jobs; from now on
   * runInExecutor(null, ...) throws. On timeout, warn and let the jobs run on unawaited.
   */
  async shutdownDefaultExecutor(timeout: number | null = null): Promise<void> {
    if (timeout !== null) checkFiniteNumber(timeout, 'timeout');
    this.executorShutdownCalled = true;
    const executor = this.defaultExecutor;
    if (executor === null) return;
    const done = executor.shutdown(true);
    if (timeout === null) return done;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), timeout * 1000);
    });
    const outcome = await Promise.race([done, expired]);
    clearTimeout(timer);
    if (outcome === 'expired') {
      logger.warning(`The executor did not finishing joining its threads within ${timeout} seconds.`);
      await executor.shutdown(false);
    }
  }

  // ---- scheduling ----
  // The scheduling methods read `arguments` instead of a rest parameter: most calls pass no
  // arguments, and a rest parameter would allocate an empty array for each of them.
  callSoon<A extends unknown[]>(callback: (...args: A) => unknown, ...args: A): Handle;
  callSoon(callback: (...args: unknown[]) => unknown): Handle {
    checkLoopCallback(callback, 'callSoon');
    this.checkClosed();
    const args = arguments.length > 1 ? Array.prototype.slice.call(arguments, 1) : NO_ARGS;
    // Out of line once a store was entered (see creator-context.ts): this stays small for the JIT.
    const handle = storesSeen.entered ? handleInContext(callback, args, this) : new Handle(callback, args, this);
    if (this.debug) {
      checkNotCoroutineFunction(callback, 'callSoon');
      handle._sourceTraceback = new Error().stack ?? null;
    }
    this.ready.push(handle);
    if (this.sleeping) this.wake();
    return handle;
  }

  /**
   * For backends: the Handle of a user's callback they run later (addReader, addWriter),
   * made to run in the async context current now, as callSoon's and asyncio's Handle.
   */
  protected _userHandle(callback: (...args: any[]) => unknown, args: unknown[]): Handle {
    return storesSeen.entered ? handleInContext(callback, args, this) : new Handle(callback, args, this);
  }

  /** For backends, from ioPoll: queue a handle they reuse across events (a reader or writer), without allocating. */
  protected _addCallback(handle: ReadyEntry): void {
    this.ready.push(handle);
  }

  /**
   * @internal callSoon for core's own done callbacks in debug mode (handles.ts'
   * callSoonInternal): a Handle with its creation stack, as callSoon's, without debug mode's
   * refusal of an async callback (a done callback may be async: core README, "async callbacks").
   */
  _callSoonWithStack(callback: (arg: any) => unknown, arg: unknown): void {
    this.pushSoon(callback, [arg], null);
  }

  /**
   * Queue a Handle of `callback(...args)` as callSoon does, for the callers off its hot path
   * (callSoon keeps its own body, small for the JIT); `refusesCoroutinesAs` names the method
   * whose debug mode refuses coroutine functions, null for none.
   */
  private pushSoon(callback: (...args: any[]) => unknown, args: unknown[], refusesCoroutinesAs: string | null): Handle {
    this.checkClosed();
    const handle = this._userHandle(callback, args);
    if (this.debug) {
      if (refusesCoroutinesAs !== null) checkNotCoroutineFunction(callback, refusesCoroutinesAs);
      handle._sourceTraceback = new Error().stack ?? null;
    }
    this.ready.push(handle);
    if (this.sleeping) this.wake();
    return handle;
  }

  /** @internal callSoon for core's own entries that run themselves (see ReadyEntry). */
  _callSoonEntry(entry: ReadyEntry): void {
    // checkClosed and _addCallback written out, the error made out of line: this is inlined
    // into every task's and every yield's optimized code, so it is kept to loads and a push.
    if (this.closed) throw loopClosedError();
    this.ready.push(entry);
    if (this.sleeping) this.wake();
  }

  /** Same as callSoon within this thread; other threads use the loop's thread-safe handle. */
  callSoonThreadsafe<A extends unknown[]>(callback: (...args: A) => unknown, ...args: A): Handle {
    checkLoopCallback(callback, 'callSoonThreadsafe');
    return this.pushSoon(callback, args, 'callSoonThreadsafe');
  }

  /** A new handle through which another thread schedules work here (see threads.ts). */
  threadsafeHandle(): LoopHandle {
    return threadsafeHandle(this);
  }

  callLater<A extends unknown[]>(delay: number, callback: (...args: A) => unknown, ...args: A): TimerHandle;
  callLater(delay: number, callback: (...args: unknown[]) => unknown): TimerHandle {
    checkFiniteNumber(delay, 'delay');
    const args = arguments.length > 2 ? Array.prototype.slice.call(arguments, 2) : NO_ARGS;
    const when = this.time() + delay;
    // scheduleTimer's body, written out: programs make timers by the hundred thousand, and
    // each function the JIT compiles on its own costs CPU time (see timer-heap.ts).
    checkLoopCallback(callback, 'callLater');
    if (this.closed) throw new RuntimeError('Event loop is closed');
    const timer = storesSeen.entered ? timerInContext(when, callback, args, this) : new TimerHandle(when, callback, args, this);
    if (this.debug) {
      checkNotCoroutineFunction(callback, 'callLater');
      timer._sourceTraceback = new Error().stack ?? null;
    }
    this.timers.push(timer, when);
    if (this.sleeping) this.wake();
    return timer;
  }

  callAt<A extends unknown[]>(when: number, callback: (...args: A) => unknown, ...args: A): TimerHandle;
  callAt(when: number, callback: (...args: unknown[]) => unknown): TimerHandle {
    checkFiniteNumber(when, 'when');
    const args = arguments.length > 2 ? Array.prototype.slice.call(arguments, 2) : NO_ARGS;
    return this.scheduleTimer(when, callback, args);
  }

  private scheduleTimer(when: number, callback: (...args: unknown[]) => unknown, args: unknown[]): TimerHandle {
    checkLoopCallback(callback, 'callAt');
    this.checkClosed();
    const timer = storesSeen.entered ? timerInContext(when, callback, args, this) : new TimerHandle(when, callback, args, this);
    if (this.debug) {
      checkNotCoroutineFunction(callback, 'callAt');
      timer._sourceTraceback = new Error().stack ?? null;
    }
    this.timers.push(timer, when);
    if (this.sleeping) this.wake();
    return timer;
  }

  /** Monotonic time in seconds. */
  time(): number {
    return monotonicMs() / 1000;
  }

  /** @internal TimerHandle.cancel() (or a TimerEntry of core's own, see _callLaterEntry) reports here; the heap drops it lazily. */
  _timerHandleCancelled(timer: TimerEntry): void {
    this.timers.cancel(timer);
  }

  /**
   * @internal Whether core may schedule its own TimerEntry (sleep's future) with
   * _callLaterEntry: not in debug mode (a handle keeps its creation stack), nor when a
   * subclass overrides callLater (asyncio's sleep goes through call_later).
   */
  _timerEntriesAllowed(): boolean {
    return !this.debug && this.callLater === BaseEventLoop.prototype.callLater;
  }

  /** @internal callLater for core's own TimerEntry: `entry` runs `delay` seconds from now, with no TimerHandle or argument array. */
  _callLaterEntry(delay: number, entry: TimerEntry): void {
    this.checkClosed();
    this.timers.push(entry, this.time() + delay);
    if (this.sleeping) this.wake();
  }

  // ---- futures and tasks ----
  createFuture<T = unknown>(): Future<T> {
    return new Future<T>(this); // the loop itself, not an options object to allocate
  }

  createTask<T>(coro: CoroFn<T>, options?: CreateTaskOptions): Task<T> {
    // Without options (ensureFuture, gather, most calls) there is nothing to check or copy.
    options = options === undefined ? NO_OPTIONS : checkOptions(options, ['name', 'context'], 'createTask');
    this.checkClosed();
    if (this.taskFactory !== null) {
      const task = this.taskFactory(this, coro, options === NO_OPTIONS ? {} : options) as Task<T>;
      if (!isFuture(task)) {
        // An async factory's promise may reject too: that error is reported, not left unhandled.
        watchRejection(task, (exception) => this.callExceptionHandler({ message: 'The task factory failed', exception }));
        throw new TypeError(`the task factory must return a Future or Task, it returned ${describe(task)}`);
      }
      if (options.name !== undefined && typeof task.setName === 'function') task.setName(options.name);
      return task;
    }
    if (options === NO_OPTIONS) return new Task<T>(coro, this);
    return new Task<T>(coro, { loop: this, name: options.name, context: options.context });
  }

  setTaskFactory(factory: TaskFactory | null): void {
    if (factory !== null && typeof factory !== 'function') {
      throw new TypeError(`task factory must be a callable or None (a function or null), got ${describe(factory)}`);
    }
    this.taskFactory = factory;
  }

  getTaskFactory(): TaskFactory | null {
    return this.taskFactory;
  }

  // ---- executor ----
  runInExecutor<R = unknown, A extends unknown[] = any[]>(executor: Executor | null, fn: ((...args: A) => R | PromiseLike<R>) | FunctionRef, ...args: A): Future<Awaited<R>> {
    this.checkClosed();
    // asyncio's debug-mode check, at the call (otherwise what cannot run fails the Future). An
    // async function stays allowed: a worker awaits it, where asyncio's thread returns an unrun coroutine.
    if (this.debug && typeof fn !== 'function' && !isFunctionRef(fn)) throw notCallable(fn, 'runInExecutor', 'fn');
    if (executor === null || executor === undefined) {
      if (this.executorShutdownCalled) throw new RuntimeError('Executor shutdown has been called');
      this.defaultExecutor ??= getDefaultExecutor();
      executor = this.defaultExecutor;
    } else if (typeof (executor as Executor).submit !== 'function') {
      throw new TypeError(`executor must be an Executor (with submit) or null, got ${describe(executor)}`);
    }
    const future = this.createFuture<Awaited<R>>();
    const job = startJob<Awaited<R>>(executor, fn, args);
    // Cancelling the Future withdraws a job that has not started (wrap_future's cancel()).
    future.addDoneCallback(() => {
      if (future.cancelled()) job.cancel();
    });
    job.done.then(
      (value) => {
        if (!future.cancelled() && !this.closed) future.setResult(value);
      },
      (error) => {
        if (!future.cancelled() && !this.closed) future.setException(error);
      },
    );
    return future;
  }

  /** Use `executor` for runInExecutor(null, ...). */
  setDefaultExecutor(executor: Executor): void {
    if (typeof executor?.submit !== 'function') {
      throw new TypeError(`executor must be an Executor (with submit), got ${describe(executor)}`);
    }
    this.defaultExecutor = executor;
  }

  // ---- errors ----
  setExceptionHandler(handler: ExceptionHandler | null): void {
    if (handler !== null && typeof handler !== 'function') {
      throw new TypeError(`A callable object or None is expected as handler (a function or null), got ${describe(handler)}`);
    }
    this.exceptionHandler = handler;
  }

  getExceptionHandler(): ExceptionHandler | null {
    return this.exceptionHandler;
  }

  /** Log the context (message, exception and the other keys), as asyncio does. */
  defaultExceptionHandler(context: ExceptionContext): void {
    const message = context.message || 'Unhandled exception in event loop';
    const lines = [message];
    for (const key of Object.keys(context).sort()) {
      if (key === 'message' || key === 'exception') continue;
      const value = context[key];
      lines.push(`${key}: ${key === 'sourceTraceback' && typeof value === 'string' ? formatCreationStack(value) : String(value)}`);
    }
    logger.error(lines.join('\n'), context.exception);
  }

  /** Call the handler synchronously; a handler that throws is logged and the loop runs on. */
  callExceptionHandler(context: ExceptionContext): void {
    const handler = this.exceptionHandler;
    if (handler === null) {
      try {
        this.defaultExceptionHandler(context);
      } catch (error) {
        lastResortLog('Exception in default exception handler', error);
      }
      return;
    }
    const handlerFailed = (error: unknown): void => {
      try {
        this.defaultExceptionHandler({ message: 'Unhandled error in exception handler', exception: error, context: context.message });
      } catch (inner) {
        lastResortLog('Exception in default exception handler while handling an unexpected error in custom exception handler', inner);
      }
    };
    try {
      // As asyncio 3.12+, the handler runs in the context of the task or handle reported on.
      const runner = reportedContext(context);
      // An async handler's rejection fails it as a throw does (async-result.ts).
      watchRejection(runner === null ? handler(this, context) : runner(handler, this, context), handlerFailed);
    } catch (error) {
      handlerFailed(error);
    }
  }

  // ---- debug ----
  /** Debug mode reports callbacks that run longer than this many seconds. */
  get slowCallbackDuration(): number {
    return this.slowCallbackSeconds;
  }

  /** asyncio takes any value and fails in the loop at the next slow-callback check; this refuses it here. */
  set slowCallbackDuration(seconds: number) {
    if (typeof seconds !== 'number' || Number.isNaN(seconds)) {
      throw new TypeError(`slowCallbackDuration must be a number of seconds, got ${describe(seconds)}`);
    }
    if (seconds < 0) throw new RangeError(`slowCallbackDuration must be >= 0 seconds, got ${seconds}`);
    this.slowCallbackSeconds = seconds;
  }

  getDebug(): boolean {
    return this.debug;
  }

  setDebug(enabled: boolean): void {
    if (typeof enabled !== 'boolean') throw new TypeError(`enabled must be a boolean, got ${describe(enabled)}`);
    this.debug = enabled;
  }

  // ---- signals (portable: Node delivers them to the main thread's JS) ----
  addSignalHandler<A extends unknown[]>(sig: string | number, callback: (...args: A) => unknown, ...args: A): void {
    const name = signalName(sig);
    checkCallback(callback, 'callback');
    // As asyncio: a handler is a plain callback; a coroutine function's body would never run.
    if (isCoroutineFunction(callback)) throw new TypeError('coroutines cannot be used with addSignalHandler()');
    this.checkClosed();
    if (name === 'SIGKILL' || name === 'SIGSTOP') throw new RuntimeError(`sig ${name} cannot be caught`);
    this.removeSignalHandler(name);
    // As asyncio's handler Handle: the callback runs in the context current here.
    const context = storesSeen.entered ? captureContext(this) : null;
    const schedule = (): void => {
      this.callSoonThreadsafe(callback, ...args);
    };
    const listener = (): void => {
      if (this.closed) return;
      if (context === null) schedule();
      else context(schedule);
    };
    process.on(name, listener);
    this.signalListeners.set(name, listener);
  }

  removeSignalHandler(sig: string | number): boolean {
    const name = signalName(sig);
    const listener = this.signalListeners.get(name);
    if (listener === undefined) return false;
    process.off(name, listener);
    this.signalListeners.delete(name);
    return true;
  }

  // ---- TLS: portable (tls/), the engine from the provider ----
  /**
   * Upgrade a connection to TLS in place: resolves to the TLS transport once the handshake
   * is done; `protocol` then talks through it. Bytes already received behind the upgrade
   * point are fed to the handshake (see tls/start-tls.ts).
   */
  startTls(transport: Transport, protocol: BaseProtocol, ssl: SSLOption, options: StartTlsOptions = {}): Promise<Transport> {
    return startTls(this, transport, protocol, ssl, options);
  }

  /** The TLS engine this loop uses: the registered provider unless a subclass brings its own. */
  _tlsProvider(): TLSProvider | null {
    return getTLSProvider();
  }

  // ---- I/O: backends override ----
  createConnection<P extends BaseProtocol = BaseProtocol>(..._args: unknown[]): Promise<[Transport, P]> {
    return this.notImplemented('createConnection');
  }
  createServer(..._args: unknown[]): Promise<AbstractServer> {
    return this.notImplemented('createServer');
  }
  createUnixConnection<P extends BaseProtocol = BaseProtocol>(..._args: unknown[]): Promise<[Transport, P]> {
    return this.notImplemented('createUnixConnection');
  }
  createUnixServer(..._args: unknown[]): Promise<AbstractServer> {
    return this.notImplemented('createUnixServer');
  }
  createDatagramEndpoint<P extends DatagramProtocol = DatagramProtocol>(..._args: unknown[]): Promise<[DatagramTransport, P]> {
    return this.notImplemented('createDatagramEndpoint');
  }
  connectAcceptedSocket<P extends BaseProtocol = BaseProtocol>(..._args: unknown[]): Promise<[Transport, P]> {
    return this.notImplemented('connectAcceptedSocket');
  }
  sockRecv(..._args: unknown[]): Promise<Uint8Array> {
    return this.notImplemented('sockRecv');
  }
  sockRecvInto(..._args: unknown[]): Promise<number> {
    return this.notImplemented('sockRecvInto');
  }
  sockSendall(..._args: unknown[]): Promise<void> {
    return this.notImplemented('sockSendall');
  }
  /**
   * Send `file` (a file descriptor or a FileHandle) from `offset` (`count` bytes, or to its end)
   * on `transport`: the OS's sendfile where the backend has it, else chunks written under the
   * transport's flow control (with `fallback`, the default). Resolves to the bytes sent.
   */
  async sendfile(transport: Transport, file: unknown, offset = 0, count: number | null = null, options?: { fallback?: boolean }): Promise<number> {
    const { fallback = true } = checkOptions(options, ['fallback'], 'sendfile') ?? {};
    const fd = checkSendfileArgs(file, offset, count);
    if (transport === null || typeof transport !== 'object' || typeof transport.isClosing !== 'function') {
      throw new TypeError(`transport must be a transport, got ${describe(transport)}`);
    }
    if (transport.isClosing()) throw new RuntimeError('Transport is closing');
    const mode = sendfileMode(transport);
    if (mode === null) throw new RuntimeError(`sendfile is not supported for transport ${transport}`);
    if (mode === 'native') {
      try {
        return await this._sendfileNative(transport as BaseStreamTransport, fd, offset, count);
      } catch (error) {
        if (!(error instanceof SendfileNotAvailableError) || !fallback) throw error;
      }
    }
    if (!fallback) throw new RuntimeError(`fallback is disabled and native sendfile is not supported for transport ${transport}`);
    return await sendfileByWrites(this, transport, fd, offset, count);
  }

  /**
   * Send `file` from `offset` (`count` bytes, or to its end) on the connected stream socket
   * `sock`: the OS's sendfile where the backend has it, else reads and sockSendall (with
   * `fallback`, the default). Resolves to the bytes sent.
   */
  async sockSendfile(sock: unknown, file: unknown, offset = 0, count: number | null = null, options?: { fallback?: boolean }): Promise<number> {
    const { fallback = true } = checkOptions(options, ['fallback'], 'sockSendfile') ?? {};
    checkSendfileSocket(sock);
    const fd = checkSendfileArgs(file, offset, count);
    this.checkClosed();
    try {
      return await this._sockSendfileNative(sock, fd, offset, count);
    } catch (error) {
      if (!(error instanceof SendfileNotAvailableError) || !fallback) throw error;
    }
    return await sockSendfileBySends(this, sock, fd, offset, count);
  }

  /** Backend hook: sendfile()'s native path on a socket transport; throws SendfileNotAvailableError where there is none. */
  async _sendfileNative(_transport: BaseStreamTransport, _fd: number, _offset: number, _count: number | null): Promise<number> {
    throw new SendfileNotAvailableError('sendfile syscall is not supported');
  }

  /** Backend hook: sockSendfile()'s native path; throws SendfileNotAvailableError where there is none. */
  async _sockSendfileNative(_sock: unknown, _fd: number, _offset: number, _count: number | null): Promise<number> {
    throw new SendfileNotAvailableError('sendfile syscall is not supported');
  }

  sockRecvfrom(..._args: unknown[]): Promise<[Uint8Array, unknown]> {
    return this.notImplemented('sockRecvfrom');
  }
  sockRecvfromInto(..._args: unknown[]): Promise<[number, unknown]> {
    return this.notImplemented('sockRecvfromInto');
  }
  sockSendto(..._args: unknown[]): Promise<number> {
    return this.notImplemented('sockSendto');
  }
  sockConnect(..._args: unknown[]): Promise<void> {
    return this.notImplemented('sockConnect');
  }
  sockAccept<S>(_sock: S): Promise<[S, unknown]> {
    return this.notImplemented('sockAccept');
  }
  getaddrinfo(..._args: unknown[]): Promise<AddrInfo[]> {
    return this.notImplemented('getaddrinfo');
  }
  getnameinfo(..._args: unknown[]): Promise<[string, string]> {
    return this.notImplemented('getnameinfo');
  }
  addReader<A extends unknown[]>(_fd: FileDescriptorLike, _callback: (...args: A) => unknown, ..._args: A): void {
    throw new NotImplementedError(`${this.constructor.name} does not support addReader`);
  }
  removeReader(_fd: FileDescriptorLike): boolean {
    throw new NotImplementedError(`${this.constructor.name} does not support removeReader`);
  }
  addWriter<A extends unknown[]>(_fd: FileDescriptorLike, _callback: (...args: A) => unknown, ..._args: A): void {
    throw new NotImplementedError(`${this.constructor.name} does not support addWriter`);
  }
  removeWriter(_fd: FileDescriptorLike): boolean {
    throw new NotImplementedError(`${this.constructor.name} does not support removeWriter`);
  }

  // ---- subprocesses and pipes (subprocess/loop.ts; backends override the hooks) ----
  /** Run `program` with `args`: `[SubprocessTransport, protocol]`. stdin/stdout/stderr default to PIPE. */
  async subprocessExec<P extends BaseProtocol = SubprocessProtocol>(protocolFactory: () => P, program: string, args: readonly string[] = [], options?: SubprocessOptions): Promise<[BaseSubprocessTransport, P]> {
    this.checkClosed();
    return (await subprocessExec(this, protocolFactory, program, args, options)) as unknown as [BaseSubprocessTransport, P];
  }

  /** Run `cmd` with /bin/sh -c: `[SubprocessTransport, protocol]`. */
  async subprocessShell<P extends BaseProtocol = SubprocessProtocol>(protocolFactory: () => P, cmd: string, options?: SubprocessOptions): Promise<[BaseSubprocessTransport, P]> {
    this.checkClosed();
    return (await subprocessShell(this, protocolFactory, cmd, options)) as unknown as [BaseSubprocessTransport, P];
  }

  /** A read transport on the pipe `pipe` (an fd, or an object with fileno()); it owns the fd. */
  async connectReadPipe<P extends BaseProtocol = BaseProtocol>(protocolFactory: () => P, pipe: FileDescriptorLike): Promise<[Transport, P]> {
    this.checkClosed();
    return (await connectPipe(this, 'read', protocolFactory, pipe)) as [Transport, P];
  }

  /** A write transport on the pipe `pipe`; it owns the fd. */
  async connectWritePipe<P extends BaseProtocol = BaseProtocol>(protocolFactory: () => P, pipe: FileDescriptorLike): Promise<[Transport, P]> {
    this.checkClosed();
    return (await connectPipe(this, 'write', protocolFactory, pipe)) as [Transport, P];
  }

  /** Backend hook: the transport of a new child. Default: node:child_process. */
  _makeSubprocessTransport(protocol: SubprocessProtocol, spec: SubprocessSpec, waiter: Future<void>): BaseSubprocessTransport {
    return nodeSubprocessTransport(this, protocol, spec, waiter);
  }

  /** Backend hook: a pipe transport on `fd`. Default: a Node socket on the fd. */
  _makePipeTransport(direction: PipeDirection, fd: number, protocol: BaseProtocol, waiter: Future<void>): Transport {
    return nodePipeTransport(this, direction, fd, protocol, waiter);
  }

  /** @internal */
  _subprocessStarted(transport: BaseSubprocessTransport): void {
    this.subprocesses.add(transport);
    if (!this.running) transport._keepAlive(false);
  }

  /** @internal */
  _subprocessFinished(transport: BaseSubprocessTransport): void {
    this.subprocesses.delete(transport);
  }

  /** A description for logs and debugging, as asyncio's repr(). */
  toString(): string {
    return `<${this.constructor.name} running=${this.running} closed=${this.closed} debug=${this.debug}>`;
  }

  // ---- the run loop ----
  /** Throws RuntimeError when the loop is closed. */
  protected checkClosed(): void {
    if (this.closed) throw loopClosedError();
  }

  private checkNotRunning(): void {
    if (this.running) throw new RuntimeError('This event loop is already running');
    if (_getRunningLoop() !== null) {
      throw new RuntimeError('Cannot run the event loop while another loop is running');
    }
  }

  private notImplemented<T>(method: string): Promise<T> {
    return Promise.reject(new NotImplementedError(`${this.constructor.name} does not support ${method}`));
  }

  /** Whether the current turn was entered as a microtask (else from the nextTick queue). */
  private inMicrotask = false;
  /** The batch is paused (or the iteration over) until the microtask queue has drained. */
  private drainDue = false;
  /** A nextTick to afterDrain is queued (one serves every pause until the queue drains). */
  private drainTickArmed = false;

  /**
   * A turn, entered as a microtask (or from a host callback, _wakeFromHost). It runs outside any
   * task's context: callbacks see currentTask() === null. Nothing of its job or host callback
   * runs after it, so where the slot holds the task itself (Node 20 to 23) it is emptied and
   * not put back (leaveTaskForJob: one addon call where runInTask makes two, ~190 instructions
   * per wake-up); with task frames (Node 24) runInTask finds no task by Node's own cheaper read.
   */
  private readonly turn = (): void => {
    this.inMicrotask = true;
    if (!this.running) return;
    if (frameSlot !== null) runInTask(undefined, turnLoop, this);
    else {
      loopToTurn = this;
      leaveTaskForJob(turnLoopToTurn);
    }
  };

  /** The microtask queue drained: go on with a paused batch, or begin the next iteration. */
  private readonly afterDrain = (): void => {
    this.drainTickArmed = false;
    if (!this.drainDue) return;
    this.drainDue = false;
    resumeSignal.waitingFor = null;
    this.inMicrotask = false;
    if (this.running) runInTask(undefined, turnLoop, this);
  };

  /**
   * @internal The task the paused batch waited for ended its step (stepEnded): go on from
   * there. At the end of a promise job (`endsJob`: nothing of the task's runs after this in the
   * job) the task is not put back afterwards (leaveTaskForJob: one slot write a step less).
   * Called through goOnPausedLoop, a module function, as _runTurn is through turnLoop: see there.
   */
  _goOn(endsJob: boolean): void {
    this.drainDue = false;
    this.inMicrotask = true;
    if (endsJob) {
      loopToTurn = this;
      leaveTaskForJob(turnLoopToTurn);
    } else runInTask(undefined, turnLoop, this);
  }

  /** @internal one turn: the rest of the iteration's batch, or the next iteration (see turnLoop) */
  _runTurn(): void {
    try {
      if (!this.inIteration) this.beginIteration();
      if (this.runBatch()) {
        // A callback resumed awaiting code: let it run, then go on with this iteration. Wait
        // for the resumed task's step to end only when more of the batch is left: after the
        // last callback the drain ends the iteration anyway.
        resumeSignal.waitingFor = this.batchIndex < this.batch.length ? resumeSignal.task : null;
        resumeSignal.task = null;
        pausedLoop = this;
        resumeSignal.goOn = goOnPausedLoop;
        this.awaitDrain();
        return;
      }
      this.inIteration = false;
      if (this.stopping) this.finishRun(null);
      else this.scheduleNext();
    } catch (error) {
      closeBatch();
      this.inIteration = false;
      // What the batch had not run yet goes first at the next run, ahead of what was queued
      // since, as asyncio's _run_once leaves it at the front of _ready.
      if (this.batchIndex < this.batch.length) this.ready.putAhead(this.batch, this.batchIndex);
      else this.batch.clear();
      this.finishRun(error);
    }
  }

  /** Turn again once every pending microtask ran. */
  private awaitDrain(): void {
    this.drainDue = true;
    if (this.drainTickArmed) return;
    this.drainTickArmed = true;
    if (this.inMicrotask) process.nextTick(this.afterDrain);
    else queueMicrotask(this.tickAfterMicrotasks); // from the tick queue, a nextTick would run first
  }

  private readonly tickAfterMicrotasks = (): void => {
    process.nextTick(this.afterDrain);
  };

  private readonly reenterFromHost = (): void => {
    this.sliceStart = this.iterationScheduledAt = monotonicMs();
    queueMicrotask(this.turn);
  };

  /**
   * Wake the sleeping loop from code that may be a task's (callSoon, callLater, stop). Task
   * code resumed by a Node promise (`await sleep(t)` after awaiting a plain promise) gets
   * its turn once the microtasks drained: a turn queued now would run before the job in
   * which `await` calls the future's then(), and could settle the future first, so the
   * await would miss a cancel() pending on the task.
   */
  private readonly wake = (): void => {
    if (this.sleeping) this.wakeTo(currentTaskOrUndefined() === undefined ? this.turn : this.tickThenTurn);
  };

  /**
   * Wake the sleeping loop from a host callback (a backend's watcher, the loop's own timer):
   * not a task's code, though on Node 24 it may run in the frame of the task that made the
   * socket, so the turn comes next.
   */
  private readonly wakeFromHostCallback = (): void => {
    if (this.sleeping) this.wakeTo(this.turn);
  };

  private wakeTo(next: () => void): void {
    this.sleeping = false;
    this.sliceStart = this.iterationScheduledAt = monotonicMs();
    // A microtask runs in the async context it was queued from: a wake-up from a task's
    // code (resumed by a Node promise, in the context createTask gave it) must not make
    // that context the loop's. Where the slot holds that context, setting it around a
    // promise reaction costs two addon calls; the snapshot's AsyncResource scope plus
    // queueMicrotask's own AsyncResource cost several times that on every wake-up.
    if (frameSlot !== null) {
      const outer = frameSlot.set(this.runFrame);
      void SETTLED.then(next);
      frameSlot.set(outer);
    } else {
      this.runContext!(queueMicrotask, next);
    }
  }

  /** In the loop's context: turn once every pending microtask ran (a nextTick queued from a microtask runs then). */
  private readonly tickThenTurn = (): void => {
    process.nextTick(this.turnFromTick);
  };

  private readonly turnFromTick = (): void => {
    this.inMicrotask = false;
    if (this.running) runInTask(undefined, turnLoop, this);
  };

  /**
   * For a backend's host watcher whose callback runs in the async context runForever was
   * called in (a libuv callback of @loopkit/uv's watchers, which keep the watch() caller's,
   * armed in ioStart): wake() and turn at once. Nothing else runs between that callback and
   * the microtask wake() would queue, so the turn runs at the same point, without the
   * microtask; a nextTick queued from a host callback runs after every pending microtask,
   * as from a microtask (see awaitDrain).
   */
  protected _wakeFromHost(): void {
    if (!this.sleeping) return;
    this.sleeping = false;
    this.sliceStart = this.iterationScheduledAt = monotonicMs();
    this.turn();
  }

  /**
   * For a host callback that runs in an async context of its own (a Node handle's I/O
   * callback, in the context of whatever made the handle, often a task): _wakeFromHost
   * inside runForever's context, so the loop's callbacks see the context a turn queued by
   * wake() would give them, without the microtask.
   */
  protected _wakeFromNodeCallback(): void {
    if (!this.sleeping) return;
    if (frameSlot !== null) {
      const outer = frameSlot.set(this.runFrame);
      try {
        this._wakeFromHost();
      } finally {
        frameSlot.set(outer);
      }
    } else if (!storesSeen.entered) {
      // No store was entered: both contexts hold none, and the turn sets its task itself. The
      // snapshot runner's scope cost Node 20 ~1,700 instructions per wake-up (bench/README.md).
      this._wakeFromHost();
    } else {
      this.runContext!(this.wakeFromHostNow);
    }
  }

  private readonly wakeFromHostNow = (): void => {
    this._wakeFromHost();
  };

  private readonly wakeFromTimer = (): void => {
    this.hostTimer = null;
    this.wakeFromHostCallback();
  };

  /** Steps 1, 3 and 4, then set up step 5's batch. */
  private beginIteration(): void {
    const timers = this.timers;
    // 1. Drop cancelled timers: rebuild when most are cancelled, else pop them off the top.
    if (timers.cancelledCount > 0) timers.dropCancelled();
    // 3. Poll the backend: it never blocks (waiting happened in idle()).
    this.ioPoll();
    // 4. Due timers become ready, by (when, scheduling order); cancelled ones are dropped.
    if (timers.size > 0) timers.takeDue(this.time() + this.clockResolution, this.ready);
    // 5. This iteration runs exactly what is ready now.
    const emptied = this.batch; // runBatch emptied it, or an escape moved its rest to ready
    this.batch = this.ready;
    this.ready = emptied;
    this.batchIndex = 0;
    this.inIteration = true;
  }

  /** Run the batch; returns true when paused so resumed code can run first. */
  private runBatch(): boolean {
    const batch = this.batch;
    const scope = callbackScope;
    scope.open = true;
    if (frameSlot !== null) scope.frame = storesSeen.entered ? frameSlot.get() : this.runFrame;
    else if (storesOnResources) scope.resource = storesSeen.entered ? executionAsyncResource() : null;
    while (this.batchIndex < batch.length) {
      const entry = batch.at(this.batchIndex++);
      if (this.debug) this.runTimed(entry);
      else entry._run();
      if (scope.changed) putBack(); // a store it entered stays with it, as asyncio's context.run
      if (resumeSignal.pending) {
        resumeSignal.pending = false;
        scope.open = false;
        return true;
      }
    }
    scope.open = false;
    batch.clear();
    return false;
  }

  private runTimed(entry: ReadyEntry): void {
    const t0 = monotonicMs();
    entry._run();
    const seconds = (monotonicMs() - t0) / 1000;
    if (seconds >= this.slowCallbackSeconds) {
      logger.warning(`Executing ${entry._runRepr?.() ?? entry} took ${seconds.toFixed(3)} seconds`);
    }
  }

  /** Step 2: next iteration at once, or idle until the next timer or a wake-up. */
  private scheduleNext(): void {
    if (this.ready.length === 0) {
      const timers = this.timers;
      // asyncio decides the wait after step 1: a timer cancelled during this batch sets no deadline.
      if (timers.cancelledCount > 0) timers.dropCancelled();
      const deadline = timers.size === 0 ? null : timers.peekWhen();
      if (deadline === null || deadline - this.time() > 0) {
        ageIdleTasks(); // idle time: give long-lived tasks their weak references
        this.sleeping = true;
        this.idle(deadline);
        return;
      }
    }
    this.hop();
  }

  /**
   * Start the next iteration with one hop: from a microtask, through the nextTick queue
   * (after every pending microtask); from the nextTick queue, as a microtask (after those
   * queued so far: code this iteration resumed already ran, see runBatch). Once per slice,
   * through setImmediate instead, so Node's loop turns; whether the slice is over is read
   * every CALLBACKS_PER_CLOCK_READ callbacks (batchIndex: those this iteration ran).
   */
  private hop(): void {
    const ran = this.ranSinceClockRead + (this.batchIndex > 1 ? this.batchIndex : 1);
    if (ran < CALLBACKS_PER_CLOCK_READ) this.ranSinceClockRead = ran;
    else {
      this.ranSinceClockRead = 0;
      const now = monotonicMs();
      this.iterationScheduledAt = now;
      if (now - this.sliceStart >= HOST_SLICE_MS) {
        setImmediate(this.reenterFromHost);
        return;
      }
    }
    if (this.inMicrotask) this.awaitDrain();
    else queueMicrotask(this.turn);
  }

  private finishRun(error: unknown): void {
    this.stopping = false;
    this.running = false;
    this.sleeping = false;
    if (this.hostTimer !== null) {
      clearTimeout(this.hostTimer);
      this.hostTimer = null;
    }
    _setRunningLoop(null);
    // a stopped loop keeps nothing alive: its children's host handles neither
    for (const transport of this.subprocesses) transport._keepAlive(false);
    const settle = this.settleRun!;
    this.settleRun = null;
    this.runContext = null;
    this.runFrame = undefined;
    try {
      this.ioStop();
    } catch (stopError) {
      error ??= stopError;
    }
    if (error === null) settle.resolve();
    else settle.reject(error);
  }

  /** For an idle() that ends the wait itself (TestLoop's virtual clock): go on at once. */
  protected endIdle(): void {
    this.sleeping = false;
    this.hop();
  }
}

/** What scheduling on a closed loop throws (a function: its callers stay small for the JIT). */
function loopClosedError(): RuntimeError {
  return new RuntimeError('Event loop is closed');
}

/** The last report of a failing exception handler: a logger that throws too must not stop the loop. */
function lastResortLog(message: string, error: unknown): void {
  try {
    logger.error(message, error);
  } catch {
    // the logger itself failed: nothing is left to report to
  }
}

function runUntilCompleteCb(future: Future<unknown>): void {
  future.getLoop().stop();
}
// A pending main task's repr shows it as asyncio's: `cb=[_run_until_complete_cb()]`, as `Task.task_wakeup()`.
Object.defineProperty(runUntilCompleteCb, 'name', { value: '_run_until_complete_cb' });

function signalName(sig: unknown): string {
  if (typeof sig === 'number' && Number.isInteger(sig)) {
    for (const [name, num] of Object.entries(os.constants.signals)) if (num === sig) return name;
    throw new RangeError(`sig ${sig} is not a valid signal number`);
  } else if (typeof sig === 'string' && sig in os.constants.signals) {
    return sig;
  }
  throw new TypeError(`sig must be a signal name like 'SIGINT' or its number, got ${describe(sig)}`);
}

/** The async context of what a report is about (its task, future or handle), null when it has none of its own. */
function reportedContext(context: ExceptionContext): ContextRunner | null {
  const about = context.task ?? context.future ?? context.handle;
  const runner = (about as { _context?: unknown } | null | undefined)?._context;
  return typeof runner === 'function' ? (runner as ContextRunner) : null;
}

/*
 * A loop's turns, and its going on after a paused batch, are called through these module
 * functions with the loop as an argument (or in a module variable), not through closures
 * made per loop: code the JIT optimized around a call of one loop's closure (runInTask's,
 * stepEnded's) checks for that very function, so each new loop (a program's second run(),
 * each run of a bench) threw it away and compiled it again (bench/README.md, session 17).
 */

function turnLoop(loop: BaseEventLoop): void {
  loop._runTurn();
}

/** The loop whose paused batch goes on when the task it waits for ends its step (resumeSignal.goOn). */
let pausedLoop: BaseEventLoop | null = null;

function goOnPausedLoop(endsJob?: boolean): void {
  pausedLoop!._goOn(endsJob === true);
}

/** The loop leaveTaskForJob turns (it calls a function of no arguments). */
let loopToTurn: BaseEventLoop | null = null;

function turnLoopToTurn(): void {
  const loop = loopToTurn!;
  loopToTurn = null;
  loop._runTurn();
}
