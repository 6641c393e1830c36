export * from './errors.js';
export { logger } from './log.js';
export {
  getRunningLoop,
  _getRunningLoop,
  _setRunningLoop,
  _setCurrentLoopResolver,
  _getCurrentLoop,
  type AbstractEventLoop,
  type Awaitable,
  type CoroFn,
  type ExceptionContext,
  type ExceptionHandler,
  type TaskFactory,
} from './events.js';
export type { EventLoopBackend } from './backend.js';
export { Handle, TimerHandle } from './handles.js';
export { Future, isFuture, isThenable, wrapFuture, wrapFuture as wrap, type FutureOptions } from './futures.js';
export { Task, currentTask, allTasks, ensureFuture, type TaskOptions } from './tasks.js';
export { BaseEventLoop } from './base-events.js';
export { TestLoop } from './test-loop.js';
export { sleep, YieldOnce } from './sleep.js';
export { threadsafeHandle, callSoonThreadsafe, runCoroutineThreadsafe, ConcurrentFuture, type LoopHandle } from './threads.js';
export { WorkerThreadExecutor, getDefaultExecutor, type Executor, type FunctionRef } from './executor.js';
export { BaseProtocol, Protocol, BufferedProtocol, DatagramProtocol, isBufferedProtocol } from './protocols.js';
export {
  BaseTransport,
  ReadTransport,
  WriteTransport,
  Transport,
  DatagramTransport,
  asBytes,
  joinBytes,
  type SocketAddress,
  type BytesLike,
  type WriteBufferLimits,
} from './transports.js';
export { WriteFlowControl, DEFAULT_HIGH_WATER } from './flow-control.js';
export { BaseStreamTransport, type ConnectionOwner } from './base-transport.js';
