/**
 * loopkit: what an application imports. The public names of every package: core (futures,
 * tasks, helpers, streams, run), the sockets of the native binding, the selector and
 * proactor loops, and the policy (which loop you get, backend registry).
 */
import '@loopkit/policy';

export * from '@loopkit/core';
export { socket, socketpair, isAvailable, loadError, Socket, type SocketType, type SocketFamily, type InetAddress, type UnixAddress, type SockAddr } from '@loopkit/uv';
// What a socket's setsockopt/getsockopt/shutdown take, with this platform's values (as Python's socket module).
export {
  AF_INET, AF_INET6, AF_UNIX, SOCK_STREAM, SOCK_DGRAM, SOL_SOCKET, SO_REUSEADDR, SO_REUSEPORT, SO_KEEPALIVE,
  SO_RCVBUF, SO_SNDBUF, SO_ERROR, SO_TYPE, SO_BROADCAST, IPPROTO_IP, IPPROTO_IPV6, IPPROTO_TCP, IPPROTO_UDP,
  TCP_NODELAY, IPV6_V6ONLY, SHUT_RD, SHUT_WR, SHUT_RDWR,
} from '@loopkit/uv';
export * from '@loopkit/selector';
export * from '@loopkit/proactor';
export * from '@loopkit/policy';
