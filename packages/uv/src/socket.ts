/**
 * Non-blocking sockets over the native syscalls.
 *
 * Two forms of every I/O method:
 * - `try*` methods are the hot path: they return bytes transferred (or an fd)
 *   as a number >= 0, or a negative errno (-EAGAIN when the call would block).
 *   They never throw for an OS error; a closed socket gives -EBADF.
 * - the Python-like methods (recv, send, accept, ...) throw Node-style errors
 *   (errnoError): code 'EAGAIN' for a would-block, 'ECONNREFUSED', etc.
 *
 * Ownership: a Socket owns its fd. close() is idempotent. A Socket that becomes
 * unreachable without close() has its fd closed after the full collection that
 * took it (as Python closes a collected socket; see `owners`); detach() gives
 * the fd up instead.
 * When the thread's env goes away (worker exit or terminate(), process
 * teardown) the addon closes every fd a Socket still owns (native/fds.c).
 */
import { AddressLike, SockAddr, SocketFamily, display, toNative } from './address.js';
import { AddrOut, native } from './native.js';
import { checkBytes, checkFd, checkInt, describe, errnoError } from './errors.js';

/** Socket types by their Python-like names. */
export type SocketType = 'stream' | 'dgram';

const scratch = new Int32Array(2);
const EBADF = 9; // same value on Linux and macOS; only used to report a closed socket

/**
 * The open Sockets by fd, weakly: a full collection that takes a Socket still owning its fd
 * leaves its entry empty, and the sweep after that collection closes the fd (and drops it from
 * PollSets). close() and detach() clear the entry, so a reused fd number is never closed for a
 * Socket that gave it up. One WeakRef per Socket in an fd-indexed array, not a
 * FinalizationRegistry cell (72 bytes, plus its unregister token's entry): a server keeps one
 * Socket per connection.
 */
const owners: (WeakRef<Socket> | undefined)[] = [];
let ownedCount = 0;
/** A sweep is awaited or under way. */
let sweepArmed = false;
// Its one entry is an object nobody holds: the next full collection takes it and runs the sweep.
const collections = new FinalizationRegistry<null>(() => sweepFrom(0));
/**
 * Entries looked at per host task: deref() keeps a live target in a set V8 empties at the end of
 * the job, so one pass over 100k Sockets would grow a 100k-entry set.
 */
const SWEEP_CHUNK = 1024;

function own(fd: number, sock: Socket): void {
  // Grown one slot at a time: an index far past the end would turn the array into a dictionary.
  while (owners.length <= fd) owners.push(undefined);
  if (owners[fd] === undefined) ownedCount++;
  owners[fd] = new WeakRef(sock);
  if (!sweepArmed) {
    sweepArmed = true;
    collections.register({}, null);
  }
}

function disown(fd: number): void {
  if (owners[fd] === undefined) return;
  owners[fd] = undefined;
  ownedCount--;
}

/** After a full collection: close the fds of the Sockets it took, SWEEP_CHUNK entries per host task. */
function sweepFrom(start: number): void {
  const end = Math.min(start + SWEEP_CHUNK, owners.length);
  for (let fd = start; fd < end; fd++) {
    const owner = owners[fd];
    if (owner !== undefined && owner.deref() === undefined) {
      disown(fd);
      native().close(fd);
    }
  }
  if (end < owners.length) {
    // unref: a sweep does not keep the process alive, as a finalizer does not.
    setImmediate(sweepFrom, end).unref();
    return;
  }
  sweepArmed = ownedCount > 0;
  if (sweepArmed) collections.register({}, null);
}

/**
 * The last address text getsockname and getpeername each returned, reused when the next is
 * equal: a server's own address repeats on every connection it accepts, and so does a peer
 * host's, and every connection keeps both (a transport's extra info). The family is the
 * literal's one string.
 */
const lastAddress = { sockname: '', peername: '' };

function sharingStrings(out: AddrOut, which: keyof typeof lastAddress): SockAddr {
  if (out.family !== undefined) out.family = out.family === 'IPv4' ? 'IPv4' : 'IPv6';
  const address = out.address;
  if (address !== undefined) {
    if (address === lastAddress[which]) out.address = lastAddress[which];
    else lastAddress[which] = address;
  }
  return out as SockAddr;
}

let makeSocket: (fd: number, family: SocketFamily, type: SocketType) => Socket;

function familyName(af: number): SocketFamily {
  const c = native().constants;
  if (af === c.AF_INET) return 'inet';
  if (af === c.AF_INET6) return 'inet6';
  if (af === c.AF_UNIX) return 'unix';
  throw new TypeError(`fd is not an inet, inet6 or unix socket (address family ${af})`);
}

function typeName(t: number): SocketType {
  const c = native().constants;
  if (t === c.SOCK_STREAM) return 'stream';
  if (t === c.SOCK_DGRAM) return 'dgram';
  throw new TypeError(`fd is not a stream or datagram socket (type ${t})`);
}

function span(buf: unknown, offset: unknown, length: unknown, name = 'buf'): [ArrayBufferView, number, number] {
  const b = checkBytes(buf, name);
  const off = offset === undefined ? 0 : checkInt(offset, 'offset');
  const len = length === undefined ? b.byteLength - off : checkInt(length, 'length');
  if (off < 0 || len < 0 || off + len > b.byteLength)
    throw new RangeError(`offset ${off} and length ${len} must lie within ${name} (${b.byteLength} bytes)`);
  return [b, off, len];
}

function check(r: number, syscall: string, addr?: { address?: string; port?: number; path?: string }): number {
  if (r < 0) throw errnoError(r, syscall, addr);
  return r;
}

/** A non-blocking socket. Create one with {@link socket}, {@link socketpair} or {@link Socket.fromFd}. */
export class Socket implements Disposable {
  #fd: number;
  /** 'inet', 'inet6' or 'unix'. */
  readonly family: SocketFamily;
  /** 'stream' or 'dgram'. */
  readonly type: SocketType;

  static {
    makeSocket = (fd, family, type) => new Socket(fd, family, type);
  }

  private constructor(fd: number, family: SocketFamily, type: SocketType) {
    this.#fd = fd;
    this.family = family;
    this.type = type;
    own(fd, this);
  }

  /**
   * Adopts an existing socket fd (e.g. from a parent process): learns its
   * family and type and makes it non-blocking and close-on-exec. The Socket
   * owns the fd from now on.
   */
  static fromFd(fd: number): Socket {
    checkFd(fd);
    check(native().sockinfo(fd, scratch), 'getsockname');
    return new Socket(fd, familyName(scratch[0]), typeName(scratch[1]));
  }

  /** True once close() or detach() ran. */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /** The fd number, or -1 once closed (as Python). */
  fileno(): number {
    return this.#fd;
  }

  /**
   * `sock`'s fd, or EBADF once closed. Static, as every private method here: a private instance
   * method would give each Socket a brand field (8 bytes per connection).
   */
  static #live(sock: Socket, syscall: string): number {
    if (sock.#fd < 0) {
      const err = errnoError(-EBADF, syscall);
      err.message += ' (socket is closed)';
      throw err;
    }
    return sock.#fd;
  }

  // ---- hot path: numbers, never exceptions for OS errors

  /**
   * recv into buf[offset, offset+length): bytes read (0 = EOF) or -errno. An ArrayBuffer is
   * read into directly: the addon then skips the lookup of a view's buffer (~115 instructions
   * a call), for a read path that reads into one buffer many times (bench/README.md, "Session
   * 20 (s20-selector)").
   */
  tryRecvInto(buf: ArrayBufferView | ArrayBuffer, offset = 0, length?: number): number {
    // Hot path: no allocation here; the addon checks offset/length (TypeError/RangeError).
    if (!ArrayBuffer.isView(buf) && !(buf instanceof ArrayBuffer)) {
      throw new TypeError(`buf must be a Buffer, TypedArray, DataView or ArrayBuffer, got ${describe(buf)}`);
    }
    return native().recv(this.#fd, buf, offset, length ?? buf.byteLength - offset);
  }

  /** send buf[offset, offset+length): bytes sent or -errno. */
  trySend(buf: ArrayBufferView, offset?: number, length?: number): number {
    if (!ArrayBuffer.isView(buf)) checkBytes(buf, 'buf');
    // All of buf: the addon's call without offset and length checks two arguments less.
    if (offset === undefined && length === undefined) return native().send(this.#fd, buf);
    const from = offset ?? 0;
    return native().send(this.#fd, buf, from, length ?? buf.byteLength - from);
  }

  /** Sends several buffers in one sendmsg: bytes sent (possibly fewer) or -errno. */
  trySendv(bufs: readonly ArrayBufferView[]): number {
    return Socket.#sendv(this.#fd, bufs);
  }

  /**
   * Sends up to `count` bytes of the file `fileFd` from `offset` with the OS's sendfile: bytes
   * sent (0: the file ends at offset) or -errno (-ENOSYS where the OS has none). The file's
   * own position does not move.
   */
  trySendfile(fileFd: number, offset: number, count: number): number {
    return native().sendfile(this.#fd, fileFd, offset, Math.min(count, 0x7fffffff));
  }

  /** accept4: the new connection's fd (non-blocking, cloexec; wrap with Socket.fromFd) or -errno. */
  tryAccept(): number {
    return native().accept(this.#fd);
  }

  /** Starts a connect: 0 when connected, -EINPROGRESS while in progress (wait
   * for writability, then {@link getError}), or another -errno. */
  tryConnect(addr: AddressLike): number {
    const [host, port] = toNative(this.family, addr, false);
    return native().connect(this.#fd, host, port);
  }

  /** recvfrom: bytes read or -errno; the sender's address is written into `from` when given. */
  tryRecvfrom(buf: ArrayBufferView, offset = 0, length?: number, from?: AddrOut): number {
    if (!ArrayBuffer.isView(buf)) checkBytes(buf, 'buf');
    return native().recvfrom(this.#fd, buf, offset, length ?? buf.byteLength - offset, from);
  }

  /** sendto: bytes sent or -errno. */
  trySendto(buf: ArrayBufferView, addr: AddressLike): number {
    const b = checkBytes(buf, 'buf');
    const [host, port] = toNative(this.family, addr, false);
    return native().sendto(this.#fd, b, 0, b.byteLength, host, port);
  }

  /** Reads and clears SO_ERROR: 0, or the pending error as a negative errno
   * (how a non-blocking connect reports its outcome). */
  getError(): number {
    const c = native().constants;
    const r = native().getsockopt(this.#fd, c.SOL_SOCKET, c.SO_ERROR, scratch);
    return r < 0 ? r : scratch[0] === 0 ? 0 : -scratch[0];
  }

  // ---- Python-like forms: throw Node-style errors

  /** Binds to `{address?, port}` / `[host, port]` (numeric IPs) or a Unix path. */
  bind(addr: AddressLike): void {
    const fd = Socket.#live(this, 'bind');
    const [host, port] = toNative(this.family, addr, true);
    check(native().bind(fd, host, port), 'bind', display(host, port));
  }

  /** Starts listening for connections. */
  listen(backlog = 128): void {
    checkInt(backlog, 'backlog');
    check(native().listen(Socket.#live(this, 'listen'), backlog), 'listen');
  }

  /** Accepts one connection: [socket, peer address]; throws code 'EAGAIN' when none is pending. */
  accept(): [Socket, SockAddr] {
    const out: AddrOut = {};
    const fd = check(native().accept(Socket.#live(this, 'accept'), out), 'accept');
    return [makeSocket(fd, this.family, this.type), out as SockAddr];
  }

  /** Connects. Non-blocking: usually throws code 'EINPROGRESS' (as Python's
   * BlockingIOError); completion is signalled by writability, see {@link getError}. */
  connect(addr: AddressLike): void {
    const fd = Socket.#live(this, 'connect');
    const [host, port] = toNative(this.family, addr, false);
    check(native().connect(fd, host, port), 'connect', display(host, port));
  }

  /** Receives up to n bytes; an empty Buffer means EOF. */
  recv(n: number): Buffer {
    if (!Number.isInteger(n) || n < 0) throw new TypeError(`n must be a non-negative integer, got ${describe(n)}`);
    const buf = Buffer.allocUnsafe(n);
    const r = check(native().recv(Socket.#live(this, 'recv'), buf, 0, n), 'recv');
    return buf.subarray(0, r);
  }

  /** Receives into buf (up to nbytes): the number of bytes read. */
  recvInto(buf: ArrayBufferView, nbytes?: number): number {
    const [b, off, len] = span(buf, 0, nbytes);
    return check(native().recv(Socket.#live(this, 'recv'), b, off, len), 'recv');
  }

  /** Sends data: the number of bytes the kernel took (maybe fewer than data.length). */
  send(data: ArrayBufferView): number {
    const b = checkBytes(data, 'data');
    return check(native().send(Socket.#live(this, 'send'), b, 0, b.byteLength), 'send');
  }

  /** Sends several buffers in one sendmsg call: the number of bytes sent. */
  sendmsg(bufs: readonly ArrayBufferView[]): number {
    const fd = Socket.#live(this, 'sendmsg');
    return check(Socket.#sendv(fd, bufs), 'sendmsg');
  }

  static #sendv(fd: number, bufs: readonly ArrayBufferView[]): number {
    if (!Array.isArray(bufs)) throw new TypeError(`bufs must be an array of Buffers, got ${describe(bufs)}`);
    return native().sendv(fd, bufs);
  }

  /** Sends a datagram to addr: the number of bytes sent. */
  sendto(data: ArrayBufferView, addr: AddressLike): number {
    const fd = Socket.#live(this, 'sendto');
    const b = checkBytes(data, 'data');
    const [host, port] = toNative(this.family, addr, false);
    return check(native().sendto(fd, b, 0, b.byteLength, host, port), 'sendto', display(host, port));
  }

  /** Receives a datagram of up to n bytes: [data, sender address]. */
  recvfrom(n: number): [Buffer, SockAddr] {
    if (!Number.isInteger(n) || n < 0) throw new TypeError(`n must be a non-negative integer, got ${describe(n)}`);
    const buf = Buffer.allocUnsafe(n);
    const out: AddrOut = {};
    const r = check(native().recvfrom(Socket.#live(this, 'recvfrom'), buf, 0, n, out), 'recvfrom');
    return [buf.subarray(0, r), out as SockAddr];
  }

  /** Receives a datagram into buf: [bytes read, sender address]. */
  recvfromInto(buf: ArrayBufferView, nbytes?: number): [number, SockAddr] {
    const [b, off, len] = span(buf, 0, nbytes);
    const out: AddrOut = {};
    const r = check(native().recvfrom(Socket.#live(this, 'recvfrom'), b, off, len, out), 'recvfrom');
    return [r, out as SockAddr];
  }

  /** Shuts down reading (SHUT_RD), writing (SHUT_WR) or both (SHUT_RDWR). */
  shutdown(how: number): void {
    checkInt(how, 'how');
    check(native().shutdown(Socket.#live(this, 'shutdown'), how), 'shutdown');
  }

  /** The local address. */
  getsockname(): SockAddr {
    const out: AddrOut = {};
    check(native().getsockname(Socket.#live(this, 'getsockname'), out), 'getsockname');
    return sharingStrings(out, 'sockname');
  }

  /** The peer's address; throws code 'ENOTCONN' when not connected. */
  getpeername(): SockAddr {
    const out: AddrOut = {};
    check(native().getpeername(Socket.#live(this, 'getpeername'), out), 'getpeername');
    return sharingStrings(out, 'peername');
  }

  /** Sets an integer option, e.g. `setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)`; booleans become 0/1. */
  setsockopt(level: number, name: number, value: number | boolean): void {
    checkInt(level, 'level');
    checkInt(name, 'name');
    const v = typeof value === 'boolean' ? Number(value) : checkInt(value, 'value');
    check(native().setsockopt(Socket.#live(this, 'setsockopt'), level, name, v), 'setsockopt');
  }

  /** Reads an integer option (SO_ERROR gives a positive errno, as in C and Python). */
  getsockopt(level: number, name: number): number {
    checkInt(level, 'level');
    checkInt(name, 'name');
    check(native().getsockopt(Socket.#live(this, 'getsockopt'), level, name, scratch), 'getsockopt');
    return scratch[0];
  }

  /** Closes the socket (idempotent). Any PollSet of this thread forgets the fd first. */
  close(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    disown(fd);
    check(native().close(fd), 'close');
  }

  /** Gives up ownership: returns the fd, which this Socket will no longer close. */
  detach(): number {
    const fd = this.#fd;
    if (fd < 0) return fd;
    this.#fd = -1;
    disown(fd);
    native().forget(fd);
    return fd;
  }

  /** `using s = socket()` closes it at the end of the block. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** Creates a non-blocking, close-on-exec socket. */
export function socket(family: SocketFamily = 'inet', type: SocketType = 'stream'): Socket {
  const c = native().constants;
  const af = family === 'inet' ? c.AF_INET : family === 'inet6' ? c.AF_INET6 : family === 'unix' ? c.AF_UNIX : undefined;
  if (af === undefined) throw new TypeError(`family must be 'inet', 'inet6' or 'unix', got ${describe(family)}`);
  const st = type === 'stream' ? c.SOCK_STREAM : type === 'dgram' ? c.SOCK_DGRAM : undefined;
  if (st === undefined) throw new TypeError(`type must be 'stream' or 'dgram', got ${describe(type)}`);
  const fd = check(native().socket(af, st), 'socket');
  return makeSocket(fd, family, type);
}

/** A connected pair of non-blocking AF_UNIX stream sockets. */
export function socketpair(): [Socket, Socket] {
  const out = new Int32Array(2);
  check(native().socketpair(out), 'socketpair');
  return [makeSocket(out[0], 'unix', 'stream'), makeSocket(out[1], 'unix', 'stream')];
}

/**
 * recv on several sockets in one call into the addon (the sockets a wake-up found readable),
 * in order, into `buf[offset, offset + length)`: each read starts 8-aligned after the bytes
 * of the one before. For each `i` from `from` on, `out[2 * i]` is where `fds[i]`'s bytes
 * start in `buf` and `out[2 * i + 1]` what its recv returned (bytes, 0 at EOF, or -errno).
 * It stops before a read that would have fewer than `minRoom` bytes of room and returns the
 * index it stopped at (`count` when every fd was read): the fds from there on were not read.
 */
export function tryRecvBatch(
  fds: Int32Array,
  from: number,
  count: number,
  buf: ArrayBufferView | ArrayBuffer,
  offset: number,
  length: number,
  minRoom: number,
  out: Int32Array,
): number {
  // Hot path: the addon checks every argument (TypeError/RangeError naming it).
  return native().recvBatch(fds, from, count, buf, offset, length, minRoom, out);
}
