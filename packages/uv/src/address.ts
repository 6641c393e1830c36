/**
 * Socket addresses as Node shows them: `{address, family, port}` for IP,
 * `{path}` for Unix sockets. Only numeric IP addresses are accepted: name
 * resolution belongs to the event loop (node:dns), never to a syscall that
 * could block the thread.
 */
import { isIP } from './builtins.js';
import { describe } from './errors.js';

/** An IPv4/IPv6 socket address, as `net.Socket#address()` returns it. */
export interface InetAddress {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
}

/** A Unix socket address; '' for an unnamed socket (socketpair, unbound client). */
export interface UnixAddress {
  path: string;
}

/** Any socket address returned by this package. */
export type SockAddr = InetAddress | UnixAddress;

/**
 * What bind/connect/sendto accept: `{address?, port}`, a `[host, port]` tuple,
 * `{path}`, or a path string (Unix sockets). A missing address means "any" for
 * bind and loopback for connect/sendto.
 */
export type AddressLike =
  | { address?: string; port: number; family?: string }
  | readonly [string, number]
  | { path: string }
  | string;

/** Socket families by their Python-like names. */
export type SocketFamily = 'inet' | 'inet6' | 'unix';

/**
 * Turns an AddressLike into the native (host, port) pair; port -1 marks a Unix
 * path. Throws TypeError/RangeError naming the bad part.
 */
export function toNative(family: SocketFamily, addr: unknown, binding: boolean, name = 'address'): [string, number] {
  if (family === 'unix') {
    if (typeof addr === 'string') return [addr, -1];
    if (addr !== null && typeof addr === 'object' && typeof (addr as { path?: unknown }).path === 'string')
      return [(addr as { path: string }).path, -1];
    throw new TypeError(`${name} must be a path string or {path} for a unix socket, got ${describe(addr)}`);
  }
  let host: unknown;
  let port: unknown;
  if (Array.isArray(addr) && addr.length === 2) {
    [host, port] = addr as unknown[];
  } else if (addr !== null && typeof addr === 'object' && 'port' in addr) {
    host = (addr as { address?: unknown }).address;
    port = (addr as { port: unknown }).port;
  } else {
    throw new TypeError(`${name} must be {address?, port} or [host, port] for an ${family} socket, got ${describe(addr)}`);
  }
  if (typeof port !== 'number' || !Number.isInteger(port))
    throw new TypeError(`${name}.port must be an integer, got ${describe(port)}`);
  if (port < 0 || port > 65535) throw new RangeError(`${name}.port must be in 0..65535, got ${port}`);
  if (host === undefined || host === null || host === '') {
    host = family === 'inet' ? (binding ? '0.0.0.0' : '127.0.0.1') : binding ? '::' : '::1';
  }
  if (typeof host !== 'string') throw new TypeError(`${name}.address must be a string, got ${describe(host)}`);
  const v = isIP(host);
  if (v === 0)
    throw new TypeError(
      `${name}.address must be a numeric IPv4 or IPv6 address (resolve names with the loop's getaddrinfo), got ${JSON.stringify(host)}`,
    );
  if (family === 'inet' && v === 6)
    throw new TypeError(`${name}.address ${host} is IPv6 but the socket family is 'inet'`);
  // An inet6 socket reaches IPv4 peers through v4-mapped addresses (unless IPV6_V6ONLY).
  if (family === 'inet6' && v === 4) host = `::ffff:${host}`;
  return [host as string, port];
}

/** For error messages: the address as the caller wrote it, normalized. */
export function display(host: string, port: number): { address?: string; port?: number; path?: string } {
  return port < 0 ? { path: host } : { address: host, port };
}
