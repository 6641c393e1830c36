/**
 * Node-style errors from negative errno values, and argument checks.
 * The native layer only returns numbers; errors are built here, on the slow path.
 */
import { loadBuiltin, osConstants } from './builtins.js';

// Loaded at the first error, not at import: node:util loads 15 more internal modules on Node 24 (1 MB of RSS).
const util = (): typeof import('node:util') => loadBuiltin('node:util');

// libuv names only the errors it maps (no EINPROGRESS, for one); the OS table
// fills the gaps. libuv's name wins where both exist (EAGAIN, not EWOULDBLOCK).
const osNames = new Map<number, string>();
for (const [name, value] of Object.entries(osConstants.errno)) {
  if (!osNames.has(value)) osNames.set(value, name);
}

/** An Error shaped like Node's system errors: code, errno (negative), syscall. */
export interface ErrnoError extends Error {
  code: string;
  errno: number;
  syscall: string;
  address?: string;
  port?: number;
  path?: string;
}

/** The symbolic name of an errno ('ECONNREFUSED'); accepts -111 or 111. */
export function errnoName(errno: number): string {
  if (!Number.isInteger(errno) || errno === 0) throw new RangeError(`errno must be a non-zero integer, got ${errno}`);
  const name = util().getSystemErrorName(-Math.abs(errno));
  if (!name.startsWith('Unknown')) return name;
  return osNames.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}

/**
 * Builds the error Node would throw: `errnoError(-111, 'connect', {address:
 * '127.0.0.1', port: 9})` has message "connect ECONNREFUSED 127.0.0.1:9",
 * code 'ECONNREFUSED', errno -111, syscall 'connect', address and port.
 * A would-block is the error with code 'EAGAIN' (Python's BlockingIOError).
 */
export function errnoError(
  errno: number,
  syscall: string,
  address?: string | { address?: string; port?: number; path?: string },
): ErrnoError {
  const code = errnoName(errno);
  let where = '';
  const err = new Error() as ErrnoError;
  if (typeof address === 'string') {
    where = ` ${address}`;
    err.address = address;
  } else if (address && typeof address.path === 'string') {
    where = ` ${address.path}`;
    err.path = address.path;
  } else if (address && address.address !== undefined) {
    where = address.port !== undefined ? ` ${address.address}:${address.port}` : ` ${address.address}`;
    err.address = address.address;
    if (address.port !== undefined) err.port = address.port;
  }
  err.message = `${syscall} ${code}${where}`;
  err.code = code;
  err.errno = -Math.abs(errno);
  err.syscall = syscall;
  return err;
}

/** Throws TypeError unless v is an integer >= 0 (an fd, a count). */
export function checkFd(v: unknown, name = 'fd'): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0x7fffffff)
    throw new TypeError(`${name} must be a non-negative integer, got ${describe(v)}`);
  return v;
}

/** Throws TypeError unless v is an integer. */
export function checkInt(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff)
    throw new TypeError(`${name} must be an integer, got ${describe(v)}`);
  return v;
}

/** Throws TypeError unless v is a Buffer/TypedArray/DataView (a string is refused). */
export function checkBytes(v: unknown, name: string): ArrayBufferView {
  if (!ArrayBuffer.isView(v))
    throw new TypeError(`${name} must be a Buffer, TypedArray or DataView, got ${describe(v)}`);
  return v;
}

/** A short description of a bad argument for error messages. */
export function describe(v: unknown): string {
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return `${typeof v} ${String(v)}`;
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'function') return 'a function';
  return `an instance of ${(v as object).constructor?.name ?? 'Object'}`;
}
