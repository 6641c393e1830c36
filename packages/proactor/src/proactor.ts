/**
 * The Proactor contract: the one interface every completion-based backend implements
 * (CPython's IocpProactor; libuv's request model). The loop asks the proactor to *do* an
 * operation and gets a Future that the completion resolves; it never asks "is this ready?".
 *
 * Rules every implementation keeps:
 * - An operation the OS finishes at once returns an already-done Future (IOCP's synchronous
 *   completion); otherwise the Future settles inside a later `select()`, so results reach
 *   the loop at step 3 of an iteration, as any other I/O.
 * - Cancelling an operation's Future cancels the operation where the OS allows it; bytes,
 *   datagrams and connections already received are never lost: they stay for the next call.
 * - Failures settle the Future with Node-style errors (`code`, `syscall`), mapped to core's
 *   ConnectionError subclasses where one applies (ECONNRESET -> ConnectionResetError, ...).
 */
import { NotImplementedError, type AbstractEventLoop, type Future } from '@loopkit/core';

/** A socket address, as Node shows it: `{address, family, port}` or `{path}` for Unix sockets. */
export type Address = { address: string; family: string; port: number } | { path: string };

/** Where to connect or send: `{address?, port}`, a `[host, port]` pair, `{path}` or a Unix path. */
export type AddressLike = { address?: string; port: number; family?: string } | readonly [string, number] | { path: string } | string;

/** An accepted connection's peer address for Proactor.accept: null once a reset took it (getpeername fails). */
export function acceptedPeer(conn: { family: string; getpeername(): unknown }): Address | null {
  if (conn.family === 'unix') return { path: '' };
  try {
    return conn.getpeername() as Address;
  } catch {
    return null;
  }
}

export interface Proactor {
  /** Binds the proactor to the loop whose futures it creates and completes (once, before any operation). */
  setLoop(loop: AbstractEventLoop): void;

  /**
   * Guest mode: Node's loop owns the thread, so a proactor never blocks. `wake` (called from
   * Node's loop, any number of times) says a completion is waiting for `select()`; null says
   * the loop stopped, and the proactor stops holding the process alive.
   */
  setWakeup(wake: (() => void) | null): void;

  /** Receives up to `n` bytes from a connected stream socket; an empty result means EOF. */
  recv(sock: unknown, n: number): Future<Uint8Array>;

  /** Receives into `buf`: the number of bytes written at its start (0 means EOF). */
  recvInto(sock: unknown, buf: Uint8Array): Future<number>;

  /** Receives one datagram of at most `n` bytes (longer ones are truncated): `[data, sender]`. */
  recvfrom(sock: unknown, n: number): Future<[Uint8Array, Address]>;

  /** Sends `data` on a connected socket: the number of bytes the OS accepted (all, for a stream handle). */
  send(sock: unknown, data: Uint8Array): Future<number>;

  /** Sends one datagram to `address` (or to the connected peer when null): the bytes sent. */
  sendto(sock: unknown, data: Uint8Array, address: AddressLike | null): Future<number>;

  /**
   * Accepts one connection on a listening socket: `[connection, peer address]`. The new
   * connection reads nothing until its first receive is posted. The address is null when
   * the peer reset the connection before it could be read (Node does not give accept(2)'s
   * address); the connection is still handed over, its data and then its reset to be read.
   */
  accept(listener: unknown): Future<[unknown, Address | null]>;

  /** Connects a stream socket to a numeric address (resolve names first: the loop's getaddrinfo). */
  connect(sock: unknown, address: AddressLike): Future<void>;

  /**
   * Sends `count` bytes (null: to the end) of the open file `fd` from `offset`, in order,
   * without the caller touching the data: the number of bytes sent.
   */
  sendfile(sock: unknown, fd: number, offset: number, count: number | null): Future<number>;

  /**
   * Completes the operations whose results arrived since the last call and returns their
   * futures. Never blocks, whatever `timeout` (kept for asyncio's signature) says: Node owns
   * the thread, so the loop waits in its idle step until `setWakeup`'s callback.
   */
  select(timeout?: number | null): Future<unknown>[];

  /** Cancels every pending operation and releases the proactor's own resources. Idempotent. */
  close(): void;
}

/**
 * The same name at run time, so a backend can `extend Proactor` (or be checked with
 * instanceof) as well as implement it; an operation it does not override throws
 * NotImplementedError. The interface above merges into this class's type.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export abstract class Proactor {}

for (const name of ['setLoop', 'setWakeup', 'recv', 'recvInto', 'recvfrom', 'send', 'sendto', 'accept', 'connect', 'sendfile', 'select', 'close']) {
  Object.defineProperty(Proactor.prototype, name, {
    value: function notImplemented(this: object): never {
      throw new NotImplementedError(`${this.constructor.name} does not implement ${name}()`);
    },
    writable: true,
    configurable: true,
  });
}
