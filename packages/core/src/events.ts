/**
 * What every loop offers (asyncio's AbstractEventLoop) and the per-thread state that ties
 * code to the loop running it: the running loop and the task whose code is executing.
 */
import { NotImplementedError, RuntimeError } from './errors.js';
import type { Executor } from './executor.js';
import type { FunctionRef } from './executor-checks.js';
import type { AddrInfo, AddrInfoOptions } from './names.js';
import type { Future } from './futures.js';
import type { Handle, TimerHandle } from './handles.js';
import type { Task } from './tasks.js';
import type { BaseProtocol, DatagramProtocol } from './protocols.js';
import type { SubprocessProtocol, SubprocessTransport } from './subprocess/protocols.js';
import type { AbstractServer } from './server.js';
import type { ConnectionOptions, DatagramOptions, ServerOptions, UnixConnectionOptions, UnixServerOptions } from './socket-loop.js';
import type { SubprocessOptions } from './subprocess/spec.js';
import type { SSLOption, TLSServerOptions } from './tls/contexts.js';
import type { StartTlsOptions } from './tls/start-tls.js';
import type { DatagramTransport, ReadTransport, Transport, WriteTransport } from './transports.js';
import { world, type ResumeSignal } from './world.js';
import { isAnonymousBuiltin } from './task-context.js';

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
/** What setExceptionHandler takes: called with the loop and the context of an error no one awaited. */
export type ExceptionHandler = (loop: AbstractEventLoop, context: ExceptionContext) => void;
/** What addReader/addWriter watch: a file descriptor, or an object with `fileno()` (a socket). */
export type FileDescriptorLike =
  | number
  | {
      /** The file descriptor. */
      fileno(): number;
    };

/**
 * Runs a function in an async context and returns its result: what Node's
 * `AsyncLocalStorage.snapshot()` returns, loopkit's form of asyncio's contextvars.Context.
 */
export type ContextRunner = <R>(fn: (...args: any[]) => R, ...args: any[]) => R;
/** The options of createTask (asyncio's `name=` and `context=`). */
export interface CreateTaskOptions {
  name?: string;
  /** The async context the task's code runs in (default: the loop's). */
  context?: ContextRunner | null;
}
/** What setTaskFactory takes: makes the Future (usually a Task) that createTask returns. */
export type TaskFactory = (loop: AbstractEventLoop, coro: CoroFn<any>, options: CreateTaskOptions) => Future<any>;

/** The public surface of an event loop. BaseEventLoop implements all of it but I/O. */
export interface AbstractEventLoop {
  /** Run until stop() is called; resolves once the loop stopped (it never blocks Node's loop). */
  runForever(): Promise<void>;
  /** Run until `aw` (a Future, a thenable, or a coroutine function made a Task) is done; resolves to its result. */
  runUntilComplete<T>(aw: Awaitable<T> | CoroFn<T>): Promise<T>;
  /** Stop the loop after the callbacks of the current iteration. */
  stop(): void;
  /** Whether the loop is running. */
  isRunning(): boolean;
  /** Whether close() was called. */
  isClosed(): boolean;
  /** Close the loop: drop pending callbacks, shut the default executor down; it cannot run again. */
  close(): void;
  /** Shut the default executor down, waiting at most `timeout` seconds for its threads. */
  shutdownDefaultExecutor(timeout?: number | null): Promise<void>;

  /** Schedule `callback(...args)` for the next iteration, in FIFO order. */
  callSoon<A extends unknown[]>(callback: (...args: A) => unknown, ...args: A): Handle;
  /** callSoon that may be called from outside the loop's callbacks (another thread's handle, a Node callback), waking the loop. */
  callSoonThreadsafe<A extends unknown[]>(callback: (...args: A) => unknown, ...args: A): Handle;
  /** Schedule `callback(...args)` in `delay` seconds. */
  callLater<A extends unknown[]>(delay: number, callback: (...args: A) => unknown, ...args: A): TimerHandle;
  /** Schedule `callback(...args)` at loop time `when` (seconds, see time()). */
  callAt<A extends unknown[]>(when: number, callback: (...args: A) => unknown, ...args: A): TimerHandle;
  /** The loop's monotonic clock, in seconds. */
  time(): number;

  /** A new Future bound to this loop. */
  createFuture<T = unknown>(): Future<T>;
  /** Wrap the coroutine function in a Task scheduled on this loop (through the task factory, if set). */
  createTask<T>(coro: CoroFn<T>, options?: CreateTaskOptions): Task<T>;
  /** Make createTask use `factory` (null: the default Task). */
  setTaskFactory(factory: TaskFactory | null): void;
  /** The task factory, or null for the default. */
  getTaskFactory(): TaskFactory | null;

  /** Run `fn(...args)` in `executor` (null: the default executor, worker threads); a Future of its result. */
  runInExecutor<R = unknown, A extends unknown[] = any[]>(executor: Executor | null, fn: ((...args: A) => R | PromiseLike<R>) | FunctionRef, ...args: A): Future<Awaited<R>>;

  /** Handle errors no one awaits with `handler` (null: the default handler). */
  setExceptionHandler(handler: ExceptionHandler | null): void;
  /** The exception handler, or null for the default. */
  getExceptionHandler(): ExceptionHandler | null;
  /** The default handler: logs the context's message and exception. */
  defaultExceptionHandler(context: ExceptionContext): void;
  /** Report `context` to the exception handler (an error in the handler is logged, never thrown). */
  callExceptionHandler(context: ExceptionContext): void;

  /** Whether debug mode is on. */
  getDebug(): boolean;
  /** Turn debug mode on or off (slow callbacks are reported, tasks keep where they were created). */
  setDebug(enabled: boolean): void;
  /** In debug mode, a callback running longer than this (seconds) is reported. */
  slowCallbackDuration: number;

  // I/O: offered by backends; BaseEventLoop throws NotImplementedError.
  /**
   * Open a stream connection to host:port; resolves to `[transport, protocol]`, the protocol
   * typed as the factory makes it (typeshed's `tuple[Transport, _ProtocolT]`).
   */
  createConnection<P extends BaseProtocol = BaseProtocol>(protocolFactory: () => P, host?: string | null, port?: number | null, options?: ConnectionOptions): Promise<[Transport, P]>;
  /** Listen on host:port; each connection gets a protocol from `protocolFactory`. Resolves to the Server. */
  createServer(protocolFactory: () => BaseProtocol, host?: string | readonly string[] | null, port?: number | null, options?: ServerOptions): Promise<AbstractServer>;
  /** Open a Unix socket connection (a named pipe on Windows); resolves to `[transport, protocol]`. */
  createUnixConnection<P extends BaseProtocol = BaseProtocol>(protocolFactory: () => P, path?: string | null, options?: UnixConnectionOptions): Promise<[Transport, P]>;
  /** Listen on a Unix socket path (a named pipe on Windows); resolves to the Server. */
  createUnixServer(protocolFactory: () => BaseProtocol, path?: string | null, options?: UnixServerOptions): Promise<AbstractServer>;
  /** A transport on a stream socket accepted outside the loop (server side; `ssl` makes it TLS); resolves to `[transport, protocol]`. */
  connectAcceptedSocket<P extends BaseProtocol = BaseProtocol>(protocolFactory: () => P, sock: unknown, options?: TLSServerOptions): Promise<[Transport, P]>;
  /** Open a UDP endpoint; resolves to `[transport, protocol]`. */
  createDatagramEndpoint<P extends DatagramProtocol = DatagramProtocol>(protocolFactory: () => P, options?: DatagramOptions): Promise<[DatagramTransport, P]>;
  /** Upgrade a connection to TLS in place (asyncio's start_tls); resolves to the TLS transport. */
  startTls(transport: Transport, protocol: BaseProtocol, ssl: SSLOption, options?: StartTlsOptions): Promise<Transport>;
  /** Receive up to `n` bytes from a socket (empty at EOF). */
  sockRecv(sock: unknown, n: number): Promise<Uint8Array>;
  /** Receive into `buf`; resolves to the number of bytes (0 at EOF). */
  sockRecvInto(sock: unknown, buf: Uint8Array): Promise<number>;
  /** Send all of `data` on a socket. */
  sockSendall(sock: unknown, data: Uint8Array): Promise<void>;
  /** Receive one datagram of up to `bufsize` bytes: `[data, address]`. */
  sockRecvfrom(sock: unknown, bufsize: number): Promise<[Uint8Array, unknown]>;
  /** Receive one datagram into `buf` (its first `nbytes`; 0: all of it): `[bytes, address]`. */
  sockRecvfromInto(sock: unknown, buf: Uint8Array, nbytes?: number): Promise<[number, unknown]>;
  /** Send `data` as one datagram to `address`; resolves to the bytes sent. */
  sockSendto(sock: unknown, data: Uint8Array, address: unknown): Promise<number>;
  /** Send a file (fd or FileHandle) on a transport; resolves to the bytes sent (asyncio's loop.sendfile). */
  sendfile(transport: Transport, file: unknown, offset?: number, count?: number | null, options?: { fallback?: boolean }): Promise<number>;
  /** Send a file (fd or FileHandle) on a connected stream socket; resolves to the bytes sent. */
  sockSendfile(sock: unknown, file: unknown, offset?: number, count?: number | null, options?: { fallback?: boolean }): Promise<number>;
  /** Connect a socket to `address`. */
  sockConnect(sock: unknown, address: unknown): Promise<void>;
  /** Accept a connection on a listening socket; resolves to `[socket, address]`, the socket of the listener's kind. */
  sockAccept<S>(sock: S): Promise<[S, unknown]>;
  /** Resolve host and port to socket addresses (without blocking the loop). */
  getaddrinfo(host: string | null, port: number | string | null, options?: AddrInfoOptions): Promise<AddrInfo[]>;
  /** Resolve a socket address to `[host, service]`. */
  getnameinfo(sockaddr: unknown, flags?: number): Promise<[string, string]>;
  /**
   * Call `callback(...args)` whenever `fd` (a file descriptor, or an object with `fileno()`, as
   * asyncio's file objects) is readable (selector loops; a proactor throws NotImplementedError).
   */
  addReader<A extends unknown[]>(fd: FileDescriptorLike, callback: (...args: A) => unknown, ...args: A): void;
  /** Stop watching `fd` for reading; whether it was watched. */
  removeReader(fd: FileDescriptorLike): boolean;
  /** Call `callback(...args)` whenever `fd` is writable (selector loops; a proactor throws NotImplementedError). */
  addWriter<A extends unknown[]>(fd: FileDescriptorLike, callback: (...args: A) => unknown, ...args: A): void;
  /** Stop watching `fd` for writing; whether it was watched. */
  removeWriter(fd: FileDescriptorLike): boolean;
  /** Call `callback(...args)` on the loop when the process gets signal `sig`. */
  addSignalHandler<A extends unknown[]>(sig: string | number, callback: (...args: A) => unknown, ...args: A): void;
  /** Remove the handler for `sig`; whether there was one. */
  removeSignalHandler(sig: string | number): boolean;
  /** Run `program` with `args` as a subprocess (no shell); resolves to `[transport, protocol]`. */
  subprocessExec<P extends BaseProtocol = SubprocessProtocol>(protocolFactory: () => P, program: string, args?: readonly string[], options?: SubprocessOptions): Promise<[SubprocessTransport, P]>;
  /** Run `cmd` through the shell as a subprocess; resolves to `[transport, protocol]`. */
  subprocessShell<P extends BaseProtocol = SubprocessProtocol>(protocolFactory: () => P, cmd: string, options?: SubprocessOptions): Promise<[SubprocessTransport, P]>;
  /** Register the read end of `pipe` with the loop; resolves to `[transport, protocol]`. */
  connectReadPipe<P extends BaseProtocol = BaseProtocol>(protocolFactory: () => P, pipe: FileDescriptorLike): Promise<[ReadTransport, P]>;
  /** Register the write end of `pipe` with the loop; resolves to `[transport, protocol]`. */
  connectWritePipe<P extends BaseProtocol = BaseProtocol>(protocolFactory: () => P, pipe: FileDescriptorLike): Promise<[WriteTransport, P]>;
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
  'createConnection', 'createServer', 'createUnixConnection', 'createUnixServer', 'createDatagramEndpoint', 'connectAcceptedSocket', 'startTls',
  'sockRecv', 'sockRecvInto', 'sockSendall', 'sockRecvfrom', 'sockRecvfromInto', 'sockSendto', 'sendfile', 'sockSendfile', 'sockConnect', 'sockAccept', 'getaddrinfo', 'getnameinfo',
  'addReader', 'removeReader', 'addWriter', 'removeWriter', 'addSignalHandler', 'removeSignalHandler',
  'subprocessExec', 'subprocessShell', 'connectReadPipe', 'connectWritePipe',
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
 * `endsJob`: the caller is a promise reaction with nothing after this call, so the loop
 * goes on without putting the task back for the rest of the job (task-context.ts
 * leaveTaskForJob).
 */
export function stepEnded(task: Task<unknown>, endsJob = false): void {
  // A task given its own async context (createTask's `context`) reports from inside that
  // context: going on from here would run the loop's next callbacks in it. The loop goes on
  // once the microtask queue drained instead, from its own context.
  if (resumeSignal.waitingFor === task && task._context === null) {
    resumeSignal.waitingFor = null;
    resumeSignal.goOn!(endsJob);
  }
}

const settled = Promise.resolve();
const endingSteps: Array<Task<unknown>> = [];

function endNextStep(): void {
  stepEnded(endingSteps.shift()!, true);
}

/**
 * Called by the then() of a loopkit awaitable, in `task`'s context. When a paused loop waits
 * for this task and the language itself is awaiting here (see awaitedHere), the step ends:
 * stepEnded runs once the job running now is over, since a hand-made call may have more code
 * of the step after it, which must not see other tasks run in between.
 */
export function stepEndsIfAwaited(task: Task<unknown>, onFulfilled: unknown): void {
  if (resumeSignal.waitingFor !== task || !awaitedHere(onFulfilled)) return;
  stepEndsAfterThisJob(task);
}

/**
 * `task`'s code starts waiting on a promise loopkit settles (a sync primitive's wait()): its
 * step ends once the job running now is over, if a paused loop then waits for it (checked
 * then: in a first step the loop pauses only after this call).
 */
export function stepEndsAfterThisJob(task: Task<unknown>): void {
  endingSteps.push(task);
  void settled.then(endNextStep);
}

const functionSource = Function.prototype.toString;

/**
 * Whether `then(onFulfilled)` is the language adopting the thenable (`await x`,
 * Promise.resolve(x)): it passes a promise's resolving functions, anonymous built-ins. A
 * user's callback (even a bound one: named "bound ...") is not, and the step goes on after it.
 */
const awaitedHere: (onFulfilled: unknown) => boolean =
  isAnonymousBuiltin ??
  ((onFulfilled) =>
    typeof onFulfilled === 'function' &&
    onFulfilled.name === '' &&
    functionSource.call(onFulfilled) === 'function () { [native code] }');
