/**
 * NetSocket: loopkit's socket object over a Node handle (net.Socket, net.Server or
 * dgram.Socket), so the proactor works without the native addon. It turns Node's push
 * events into state a proactor operation can complete from: received chunks, EOF, an
 * error, accepted connections, datagrams. `_notify` tells the watching proactor that
 * something changed.
 *
 * Reading starts only when the first receive is posted (a listener accepts with
 * pauseOnConnect), then flows until READ_HIGH_WATER bytes wait unread, then pauses Node's
 * handle: unread bytes are bounded and never dropped.
 *
 * A stream reads the way net.Socket's `onread` option does: libuv reads into one scratch
 * buffer shared by every socket, and the bytes are copied out at their size (small reads
 * into a shared slab). No Readable stream machinery runs per read, and an idle connection
 * holds no read buffer. One stream at a time (the first to read while no other does) reads
 * straight into a slab of its own instead, through the option's buffer generator: no copy.
 */
import type * as dgram from 'node:dgram';
import type * as net from 'node:net';
import { net as nodeNet } from './builtins.js';
import { NodeBuffer, paceReceived, receiveSlab, toConnectionError } from '@loopkit/core';
import { adviseHugePagesAhead, errnoError, isAvailable as uvAvailable, pipeRead } from '@loopkit/uv';
import type { OpFuture, SockState, StreamConsumer } from './net-proactor.js';
import type { Address } from './proactor.js';

/** What a NetSocket carries: IPv4, IPv6 or a Unix socket (a named pipe on Windows). */
export type NetSocketFamily = 'inet' | 'inet6' | 'unix';
/** A NetSocket's type: stream (net.Socket) or datagram (dgram.Socket). */
export type NetSocketType = 'stream' | 'dgram';

/** Unread bytes at which the Node handle stops reading until a receive takes some. */
const READ_HIGH_WATER = 256 * 1024;
/** A NetSocket's flags: a receive started Node reading. */
const READING_STARTED = 1;
/** Node stopped reading at READ_HIGH_WATER (it pauses its handle, not the stream). */
const READ_STOPPED = 2;
/** The socket does not keep the process alive (its proactor's loop is not running). */
const UNREFED = 4;
/** @internal The peer sent EOF. */
export const EOF_RECEIVED = 8;
/** @internal close() was called or Node closed the handle. */
export const CLOSED = 16;
/** A datagram socket (else a stream). */
const DGRAM = 32;
/**
 * @internal The transport of this socket is reading (between its _startReading and _stopReading):
 * its flag kept here, beside the socket's own, rather than a field of every transport.
 */
export const TRANSPORT_READING = 64;
/**
 * @internal The socket has a connection or receive error (in its seldom parts): the hot paths
 * test this bit, not the error.
 */
export const ERRORED = 128;
/** The family's index in FAMILIES, from this bit up. */
const FAMILY_SHIFT = 8;
const FAMILIES: readonly NetSocketFamily[] = ['inet', 'inet6', 'unix'];
/** Datagrams kept unread at most; later ones are dropped, as a full kernel buffer does. */
const MAX_DATAGRAMS = 4096;

const EMPTY = Buffer.alloc(0);
/** Chunk slots a socket keeps for reuse once its backlog is taken (more are dropped with it). */
const MAX_KEPT_CHUNK_SLOTS = 64;
// Shared by the sockets that never accept or receive datagrams (never pushed into).
const NO_CONNECTIONS: net.Socket[] = [];
const NO_DATAGRAMS: Array<[Buffer, Address]> = [];
/** @internal A proactor's queue of a socket that never had to wait (never pushed into: the proactor makes its own). */
export const NO_OPS: never[] = [];

/**
 * What libuv reads into for every stream socket; its size is what a read asks for. Larger
 * than net.Socket's 64 KiB: a message of up to 128 KiB that has arrived whole is one read,
 * one wake-up and one write for an echo, where 64 KiB reads split a 100 KiB one in two. Not
 * 256 KiB: with reads that large the kernel's copy to user space cost ~3-8x as much per byte
 * at 100 KiB messages (bench/README.md, "Session 25 (s25-netproactor)").
 */
const READ_SCRATCH = Buffer.allocUnsafeSlow(128 * 1024);
const READ_SCRATCH_MEMORY = READ_SCRATCH.buffer as ArrayBuffer;

/**
 * `target` filled with the first `nread` bytes of READ_SCRATCH: fewer instructions than Node's
 * `copy` on Node 20 (whose `copy` calls the `buffer` getter) and 24 alike (bench/README.md).
 */
function copyReadInto(target: Buffer, nread: number): Buffer {
  target.set(new Uint8Array(READ_SCRATCH_MEMORY, 0, nread));
  return target;
}

/**
 * Received bytes are copied out of the scratch buffer, never reused: a protocol may keep
 * them. A read of less than OWN_BUFFER_READ is a view into core's receiveSlab, as the
 * selector's reads are (no allocation, no ArrayBuffer of its own to make and free), and a
 * new slab starts only when the read does not fit in what is left: at most a quarter of a
 * slab goes unused, none at sizes that divide it (16 KiB). A larger read gets a buffer of
 * exactly its size. Only a GC frees this memory (see core's paceReceived, and @loopkit/uv's
 * keepFreedMemory).
 */
const OWN_BUFFER_READ = 64 * 1024;

/** The NetSocket a net.Socket reads for (the read callback runs with the net.Socket as `this`). */
const OWNER = Symbol('NetSocket');

/**
 * net.Socket's keys behind its `onread` option: the buffer libuv reads into, the read callback,
 * and the generator Node asks for the next buffer after each callback (null where this Node
 * has none: every read then copies out of the scratch buffer).
 */
type UserBufferKeys = { buffer: symbol; callback: symbol; generator: symbol | null };

/**
 * net.Socket's private keys behind its `onread` option, which only a socket made by its
 * constructor can be given (a server's accepted sockets cannot): found by their values on
 * a throwaway socket made with the option, at the first stream (not at import: node:net waits
 * for a program that uses this proactor). Null where this Node keeps them elsewhere: the
 * 'data' event then delivers.
 */
let userBufferKeys: UserBufferKeys | null | undefined;

function findUserBufferKeys(): UserBufferKeys | null {
  const Socket = nodeNet().Socket;
  const probe = new Socket({ onread: { buffer: READ_SCRATCH, callback: onStreamRead } } as net.SocketConstructorOpts);
  const keys = Object.getOwnPropertySymbols(probe);
  const record = probe as unknown as Record<symbol, unknown>;
  const buffer = keys.find((key) => record[key] === READ_SCRATCH);
  const callback = keys.find((key) => record[key] === onStreamRead);
  if (buffer === undefined || callback === undefined) return null;
  // A buffer given as a function is the generator (found by its value on a second probe).
  const generatorProbe = new Socket({ onread: { buffer: nextReadBuffer, callback: onStreamRead } } as unknown as net.SocketConstructorOpts);
  const generatorRecord = generatorProbe as unknown as Record<symbol, unknown>;
  const generator = Object.getOwnPropertySymbols(generatorProbe).find((key) => generatorRecord[key] === nextReadBuffer) ?? null;
  return { buffer, callback, generator };
}

/**
 * Direct reads. Copying every read out of READ_SCRATCH costs a memcpy of the read (100 KiB for
 * a 100 KiB message) and on Node 20 a typed array made per copy. Node asks the `onread`
 * option's generator for the next buffer after each read callback, and libuv reads the next
 * read of that socket into it: so one stream, the direct reader, reads into `directSlab` at
 * `directStart`, and its chunks are views of what it read, as the copies were views of core's
 * receive slab. Only one: every other socket's next read is already aimed at READ_SCRATCH or
 * at its own region, so a region is handed to one socket and to no other reader (core's
 * receive slab is shared with the selector's and uring's read paths, hence a slab of its own).
 * The direct reader is the first stream to read while there is none, until its handle closes.
 */
const DIRECT_SLAB_SIZE = 256 * 1024;
/**
 * A new direct slab starts when less is left than twice the last read, within these bounds:
 * equal reads of up to half a slab never split between two (a 90 KiB one would, at a slab's
 * third, with a 64 KiB bound), and 100 KiB ones go two to a slab.
 */
const DIRECT_MIN_ROOM = 4 * 1024;
const DIRECT_MAX_ROOM = DIRECT_SLAB_SIZE / 2;
let directReader: net.Socket | null = null;
/** The direct slab's memory, whole (a Buffer's `buffer` getter is a call into V8's C++ at every read). */
let directSlab: ArrayBuffer | null = null;
/** Where the direct reader's next read lands in `directSlab` (its buffer is the slab from here). */
let directStart = 0;
let directLastRead = 0;
/** The stream whose read callback ran last: Node calls the generator right after it, without the stream. */
let lastReader: net.Socket | null = null;

/**
 * Let `stream` become the direct reader: give it the generator, once its handle reads into
 * READ_SCRATCH (at connect, Node would otherwise ask the generator for the first buffer).
 */
function readDirectlyWhenChosen(stream: net.Socket): void {
  const keys = userBufferKeys;
  if (keys === null || keys === undefined || keys.generator === null) return;
  const record = stream as unknown as Record<symbol, unknown>;
  if (record[keys.callback] === onStreamRead) record[keys.generator] = nextReadBuffer;
}

/**
 * The `onread` generator (Node calls it after each read callback, for that stream): the direct
 * reader's next region, or undefined to keep reading into the same buffer (READ_SCRATCH).
 */
function nextReadBuffer(): Uint8Array | undefined {
  const stream = lastReader!;
  lastReader = null;
  if (directReader !== stream) {
    if (directReader !== null || stream.destroyed) return undefined;
    directReader = stream;
  }
  const wanted = Math.min(Math.max(2 * directLastRead, DIRECT_MIN_ROOM), DIRECT_MAX_ROOM);
  if (directSlab === null || DIRECT_SLAB_SIZE - directStart < wanted) {
    directSlab = Buffer.allocUnsafeSlow(DIRECT_SLAB_SIZE).buffer as ArrayBuffer;
    directStart = 0;
    paceReceived(DIRECT_SLAB_SIZE);
  }
  // Only libuv reads this view (a plain Uint8Array costs half a Buffer's subarray on Node 20).
  return new Uint8Array(directSlab, directStart, DIRECT_SLAB_SIZE - directStart);
}

/** The proactor a NetSocket tells of its changes (NetProactor). */
export interface SocketWatcher {
  /** `sock` changed: data, EOF, an error, a connection, a close (`writeOnly`: a write was called back). */
  _socketChanged(sock: NetSocket, writeOnly: boolean): void;
  /** Node's read callback delivered data to `sock` and is returning, with reading going on. */
  _dataRead(sock: NetSocket): void;
  /** Another proactor takes `sock`: stop watching it and return true, or false while something of it waits here. */
  _release(sock: NetSocket): boolean;
}

function refHandle(handle: { ref(): unknown; unref(): unknown } | null, on: boolean): void {
  if (handle === null) return;
  if (on) handle.ref();
  else handle.unref();
}

function ownerOf(stream: net.Socket): NetSocket {
  return (stream as unknown as Record<symbol, NetSocket>)[OWNER]!;
}

// A stream's listeners, shared by every socket (Node calls them with the stream as `this`).
function onStreamData(this: net.Socket, chunk: Buffer): void {
  if (!ownerOf(this)._received(chunk)) this.pause();
}

function onStreamEnd(this: net.Socket): void {
  const sock = ownerOf(this);
  const reset = resetBehindEnd(this, sock);
  if (reset !== null) sock._error ??= reset;
  else sock._eof = true;
  sock._notify();
}

/**
 * Node's own 'end' listener, on every net.Socket from its constructor (found on a throwaway
 * socket at the first stream), or null where a Node has none.
 */
let nodeEndListener: ((this: net.Socket) => void) | null | undefined;

/** Node's 'end' listener, then ours: one listener where two would make Node's entry an array (64 bytes of each connection). */
function onStreamEndAfterNode(this: net.Socket): void {
  nodeEndListener!.call(this);
  onStreamEnd.call(this);
}

/** Hear `stream`'s 'end' (after Node's own listener, as `on` would order them). */
function listenForEnd(stream: net.Socket): void {
  if (nodeEndListener === undefined) {
    const end = (new (nodeNet().Socket)() as unknown as { _events?: Record<string, unknown> })._events?.end;
    nodeEndListener = typeof end === 'function' ? (end as (this: net.Socket) => void) : null;
  }
  const events = (stream as unknown as { _events?: Record<string, unknown> })._events;
  // Only Node's listener there (a stream Node made, as every NetSocket's): ours takes its place and calls it.
  if (nodeEndListener !== null && events?.end === nodeEndListener) events.end = onStreamEndAfterNode;
  else stream.on('end', onStreamEnd);
}

const PROBE = Buffer.alloc(1);

/**
 * libuv reports EOF when epoll flags a hang-up after a short read, without the read that
 * tells a FIN from a reset (uv__stream_io's POLLHUP short cut), so a peer's data followed
 * by its reset reached Node as 'end'. One more recv on the fd decides, as asyncio's reads
 * do: 0 is a FIN (also a FIN then a reset: the kernel keeps answering 0), ECONNRESET a
 * reset. Without the addon the EOF stands.
 */
function resetBehindEnd(stream: net.Socket, sock: NetSocket): Error | null {
  const fd = (stream as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0 || !uvAvailable()) return null;
  // read(2) on the fd Node owns (a socket's read is its recv): no Socket object made for it.
  const n = pipeRead(fd, PROBE, 0, 1);
  // A byte after libuv's EOF (not expected: its read was short) is kept, never dropped.
  if (n > 0) sock._keep(Buffer.from(PROBE));
  if (n >= 0) return null;
  const error = errnoError(n, 'read');
  return error.code === 'ECONNRESET' ? (toConnectionError(error) as Error) : null;
}

function onStreamError(this: net.Socket, err: Error): void {
  const sock = ownerOf(this);
  sock._error ??= toConnectionError(err) as Error;
  sock._notify();
}

function onStreamConnect(this: net.Socket): void {
  readDirectlyWhenChosen(this);
  ownerOf(this)._notify();
}

function onStreamClose(this: net.Socket): void {
  // Its handle is gone, and with it its aim at the direct slab: the next stream to read takes over.
  if (directReader === this) directReader = null;
  const sock = ownerOf(this);
  sock._closed = true;
  sock._notify();
}

/**
 * Node's read callback (`this` is the net.Socket): `nread` bytes are in READ_SCRATCH; false
 * stops reading. The watcher is woken as it returns, so the loop may run its iteration
 * from here: the protocol's reply goes out before libuv polls again. Not when reading
 * stops: Node stops its handle after this returns, and a transport resuming reading from
 * inside would be undone (it would wait for news that never comes).
 */
function onStreamRead(this: net.Socket, nread: number, buffer: Uint8Array): boolean {
  const sock = ownerOf(this);
  lastReader = this;
  let chunk: Buffer;
  // Every read lands in fresh heap memory (slab views or a buffer of its own), tens of MB
  // before V8's first GCs free any, and a first touch of a 4 KiB page costs ~12 µs under a
  // paravirtualized MMU: the process's first read asks for huge pages on the heap ahead (once:
  // later calls return at once). At 1 KiB messages too: their slabs took 0.09-0.15 faults per
  // request on Node 24 without it (`net` 0.01-0.04).
  adviseHugePagesAhead();
  if (buffer !== READ_SCRATCH) {
    // The direct reader's read, in directSlab at directStart (see nextReadBuffer).
    const start = directStart;
    chunk = new NodeBuffer(directSlab!, start, nread);
    directStart = Math.min((start + nread + 7) & ~7, DIRECT_SLAB_SIZE);
    directLastRead = nread;
    paceReceived(0);
  } else if (nread >= OWN_BUFFER_READ) {
    chunk = Buffer.allocUnsafeSlow(nread);
    READ_SCRATCH.copy(chunk, 0, 0, nread);
    paceReceived(nread);
  } else {
    receiveSlab.withRoom(nread);
    const start = receiveSlab.offset();
    receiveSlab.taken(start + nread);
    chunk = copyReadInto(new NodeBuffer(receiveSlab.memory(), start, nread), nread);
  }
  if (!sock._keep(chunk)) {
    sock._notify();
    return false;
  }
  sock._watcher?._dataRead(sock);
  return true;
}

export function closedError(syscall: string): Error {
  const err = new Error(`${syscall} EBADF (socket is closed)`) as NodeJS.ErrnoException;
  err.code = 'EBADF';
  err.syscall = syscall;
  return err;
}

export function notConnectedError(syscall: string): Error {
  const err = new Error(`${syscall} ENOTCONN (socket is not connected)`) as NodeJS.ErrnoException;
  err.code = 'ENOTCONN';
  err.syscall = syscall;
  return err;
}

/** A Node address object as loopkit shows it (`{address, family, port}` or `{path}`). */
export function inetAddress(address: string | undefined, family: string | undefined, port: number | undefined): Address {
  return { address: address ?? '', family: family ?? '', port: port ?? 0 };
}

/** What Node's TCP handle fills in with an address. */
type HandleAddress = { address?: string; family?: string; port?: number };
type AddressHandle = { getsockname?(out: HandleAddress): number; getpeername?(out: HandleAddress): number };

/** The address strings last read (see `streamAddress`): a listener's connections share their local one. */
let lastLocalAddress = '';
let lastPeerAddress = '';

/**
 * A connected stream's local or peer address, read from its handle: not through Node's
 * `localAddress`/`remoteAddress` getters, which keep a copy on the socket for its life (two
 * objects per connection more, beside the transport's). The address string is the one last
 * read when equal, so connections from one host hold one string, not one each. Null when the
 * handle cannot tell (none yet, connecting, closed).
 */
function streamAddress(stream: net.Socket, local: boolean): Address | null {
  const handle = (stream as unknown as { _handle?: AddressHandle | null })._handle;
  const read = local ? handle?.getsockname : handle?.getpeername;
  if (read === undefined || stream.connecting) return null;
  const out: HandleAddress = {};
  if (read.call(handle, out) !== 0 || out.address === undefined) return null;
  let address = out.address;
  if (local) {
    if (address === lastLocalAddress) address = lastLocalAddress;
    else lastLocalAddress = address;
  } else if (address === lastPeerAddress) address = lastPeerAddress;
  else lastPeerAddress = address;
  return inetAddress(address, out.family, out.port);
}

/** A listening NetSocket's server and the connections it accepted, not yet taken. */
class Listener {
  readonly accepted: net.Socket[] = [];
  constructor(readonly server: net.Server) {}
}

/** A datagram NetSocket's handle and the datagrams it received, not yet taken. */
class Datagrams {
  readonly datagrams: Array<[Buffer, Address]> = [];
  constructor(readonly socket: dgram.Socket) {}
}

/** A NetSocket's address bound before connect and its Unix socket paths. */
class SocketNames {
  local: { address: string; port: number } | null = null;
  sockPath = '';
  peerPath = '';
}

/**
 * The chunks a NetSocket keeps behind its first unread one, in `slots` from `head` to `tail`:
 * made when two chunks first wait unread at once (an echo never has them), its slots reused
 * from 0 once all are taken, where a push after shift() emptied an array would grow a new
 * backing store at every read.
 */
class ChunkBacklog {
  readonly slots: Buffer[] = [];
  head = 0;
  tail = 0;

  /** The chunks not yet taken move to slots 0..; the slots they leave hold nothing. */
  compact(): void {
    const slots = this.slots;
    const left = this.tail - this.head;
    slots.copyWithin(0, this.head, this.tail);
    slots.fill(EMPTY, left, this.tail);
    this.head = 0;
    this.tail = left;
  }
}

/**
 * A NetSocket's writes and sends handed to Node: how many, how many Node called back (always
 * in order), and the first that failed. Its own record, made by the first such write: most
 * connections write to the fd (32 bytes of each idle connection as fields of the socket).
 */
class NodeWrites {
  issued = 0;
  done = 0;
  /** The first write Node failed, by position (0 for none), and its error. */
  failedAt = 0;
  failure: unknown = null;
  /** Node's callback for every write or send of the socket. */
  readonly callback: (err?: Error | null) => void;

  constructor(sock: NetSocket) {
    this.callback = (err?: Error | null): void => {
      const done = ++this.done;
      // Node calls writes back in order: the first failure is the earliest.
      if (err !== null && err !== undefined && this.failedAt === 0) {
        this.failedAt = done;
        this.failure = err;
      }
      sock._notifyWrite();
    };
  }
}

/**
 * What a connection's NetSocket seldom has, made when first needed: a listener's or datagram
 * socket's endpoint, its names, a backlog of chunks, writes handed to Node, an error. One field
 * where five were (32 bytes of each idle connection); an echo's connection never makes it.
 */
class SocketParts {
  endpoint: Listener | Datagrams | null = null;
  names: SocketNames | null = null;
  later: ChunkBacklog | null = null;
  nodeWrites: NodeWrites | null = null;
  error: Error | null = null;
}

/** The proactor's socket over node:net and node:dgram: the socket object NetProactor's operations take. */
export class NetSocket {
  /** What the socket carries (kept in its flags with its type: 16 bytes of each connection as fields). */
  get family(): NetSocketFamily {
    return FAMILIES[this._flags >> FAMILY_SHIFT]!;
  }
  /** Stream or datagram. */
  get type(): NetSocketType {
    return this._flags & DGRAM ? 'dgram' : 'stream';
  }

  /** @internal the Node handle: a stream, else a listener's or datagram socket's (`_server`, `_dgram`), or none before connect */
  _stream: net.Socket | null = null;
  /** Received and not yet taken: `first` (EMPTY for none), then the chunks of its parts' `later` (see ChunkBacklog). */
  private first: Buffer = EMPTY;
  /** What this socket seldom has (see SocketParts), or null. */
  private parts: SocketParts | null = null;
  /** @internal received bytes not yet taken */ _buffered = 0;
  /** @internal the proactor told of this socket's changes; the fields below are its record of the socket (NetProactor's SockState) */
  _watcher: SocketWatcher | null = null;
  /** @internal operations waiting: receives and accepts, sends and connects */ _reads: OpFuture<any>[] = NO_OPS;
  /** @internal */ _writes: OpFuture<any>[] = NO_OPS;
  /** @internal the transport that takes this socket's news itself */ _consumer: StreamConsumer | null = null;
  /** @internal what changed since the proactor's last select, as its bits */ _news = 0;
  /** @internal the next socket in the proactor's ready list, and its neighbours among the sockets it watches */
  _nextReady: SockState | null = null;
  /** @internal */ _prevWatched: NetSocket | null = null;
  /** @internal */ _nextWatched: NetSocket | null = null;
  /** This socket's seldom parts, made now if not yet. */
  private madeParts(): SocketParts {
    return (this.parts ??= new SocketParts());
  }
  /** Writes and sends handed to Node, counted (read inline where a write completes: a getter is a call at V8's baseline tier). */
  private get nodeWrites(): NodeWrites | null {
    return this.parts?.nodeWrites ?? null;
  }
  /** The record of writes handed to Node, made at the first (a transport writing to the fd never makes it). */
  private writesToNode(): NodeWrites {
    const parts = (this.parts ??= new SocketParts());
    return (parts.nodeWrites ??= new NodeWrites(this));
  }
  /** @internal a write or send is handed to Node next: its position among them (its ticket). */
  _issueWrite(): number {
    return ++this.writesToNode().issued;
  }
  /** @internal the callback to give Node with each write or send (it counts them). */
  _writeCallback(): (err?: Error | null) => void {
    return this.writesToNode().callback;
  }
  /** @internal Node called back the write at position `ticket` (and every one before it). */
  _writeDone(ticket: number): boolean {
    const parts = this.parts;
    const writes = parts === null ? null : parts.nodeWrites;
    return writes !== null && writes.done >= ticket;
  }
  /** @internal Node called back every write and send handed to it. */
  _writesCalledBack(): boolean {
    const parts = this.parts;
    const writes = parts === null ? null : parts.nodeWrites;
    return writes !== null && writes.done === writes.issued;
  }
  /** @internal a write or send handed to Node failed. */
  _aWriteFailed(): boolean {
    const parts = this.parts;
    const writes = parts === null ? null : parts.nodeWrites;
    return writes !== null && writes.failedAt !== 0;
  }
  /** @internal the write at position `ticket` (or one before it) failed. */
  _writeFailed(ticket: number): boolean {
    const parts = this.parts;
    const writes = parts === null ? null : parts.nodeWrites;
    return writes !== null && writes.failedAt !== 0 && ticket >= writes.failedAt;
  }
  /** @internal the error of the first write Node failed. */
  get _writeFailure(): unknown {
    return this.nodeWrites?.failure ?? null;
  }
  /** Where a socket is bound before connect, and a Unix socket's paths: made when set (a TCP connection has none). */
  private get names(): SocketNames | null {
    return this.parts?.names ?? null;
  }
  private madeNames(): SocketNames {
    const parts = this.madeParts();
    return (parts.names ??= new SocketNames());
  }
  /** A listener's or datagram socket's handle and what it received. */
  private get endpoint(): Listener | Datagrams | null {
    return this.parts?.endpoint ?? null;
  }

  /** @internal bound before connect: connect() binds to it */
  get _local(): { address: string; port: number } | null {
    return this.names?.local ?? null;
  }
  /** @internal Unix socket paths (Node cannot report them) */
  get _sockPath(): string {
    return this.names?.sockPath ?? '';
  }
  set _sockPath(path: string) {
    this.madeNames().sockPath = path;
  }
  /** @internal */
  get _peerPath(): string {
    return this.names?.peerPath ?? '';
  }
  set _peerPath(path: string) {
    this.madeNames().peerPath = path;
  }
  /**
   * @internal a connection or receive error, reported to every later receive: kept in the
   * seldom parts behind the ERRORED bit (8 bytes of each connection as a field).
   */
  get _error(): Error | null {
    return this._flags & ERRORED ? this.parts!.error : null;
  }
  set _error(error: Error | null) {
    if (error === null) {
      this._flags &= ~ERRORED;
      if (this.parts !== null) this.parts.error = null;
    } else {
      this.madeParts().error = error;
      this._flags |= ERRORED;
    }
  }
  /** @internal the peer sent EOF */
  get _eof(): boolean {
    return (this._flags & EOF_RECEIVED) !== 0;
  }
  set _eof(on: boolean) {
    this._flags = on ? this._flags | EOF_RECEIVED : this._flags & ~EOF_RECEIVED;
  }
  /** @internal close() was called or Node closed the handle */
  get _closed(): boolean {
    return (this._flags & CLOSED) !== 0;
  }
  set _closed(on: boolean) {
    this._flags = on ? this._flags | CLOSED : this._flags & ~CLOSED;
  }
  /**
   * @internal READING_STARTED ... ERRORED and the family: one field where eight were (56 bytes of
   * each connection). A transport's reads and writes test its bits (a getter is a call at V8's baseline tier).
   */
  _flags = 0;

  /** @internal a listener's net.Server */
  get _server(): net.Server | null {
    const endpoint = this.endpoint;
    return endpoint instanceof Listener ? endpoint.server : null;
  }

  /** @internal a datagram socket's dgram.Socket */
  get _dgram(): dgram.Socket | null {
    const endpoint = this.endpoint;
    return endpoint instanceof Datagrams ? endpoint.socket : null;
  }

  /** @internal connections accepted (paused) and not yet taken (a listener's own list, else a shared empty one) */
  get _accepted(): net.Socket[] {
    const endpoint = this.endpoint;
    return endpoint instanceof Listener ? endpoint.accepted : NO_CONNECTIONS;
  }

  /** @internal datagrams not yet taken (a datagram socket's own list, else a shared empty one) */
  get _datagrams(): Array<[Buffer, Address]> {
    const endpoint = this.endpoint;
    return endpoint instanceof Datagrams ? endpoint.datagrams : NO_DATAGRAMS;
  }

  /** A fresh, unconnected socket; connect it with the loop's sockConnect (or the proactor's connect). */
  constructor(family: NetSocketFamily = 'inet', type: NetSocketType = 'stream') {
    if (family !== 'inet' && family !== 'inet6' && family !== 'unix') {
      throw new TypeError(`family must be 'inet', 'inet6' or 'unix', got ${String(family)}`);
    }
    if (type !== 'stream' && type !== 'dgram') throw new TypeError(`type must be 'stream' or 'dgram', got ${String(type)}`);
    this._flags = (FAMILIES.indexOf(family) << FAMILY_SHIFT) | (type === 'dgram' ? DGRAM : 0);
  }

  /** @internal wraps a connected or connecting net.Socket (allowHalfOpen, paused). */
  static _fromStream(stream: net.Socket, family: NetSocketFamily): NetSocket {
    const sock = new NetSocket(family, 'stream');
    sock._attachStream(stream);
    return sock;
  }

  /** @internal wraps a listening net.Server made with pauseOnConnect. */
  static _fromServer(server: net.Server, family: NetSocketFamily): NetSocket {
    const sock = new NetSocket(family, 'stream');
    sock.madeParts().endpoint = new Listener(server);
    if (family === 'unix') sock._sockPath = String(server.address() ?? '');
    server.on('connection', (conn: net.Socket) => {
      conn.pause();
      sock._accepted.push(conn);
      sock._notify();
    });
    server.on('error', (err: Error) => {
      sock._error = toConnectionError(err) as Error;
      sock._notify();
    });
    server.on('close', () => {
      sock._closed = true;
      sock._notify();
    });
    return sock;
  }

  /** @internal wraps a bound dgram.Socket. */
  static _fromDgram(socket: dgram.Socket, family: NetSocketFamily): NetSocket {
    const sock = new NetSocket(family, 'dgram');
    sock.madeParts().endpoint = new Datagrams(socket);
    socket.on('message', (msg: Buffer, rinfo: dgram.RemoteInfo) => {
      if (sock._datagrams.length >= MAX_DATAGRAMS) return;
      sock._datagrams.push([msg, inetAddress(rinfo.address, rinfo.family, rinfo.port)]);
      sock._notify();
    });
    socket.on('error', (err: Error) => {
      sock._error = toConnectionError(err) as Error;
      sock._notify();
    });
    socket.on('close', () => {
      sock._closed = true;
      sock._notify();
    });
    return sock;
  }

  /** @internal */
  _attachStream(stream: net.Socket): void {
    this._stream = stream;
    (stream as unknown as Record<symbol, NetSocket>)[OWNER] = this;
    stream.pause();
    if (!this.readIntoScratch(stream)) stream.on('data', onStreamData);
    listenForEnd(stream);
    stream.on('error', onStreamError);
    // Only a socket still to connect hears 'connect' (an accepted one never does): one
    // listener key more would push Node's listener table out of its object (40 bytes).
    if (!(stream as unknown as { _handle?: unknown })._handle || stream.connecting) stream.on('connect', onStreamConnect);
    stream.on('close', onStreamClose);
    if (this._flags & UNREFED) stream.unref();
    // A socket still to connect gets its handle at connect(), which installs READ_SCRATCH (onStreamConnect follows).
    if ((stream as unknown as { _handle?: unknown })._handle) readDirectlyWhenChosen(stream);
  }

  /** @internal something changed that may complete an operation: tell the watcher. */
  _notify(): void {
    this._watcher?._socketChanged(this, false);
  }

  /** @internal Node called a write back. */
  _notifyWrite(): void {
    this._watcher?._socketChanged(this, true);
  }

  /** Have Node read `stream` into the shared scratch buffer (see the module comment); false where it cannot. */
  private readIntoScratch(stream: net.Socket): boolean {
    if (userBufferKeys === undefined) userBufferKeys = findUserBufferKeys();
    const keys = userBufferKeys;
    if (keys === null) return false;
    const handle = (stream as unknown as { _handle?: { useUserBuffer?: (buf: Uint8Array) => void } | null })._handle;
    // A connecting socket gets its handle at connect(), which installs the buffer then.
    if (handle !== null && handle !== undefined && typeof handle.useUserBuffer !== 'function') return false;
    const record = stream as unknown as Record<symbol, unknown>;
    record[keys.buffer] = READ_SCRATCH;
    record[keys.callback] = onStreamRead;
    handle?.useUserBuffer!(READ_SCRATCH);
    return true;
  }

  /** @internal Node read `chunk`: keep it for a receive and tell the watcher; false once enough waits unread (stop reading). */
  _received(chunk: Buffer): boolean {
    const more = this._keep(chunk);
    this._notify();
    return more;
  }

  /** @internal keep `chunk` for a receive; false once enough waits unread (Node stops reading). */
  _keep(chunk: Buffer): boolean {
    if (this.first === EMPTY) this.first = chunk;
    else this.keepLater(chunk);
    this._buffered += chunk.length;
    if (this._buffered < READ_HIGH_WATER) return true;
    this._flags |= READ_STOPPED;
    return false;
  }

  /** `chunk` waits behind others. */
  private keepLater(chunk: Buffer): void {
    const parts = (this.parts ??= new SocketParts());
    const later = (parts.later ??= new ChunkBacklog());
    const slots = later.slots;
    // A reader that always leaves chunks behind never empties the list: move what is left
    // to the front before growing, or the taken slots would pile up for the connection's life.
    if (later.tail === slots.length && later.head >= MAX_KEPT_CHUNK_SLOTS / 2) later.compact();
    if (later.tail < slots.length) slots[later.tail] = chunk;
    else slots.push(chunk);
    later.tail++;
  }

  /** The OS descriptor, or -1 when there is none (closed, not connected, or not exposed). */
  fileno(): number {
    const handle = (this._stream ?? this._server ?? this._dgram) as unknown as { _handle?: { fd?: number } } | null;
    const fd = handle?._handle?.fd;
    return typeof fd === 'number' && fd >= 0 && !this._closed ? fd : -1;
  }

  /** True once close() ran or Node closed the handle. */
  get closed(): boolean {
    return this._closed;
  }

  /** The local address: `{address, family, port}`, or `{path}` for a Unix socket. */
  getsockname(): Address {
    if (this.family === 'unix') return { path: this._sockPath };
    if (this._stream !== null) {
      const s = this._stream;
      return streamAddress(s, true) ?? inetAddress(s.localAddress, s.localFamily, s.localPort);
    }
    const a = (this._server ?? this._dgram)?.address();
    if (a !== null && typeof a === 'object') return inetAddress(a.address, a.family, a.port);
    if (this._local !== null) return inetAddress(this._local.address, this.family === 'inet' ? 'IPv4' : 'IPv6', this._local.port);
    return inetAddress(this.family === 'inet' ? '0.0.0.0' : '::', this.family === 'inet' ? 'IPv4' : 'IPv6', 0);
  }

  /** The peer's address; throws code ENOTCONN when not connected. */
  getpeername(): Address {
    if (this.family === 'unix' && this._stream !== null) return { path: this._peerPath };
    const s = this._stream;
    if (s !== null) {
      const peer = streamAddress(s, false);
      if (peer !== null) return peer;
      if (s.remoteAddress !== undefined) return inetAddress(s.remoteAddress, s.remoteFamily, s.remotePort);
    }
    if (this._dgram !== null) {
      try {
        const a = this._dgram.remoteAddress();
        return inetAddress(a.address, a.family, a.port);
      } catch {
        // not connected: fall through to ENOTCONN
      }
    }
    throw notConnectedError('getpeername');
  }

  /**
   * Remembers the local address a later connect binds to (stream sockets; listening and
   * datagram sockets are bound by the loop's createServer / createDatagramEndpoint).
   */
  bind(address: { address?: string; port: number }): void {
    if (this.type !== 'stream' || this.family === 'unix' || this._stream !== null || this._server !== null) {
      throw new TypeError('bind() is for an unconnected inet/inet6 stream NetSocket');
    }
    if (address === null || typeof address !== 'object' || !Number.isInteger(address.port)) {
      throw new TypeError('address must be {address?, port}');
    }
    this.madeNames().local = { address: address.address ?? (this.family === 'inet' ? '0.0.0.0' : '::'), port: address.port };
  }

  /** Half-closes the sending side once written data is flushed (SHUT_WR). */
  shutdownWrite(): void {
    if (this._stream === null || this._closed) throw notConnectedError('shutdown');
    this._stream.end();
  }

  /** Closes the handle at once; unflushed writes are dropped. Idempotent. */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    this._stream?.destroy();
    this._server?.close();
    if (this._dgram !== null) {
      try {
        this._dgram.close();
      } catch {
        // already closed by Node after an error
      }
    }
    for (const conn of this._accepted) conn.destroy();
    this._accepted.length = 0;
    this._notify();
  }

  /** @internal start or keep Node reading: a receive is waiting. */
  _wantData(): void {
    const s = this._stream;
    if (s === null || this._buffered >= READ_HIGH_WATER) return;
    const flags = this._flags;
    if (!(flags & READING_STARTED) || flags & READ_STOPPED || s.isPaused()) {
      this._flags = (flags | READING_STARTED) & ~READ_STOPPED;
      s.resume();
    }
  }

  /** @internal take up to n unread bytes (one chunk or part of one). */
  _take(n: number): Buffer {
    const first = this.first;
    if (first === EMPTY || n === 0) return EMPTY;
    let out: Buffer;
    if (first.length <= n) {
      out = first;
      const later = this.parts?.later ?? null;
      this.first = later !== null && later.head < later.tail ? this.takeLater(later) : EMPTY;
    } else {
      out = first.subarray(0, n);
      this.first = first.subarray(n);
    }
    this._buffered -= out.length;
    return out;
  }

  /** The chunk at the head of `later`, out of it (it holds one at least). */
  private takeLater(later: ChunkBacklog): Buffer {
    const slots = later.slots;
    const head = later.head;
    const chunk = slots[head]!;
    slots[head] = EMPTY;
    if (head + 1 < later.tail) {
      later.head = head + 1;
    } else {
      // Every chunk was taken: fill from slot 0 again (a list that a backlog grew long is dropped).
      later.head = later.tail = 0;
      if (slots.length > MAX_KEPT_CHUNK_SLOTS) this.parts!.later = null;
    }
    return chunk;
  }

  /** @internal copy unread bytes into buf: how many were copied. */
  _takeInto(buf: Uint8Array): number {
    let copied = 0;
    while (copied < buf.length && this.first !== EMPTY) {
      const chunk = this._take(buf.length - copied);
      buf.set(chunk, copied);
      copied += chunk.length;
    }
    return copied;
  }

  /** @internal keep (or stop keeping) the process alive; the proactor follows its loop. */
  _ref(on: boolean): void {
    this._flags = on ? this._flags & ~UNREFED : this._flags | UNREFED;
    // Each handle by name: an array of the three was garbage made at every accepted connection.
    refHandle(this._stream, on);
    refHandle(this._server, on);
    refHandle(this._dgram, on);
  }

  /** A description for logs and debugging, as asyncio's repr(). */
  toString(): string {
    const what = this._server !== null ? 'listening' : this._stream !== null || this._dgram !== null ? 'open' : 'unconnected';
    return `<NetSocket ${this.family} ${this.type} ${this._closed ? 'closed' : what}>`;
  }
}
