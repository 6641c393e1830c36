/**
 * @loopkit/proactor: the completion-based event loop (asyncio's ProactorEventLoop). The
 * Proactor contract, NetProactor on node:net/node:dgram, NetSocket (a socket object over a
 * Node handle, for when the @loopkit/uv addon is missing), the loop, its transports and Server.
 */
export { Proactor, type Address, type AddressLike } from './proactor.js';
export { NetProactor, OpFuture } from './net-proactor.js';
export { NetSocket, type NetSocketFamily, type NetSocketType } from './net-socket.js';
export {
  ProactorEventLoop,
  type AddrInfo,
  type ConnectionOptions,
  type DatagramOptions,
  type HostPort,
  type ServerOptions,
  type UnixServerOptions,
} from './event-loop.js';
export { ProactorSocketTransport, ProactorDatagramTransport } from './transports.js';
