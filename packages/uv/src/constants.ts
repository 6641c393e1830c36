/**
 * Socket constants with this platform's values, read from the C headers by the
 * addon (they differ between Linux and macOS). Each is -1 when the addon is
 * unavailable, and SO_REUSEPORT is -1 where the platform lacks it.
 */
import { nativeOrNull } from './native.js';

const c: Record<string, number> = nativeOrNull()?.constants ?? {};
const v = (name: string): number => c[name] ?? -1;

/** All native constants by name (empty when the addon is unavailable). */
export const constants: Readonly<Record<string, number>> = Object.freeze({ ...c });

/** AF_INET: address family IPv4. */
export const AF_INET = v('AF_INET');
/** AF_INET6: address family IPv6. */
export const AF_INET6 = v('AF_INET6');
/** AF_UNIX: address family Unix domain. */
export const AF_UNIX = v('AF_UNIX');
/** SOCK_STREAM: socket type stream (TCP). */
export const SOCK_STREAM = v('SOCK_STREAM');
/** SOCK_DGRAM: socket type datagram (UDP). */
export const SOCK_DGRAM = v('SOCK_DGRAM');
/** SOL_SOCKET: socket-level option level. */
export const SOL_SOCKET = v('SOL_SOCKET');
/** SO_REUSEADDR: option: reuse a local address in TIME_WAIT. */
export const SO_REUSEADDR = v('SO_REUSEADDR');
/** SO_REUSEPORT: option: several sockets bound to one port (-1 where absent). */
export const SO_REUSEPORT = v('SO_REUSEPORT');
/** SO_KEEPALIVE: option: TCP keep-alive probes. */
export const SO_KEEPALIVE = v('SO_KEEPALIVE');
/** SO_RCVBUF: option: receive buffer size. */
export const SO_RCVBUF = v('SO_RCVBUF');
/** SO_SNDBUF: option: send buffer size. */
export const SO_SNDBUF = v('SO_SNDBUF');
/** SO_ERROR: option: the pending error (read after a non-blocking connect). */
export const SO_ERROR = v('SO_ERROR');
/** SO_TYPE: option: the socket type. */
export const SO_TYPE = v('SO_TYPE');
/** SO_BROADCAST: option: allow sending to broadcast addresses. */
export const SO_BROADCAST = v('SO_BROADCAST');
/** IPPROTO_IP: protocol level IPv4. */
export const IPPROTO_IP = v('IPPROTO_IP');
/** IPPROTO_IPV6: protocol level IPv6. */
export const IPPROTO_IPV6 = v('IPPROTO_IPV6');
/** IPPROTO_TCP: protocol level TCP. */
export const IPPROTO_TCP = v('IPPROTO_TCP');
/** IPPROTO_UDP: protocol level UDP. */
export const IPPROTO_UDP = v('IPPROTO_UDP');
/** TCP_NODELAY: option: disable Nagle's algorithm. */
export const TCP_NODELAY = v('TCP_NODELAY');
/** IPV6_V6ONLY: option: an IPv6 socket accepts no IPv4-mapped traffic. */
export const IPV6_V6ONLY = v('IPV6_V6ONLY');
/** SHUT_RD: shutdown(): no more receives. */
export const SHUT_RD = v('SHUT_RD');
/** SHUT_WR: shutdown(): no more sends (the peer sees EOF). */
export const SHUT_WR = v('SHUT_WR');
/** SHUT_RDWR: shutdown(): both directions. */
export const SHUT_RDWR = v('SHUT_RDWR');
/** errno values the try* methods return negated, e.g. `r === -EAGAIN`. */
export const EAGAIN = v('EAGAIN');
/** EWOULDBLOCK: errno EWOULDBLOCK, as a positive number. */
export const EWOULDBLOCK = v('EWOULDBLOCK');
/** EINPROGRESS: errno EINPROGRESS, as a positive number. */
export const EINPROGRESS = v('EINPROGRESS');
/** EINTR: errno EINTR, as a positive number. */
export const EINTR = v('EINTR');
/** EALREADY: errno EALREADY, as a positive number. */
export const EALREADY = v('EALREADY');
/** EISCONN: errno EISCONN, as a positive number. */
export const EISCONN = v('EISCONN');
/** EBADF: errno EBADF, as a positive number. */
export const EBADF = v('EBADF');
/** ECONNREFUSED: errno ECONNREFUSED, as a positive number. */
export const ECONNREFUSED = v('ECONNREFUSED');
/** ECONNRESET: errno ECONNRESET, as a positive number. */
export const ECONNRESET = v('ECONNRESET');
/** EPIPE: errno EPIPE, as a positive number. */
export const EPIPE = v('EPIPE');
/** ENOTCONN: errno ENOTCONN, as a positive number. */
export const ENOTCONN = v('ENOTCONN');
/** EEXIST: errno EEXIST, as a positive number. */
export const EEXIST = v('EEXIST');
/** ENOENT: errno ENOENT, as a positive number. */
export const ENOENT = v('ENOENT');
/** EINVAL: errno EINVAL, as a positive number. */
export const EINVAL = v('EINVAL');
