/**
 * Loops in several threads. Every worker_thread has its own loop; a loop hands out a
 * thread-safe handle (plain data plus a MessagePort, so it can be posted to another
 * thread) through which other threads schedule work on it. Functions cannot cross threads,
 * so work is named by module specifier and export name and imported on the loop's thread.
 *
 *   // loop's thread:   parentPort.postMessage(loop.threadsafeHandle(), [handle.port])
 *   // another thread:  const result = await runCoroutineThreadsafe(handle, {module, name}, 1, 2)
 */
import type { MessagePort } from 'node:worker_threads';
import { isAbsolute, pathToFileURL, workerThreads } from './node-builtins.js';
import { CancelledError, InvalidStateError, RuntimeError } from './errors.js';
import type { AbstractEventLoop, CoroFn } from './events.js';
import type { FunctionRef } from './executor.js';
import type { Future } from './futures.js';
import { describe } from './validate.js';

/** A loop's thread-safe handle. Post it with `[handle.port]` in the transfer list. */
export interface LoopHandle {
  readonly kind: 'loopkit.LoopHandle';
  /** The thread the loop runs in (worker_threads' threadId; 0 is the main thread). */
  readonly threadId: number;
  readonly port: MessagePort;
  /** Shared with the loop's thread: OPEN, or CLOSED once that thread exits or its loop closed. */
  readonly state: Int32Array;
}

const OPEN = 0;
const CLOSED = 1;

type Request =
  | { op: 'call'; module: string; name: string; args: unknown[] }
  | { op: 'run'; id: number; module: string; name: string; args: unknown[] }
  | { op: 'cancel'; id: number };
type Reply =
  | { id: number; outcome: 'result'; value: unknown }
  | { id: number; outcome: 'error'; error: unknown; name: string; props: object }
  | { id: number; outcome: 'cancelled'; message: string | undefined };

/** Make a new handle for `loop` (one per receiving thread: a port has a single owner). */
export function threadsafeHandle(loop: AbstractEventLoop): LoopHandle {
  const { MessageChannel, threadId } = workerThreads();
  const { port1, port2 } = new MessageChannel();
  const state = new Int32Array(new SharedArrayBuffer(4));
  serve(loop, port1, state);
  return { kind: 'loopkit.LoopHandle', threadId, port: port2, state };
}

/**
 * A port whose peer is gone drops messages silently, and tells only listeners attached in
 * time. So the loop's side also marks its handles CLOSED in shared memory when its thread
 * exits, and callers check that before sending.
 */
const servedStates = new Set<Int32Array>();
function markClosedAtExit(state: Int32Array): void {
  if (servedStates.size === 0) process.once('exit', () => servedStates.forEach((s) => Atomics.store(s, 0, CLOSED)));
  servedStates.add(state);
}

/** The loop's side: import each named function in arrival order, then schedule it. */
function serve(loop: AbstractEventLoop, port: MessagePort, state: Int32Array): void {
  markClosedAtExit(state);
  const close = (): void => {
    Atomics.store(state, 0, CLOSED);
    servedStates.delete(state);
    port.close();
  };
  const tasks = new Map<number, Future<unknown>>();
  const loading = new Set<number>();
  const cancelledEarly = new Set<number>();
  let previous: Promise<unknown> = Promise.resolve();

  const schedule = (request: Exclude<Request, { op: 'cancel' }>, fn: (...args: unknown[]) => unknown): void => {
    if (loop.isClosed()) throw new RuntimeError('Event loop is closed');
    if (request.op === 'call') {
      loop.callSoonThreadsafe(fn, ...request.args);
    } else if (cancelledEarly.delete(request.id)) {
      reply(port, { id: request.id, outcome: 'cancelled', message: undefined });
    } else {
      const task = loop.createTask(() => fn(...request.args) as ReturnType<CoroFn<unknown>>);
      tasks.set(request.id, task);
      task.addDoneCallback(() => {
        tasks.delete(request.id);
        reply(port, outcomeOf(request.id, task));
      });
    }
  };
  const fail = (request: Exclude<Request, { op: 'cancel' }>, error: unknown): void => {
    if (request.op === 'run') reply(port, errorReply(request.id, error));
    else if (!loop.isClosed()) loop.callExceptionHandler({ message: 'callSoonThreadsafe could not load its callback', exception: error });
    if (loop.isClosed()) close();
  };

  port.on('message', (request: Request) => {
    if (request.op === 'cancel') {
      const task = tasks.get(request.id);
      if (task !== undefined) task.cancel();
      else if (loading.has(request.id)) cancelledEarly.add(request.id);
      return;
    }
    if (request.op === 'run') loading.add(request.id);
    // Imports chain so that work runs in the order it was sent.
    const load = previous.then(() => importExport(request));
    previous = load.catch(() => undefined);
    load
      .then((fn) => schedule(request, fn))
      .catch((error) => fail(request, error))
      .finally(() => request.op === 'run' && loading.delete(request.id));
  });
  // The handle alone keeps no thread alive: a running loop does that.
  port.unref();
}

async function importExport(ref: { module: string; name: string }): Promise<(...args: unknown[]) => unknown> {
  const specifier = isAbsolute(ref.module) ? pathToFileURL(ref.module).href : ref.module;
  const fn = (await import(specifier))[ref.name];
  if (typeof fn !== 'function') throw new TypeError(`${ref.module} has no exported function ${JSON.stringify(ref.name)}`);
  return fn;
}

function outcomeOf(id: number, task: Future<unknown>): Reply {
  if (task.cancelled()) {
    let message: string | undefined;
    try {
      task.result();
    } catch (error) {
      message = error instanceof CancelledError && error.message !== '' ? error.message : undefined;
    }
    return { id, outcome: 'cancelled', message };
  }
  const error = task.exception();
  return error === null ? { id, outcome: 'result', value: task.result() } : errorReply(id, error);
}

/** Structured clone keeps an Error's class only for built-in ones: carry name and fields too. */
function errorReply(id: number, error: unknown): Reply {
  const name = error instanceof Error ? error.name : 'Error';
  const props: Record<string, unknown> = {};
  if (typeof error === 'object' && error !== null) {
    for (const [key, value] of Object.entries(error)) if (value === null || typeof value !== 'object') props[key] = value;
  }
  return { id, outcome: 'error', error, name, props };
}

function reply(port: MessagePort, message: Reply): void {
  try {
    port.postMessage(message);
  } catch (cloneError) {
    // The result (or the error) cannot be cloned: say so instead of leaving the caller waiting.
    port.postMessage(errorReply(message.id, new TypeError(`the result cannot cross threads: ${String(cloneError)}`)));
  }
}

/**
 * Whether the loop's end of `port` still exists. A worker killed by terminate() never runs
 * the exit hook that marks its handles CLOSED, and a 'close' listener attached after its
 * death hears nothing; but a port whose peer is gone ignores ref(), so hasRef() (Node's
 * MessagePort, experimental) tells. Where hasRef is missing, the port counts as alive.
 */
function peerAlive(port: MessagePort): boolean {
  const probe = port as MessagePort & { hasRef?: () => boolean };
  if (typeof probe.hasRef !== 'function' || probe.hasRef()) return true;
  port.ref();
  const alive = probe.hasRef();
  port.unref();
  return alive;
}

/** Schedule the exported function `ref.name` of `ref.module` to be called soon on the handle's loop. */
export function callSoonThreadsafe(handle: LoopHandle, ref: FunctionRef, ...args: unknown[]): void {
  checkHandle(handle);
  checkRef(ref);
  if (Atomics.load(handle.state, 0) === CLOSED || !peerAlive(handle.port)) throw closedError();
  // Listening now lets pending work elsewhere learn when the loop's thread goes away.
  clientOf(handle.port);
  handle.port.postMessage({ op: 'call', module: ref.module, name: ref.name, args } satisfies Request);
}

/**
 * Run the exported coroutine function `ref.name` of `ref.module` as a task on the handle's
 * loop (asyncio.run_coroutine_threadsafe). Given a loop of this thread instead, `ref` may
 * also be the coroutine function itself.
 */
export function runCoroutineThreadsafe<T>(
  target: LoopHandle | AbstractEventLoop,
  ref: FunctionRef | CoroFn<T>,
  ...args: unknown[]
): ConcurrentFuture<T> {
  if (isLoop(target)) return runHere(target, ref, args);
  checkHandle(target);
  checkRef(ref);
  return clientOf(target.port).submit<T>(ref as FunctionRef, args, target.state);
}

function runHere<T>(loop: AbstractEventLoop, ref: FunctionRef | CoroFn<T>, args: unknown[]): ConcurrentFuture<T> {
  if (typeof ref !== 'function') checkRef(ref);
  const future = new ConcurrentFuture<T>(() => loop.callSoonThreadsafe(() => task?.cancel()));
  let task: Future<T> | undefined;
  // As asyncio, the task is made in a callback on the loop: a task factory's error then fails
  // the future and, thrown on, is reported as that callback's error; the caller gets the future.
  const start = (fn: (...a: unknown[]) => unknown): void => {
    if (future.done()) return;
    try {
      task = loop.createTask(() => fn(...args) as ReturnType<CoroFn<T>>);
    } catch (error) {
      future._settle(errorReply(0, error));
      throw error;
    }
    task.addDoneCallback(() => future._settle(outcomeOf(0, task!)));
  };
  if (typeof ref === 'function') loop.callSoonThreadsafe(start, ref);
  else importExport(ref).then((fn) => loop.callSoonThreadsafe(start, fn)).catch((error) => future._settle(errorReply(0, error)));
  return future;
}

/** The caller's side of a port: pending requests by id; the port keeps the thread alive only while some are. */
class Client {
  private readonly pending = new Map<number, ConcurrentFuture<any>>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly port: MessagePort) {
    port.on('message', (message: Reply) => {
      this.pending.get(message.id)?._settle(message);
      this.forget(message.id);
    });
    port.on('close', () => {
      this.closed = true;
      for (const future of this.pending.values()) future._settle(errorReply(0, closedError()));
      this.pending.clear();
    });
    port.unref();
  }

  submit<T>(ref: FunctionRef, args: unknown[], state: Int32Array): ConcurrentFuture<T> {
    if (this.closed || Atomics.load(state, 0) === CLOSED || !peerAlive(this.port)) {
      const future = new ConcurrentFuture<T>(() => undefined);
      future._settle(errorReply(0, closedError()));
      return future;
    }
    const id = this.nextId++;
    const future = new ConcurrentFuture<T>(() => {
      this.port.postMessage({ op: 'cancel', id } satisfies Request);
      this.forget(id);
    });
    this.port.postMessage({ op: 'run', id, module: ref.module, name: ref.name, args } satisfies Request);
    this.pending.set(id, future);
    this.port.ref();
    return future;
  }

  private forget(id: number): void {
    if (this.pending.delete(id) && this.pending.size === 0) this.port.unref();
  }
}

function closedError(): RuntimeError {
  return new RuntimeError("the loop's handle is closed (its loop closed or its thread exited)");
}

const clients = new WeakMap<MessagePort, Client>();
function clientOf(port: MessagePort): Client {
  let client = clients.get(port);
  if (client === undefined) clients.set(port, (client = new Client(port)));
  return client;
}

/**
 * The result of work on another loop (concurrent.futures.Future): awaitable from any code,
 * with asyncio's `done() cancelled() result() exception() cancel()`. Cancelling it cancels
 * the task on the other loop.
 */
export class ConcurrentFuture<T> implements PromiseLike<T> {
  private state: 'pending' | 'finished' | 'cancelled' = 'pending';
  private value: T | undefined;
  private error: unknown = null;
  private readonly promise: Promise<T>;
  private resolve!: (value: T) => void;
  private reject!: (error: unknown) => void;

  /** @internal */
  constructor(private readonly onCancel: () => void) {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Rejection reaches whoever awaits; nobody awaiting is not an unhandled rejection.
    this.promise.catch(() => undefined);
  }

  /** Whether it has a result, an exception, or was cancelled. */
  done(): boolean {
    return this.state !== 'pending';
  }

  /** Whether it was cancelled. */
  cancelled(): boolean {
    return this.state === 'cancelled';
  }

  /** The result; throws its exception, CancelledError, or InvalidStateError while pending. */
  result(): T {
    if (this.state === 'pending') throw new InvalidStateError('Result is not ready.');
    if (this.error !== null) throw this.error;
    return this.value as T;
  }

  /** The exception (null if none); CancelledError or InvalidStateError as result() does. */
  exception(): unknown {
    if (this.state === 'pending') throw new InvalidStateError('Exception is not set.');
    if (this.state === 'cancelled') throw this.error;
    return this.error;
  }

  /** Cancel now and ask the loop to cancel its task; false if already done. */
  cancel(): boolean {
    if (this.state !== 'pending') return false;
    this.onCancel();
    this._settle({ id: 0, outcome: 'cancelled', message: undefined });
    return true;
  }

  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.promise.then(onFulfilled, onRejected);
  }

  /** @internal */
  _settle(reply: Reply): void {
    if (this.state !== 'pending') return;
    if (reply.outcome === 'result') {
      this.state = 'finished';
      this.value = reply.value as T;
      this.resolve(this.value);
      return;
    }
    this.state = reply.outcome === 'cancelled' ? 'cancelled' : 'finished';
    this.error = reply.outcome === 'cancelled' ? new CancelledError(reply.message) : rebuildError(reply);
    this.reject(this.error);
  }
}

function rebuildError(reply: Extract<Reply, { outcome: 'error' }>): unknown {
  const error = reply.error;
  if (error instanceof Error) {
    if (error.name !== reply.name) Object.defineProperty(error, 'name', { value: reply.name, configurable: true, writable: true });
    Object.assign(error, reply.props);
  }
  return error;
}

function isLoop(value: unknown): value is AbstractEventLoop {
  return typeof (value as AbstractEventLoop | null)?.createTask === 'function';
}

function checkHandle(value: unknown): asserts value is LoopHandle {
  const handle = value as LoopHandle | null;
  if (handle?.kind !== 'loopkit.LoopHandle' || !(handle.state instanceof Int32Array)) {
    throw new TypeError(`handle must be a loop's threadsafeHandle(), got ${describe(value)}`);
  }
}

function checkRef(value: unknown): asserts value is FunctionRef {
  const ref = value as FunctionRef | null;
  if (typeof ref?.module !== 'string' || typeof ref.name !== 'string') {
    throw new TypeError(`ref must be a {module, name} reference to an exported function, got ${describe(value)}`);
  }
  // The loop's thread imports it: a relative specifier would resolve against loopkit, not the caller.
  if (ref.module.startsWith('.')) {
    throw new TypeError(`ref.module must be a file URL (import.meta.url), an absolute path or a package name, got ${describe(ref.module)}`);
  }
}
