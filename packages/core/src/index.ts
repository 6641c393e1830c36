export * from './errors.js';
export { logger } from './log.js';
export {
  getRunningLoop,
  _getRunningLoop,
  _setRunningLoop,
  _setCurrentLoopResolver,
  _getCurrentLoop,
  AbstractEventLoop,
  type Awaitable,
  type CoroFn,
  type ContextRunner,
  type CreateTaskOptions,
  type ExceptionContext,
  type ExceptionHandler,
  type FileDescriptorLike,
  type TaskFactory,
} from './events.js';
export type { EventLoopBackend } from './backend.js';
export { Handle, TimerHandle } from './handles.js';
export { Future, isFuture, isThenable, wrapFuture, wrapFuture as wrap, type FutureOptions } from './futures.js';
export { Task, createTask, currentTask, allTasks, ensureFuture, type TaskOptions } from './tasks.js';
export { BaseEventLoop } from './base-events.js';
export { TestLoop } from './test-loop.js';
export { sleep, YieldOnce, type YieldPromise } from './sleep.js';
export { threadsafeHandle, callSoonThreadsafe, runCoroutineThreadsafe, ConcurrentFuture, type LoopHandle } from './threads.js';
export { WorkerThreadExecutor, getDefaultExecutor, DEFAULT_MAX_WORKERS, type Executor, type FunctionRef, type SubmitOptions } from './executor.js';
export { toThread } from './to-thread.js';
export { BaseProtocol, Protocol, BufferedProtocol, DatagramProtocol, isBufferedProtocol } from './protocols.js';
export {
  BaseTransport,
  ReadTransport,
  WriteTransport,
  Transport,
  DatagramTransport,
  type DatagramAddress,
  asBytes,
  joinBytes,
  type SocketAddress,
  type TransportExtraInfo,
  type TransportSocket,
  type BytesLike,
  type WriteBufferLimits,
} from './transports.js';
export { WriteFlowControl, DEFAULT_HIGH_WATER } from './flow-control.js';
export { BaseStreamTransport, extraInfo, socketExtra, type ConnectionOwner } from './base-transport.js';
export { BaseDatagramTransport } from './base-datagram.js';
export { MemoryTransport, memoryTransportPair, type MemoryTransportOptions } from './memory-transport.js';
export {
  StreamReader,
  StreamWriter,
  StreamReaderProtocol,
  FlowControlProtocol,
  openConnection,
  startServer,
  openUnixConnection,
  startUnixServer,
  DEFAULT_LIMIT,
  type ClientConnectedCallback,
  type OpenConnectionOptions,
  type OpenUnixConnectionOptions,
  type StartServerOptions,
  type StartUnixServerOptions,
  type StreamLimitOption,
  type StreamReaderOptions,
  type WriterProtocol,
} from './streams.js';
export { Server, type AbstractServer, type ServerSocket, type ServingLoop } from './server.js';
export {
  BaseSocketLoop,
  anyAddress,
  type ConnectionOptions,
  type DatagramOptions,
  type LoopSocket,
  type OwnedTransport,
  type ServerOptions,
  type UnixServerOptions,
  type UnixConnectionOptions,
} from './socket-loop.js';
export {
  getaddrinfo,
  getnameinfo,
  resolveAddress,
  familyOption,
  familyOfAddress,
  hostPort,
  checkPort,
  checkPath,
  type AddrInfo,
  type AddrInfoOptions,
  type Family,
  type HostPort,
  type InetSockAddr,
  type SockType,
} from './names.js';
export { gather, type GatherOptions, type AwaitableLike, type AwaitablesOf, type ResultOf } from './gather.js';
export { shield } from './shield.js';
export { wait, waitFor, FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED, type ReturnWhen, type WaitOptions } from './wait.js';
export { asCompleted, AsCompleted } from './as-completed.js';
export { timeout, timeoutAt, Timeout } from './timeouts.js';
export { TaskGroup, taskGroup } from './taskgroup.js';
export {
  captureCallGraph,
  formatCallGraph,
  printCallGraph,
  parseStack,
  type CallGraphOptions,
  type CallStackEntry,
  type FutureCallGraph,
} from './graph.js';
export { introspectionId, takeSnapshot, INTROSPECTION_KEY, type FutureRecord, type ThreadSnapshot } from './introspection.js';
export { Lock, Event, Condition, Semaphore, BoundedSemaphore, type LockLike } from './locks.js';
export { Held } from './held.js';
export { Barrier } from './barrier.js';
export { Queue, PriorityQueue, LifoQueue } from './queues.js';
export type { Comparator } from './priority.js';
export type { TLSEngine, TLSContext, TLSProvider, TLSOptions, TLSSessionInfo, HandshakeState } from './tls/engine.js';
export { registerTLSProvider, getTLSProvider } from './tls/provider.js';
export { SSLProtocol, type SSLProtocolOptions, type SSLState } from './tls/sslproto.js';
export { SSLTransport } from './tls/ssl-transport.js';
export { SSLObject, certificateObject, type PeerCertificate, type CipherInfo } from './tls/ssl-object.js';
export type { ClientSSLOption, ServerSSLOption, ServerTLSOptions, SSLOption, TLSClientOptions, TLSServerOptions } from './tls/contexts.js';
export type { StartTlsOptions } from './tls/start-tls.js';
export { checkByteCount, checkOptions, isPlainObject } from './validate.js';
export { paceReceived } from './young-pacing.js';
export { NodeBuffer, receiveSlab, receivedView, type RecvBatch } from './receive-slab.js';
export { PIPE, STDOUT, DEVNULL, type StdioOption, type StderrOption, type StdioSpec, type SubprocessOptions, type SubprocessSpec } from './subprocess/spec.js';
export { SubprocessProtocol, SubprocessTransport } from './subprocess/protocols.js';
export { BaseSubprocessTransport, type SubprocessOwner } from './subprocess/base-subprocess.js';
export { NodeSubprocessTransport, exitStatus } from './subprocess/node-subprocess.js';
export { NodePipeTransport, type PipeDirection } from './subprocess/node-pipe.js';
export { Process, SubprocessStreamProtocol, createSubprocessExec, createSubprocessShell, type CreateSubprocessOptions } from './subprocess/process.js';
export { pipeFd, type SubprocessHooks } from './subprocess/loop.js';
export { world as _world, type World, type ResumeSignal } from './world.js';
export type { SlotAddon, TaskContext, TaskTracking, TaskTrackingChoice } from './task-slot.js';
export { ioWaitingCall as _ioWaitingCall, type WaitingCall as _WaitingCall } from './waiting-calls.js';
export { run, Runner, _setCurrentLoopSetter, _setDefaultLoopFactory, type RunnerOptions, type RunOptions } from './runners.js';
