/**
 * @loopkit/proactor: the completion-based event loop (asyncio's ProactorEventLoop). The
 * Proactor contract, NetProactor on node:net/node:dgram, NetSocket (a socket object over a
 * Node handle, for when the @loopkit/uv addon is missing), the loop, its transports and Server.
 */
export { Proactor, type Address, type AddressLike } from './proactor.js';
export { NetProactor, OpFuture } from './net-proactor.js';
export { NetSocket, type NetSocketFamily, type NetSocketType } from './net-socket.js';
export { ProactorEventLoop } from './event-loop.js';
// The option and address types are core's (one set for every loop), still importable from here.
export type { AddrInfo, ConnectionOptions, DatagramOptions, HostPort, ServerOptions, UnixServerOptions } from '@loopkit/core';
export { ProactorSocketTransport, ProactorDatagramTransport } from './transports.js';
export { UringProactor, UringSocket, UringEventLoop } from './uring-proactor.js';

// TLS for every loop: core imports no engine, so the backend hands it @loopkit/uv's
// OpenSSL engine when the addon loaded (null otherwise: TLS then fails with a clear error).
import { registerTLSProvider } from '@loopkit/core';
import { tlsProvider } from '@loopkit/uv';
if (tlsProvider !== null) registerTLSProvider(tlsProvider);
