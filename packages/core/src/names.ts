/**
 * Name resolution for every socket loop (asyncio runs getaddrinfo/getnameinfo in an
 * executor; here node:dns, whose lookup runs on libuv's thread pool), and the checks of the
 * address and option shapes the loops' network methods take.
 */
import { dns, isIP } from './node-builtins.js';
import { checkOptions, describe } from './validate.js';

/** An address family: IPv4 or IPv6. */
export type Family = 'inet' | 'inet6';
/** A socket type: stream (TCP) or datagram (UDP). */
export type SockType = 'stream' | 'dgram';
/** An IP socket address, as Node gives them. */
export interface InetSockAddr {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
}
/** One result: `[family, type, proto, canonname, sockaddr]`, as asyncio's tuples. */
export type AddrInfo = [family: Family, type: SockType, proto: number, canonname: string, sockaddr: InetSockAddr];
/** `{address, port}` or `[host, port]`; the host may be a name (resolved with getaddrinfo). */
export type HostPort = { address?: string | null; port: number } | readonly [string | null, number];

/** Filters of getaddrinfo: family, socket type, protocol, flags. */
export interface AddrInfoOptions {
  family?: Family | number | string | null;
  type?: SockType | null;
  proto?: number;
  flags?: number;
}

/**
 * 'inet' / 'inet6' from the spellings people use (asyncio's AF_* values: 2, and 10 on Linux
 * or 30 on macOS; Node's 4/6 and 'IPv4'/'IPv6'); null = any.
 */
export function familyOption(value: unknown, name = 'family'): Family | null {
  if (value === undefined || value === null || value === 0) return null;
  if (value === 'inet' || value === 'IPv4' || value === 4 || value === 2) return 'inet';
  if (value === 'inet6' || value === 'IPv6' || value === 6 || value === 10 || value === 30) return 'inet6';
  throw new TypeError(`${name} must be 'inet', 'inet6', 4, 6 or null, got ${describe(value)}`);
}

/** `[host, port]` from `{address, port}` or `[host, port]`, checked; TypeError naming `name` otherwise. */
export function hostPort(value: unknown, name: string): [string | null, number] {
  if (Array.isArray(value) && value.length === 2) {
    const host = value[0] ?? null;
    if (host !== null && typeof host !== 'string') throw new TypeError(`${name}[0] must be a host string or null, got ${describe(host)}`);
    return [host, checkPort(value[1], `${name}[1]`)];
  }
  if (value !== null && typeof value === 'object' && 'port' in value) {
    const host = (value as { address?: unknown }).address ?? null;
    if (host !== null && typeof host !== 'string') throw new TypeError(`${name}.address must be a string or null, got ${describe(host)}`);
    return [host, checkPort((value as { port: unknown }).port, `${name}.port`)];
  }
  throw new TypeError(`${name} must be {address, port} or [host, port], got ${describe(value)}`);
}

/** The family of a numeric IP address. */
export function familyOfAddress(address: string): Family {
  return isIP(address) === 6 ? 'inet6' : 'inet';
}

/** A port number 0..65535 (a numeric string too); TypeError/RangeError naming `name` otherwise. */
export function checkPort(port: unknown, name = 'port'): number {
  if (typeof port === 'string' && /^\d+$/.test(port)) port = Number(port);
  if (typeof port !== 'number' || !Number.isInteger(port)) throw new TypeError(`${name} must be an integer, got ${describe(port)}`);
  if (port < 0 || port > 65535) throw new RangeError(`${name} must be in 0..65535, got ${port}`);
  return port;
}

/** A non-empty path string; TypeError naming `name` otherwise. */
export function checkPath(path: unknown, name = 'path'): string {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError(`${name} must be a non-empty string, got ${describe(path)}`);
  return path;
}

export function checkBacklog(backlog: unknown): number {
  if (typeof backlog !== 'number' || !Number.isInteger(backlog)) throw new TypeError(`backlog must be an integer, got ${describe(backlog)}`);
  if (backlog < 0) throw new RangeError(`backlog must be >= 0, got ${backlog}`);
  return backlog;
}

/** Resolve host and port (node:dns) to `[family, type, proto, canonname, sockaddr]` entries, as asyncio's getaddrinfo. */
export async function getaddrinfo(host: string | null, port: number | string | null, options: AddrInfoOptions = {}): Promise<AddrInfo[]> {
  options = checkOptions(options, ['family', 'type', 'proto', 'flags'], 'getaddrinfo');
  const family = familyOption(options.family);
  const p = port === null || port === undefined ? 0 : checkPort(port);
  const type = options.type ?? 'stream';
  if (type !== 'stream' && type !== 'dgram') throw new TypeError(`type must be 'stream', 'dgram' or null, got ${describe(type)}`);
  let found: Array<{ address: string; family: number }>;
  if (host === null || host === undefined) {
    // No host: the loopback addresses, as getaddrinfo(NULL, ...) without AI_PASSIVE.
    found = [
      { address: '127.0.0.1', family: 4 },
      { address: '::1', family: 6 },
    ].filter((a) => family === null || (a.family === 4) === (family === 'inet'));
  } else {
    if (typeof host !== 'string') throw new TypeError(`host must be a string or null, got ${describe(host)}`);
    const numeric = isIP(host);
    // A numeric host needs no resolver round trip (asyncio's _ipaddr_info shortcut).
    found = numeric !== 0
      ? [{ address: host, family: numeric }].filter((a) => family === null || (a.family === 4) === (family === 'inet'))
      : await dns().promises.lookup(host, { all: true, family: family === null ? 0 : family === 'inet' ? 4 : 6, verbatim: true });
  }
  const proto = type === 'stream' ? 6 : 17;
  return found.map((a): AddrInfo => {
    const v6 = a.family === 6;
    return [v6 ? 'inet6' : 'inet', type, proto, '', { address: a.address, family: v6 ? 'IPv6' : 'IPv4', port: p }];
  });
}

/** The numeric address a socket of `family`/`type` connects to for `address` (`{address, port}` or `[host, port]`): the first one getaddrinfo gives. */
export async function resolveAddress(address: unknown, family: Family, type: SockType): Promise<{ address: string; port: number }> {
  const [host, port] = hostPort(address, 'address');
  const infos = await getaddrinfo(host, port, { family, type });
  if (infos.length === 0) throw new Error(`getaddrinfo(${describe(host)}) returned an empty list`);
  return { address: infos[0]![4].address, port };
}

/** Resolve a socket address to `[host, service]` (node:dns lookupService). */
export async function getnameinfo(sockaddr: unknown, _flags = 0): Promise<[string, string]> {
  const [host, port] = hostPort(sockaddr, 'sockaddr');
  if (host === null || isIP(host) === 0) throw new TypeError(`sockaddr must hold a numeric address, got ${describe(host)}`);
  const { hostname, service } = await dns().promises.lookupService(host, port);
  return [hostname, service];
}
