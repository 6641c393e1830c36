/**
 * @loopkit/uv: loopkit's own libuv/N-API binding. Non-blocking raw sockets,
 * epoll/kqueue/poll readiness that Node's loop can watch, wake-up fds, and a TLS engine
 * (OpenSSL over memory BIOs, see tls.ts).
 * Imports nothing of loopkit. When the addon is missing, importing still works:
 * isAvailable() is false and loadError() says why.
 */
export { isAvailable, loadError } from './native.js';
export type { AddrOut } from './native.js';
export { errnoError, errnoName } from './errors.js';
export type { ErrnoError } from './errors.js';
export type { AddressLike, InetAddress, SockAddr, SocketFamily, UnixAddress } from './address.js';
export { Socket, socket, socketpair, tryRecvBatch } from './socket.js';
export type { SocketType } from './socket.js';
export { Epoll, Kqueue, PollSet, READABLE, WRITABLE } from './readiness.js';
export { WakeupFd } from './wakeup.js';
export { Uring } from './uring.js';
export * from './constants.js';
export { tlsProvider, tlsStats } from './tls.js';
export type { HandshakeState, TLSContext, TLSEngine, TLSOptions, TLSProvider, TLSSessionInfo } from './tls.js';
export { adviseHugePagesAhead, adviseHugePagesForRead, keepFreedMemory } from './memory.js';
export { spawnChild, pidfdOpen, reapChild, pipeRead, pipeWrite, pipeWritev, closeFd, setNonblocking } from './process.js';
export type { SpawnSpec, SpawnedChild, StdioSpec } from './process.js';
