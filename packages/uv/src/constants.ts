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

export const AF_INET = v('AF_INET');
export const AF_INET6 = v('AF_INET6');
export const AF_UNIX = v('AF_UNIX');
export const SOCK_STREAM = v('SOCK_STREAM');
export const SOCK_DGRAM = v('SOCK_DGRAM');
export const SOL_SOCKET = v('SOL_SOCKET');
export const SO_REUSEADDR = v('SO_REUSEADDR');
export const SO_REUSEPORT = v('SO_REUSEPORT');
export const SO_KEEPALIVE = v('SO_KEEPALIVE');
export const SO_RCVBUF = v('SO_RCVBUF');
export const SO_SNDBUF = v('SO_SNDBUF');
export const SO_ERROR = v('SO_ERROR');
export const SO_TYPE = v('SO_TYPE');
export const SO_BROADCAST = v('SO_BROADCAST');
export const IPPROTO_IP = v('IPPROTO_IP');
export const IPPROTO_IPV6 = v('IPPROTO_IPV6');
export const IPPROTO_TCP = v('IPPROTO_TCP');
export const IPPROTO_UDP = v('IPPROTO_UDP');
export const TCP_NODELAY = v('TCP_NODELAY');
export const IPV6_V6ONLY = v('IPV6_V6ONLY');
export const SHUT_RD = v('SHUT_RD');
export const SHUT_WR = v('SHUT_WR');
export const SHUT_RDWR = v('SHUT_RDWR');
/** errno values the try* methods return negated, e.g. `r === -EAGAIN`. */
export const EAGAIN = v('EAGAIN');
export const EWOULDBLOCK = v('EWOULDBLOCK');
export const EINPROGRESS = v('EINPROGRESS');
export const EINTR = v('EINTR');
export const EALREADY = v('EALREADY');
export const EISCONN = v('EISCONN');
export const EBADF = v('EBADF');
export const ECONNREFUSED = v('ECONNREFUSED');
export const ECONNRESET = v('ECONNRESET');
export const EPIPE = v('EPIPE');
export const ENOTCONN = v('ENOTCONN');
export const EEXIST = v('EEXIST');
export const ENOENT = v('ENOENT');
export const EINVAL = v('EINVAL');
