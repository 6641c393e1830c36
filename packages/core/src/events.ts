/**
 * What every loop offers (asyncio's AbstractEventLoop) and the per-thread state that ties
 * code to the loop running it: the running loop and the task whose code is executing.
 */
import type { AsyncLocalStorage } from 'node:async_hooks';
import { NotImplementedError, RuntimeError } from './errors.js';
import type { Future } from './futures.js';
import type { Handle, TimerHandle } from './handles.js';
import type { Task } from './tasks.js';
import { world, type ResumeSignal } from './world.js';

/** A coroutine function: an async function, or a generator function driven with `yield*`. */
export type CoroFn<T> = () => PromiseLike<T> | Generator<unknown, T, any>;
/** What loopkit can wait on: a Future or any thenable. */
export type Awaitable<T> = Future<T> | PromiseLike<T>;

/** The context handed to exception handlers. */
export interface ExceptionContext {
  message: string;
  exception?: unknown;
  future?: Future<unknown>;
  task?: Task<unknown>;
  handle?: Handle;
  [key: string]: unknown;
}
export type ExceptionHandler = (loop: AbstractEventLoop, context: ExceptionContext) => void;
export type TaskFactory = (loop: AbstractEventLoop, coro: CoroFn<any>, options: { name?: string }) => Future<any>;

/** The public surface of an event loop. BaseEventLoop implements all of it but I/O. */
export interface AbstractEventLoop {
  runForever(): Promise<void>;
  runUntilComplete<T>(aw: Awaitable<T> | CoroFn<T>): Promise<T>;
  stop(): void;
  isRunning(): boolean;
  isClosed(): boolean;
  close(): void;
  shutdownDefaultExecutor(timeout?: number | null): Promise<void>;

  callSoon<A extends unknown[]>(callback: (...args: A) => unknown, ...args: A): Handle;
  callSoonThreadsafe<A extends unknown[]>(callback: (...args: A) => unknown, ...args: A): Handle;
  callLater<A extends unknown[]>(delay: number, callback: (...args: A) => unknown, ...args: A): TimerHandle;
  callAt<A extends unknown[]>(when: number, callback: (...args: A) => unknown, ...args: A): TimerHandle;
  time(): number;

  createFuture<T = unknown>(): Future<T>;
  createTask<T>(coro: CoroFn<T>, options?: { name?: string }): Task<T>;
  setTaskFactory(factory: TaskFactory | null): void;
  getTaskFactory(): TaskFactory | null;

  runInExecutor<R>(executor: unknown, fn: unknown, ...args: unknown[]): Future<R>;

  setExceptionHandler(handler: ExceptionHandler | null): void;
  getExceptionHandler(): ExceptionHandler | null;
  defaultExceptionHandler(context: ExceptionContext): void;
  callExceptionHandler(context: ExceptionContext): void;

  getDebug(): boolean;
  setDebug(enabled: boolean): void;
  slowCallbackDuration: number;

  // I/O: offered by backends; BaseEventLoop throws NotImplementedError.
  createConnection(protocolFactory: () => unknown, host?: string | null, port?: number | null, options?: object): Promise<[unknown, unknown]>;
  createServer(protocolFactory: () => unknown, host?: string | string[] | null, port?: number | null, options?: object): Promise<unknown>;
  createUnixConnection(protocolFactory: () => unknown, path?: string | null, options?: object): Promise<[unknown, unknown]>;
  createUnixServer(protocolFactory: () => unknown, path?: string | null, options?: object): Promise<unknown>;
  createDatagramEndpoint(protocolFactory: () => unknown, options?: object): Promise<[unknown, unknown]>;
  sockRecv(sock: unknown, n: number): Promise<Uint8Array>;
  sockRecvInto(sock: unknown, buf: Uint8Array): Promise<number>;
  sockSendall(sock: unknown, data: Uint8Array): Promise<void>;
  sockConnect(sock: unknown, address: unknown): Promise<void>;
  sockAccept(sock: unknown): Promise<[unknown, unknown]>;
  getaddrinfo(host: string | null, port: number | string | null, options?: object): Promise<unknown[]>;
  getnameinfo(sockaddr: unknown, flags?: number): Promise<[string, string]>;
  addReader(fd: number, callback: (...args: any[]) => unknown, ...args: unknown[]): void;
  removeReader(fd: number): boolean;
  addWriter(fd: number, callback: (...args: any[]) => unknown, ...args: unknown[]): void;
  removeWriter(fd: number): boolean;
  addSignalHandler(sig: string | number, callback: (...args: any[]) => unknown, ...args: unknown[]): void;
  removeSignalHandler(sig: string | number): boolean;
}

/**
 * The same name at run time, as asyncio's class: `loop instanceof AbstractEventLoop` holds
 * for every loopkit loop, and a method a subclass does not provide throws
 * NotImplementedError. (The interface above merges into this class's type.)
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export abstract class AbstractEventLoop {}

const loopMethods = [
  'runForever', 'runUntilComplete', 'stop', 'isRunning', 'isClosed', 'close', 'shutdownDefaultExecutor',
  'callSoon', 'callSoonThreadsafe', 'callLater', 'callAt', 'time',
  'createFuture', 'createTask', 'setTaskFactory', 'getTaskFactory', 'runInExecutor',
  'setExceptionHandler', 'getExceptionHandler', 'defaultExceptionHandler', 'callExceptionHandler',
  'getDebug', 'setDebug',
  'createConnection', 'createServer', 'createUnixConnection', 'createUnixServer', 'createDatagramEndpoint',
  'sockRecv', 'sockRecvInto', 'sockSendall', 'sockConnect', 'sockAccept', 'getaddrinfo', 'getnameinfo',
  'addReader', 'removeReader', 'addWriter', 'removeWriter', 'addSignalHandler', 'removeSignalHandler',
];
for (const name of loopMethods) {
  Object.defineProperty(AbstractEventLoop.prototype, name, {
    value: function notImplemented(this: object): never {
      throw new NotImplementedError(`${this.constructor.name} does not implement ${name}()`);
    },
    writable: true,
    configurable: true,
  });
}

/**
 * The task whose code is executing, carried across awaits (Node's contextvars). One per
 * thread, shared by every copy of @loopkit/core (see world.ts).
 */
export const taskContext: AsyncLocalStorage<Task<unknown>> = world.taskContext;

/** The loop running in this thread, or null. */
export function _getRunningLoop(): AbstractEventLoop | null {
  return world.runningLoop;
}

/** Mark `loop` as running in this thread (null: none). Loops call this from runForever. */
export function _setRunningLoop(loop: AbstractEventLoop | null): void {
  world.runningLoop = loop;
}

/** The running loop; throws RuntimeError outside one, as asyncio.get_running_loop(). */
export function getRunningLoop(): AbstractEventLoop {
  const loop = world.runningLoop;
  if (loop === null) throw new RuntimeError('no running event loop');
  return loop;
}

/**
 * Installed by @loopkit/policy: how `new Future()` finds a loop when none is running
 * (the policy's loop for this thread). Core itself knows no policy.
 */
export function _setCurrentLoopResolver(resolver: (() => AbstractEventLoop) | null): void {
  world.currentLoopResolver = resolver;
}

/** The running loop, else the policy's current loop (what `new Future()` binds to). */
export function _getCurrentLoop(): AbstractEventLoop {
  const loop = world.runningLoop;
  if (loop !== null) return loop;
  const resolver = world.currentLoopResolver;
  if (resolver !== null) return resolver();
  throw new RuntimeError('There is no current event loop: run one, or import loopkit (its policy provides one)');
}

/**
 * How a callback that resumed awaiting code hands the thread to it, so the resumed step runs
 * at the same point of the iteration as in asyncio. The callback sets `pending` (and `task`
 * when the resumed code is a task's step); the loop pauses its batch there. It goes on when
 * that task reports the end of its step (stepEnded), else once the microtask queue drained.
 */
export const resumeSignal: ResumeSignal = world.resumeSignal;

/** A callback is resuming awaiting code (`task`'s step, or code outside any task): the loop pauses its batch after it. */
export function resumeStep(task: Task<unknown> | null): void {
  resumeSignal.pending = true;
  resumeSignal.task = task;
}

/**
 * `task`'s step ended: it suspended on a loopkit awaitable or finished. A loop paused for
 * this step goes on now, from here, instead of after the microtask queue drained: a hop
 * through Node's nextTick queue per step saved. Called only where no code of the step can
 * follow: from the reaction that sees the task's body settle, and through stepEndsIfAwaited.
 */
export function stepEnded(task: Task<unknown>): void {
  if (resumeSignal.waitingFor === task) {
    resumeSignal.waitingFor = null;
    resumeSignal.goOn!();
  }
}

const settled = Promise.resolve();
const endingSteps: Array<Task<unknown>> = [];

function endNextStep(): void {
  stepEnded(endingSteps.shift()!);
}

/**
 * Called by the then() of a loopkit awaitable, in `task`'s context. When a paused loop waits
 * for this task and the language itself is awaiting here (see awaitedHere), the step ends:
 * stepEnded runs once the job running now is over, since a hand-made call may have more code
 * of the step after it, which must not see other tasks run in between.
 */
export function stepEndsIfAwaited(task: Task<unknown>, onFulfilled: unknown): void {
  if (resumeSignal.waitingFor !== task || !awaitedHere(onFulfilled)) return;
  endingSteps.push(task);
  void settled.then(endNextStep);
}

const functionSource = Function.prototype.toString;

/**
 * Whether `then(onFulfilled)` is the language adopting the thenable (`await x`,
 * Promise.resolve(x)): it passes a promise's resolving functions, anonymous built-ins. A
 * user's callback (even a bound one: named "bound ...") is not, and the step goes on after it.
 */
function awaitedHere(onFulfilled: unknown): boolean {
  return (
    typeof onFulfilled === 'function' &&
    onFulfilled.name === '' &&
    functionSource.call(onFulfilled) === 'function () { [native code] }'
  );
}
