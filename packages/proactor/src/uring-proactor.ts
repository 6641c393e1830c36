/**
 * UringProactor: the Proactor contract on io_uring (Linux), through @loopkit/uv's Uring.
 * Receives and accepts are posted to the ring; a send is tried at once with the
 * non-blocking syscall (loopback TCP nearly always takes it whole), what the OS did not
 * take is posted to the ring, and it completes whole (as uv_write); datagrams and
 * connects wait for readiness with a one-shot ring poll, then run the syscall. Queued
 * submissions enter the kernel once per turn of Node's loop; the ring fd (readable while
 * completions wait) wakes Node's loop, and `select()` harvests every completion in one
 * native call.
 *
 * It completes operations on @loopkit/uv sockets (and the UringSocket wrapper
 * UringEventLoop's transports use). NetSockets (what a plain ProactorEventLoop's
 * createServer/createConnection/createDatagramEndpoint make) go to an inner NetProactor,
 * so `new ProactorEventLoop(new UringProactor())` works everywhere the loop does;
 * `new UringEventLoop()` puts its servers on the ring too, and its stream transports are
 * UringStreamTransports (src/uring-transport.ts), which take their completions without
 * futures (see RingSink).
 *
 * Rules (beside the ring's own, in packages/uv/native/uring.c):
 * - Each socket has a read queue (recv, recvInto, recvfrom, accept) and a write queue
 *   (send, sendto, connect); only the head of a queue is in the ring, so operations
 *   complete in the order they were posted.
 * - Receives go into the ring's receive pool (or, without one, a proactor-owned buffer
 *   per socket) and are copied out on completion: a receive cancelled after the kernel
 *   filled it keeps its bytes (and an accept its connection) for the next operation,
 *   never in the caller's buffer.
 * - Cancelling a posted operation asks the ring to cancel it; its future is cancelled at
 *   once, the ring's completion is consumed later.
 * - Closing a socket with operations in the ring: close a UringSocket (it cancels them
 *   first); a raw uv Socket must have no operation pending (the ring holds the file
 *   open until the operation completes, as libuv requires uv_cancel before uv_close).
 * - `close()` cancels every pending future, closes connections accepted but never
 *   taken, and closes the ring (which waits for the cancelled operations, bounded).
 */
import { checkByteCount, Future, NodeBuffer, receiveSlab, toConnectionError, type AbstractEventLoop, type BaseProtocol, type Family, type Server, type ServerOptions, type SockType } from '@loopkit/core';
import {
  adviseHugePagesForRead,
  EAGAIN,
  EINPROGRESS,
  errnoError,
  IPPROTO_IPV6,
  IPPROTO_TCP,
  IPV6_V6ONLY,
  PollSet,
  READABLE,
  SHUT_WR,
  SO_KEEPALIVE,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOL_SOCKET,
  Socket as UvSocket,
  socket as uvSocket,
  TCP_NODELAY,
  tryRecvBatch,
  Uring,
  WRITABLE,
  type AddressLike as UvAddressLike,
} from '@loopkit/uv';
import { ProactorEventLoop } from './event-loop.js';
import { NetProactor } from './net-proactor.js';
import { NetSocket } from './net-socket.js';
import { acceptedPeer, Proactor, type Address, type AddressLike } from './proactor.js';
import { sendfileBySends } from './sendfile.js';
import { checkBytes, wouldBlock } from './checks.js';
import type { ProactorSocketTransport } from './transports.js';
import { UringStreamTransport } from './uring-transport.js';

const ECANCELED = 125;
const ENOBUFS = 105;
const ENOSYS = 38;
const ENOMEM = 12;
/** Numbers per completion in harvest's output: id, result, more, where its bytes went. */
const QUAD = 4;
/** Completions one native harvest call hands over at most. */
const HARVEST_BATCH = 256;
const POOL_BUFFER_SIZE = Uring.POOL_BUFFER_SIZE;
const NO_SLAB = Uring.NO_SLAB;
const BYTES_DROPPED = Uring.BYTES_DROPPED;
/** A socket's own receive buffer (kernels without a receive pool): the most one ring receive asks for. */
const RECV_CHUNK = 64 * 1024;
const EOF_BYTES = Buffer.alloc(0);
/** Bytes in one turn from which a transport reads directly instead of through the pool (see UringStreamTransport). */
const DIRECT_READ_FROM = 8 * 1024;
/** Readable sockets in one select() (or completions in one harvest) from which a transport's small direct reads go to the pool (see UringStreamTransport). */
const POOL_FROM_READS = 2;
/** Sockets read ahead in one call at most (see readAhead). */
const AHEAD_MAX = 256;
/** The least room a read made ahead asks for (a direct read's, and the selector's). */
const MIN_READ_AHEAD = 64 * 1024;
/** Ring ids are (generation << 20) | slot. */
const SLOTS = 1 << 20;

type Queue = 'reads' | 'writes';
const enum Kind {
  Recv,
  RecvInto,
  Recvfrom,
  Send,
  Sendto,
  Accept,
  Connect,
}

/** A Future whose cancel() also withdraws the operation (CPython's _OverlappedFuture). */
class UringOp<T> extends Future<T> {
  /** @internal */ _kind: Kind = Kind.Recv;
  /** @internal */ _ss: SockState | null = null;
  /** @internal a size, a buffer, an address */ _arg: any = null;
  /** @internal a send's offset, a sendto's address; a receive: true once the pool had no buffer for it */ _arg2: any = null;
  /** @internal the ring operation's id while it is in the ring, else 0 */ _id = 0;
  /** @internal connect: the connect was started */ _started = false;
  /** @internal */ _proactor: UringProactor | null = null;
  /** @internal more to undo when cancelled (sendfile cancels its send) */ _onCancel: (() => void) | null = null;

  override cancel(msg?: string): boolean {
    if (!super.cancel(msg)) return false;
    this._proactor?._withdraw(this);
    const onCancel = this._onCancel;
    this._onCancel = null;
    onCancel?.();
    return true;
  }
}

interface SockState {
  sock: UvSocket;
  reads: UringOp<any>[];
  writes: UringOp<any>[];
  /** Receive buffer (allocated on the first ring receive, only where the ring has no receive pool). */
  buf: Buffer | null;
  /** Bytes received for a receive that was cancelled: the next receive takes them. */
  unread: Buffer[];
  /** Connections accepted for an accept that was cancelled. */
  acceptedFds: number[];
  /** EOF or an error the kernel reported to a cancelled receive. */
  readEnd: number | null;
  /** shutdownWrite() waits for the writes in flight. */
  shutdownPending: boolean;
  /** The ring receive that was cancelled but has not completed: the buffer is still the kernel's. */
  recvBusy: boolean;
}


function describeTarget(address: AddressLike): { address?: string; port?: number; path?: string } | undefined {
  if (typeof address === 'string') return { path: address };
  if (Array.isArray(address)) return { address: address[0], port: address[1] };
  return address as { address?: string; port?: number; path?: string };
}

/**
 * A @loopkit/uv socket as UringEventLoop's transports and servers hold it: the uv Socket's
 * methods, plus `shutdownWrite()` (after the writes in flight) and a `close()` that first
 * cancels what the ring still does on it.
 */
export class UringSocket {
  readonly raw: UvSocket;
  readonly family: UvSocket['family'];
  readonly type: UvSocket['type'];
  /** @internal */ readonly _proactor: UringProactor;

  constructor(raw: UvSocket, proactor: UringProactor) {
    if (!(raw instanceof UvSocket)) throw new TypeError(`raw must be a @loopkit/uv Socket, got ${String(raw)}`);
    if (!(proactor instanceof UringProactor)) throw new TypeError(`proactor must be a UringProactor, got ${String(proactor)}`);
    this.raw = raw;
    this.family = raw.family;
    this.type = raw.type;
    this._proactor = proactor;
  }

  get closed(): boolean {
    return this.raw.closed;
  }

  /** The descriptor, -1 once closed. */
  fileno(): number {
    return this.raw.fileno();
  }

  /** The local address. */
  getsockname(): Address {
    return this.raw.getsockname() as Address;
  }

  /** The peer's address. */
  getpeername(): Address {
    return this.raw.getpeername() as Address;
  }

  /** Bind to a local address. */
  bind(address: UvAddressLike): void {
    this.raw.bind(address);
  }

  /** Set a socket option. */
  setsockopt(level: number, name: number, value: number | boolean): void {
    this.raw.setsockopt(level, name, value);
  }

  /** Read a socket option. */
  getsockopt(level: number, name: number): number {
    return this.raw.getsockopt(level, name);
  }

  /** Sends FIN once the sends already posted are done. */
  shutdownWrite(): void {
    this._proactor._shutdownWrite(this.raw);
  }

  /** Cancels the socket's pending operations, then closes it. Idempotent. */
  close(): void {
    if (this.raw.closed) return;
    this._proactor._forget(this.raw);
    this.raw.close();
  }

  /** A description for logs and debugging, as asyncio's repr(). */
  toString(): string {
    return `<UringSocket fd=${this.raw.fileno()} ${this.family}/${this.type}>`;
  }
}

function rawOf(sock: unknown, name: string): UvSocket {
  if (sock instanceof UvSocket) return sock;
  if (sock instanceof UringSocket) return sock.raw;
  throw new TypeError(`${name} must be a @loopkit/uv Socket, a UringSocket or a NetSocket, got ${String(sock)}`);
}

/**
 * @internal A transport that takes its socket's ring completions itself (no Future per
 * operation): the proactor calls it from select() for each completion of an id it posted
 * with `_track`. `data` holds a pooled receive's bytes (a view into a slab never reused).
 */
export interface RingSink {
  _ringCompleted(id: number, res: number, more: boolean, data: Buffer | null): void;
  /** A completion of its receive whose bytes the harvest dropped, having no slab for them (`_slabFailure`): the stream has a gap, so the transport fails. */
  _receiveLost(id: number, more: boolean): void;
}

/** @internal A transport reading directly: told when Node's loop reported its socket readable (see `_watchReadable`). */
export interface ReadableSink {
  /** Its socket was reported readable: true when its read may be made ahead, with the others of this select (see readAhead). */
  _readableReported(): boolean;
  /** Its read made ahead: the bytes (a view into the slab), else null and what recv returned (0 at EOF, -errno). */
  _readAhead(data: Buffer | null, r: number): void;
}

/** The loop's way to queue a ready entry without allocating (BaseEventLoop's). */
export interface EntryQueue {
  _callSoonEntry(entry: { _run(): void }): void;
}

export class UringProactor extends Proactor {
  private loop: AbstractEventLoop | null = null;
  /** @internal The loop, when it queues a ready entry without allocating (BaseEventLoop does): how transports queue themselves. */
  _entryQueue: EntryQueue | null = null;
  private wake: (() => void) | null = null;
  private hostWake: (() => void) | null = null;
  private ring: Uring | null = null;
  private readonly net = new NetProactor();
  /**
   * The inner NetProactor woke us since the last select of it: only then does select() ask
   * it (its wake-up comes whenever a completion waits, per the Proactor contract), so a
   * wake-up of the ring alone costs no NetProactor select.
   */
  private netDue = true;
  private readonly netWake = (): void => {
    this.netDue = true;
    this.wake?.();
  };
  /** Per-socket state (queues, receive buffer), kept while the socket lives. */
  private states = new WeakMap<UvSocket, SockState>();
  /** Operations in the ring, by slot (the low 20 bits of their id). */
  private readonly ringOps: Array<UringOp<any> | undefined> = [];
  /** Transports' operations in the ring, by slot, with their ids (see RingSink). */
  private readonly sinks: Array<RingSink | undefined> = [];
  private readonly sinkIds: number[] = [];
  private inRingCount = 0;
  /** Sockets holding connections accepted for a cancelled accept. */
  private readonly stashed = new Set<SockState>();
  /** Futures completed outside select() (at submission or by a neighbour's completion). */
  private finished: Future<unknown>[] = [];
  /** @internal The last allocation of a slab that failed in a harvest: the error of the transports whose pooled bytes it dropped. */
  _slabFailure: unknown = null;
  private readonly out = new Float64Array(HARVEST_BATCH * QUAD);
  /**
   * Operations harvested but not completed yet, with their results: taken out of the ring
   * (and ringOps) first, so an operation one of them posts may reuse a slot this harvest
   * freed. Completed by select(), or by a cancel that harvested them.
   */
  private harvestedOps: UringOp<any>[] = [];
  private harvestedResults: number[] = [];
  /** A harvested pooled receive's bytes, else null. */
  private harvestedData: Array<Buffer | null> = [];
  private spareOps: UringOp<any>[] = [];
  private spareResults: number[] = [];
  private spareData: Array<Buffer | null> = [];
  private flushPending = false;
  /**
   * The sockets of transports reading directly, each polled by Node's loop itself (a uv_poll
   * per fd, level-triggered), as the selector loop hosts its transports' sockets: a socket's
   * wake-up then reaches Node's epoll_wait directly. A ring poll completes through task work,
   * which interrupts a sleeping epoll_wait (EINTR) and costs it a second one, plus the ring's
   * harvest, on every wake-up. Watched only from setWakeup, as the ring (for its callback's
   * async context).
   */
  private readPolls: PollSet | null = null;
  private readonly readSinks: Array<ReadableSink | undefined> = [];
  private readSinkCount = 0;
  /** PollSet's reports: [0] pairs written from [2] on, [1] pairs left for take() (see PollSet.watch). */
  private readonly readReports = new Int32Array(2 + 2 * 256);
  private readOut = new Int32Array(2 * 256);
  /** The read-ahead's sockets and transports for this select(), and where tryRecvBatch put each read. */
  private readonly aheadFds = new Int32Array(AHEAD_MAX);
  private readonly aheadSinks: Array<ReadableSink | null> = [];
  private readonly aheadOut = new Int32Array(2 * AHEAD_MAX);
  private aheadCount = 0;
  /** Node's loop reported readable sockets since the last select(). */
  private readsReported = false;
  /**
   * @internal How many directly read sockets the last select() found readable (0 when Node's
   * loop reported none: a transport's `_run` follows the select that queued it, so it reads
   * this iteration's count): where wake-ups bring several, the ring's pooled receives pay (no
   * recv syscall per message, one wake-up for the batch); where they bring one, a ring
   * completion's wake-up costs more than the recv syscall (see UringStreamTransport's small
   * and lone rounds).
   */
  _readsPerSelect = 0;
  /**
   * @internal Completions the last harvest that took any brought: once most busy sockets are
   * on the pool, the few still read directly are reported alone (the ring's watcher and
   * Node's poll of the socket each turn the loop), and they must follow the rest there.
   */
  _lastHarvest = 0;
  /**
   * @internal Small direct reads go to the pool only once a select() found this many sockets
   * readable or a harvest brought this many completions (tests force 1).
   */
  _poolFromReads = POOL_FROM_READS;
  /**
   * The ring's watcher fired since the last harvest. A select() that Node's reports of
   * directly read sockets alone prompted does not harvest (a server's accept keeps the ring
   * non-empty, so every wake-up would): the ring's watcher wakes the loop when completions wait.
   */
  private ringDue = true;
  /** @internal Receives go to the ring's receive pool (false once the kernel said it has none; tests force the fallback). */
  _pooled = true;
  /** @internal Transports receive with one multishot receive (false once the kernel refused one; tests force the fallback). */
  _multishot = true;
  /**
   * @internal A transport switches to direct reads (see UringStreamTransport) once one turn
   * delivered this many pooled bytes; 0 reads directly from the start (tests force each path).
   */
  _directReadFrom = DIRECT_READ_FROM;
  /**
   * @internal A new transport starts with direct reads, and goes to the pool once its rounds
   * read little (see UringStreamTransport): a server of large messages then never has the
   * kernel copy them into the pool first (the pool's 16 MiB are faulted in page by page as the
   * kernel cycles through its buffers) nor compiles the pooled path. False: it starts on the
   * pool (tests force each path).
   */
  _startDirect = true;
  private refed = false;
  private closed = false;

  /** Why io_uring cannot be used here, or null when it can (the policy's probe). */
  static problem(): string | null {
    return Uring.problem();
  }

  constructor() {
    super();
    const problem = Uring.problem();
    if (problem !== null) {
      const err = new Error(`UringProactor is unavailable: ${problem}`) as NodeJS.ErrnoException;
      err.code = 'ERR_NOT_SUPPORTED';
      throw err;
    }
  }

  setLoop(loop: AbstractEventLoop): void {
    if (this.loop !== null && this.loop !== loop) throw new Error('UringProactor is already bound to another loop');
    this.loop = loop;
    this._entryQueue = typeof (loop as Partial<EntryQueue>)._callSoonEntry === 'function' ? (loop as unknown as EntryQueue) : null;
    this.net.setLoop(loop);
  }

  /**
   * The ring is watched only from here (a running loop sets its wake-up in ioStart), never
   * from an operation a task posts: a uv watcher calls back in the async context of its
   * watch() caller, so the ring's callback is in runForever's and may turn the loop at once
   * (see `_setHostWakeup`). So a loop that starts also sets up the ring.
   */
  setWakeup(wake: (() => void) | null): void {
    this.wake = wake;
    this.netDue = true; // what the inner proactor completed while nobody was woken
    this.net.setWakeup(wake === null ? null : this.netWake);
    if (wake !== null && this.ring === null && !this.closed) this.getRing();
    if (wake !== null && this.readPolls === null && !this.closed) this.readPolls = new PollSet();
    const readPolls = this.readPolls;
    if (readPolls !== null) {
      if (wake !== null && !readPolls.watching && !readPolls.closed) readPolls.watch(this.onReadsReported, this.readReports);
      else if (wake === null && readPolls.watching) {
        readPolls.unwatch();
        this.readsReported = false;
      }
    }
    const ring = this.ring;
    if (ring === null) return;
    if (wake !== null && !ring.watching) {
      ring.watch(this.onRingReady);
      this.refed = true;
      this.updateRef();
    } else if (wake === null && ring.watching) ring.unwatch();
  }

  /**
   * @internal The loop's way to turn at once from the ring watcher's callback (core's
   * `_wakeFromHost`), used in place of the `setWakeup` one while set: that callback runs in
   * runForever's async context (see setWakeup), so the loop's turn needs no queued microtask
   * carrying that context. Null: back to the `setWakeup` one.
   */
  _setHostWakeup(wake: (() => void) | null): void {
    this.hostWake = wake;
  }

  // ---- operations ----

  recv(sock: unknown, n: number): Future<Uint8Array> {
    if (sock instanceof NetSocket) return this.net.recv(sock, n);
    const s = rawOf(sock, 'sock');
    checkByteCount(n, 'n');
    return this.post<Uint8Array>(s, 'reads', Kind.Recv, n, null);
  }

  recvInto(sock: unknown, buf: Uint8Array): Future<number> {
    if (sock instanceof NetSocket) return this.net.recvInto(sock, buf);
    const s = rawOf(sock, 'sock');
    checkBytes(buf, 'buf');
    return this.post<number>(s, 'reads', Kind.RecvInto, buf, null);
  }

  recvfrom(sock: unknown, n: number): Future<[Uint8Array, Address]> {
    if (sock instanceof NetSocket) return this.net.recvfrom(sock, n);
    const s = rawOf(sock, 'sock');
    checkByteCount(n, 'n');
    return this.post<[Uint8Array, Address]>(s, 'reads', Kind.Recvfrom, n, null);
  }

  send(sock: unknown, data: Uint8Array): Future<number> {
    if (sock instanceof NetSocket) return this.net.send(sock, data);
    const s = rawOf(sock, 'sock');
    checkBytes(data, 'data');
    return this.post<number>(s, 'writes', Kind.Send, data, 0);
  }

  sendto(sock: unknown, data: Uint8Array, address: AddressLike | null): Future<number> {
    if (sock instanceof NetSocket) return this.net.sendto(sock, data, address);
    const s = rawOf(sock, 'sock');
    checkBytes(data, 'data');
    return this.post<number>(s, 'writes', Kind.Sendto, data, address);
  }

  accept(listener: unknown): Future<[unknown, Address | null]> {
    if (listener instanceof NetSocket) return this.net.accept(listener);
    const s = rawOf(listener, 'listener');
    // A UringSocket listener accepts UringSockets; a raw uv listener, raw uv Sockets.
    return this.post<[unknown, Address | null]>(s, 'reads', Kind.Accept, listener instanceof UringSocket, null);
  }

  connect(sock: unknown, address: AddressLike): Future<void> {
    if (sock instanceof NetSocket) return this.net.connect(sock, address);
    const s = rawOf(sock, 'sock');
    return this.post<void>(s, 'writes', Kind.Connect, address, null);
  }

  sendfile(sock: unknown, fd: number, offset: number, count: number | null): Future<number> {
    if (sock instanceof NetSocket) return this.net.sendfile(sock, fd, offset, count);
    rawOf(sock, 'sock');
    checkByteCount(fd, 'fd');
    checkByteCount(offset, 'offset');
    if (count !== null) checkByteCount(count, 'count');
    const fut = this.future<number>();
    const complete = (then: () => void): void => {
      if (!this.closed) then();
    };
    sendfileBySends({ fut, send: (chunk) => this.send(sock, chunk), complete }, fd, offset, count);
    return fut;
  }

  select(timeout: number | null = null): Future<unknown>[] {
    // `timeout !== timeout`: NaN, without loading Number.isNaN on every wake-up.
    if (timeout !== null && (typeof timeout !== 'number' || timeout !== timeout)) {
      throw new TypeError(`timeout must be a number of seconds or null, got ${String(timeout)}`);
    }
    let finished: Future<unknown>[];
    if (this.netDue || this.wake === null) {
      this.netDue = false;
      finished = this.net.select(timeout);
    } else {
      finished = [];
    }
    const ringDue = this.ringDue || !this.readsReported;
    if (this.readsReported) this.takeReadReports();
    else this._readsPerSelect = 0;
    if (ringDue && this.ring !== null && this.inRingCount > 0) {
      this.ringDue = false;
      const completions = this.harvest();
      if (completions > 0) this._lastHarvest = completions;
      if (this.inRingCount === 0) this.updateRef(); // the ring lets the process go once empty
    }
    const ops = this.harvestedOps;
    if (ops.length > 0) {
      const results = this.harvestedResults;
      const data = this.harvestedData;
      this.harvestedOps = this.spareOps;
      this.harvestedResults = this.spareResults;
      this.harvestedData = this.spareData;
      for (let i = 0; i < ops.length; i++) this.complete(ops[i]!, results[i]!, data[i]!);
      ops.length = 0;
      results.length = 0;
      data.length = 0;
      this.spareOps = ops;
      this.spareResults = results;
      this.spareData = data;
    }
    if (this.finished.length > 0) {
      for (const f of this.finished) finished.push(f);
      this.finished = [];
    }
    return finished;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const pending = new Set<SockState>(this.stashed);
    for (const op of this.ringOps) if (op?._ss) pending.add(op._ss);
    for (const state of pending) {
      for (const fut of [...state.reads, ...state.writes]) fut.cancel();
      for (const fd of state.acceptedFds) UvSocket.fromFd(fd).close();
      state.acceptedFds.length = 0;
    }
    this.stashed.clear();
    this.states = new WeakMap();
    this.ringOps.length = 0;
    // Transports were closed by the loop first; the ring's close cancels their receives.
    this.sinks.length = 0;
    this.sinkIds.length = 0;
    this.inRingCount = 0;
    this.harvestedOps.length = 0;
    this.harvestedResults.length = 0;
    this.harvestedData.length = 0;
    this.finished = [];
    this.ring?.close();
    this.ring = null;
    this.readPolls?.close();
    this.readSinks.length = 0;
    this.readSinkCount = 0;
    this.readsReported = false;
    this.net.close();
  }

  // ---- machinery ----

  private future<T>(): UringOp<T> {
    if (this.loop === null) throw new Error('UringProactor has no loop: call setLoop(loop) first');
    if (this.closed) throw new Error('UringProactor is closed');
    const fut = new UringOp<T>(this.loop);
    fut._proactor = this;
    return fut;
  }

  /** @internal The ring, set up on first use (for UringStreamTransport). */
  _ring(): Uring {
    return this.getRing();
  }

  /** @internal `id` (from the ring) is `sink`'s: its completions go to `sink._ringCompleted`. A negative id is returned as it is. */
  _track(sink: RingSink, id: number): number {
    if (id < 0) return id;
    this.sinks[id % SLOTS] = sink;
    this.sinkIds[id % SLOTS] = id;
    this.inRingCount++;
    this.scheduleFlush();
    this.updateRef();
    return id;
  }

  /** @internal Ask the ring to cancel a tracked operation: its last completion still comes (-ECANCELED or its result). */
  _cancelTracked(id: number): void {
    if (this.ring === null || this.closed) return;
    this.ring.cancel(id);
    this.scheduleFlush();
  }

  /**
   * @internal Node's loop polls `fd` for readability (level-triggered) and `sink` hears of
   * each report in select(), until `_unwatchReadable(fd)`, which a transport calls before
   * its socket closes.
   */
  _watchReadable(fd: number, sink: ReadableSink): void {
    // Watched by the next setWakeup when no loop runs yet (a running one made it there).
    (this.readPolls ??= new PollSet()).add(fd, READABLE);
    this.readSinks[fd] = sink;
    this.readSinkCount++;
  }

  /** @internal Stop polling `fd` (see `_watchReadable`); a report not taken yet is dropped. */
  _unwatchReadable(fd: number): void {
    if (this.readSinks[fd] === undefined) return;
    this.readSinks[fd] = undefined;
    this.readSinkCount--;
    if (!this.closed) this.readPolls!.remove(fd);
  }

  /** The PollSet's onReady: a libuv callback in runForever's async context (setWakeup watched it). */
  private readonly onReadsReported = (): void => {
    this.readsReported = true;
    (this.hostWake ?? this.wake)?.();
  };

  /**
   * Tells each transport whose socket Node's loop reported readable since the last look, sets
   * `_readsPerSelect` to how many, then reads ahead for those reading into the slab.
   */
  private takeReadReports(): void {
    this.readsReported = false;
    const reports = this.readReports;
    const written = reports[0]!;
    reports[0] = 0; // read now: Node's loop writes later reports from the start
    if (written === 1 && reports[1] === 0) {
      // One socket (the ping-pong): it reads itself, with none of the read-ahead's bookkeeping.
      this.readSinks[reports[2]!]?._readableReported();
      this._readsPerSelect = 1;
      return;
    }
    this.tellReadable(reports, 2, written);
    let count = written;
    if (reports[1]! > 0) {
      if (this.readOut.length < 2 * this.readSinkCount) this.readOut = new Int32Array(2 * this.readSinkCount);
      const taken = this.readPolls!.take(this.readOut);
      // More than fits: the rest at the next select().
      if (2 * taken === this.readOut.length) this.readsReported = true;
      this.tellReadable(this.readOut, 0, taken);
      count += taken;
    }
    // Set before the read-ahead: a transport's round, counted there, reads it (busyElsewhere).
    this._readsPerSelect = count;
    if (this.aheadCount > 0) this.readAhead();
  }

  private tellReadable(pairs: Int32Array, from: number, n: number): void {
    const sinks = this.readSinks;
    for (let i = from; i < from + 2 * n; i += 2) {
      const fd = pairs[i]!;
      const sink = sinks[fd];
      if (sink !== undefined && sink._readableReported() && this.aheadCount < AHEAD_MAX) {
        this.aheadFds[this.aheadCount] = fd;
        this.aheadSinks[this.aheadCount++] = sink;
      }
    }
  }

  /**
   * The sockets one select() found readable whose transports read into the slab, read in one
   * call into the addon (as the default loop's read-ahead: a call per socket is what it saves),
   * as many as one slab's room holds; each transport delivers its read when it runs, the rest
   * read themselves then. One socket reads itself, as before (the ping-pong's path).
   */
  private readAhead(): void {
    const count = this.aheadCount;
    const sinks = this.aheadSinks;
    this.aheadCount = 0;
    if (count >= 2) {
      const out = this.aheadOut;
      const end = this.readBatch(count, out);
      const memory = receiveSlab.memory();
      for (let i = 0; i < end; i++) {
        const at = out[2 * i]!;
        const r = out[2 * i + 1]!;
        if (r > 0) {
          adviseHugePagesForRead(r, at === 0);
          sinks[i]!._readAhead(new NodeBuffer(memory, at, r), r);
        } else {
          sinks[i]!._readAhead(null, r);
        }
      }
    }
    for (let i = 0; i < count; i++) sinks[i] = null;
  }

  /**
   * The read-ahead's one call, how many sockets it read; none when the slab could not be
   * allocated: each transport then reads itself in its `_run`, where the same failure fails
   * it alone (recvIntoSlab), not the loop's turn.
   */
  private readBatch(count: number, out: Int32Array): number {
    try {
      return receiveSlab.readBatch(tryRecvBatch, this.aheadFds, count, MIN_READ_AHEAD, out);
    } catch {
      return 0;
    }
  }

  private getRing(): Uring {
    let ring = this.ring;
    if (ring === null) {
      // Not watched here: setWakeup watches it (and makes it first when the loop starts).
      ring = this.ring = new Uring(256);
      this.updateRef();
    }
    return ring;
  }

  private readonly onRingReady = (): void => {
    this.ringDue = true;
    (this.hostWake ?? this.wake)?.();
  };

  /** The ring keeps the process alive only while operations are in it. */
  private updateRef(): void {
    const want = this.inRingCount > 0;
    if (want !== this.refed && this.ring !== null) {
      this.refed = want;
      if (want) this.ring.ref();
      else this.ring.unref();
    }
  }

  private scheduleFlush(): void {
    if (!this.flushPending) {
      this.flushPending = true;
      queueMicrotask(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushPending = false;
    const ring = this.ring;
    if (ring === null || ring.closed) return;
    const r = ring.submit();
    if (r < 0 && r !== -EAGAIN) {
      // The kernel refused the batch: fail every operation still waiting for its completion.
      const error = errnoError(r, 'io_uring_enter');
      for (const op of this.ringOps.slice()) if (op !== undefined) this.fail(op, error);
      const sinks = this.sinks;
      for (let slot = 0; slot < sinks.length; slot++) {
        const sink = sinks[slot];
        if (sink === undefined) continue;
        sinks[slot] = undefined;
        this.inRingCount--;
        sink._ringCompleted(this.sinkIds[slot]!, r, false, null);
      }
    }
    this.updateRef();
  };

  private state(sock: UvSocket): SockState {
    let state = this.states.get(sock);
    if (state === undefined) {
      state = { sock, reads: [], writes: [], buf: null, unread: [], acceptedFds: [], readEnd: null, shutdownPending: false, recvBusy: false };
      this.states.set(sock, state);
    }
    return state;
  }

  private post<T>(sock: UvSocket, queue: Queue, kind: Kind, arg: unknown, arg2: unknown): UringOp<T> {
    const fut = this.future<T>();
    fut._kind = kind;
    fut._arg = arg;
    fut._arg2 = arg2;
    if (sock.closed) {
      fut.setException(errnoError(-9, queue === 'reads' ? 'recv' : 'send'));
      return fut;
    }
    const state = this.state(sock);
    fut._ss = state;
    const ops = state[queue];
    ops.push(fut);
    if (ops.length === 1) this.start(state, ops);
    return fut;
  }

  /** Starts the head of `ops` (completing those that finish at once) until one waits in the ring. */
  private start(state: SockState, ops: UringOp<any>[]): void {
    while (ops.length > 0) {
      const op = ops[0]!;
      let waiting: boolean;
      try {
        waiting = this.begin(state, op);
      } catch (error) {
        if (!op.done()) op.setException(error);
        waiting = false;
      }
      if (waiting) return;
      ops.shift();
      op._ss = null;
      if (ops === state.writes && ops.length === 0 && state.shutdownPending) this.shutdownNow(state);
    }
    this.forgetIfIdle(state);
  }

  /** Tries or submits `op`: false when it completed (or failed) at once. */
  private begin(state: SockState, op: UringOp<any>): boolean {
    const sock = state.sock;
    if (sock.closed) {
      op.setException(errnoError(-9, op._kind === Kind.Accept ? 'accept' : 'recv'));
      return false;
    }
    switch (op._kind) {
      case Kind.Recv:
      case Kind.RecvInto: {
        if (state.unread.length > 0) {
          this.takeUnread(state, op);
          return false;
        }
        if (state.readEnd !== null) {
          const r = state.readEnd;
          state.readEnd = null;
          if (r === 0) op.setResult(op._kind === Kind.Recv ? EOF_BYTES : 0);
          else op.setException(toConnectionError(errnoError(r, 'recv')));
          return false;
        }
        if (state.recvBusy) return true; // the cancelled receive's completion starts this one
        const want = op._kind === Kind.Recv ? (op._arg as number) : (op._arg as Uint8Array).length;
        if (want === 0) {
          op.setResult(op._kind === Kind.Recv ? EOF_BYTES : 0);
          return false;
        }
        const ring = this.getRing();
        // The socket's own buffer only where the pool was dry (or is missing): idle sockets hold none.
        if (this._pooled && op._arg2 !== true) {
          const id = ring.recvPooled(sock.fileno(), Math.min(want, 0x7fffffff));
          if (id !== -ENOSYS) return this.submit(op, id, 'recv');
          this._pooled = false;
        }
        const buf = (state.buf ??= Buffer.allocUnsafe(RECV_CHUNK));
        return this.submit(op, ring.recv(sock.fileno(), buf, 0, Math.min(want, RECV_CHUNK)), 'recv');
      }
      case Kind.Accept: {
        const fd = state.acceptedFds.shift();
        if (state.acceptedFds.length === 0) this.stashed.delete(state);
        if (fd !== undefined) {
          this.acceptDone(op, fd);
          return false;
        }
        return this.submit(op, this.getRing().accept(sock.fileno()), 'accept');
      }
      case Kind.Recvfrom: {
        const n = op._arg as number;
        const buf = Buffer.allocUnsafe(n);
        const from = {};
        const r = sock.tryRecvfrom(buf, 0, n, from);
        if (wouldBlock(r)) return this.submit(op, this.getRing().poll(sock.fileno(), READABLE), 'recvfrom');
        if (r < 0) op.setException(toConnectionError(errnoError(r, 'recvfrom')));
        else op.setResult([buf.subarray(0, r), from as Address]);
        return false;
      }
      case Kind.Send: {
        // A stream send completes whole (as uv_write): what the OS did not take yet is posted.
        const data = op._arg as Uint8Array;
        let off = op._arg2 as number;
        while (off < data.length) {
          const r = sock.trySend(data, off, data.length - off);
          if (wouldBlock(r)) return this.submit(op, this.getRing().send(sock.fileno(), data, off, data.length - off), 'send');
          if (r < 0) {
            op.setException(toConnectionError(errnoError(r, 'send')));
            return false;
          }
          off = op._arg2 = off + r;
        }
        op.setResult(data.length);
        return false;
      }
      case Kind.Sendto: {
        const data = op._arg as Uint8Array;
        const address = op._arg2 as AddressLike | null;
        const r = address === null ? sock.trySend(data) : sock.trySendto(data, address as UvAddressLike);
        if (wouldBlock(r)) return this.submit(op, this.getRing().poll(sock.fileno(), WRITABLE), 'sendto');
        if (r < 0) op.setException(toConnectionError(errnoError(r, 'sendto')));
        else op.setResult(r);
        return false;
      }
      case Kind.Connect: {
        const address = op._arg as AddressLike;
        const r = op._started ? sock.getError() : sock.tryConnect(address as UvAddressLike);
        if (!op._started && r === -EINPROGRESS) {
          op._started = true;
          return this.submit(op, this.getRing().poll(sock.fileno(), WRITABLE), 'connect');
        }
        if (r < 0) op.setException(toConnectionError(errnoError(r, 'connect', describeTarget(address))));
        else op.setResult(undefined);
        return false;
      }
    }
  }

  /** `id` is the ring operation's id or -errno from submitting it. */
  private submit(op: UringOp<any>, id: number, syscall: string): boolean {
    if (id < 0) {
      op.setException(errnoError(id, `io_uring ${syscall}`));
      return false;
    }
    op._id = id;
    this.ringOps[id % SLOTS] = op;
    this.inRingCount++;
    if (op._kind === Kind.Recv || op._kind === Kind.RecvInto) op._ss!.recvBusy = true;
    this.scheduleFlush();
    this.updateRef();
    return true;
  }

  /**
   * Harvests every completion: a transport's goes to it at once (it only takes note and
   * queues itself on the loop); an operation's goes to harvestedOps/harvestedResults, taken
   * out of the ring (and ringOps) first, so an operation one of them posts may reuse a slot
   * this harvest freed. Returns how many completions it took.
   */
  private harvest(): number {
    const ring = this.ring!;
    const out = this.out;
    const sinks = this.sinks;
    const sinkIds = this.sinkIds;
    const ringOps = this.ringOps;
    let completions = 0;
    for (;;) {
      // The ring copies pooled bytes into the slab: give it room for the largest chunk.
      const into = this.slabForHarvest();
      const memory = receiveSlab.memory();
      const n = into !== null ? ring.harvest(out, into, receiveSlab.offset()) : ring.harvest(out, receiveSlab.current(), NO_SLAB);
      if (n < 0) throw errnoError(n, 'io_uring harvest');
      completions += n;
      for (let q = 0; q < n * QUAD; q += QUAD) {
        const id = out[q]!;
        const res = out[q + 1]!;
        const more = out[q + 2]! !== 0;
        const where = out[q + 3]!;
        let data: Buffer | null = null;
        if (where >= 0) {
          data = new NodeBuffer(memory, where, res);
          receiveSlab.taken(where + res);
          adviseHugePagesForRead(res, where === 0);
        }
        const slot = id % SLOTS;
        // A transport's completion (the common case) first.
        const sink = sinks[slot];
        if (sink !== undefined && sinkIds[slot] === id) {
          if (!more) {
            sinks[slot] = undefined;
            this.inRingCount--;
          }
          if (where === BYTES_DROPPED) sink._receiveLost(id, more);
          else sink._ringCompleted(id, res, more, data);
          continue;
        }
        const op = ringOps[slot];
        if (op === undefined || op._id !== id) continue; // failed or forgotten already
        ringOps[slot] = undefined;
        this.inRingCount--;
        op._id = 0;
        this.harvestedOps.push(op);
        // Bytes dropped for want of a slab: the receive fails as the kernel's out of memory would.
        this.harvestedResults.push(where === BYTES_DROPPED ? -ENOMEM : res);
        this.harvestedData.push(data);
      }
      // Less than a full batch: the queue is empty, unless the slab ran out of room first.
      if (n < HARVEST_BATCH && (into === null || receiveSlab.room() >= POOL_BUFFER_SIZE)) break;
    }
    return completions;
  }

  /**
   * The slab with room for the largest pooled chunk, or null when it could not be allocated:
   * the harvest then drops the pooled bytes and their transports fail with `_slabFailure`
   * (the loop goes on, as for a direct read's). A method of its own, so that no construct of
   * the harvest's is compiled under an exception handler (bench/README.md, session 24).
   */
  private slabForHarvest(): Buffer | null {
    try {
      return receiveSlab.withRoom(POOL_BUFFER_SIZE);
    } catch (error) {
      this._slabFailure = error;
      return null;
    }
  }

  /** A harvested completion: settle its operation (or keep what a cancelled one received), start the next. */
  private complete(op: UringOp<any>, res: number, data: Buffer | null): void {
    const state = op._ss;
    const kind = op._kind;
    if (kind === Kind.Recv || kind === Kind.RecvInto) {
      if (state !== null) state.recvBusy = false;
    }
    if (op.done()) {
      // Cancelled while in the ring: whatever the kernel already did is kept for the next call.
      if (state === null) return;
      if ((kind === Kind.Recv || kind === Kind.RecvInto) && res !== -ECANCELED && res !== -ENOBUFS) {
        if (res > 0) state.unread.push(data ?? Buffer.from(state.buf!.subarray(0, res)));
        else state.readEnd = res;
      } else if (kind === Kind.Accept && res >= 0) {
        state.acceptedFds.push(res);
        this.stashed.add(state);
      }
      // A receive posted after the cancelled one waited for the buffer.
      if (!state.sock.closed && state.reads.length > 0 && state.reads[0]!._id === 0) this.start(state, state.reads);
      else this.forgetIfIdle(state);
      return;
    }
    let again = false;
    switch (kind) {
      case Kind.Recv:
        if (data !== null) op.setResult(data);
        else if (res > 0) {
          const data = Buffer.allocUnsafe(res);
          state!.buf!.copy(data, 0, 0, res);
          op.setResult(data);
        } else if (res === 0) op.setResult(EOF_BYTES);
        else if (res === -ENOBUFS) again = op._arg2 = true; // every pool buffer was in use: post it with the socket's own
        else op.setException(toConnectionError(errnoError(res, 'recv')));
        break;
      case Kind.RecvInto:
        if (data !== null) {
          (op._arg as Uint8Array).set(data);
          op.setResult(res);
        } else if (res > 0) {
          state!.buf!.copy(op._arg as Uint8Array, 0, 0, res);
          op.setResult(res);
        } else if (res === 0) op.setResult(0);
        else if (res === -ENOBUFS) again = op._arg2 = true;
        else op.setException(toConnectionError(errnoError(res, 'recv')));
        break;
      case Kind.Accept:
        if (res >= 0) this.acceptDone(op, res);
        else op.setException(toConnectionError(errnoError(res, 'accept')));
        break;
      case Kind.Send:
        if (res < 0) op.setException(toConnectionError(errnoError(res, 'send')));
        else if ((op._arg2 += res) < (op._arg as Uint8Array).length) again = true;
        else op.setResult((op._arg as Uint8Array).length);
        break;
      default:
        // A readiness poll finished: run the syscall again (it may still block: poll again).
        if (res < 0) op.setException(toConnectionError(errnoError(res, 'poll')));
        else again = true;
    }
    if (state === null) {
      if (!again) this.finished.push(op);
      return;
    }
    const ops = kind === Kind.Recv || kind === Kind.RecvInto || kind === Kind.Accept || kind === Kind.Recvfrom ? state.reads : state.writes;
    if (!again) {
      if (ops[0] === op) ops.shift();
      op._ss = null;
      if (ops === state.writes && ops.length === 0 && state.shutdownPending) this.shutdownNow(state);
      this.finished.push(op);
    }
    this.start(state, ops);
  }

  private acceptDone(op: UringOp<[unknown, Address | null]>, fd: number): void {
    let conn: UvSocket;
    try {
      conn = UvSocket.fromFd(fd);
    } catch (error) {
      op.setException(error);
      return;
    }
    op.setResult([op._arg === true ? new UringSocket(conn, this) : conn, acceptedPeer(conn)]);
  }

  private takeUnread(state: SockState, op: UringOp<any>): void {
    const first = state.unread[0]!;
    const want = op._kind === Kind.Recv ? (op._arg as number) : (op._arg as Uint8Array).length;
    const n = Math.min(want, first.length);
    if (op._kind === Kind.RecvInto) first.copy(op._arg as Uint8Array, 0, 0, n);
    if (n === first.length) state.unread.shift();
    else state.unread[0] = first.subarray(n);
    op.setResult(op._kind === Kind.Recv ? first.subarray(0, n) : n);
  }

  private fail(op: UringOp<any>, error: unknown): void {
    const id = op._id;
    if (id !== 0 && this.ringOps[id % SLOTS] === op) {
      this.ringOps[id % SLOTS] = undefined;
      this.inRingCount--;
    }
    op._id = 0;
    if (id !== 0) this.ring?.cancel(id);
    const state = op._ss;
    if (!op.done()) op.setException(error);
    this.finished.push(op);
    if (state !== null) {
      for (const ops of [state.reads, state.writes]) {
        const i = ops.indexOf(op);
        if (i >= 0) ops.splice(i, 1);
      }
      op._ss = null;
    }
  }

  /** @internal a pending operation was cancelled: it leaves its queue (and the ring). */
  _withdraw(op: UringOp<any>): void {
    const state = op._ss;
    const id = op._id;
    // A receive or accept the kernel may have completed already: what it got is kept.
    const keep = id !== 0 && (op._kind === Kind.Recv || op._kind === Kind.RecvInto || op._kind === Kind.Accept);
    if (id !== 0) this.ring?.cancel(id);
    if (state !== null) {
      op._ss = keep ? state : null;
      for (const ops of [state.reads, state.writes]) {
        const i = ops.indexOf(op);
        if (i < 0) continue;
        ops.splice(i, 1);
        // The next in line may start now (a receive waits for the cancelled one's completion).
        if (i === 0 && ops.length > 0 && !this.closed) this.start(state, ops);
        else if (ops === state.writes && ops.length === 0 && state.shutdownPending) this.shutdownNow(state);
      }
    }
    if (keep && this.ring !== null && !this.closed) {
      // Settle it now, so bytes that already arrived are there for the very next receive.
      this.ring.submit();
      this.harvest();
      const i = this.harvestedOps.indexOf(op);
      if (i >= 0) {
        const res = this.harvestedResults[i]!;
        const data = this.harvestedData[i]!;
        this.harvestedOps.splice(i, 1);
        this.harvestedResults.splice(i, 1);
        this.harvestedData.splice(i, 1);
        this.complete(op, res, data);
      }
      // The rest no longer wake Node through the ring: the next select() completes them.
      if (this.harvestedOps.length > 0) this.wake?.();
    } else if (id !== 0) this.scheduleFlush();
    if (state !== null && op._ss === null) this.forgetIfIdle(state);
  }

  /** @internal UringSocket#close(): cancel everything pending on `sock` before its fd closes. */
  _forget(sock: UvSocket): void {
    const state = this.states.get(sock);
    if (state === undefined) return;
    for (const op of [...state.reads, ...state.writes]) op.cancel();
    for (const fd of state.acceptedFds) UvSocket.fromFd(fd).close();
    state.acceptedFds.length = 0;
    this.stashed.delete(state);
    state.unread.length = 0;
    this.states.delete(sock);
  }

  /** @internal UringSocket#shutdownWrite(): FIN after the writes in flight. */
  _shutdownWrite(sock: UvSocket): void {
    if (sock.closed) throw errnoError(-9, 'shutdown');
    const state = this.states.get(sock);
    if (state !== undefined && state.writes.length > 0) state.shutdownPending = true;
    else sock.shutdown(SHUT_WR);
  }

  private shutdownNow(state: SockState): void {
    state.shutdownPending = false;
    if (!state.sock.closed) {
      try {
        state.sock.shutdown(SHUT_WR);
      } catch {
        // Already reset by the peer: the next receive reports it.
      }
    }
  }

  private forgetIfIdle(state: SockState): void {
    if (state.reads.length > 0 || state.writes.length > 0 || state.recvBusy) return;
    // An open socket keeps its state (and receive buffer) for its next operation.
    if (state.sock.closed) {
      if (this.states.get(state.sock) === state) this.states.delete(state.sock);
      for (const fd of state.acceptedFds) UvSocket.fromFd(fd).close();
      state.acceptedFds.length = 0;
      this.stashed.delete(state);
    }
  }
}

/**
 * ProactorEventLoop with its stream sockets on the ring: createServer, createConnection,
 * createUnixServer/Connection and their transports use @loopkit/uv sockets (UringSocket)
 * completed by a UringProactor. Datagram endpoints stay on node:dgram (the inner
 * NetProactor). What it adds to ProactorEventLoop is only how a socket is made.
 */
export class UringEventLoop extends ProactorEventLoop {
  private readonly uring: UringProactor;
  constructor(proactor: UringProactor = new UringProactor()) {
    if (!(proactor instanceof UringProactor)) throw new TypeError(`proactor must be a UringProactor, got ${String(proactor)}`);
    super(proactor);
    this.uring = proactor;
  }

  private wrap(raw: UvSocket): NetSocket {
    return new UringSocket(raw, this.uring) as unknown as NetSocket;
  }

  protected override _newStreamSocket(family: Family | 'unix'): NetSocket {
    return this.wrap(uvSocket(family, 'stream'));
  }

  protected override _checkReusePort(type: SockType): void {
    if (type === 'dgram') super._checkReusePort(type);
    else if (SO_REUSEPORT < 0) throw new TypeError('reusePort is not supported on this platform');
  }

  protected override async _listenInet(address: string | null, family: Family | null, port: number, backlog: number, options: ServerOptions): Promise<NetSocket> {
    const fam: Family = family ?? (address !== null && address.includes(':') ? 'inet6' : 'inet');
    const host = address ?? (fam === 'inet6' ? '::' : '0.0.0.0');
    const sock = uvSocket(fam, 'stream');
    try {
      if (options.reuseAddress ?? true) sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
      if (options.reusePort) sock.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1);
      // Accepted connections inherit it from the listener.
      if (options.keepAlive) sock.setsockopt(SOL_SOCKET, SO_KEEPALIVE, 1);
      // As asyncio: an IPv6 listener does not also take IPv4 connections.
      if (fam === 'inet6') sock.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1);
      sock.bind({ address: host, port });
      sock.listen(backlog);
    } catch (error) {
      sock.close();
      const e = error as Error;
      e.message = `error while attempting to bind on address ${fam === 'inet6' ? `[${host}]` : host}:${port}: ${e.message}`;
      throw error;
    }
    return this.wrap(sock);
  }

  protected override async _listenUnix(path: string, backlog: number): Promise<NetSocket> {
    const sock = uvSocket('unix', 'stream');
    try {
      sock.bind(path);
      sock.listen(backlog);
    } catch (error) {
      sock.close();
      throw error;
    }
    return this.wrap(sock);
  }

  /** A connected uv socket given by the caller: the transport owns it (no hand-over to Node). */
  protected override _givenStreamSocket(sock: unknown): NetSocket {
    if (sock instanceof UringSocket) return sock as unknown as NetSocket;
    if (sock instanceof UvSocket) {
      if (sock.type !== 'stream') throw new TypeError(`A stream socket was expected, got a ${sock.type} socket`);
      if (sock.closed) throw new TypeError('sock is closed');
      return this.wrap(sock);
    }
    return super._givenStreamSocket(sock);
  }

  protected override async _givenListener(sock: unknown, backlog: number): Promise<NetSocket> {
    const raw = sock instanceof UringSocket ? sock.raw : sock;
    if (raw instanceof UvSocket) {
      if (raw.type !== 'stream') throw new TypeError(`A stream socket was expected, got a ${raw.type} socket`);
      if (raw.closed) throw new TypeError('sock is closed');
      raw.listen(backlog);
      return sock instanceof UringSocket ? (sock as unknown as NetSocket) : this.wrap(raw);
    }
    return await super._givenListener(sock, backlog);
  }

  protected override _streamTransport(sock: NetSocket, protocol: BaseProtocol, waiter: Future<void> | null, server: Server<NetSocket> | null): ProactorSocketTransport {
    // asyncio sets TCP_NODELAY on every TCP transport (ProactorSocketTransport does it for Node handles).
    if (sock instanceof UringSocket && sock.family !== 'unix' && !sock.closed) {
      try {
        sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1);
      } catch {
        // reset already: the transport's first receive reports it
      }
    }
    if (sock instanceof UringSocket) {
      // Core's transports are typed by the base loop's; the ring's takes the same place.
      return new UringStreamTransport(this, this.uring, sock, protocol, waiter, server, this.releaseTransport) as unknown as ProactorSocketTransport;
    }
    return super._streamTransport(sock, protocol, waiter, server);
  }

  private readonly releaseTransport = (sock: NetSocket): void => {
    this._transportClosed(sock);
  };
}
