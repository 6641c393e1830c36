/**
 * NetProactor: the Proactor contract on node:net / node:dgram. libuv performs the I/O and
 * reports completions (on Windows through IOCP); Node's events land in NetSocket state,
 * and `select()` completes the operations waiting on it.
 *
 * Raw sockets of @loopkit/uv (the loop's sock* methods take them) have no Node handle:
 * their operations are tried at once with the non-blocking syscall and, on EAGAIN, retried
 * when a uv PollSet reports the fd ready. That is how libuv itself completes a uv_read on
 * Unix; to the caller it is the same completion.
 *
 * Every socket has two queues, reads (recv, recvInto, recvfrom, accept) and writes (send,
 * sendto, connect); operations complete in the order they were posted, and a cancelled one
 * leaves its queue without touching the socket's data.
 *
 * The hot path allocates little: an operation is its future (what to try and on what are
 * fields, the attempt a shared function), Node's write callback is one per socket, and
 * the completions of one turn of Node's loop reach the loop in one wake-up (IOCP's
 * GetQueuedCompletionStatusEx), so a busy server runs one loop iteration per batch; with
 * a single stream the wake-up comes at once, without the hop through setImmediate.
 */
import type * as net from 'node:net';
import { net as nodeNet } from './builtins.js';
import { checkByteCount, Future, toConnectionError, type AbstractEventLoop } from '@loopkit/core';
import {
  EINPROGRESS,
  errnoError,
  PollSet,
  READABLE,
  Socket as UvSocket,
  WRITABLE,
  type AddressLike as UvAddressLike,
} from '@loopkit/uv';
import { closedError, NetSocket, NO_OPS, notConnectedError, type SocketWatcher } from './net-socket.js';
import { acceptedPeer, Proactor, type Address, type AddressLike } from './proactor.js';
import { sendfileBySends } from './sendfile.js';
import { checkBytes, wouldBlock } from './checks.js';

/** Tries an operation: settles `fut` and returns true, or returns false to wait. */
type Attempt = (fut: OpFuture<any>) => boolean;

/** A Future whose cancel() also withdraws the operation (CPython's _OverlappedFuture). */
export class OpFuture<T> extends Future<T> {
  /** @internal what to try while the operation waits (null once it left its queue) */ _attempt: Attempt | null = null;
  /** @internal the operation's socket and operand (a size, a buffer), read by `_attempt` */ _sock: any = null;
  /** @internal */ _arg: any = null;
  /** @internal a write's position among its socket's writes (Node calls them back in order) */ _ticket = 0;
  /** @internal the queue it waits in, on whose proactor */ _queue: OpFuture<any>[] | null = null;
  /** @internal */ _proactor: NetProactor | null = null;
  /** @internal more to undo when cancelled (a connect closes its socket, a sendfile cancels its send) */
  _onCancel: (() => void) | null = null;

  override cancel(msg?: string): boolean {
    if (!super.cancel(msg)) return false;
    if (this._queue !== null) this._proactor!._withdraw(this);
    const onCancel = this._onCancel;
    this._onCancel = null;
    onCancel?.();
    return true;
  }
}

/** A ready entry of the loop (core's ReadyEntry): `_run()` never throws. */
export interface StreamConsumer {
  _run(): void;
}

/** The loop's way to queue a ready entry without allocating (BaseEventLoop's). */
interface EntryQueue {
  _callSoonEntry(entry: StreamConsumer): void;
}

/**
 * What the proactor keeps per socket: its two queues, its transport if one consumes its news,
 * and its place in the ready list. A NetSocket carries these fields itself (a record and a map
 * entry per connection were ~140 bytes of each idle one); a uv Socket's are a UvState.
 */
export interface SockState {
  _reads: OpFuture<any>[];
  _writes: OpFuture<any>[];
  /** A transport that takes the socket's news itself (see `_consume`). */
  _consumer: StreamConsumer | null;
  /** What may have changed since the last select (READ_NEWS, WRITE_NEWS), and QUEUED. */
  _news: number;
  /** The socket after this one in the proactor's ready list. */
  _nextReady: SockState | null;
}

/** The reads queue may complete something now. */
const READ_NEWS = 1;
/** The writes queue may complete something now. */
const WRITE_NEWS = 2;
/** In the proactor's ready list. */
const QUEUED = 4;

/** A uv Socket's record (a NetSocket is its own): the events registered in the PollSet, and for which fd. */
class UvState implements SockState {
  _reads: OpFuture<any>[] = NO_OPS;
  _writes: OpFuture<any>[] = NO_OPS;
  _consumer: StreamConsumer | null = null;
  _news = 0;
  _nextReady: SockState | null = null;
  events = 0;
  fd = -1;
  constructor(readonly sock: UvSocket) {}
}

// ---- NetSocket operations: each reads its operands from the future ----

function netRecv(fut: OpFuture<Uint8Array>): boolean {
  const s = fut._sock as NetSocket;
  if (s._buffered > 0) fut.setResult(s._take(fut._arg as number));
  else return netNoData(fut, s, EOF_BYTES);
  return true;
}

function netRecvInto(fut: OpFuture<number>): boolean {
  const s = fut._sock as NetSocket;
  if (s._buffered > 0) fut.setResult(s._takeInto(fut._arg as Uint8Array));
  else return netNoData(fut, s, 0);
  return true;
}

/** A receive finding nothing unread: the error, EOF (`eof` is its result), or wait for data. */
function netNoData<T>(fut: OpFuture<T>, s: NetSocket, eof: T): boolean {
  if (s._error !== null) fut.setException(s._error);
  else if (s._eof) fut.setResult(eof);
  else if (s._closed) fut.setException(closedError('recv'));
  else if (s._stream === null) fut.setException(notConnectedError('recv'));
  else {
    s._wantData();
    return false;
  }
  return true;
}

function netRecvfrom(fut: OpFuture<[Uint8Array, Address]>): boolean {
  const s = fut._sock as NetSocket;
  const n = fut._arg as number;
  const datagram = s._datagrams.shift();
  if (datagram !== undefined) {
    const [data, from] = datagram;
    fut.setResult([data.length > n ? data.subarray(0, n) : data, from]);
  } else if (s._error !== null) {
    // A datagram error (ICMP) concerns one exchange: report it once, the socket stays usable.
    fut.setException(s._error);
    s._error = null;
  } else if (s._closed || s._dgram === null) fut.setException(closedError('recvfrom'));
  else return false;
  return true;
}

/** An accept's operand: the caller reads the peer's address itself (see `_acceptToServe`). */
const PEER_UNREAD = 1;

function netAccept(fut: OpFuture<[unknown, Address | null]>): boolean {
  const s = fut._sock as NetSocket;
  const conn = s._accepted.shift();
  if (conn !== undefined) {
    const accepted = NetSocket._fromStream(conn, s.family);
    if (s.family === 'unix') accepted._sockPath = s._sockPath;
    fut.setResult([accepted, fut._arg === PEER_UNREAD ? null : acceptedPeer(accepted)]);
  } else if (s._error !== null) fut.setException(s._error);
  else if (s._closed || s._server === null) fut.setException(closedError('accept'));
  else return false;
  return true;
}

function netConnect(fut: OpFuture<void>): boolean {
  const s = fut._sock as NetSocket;
  const stream = fut._arg as net.Socket;
  if (s._error !== null) fut.setException(s._error);
  else if (s._closed) fut.setException(closedError('connect'));
  else if (stream.connecting || stream.pending) return false;
  else fut.setResult(undefined);
  return true;
}

/**
 * A write handed to Node (`_arg` bytes): done once Node called it back, or at once when
 * the stream holds nothing unwritten (libuv wrote everything synchronously).
 */
function netWrite(fut: OpFuture<number>): boolean {
  const s = fut._sock as NetSocket;
  if (s._writeDone(fut._ticket)) {
    if (s._writeFailed(fut._ticket)) fut.setException(toError(s._writeFailure));
    else fut.setResult(fut._arg as number);
    return true;
  }
  const stream = s._stream;
  if (stream !== null && stream.writableLength === 0 && s._error === null) {
    fut.setResult(fut._arg as number);
    return true;
  }
  return false;
}

/** A datagram handed to node:dgram: done once its own callback put its size or its error in `_arg` (null before). */
function netSent(fut: OpFuture<number>): boolean {
  const outcome = fut._arg as number | Error | null;
  if (outcome === null) return false;
  if (typeof outcome === 'number') fut.setResult(outcome);
  else fut.setException(toError(outcome));
  return true;
}

/** A receive's result at EOF (empty, so sharing it is safe). */
const EOF_BYTES = Buffer.alloc(0);


function checkSocket(sock: unknown, name = 'sock'): NetSocket | UvSocket {
  if (sock instanceof NetSocket || sock instanceof UvSocket) return sock;
  throw new TypeError(`${name} must be a NetSocket or a @loopkit/uv Socket, got ${String(sock)}`);
}

function toError(error: unknown): unknown {
  return toConnectionError(error);
}

/** Address forms accepted by connect/sendto, normalized to Node's connect options. */
function nodeTarget(sock: NetSocket, address: AddressLike, syscall: string): { path: string } | { host: string; port: number } {
  if (sock.family === 'unix') {
    if (typeof address === 'string') return { path: address };
    if (address !== null && typeof address === 'object' && typeof (address as { path?: unknown }).path === 'string') {
      return { path: (address as { path: string }).path };
    }
    throw new TypeError(`address must be a path or {path} for a unix socket (${syscall})`);
  }
  let host: unknown;
  let port: unknown;
  if (Array.isArray(address)) [host, port] = address;
  else if (address !== null && typeof address === 'object') ({ address: host, port } = address as { address?: unknown; port?: unknown });
  else throw new TypeError(`address must be {address, port} or [host, port] (${syscall})`);
  if (typeof port !== 'number' || !Number.isInteger(port)) throw new TypeError(`address.port must be an integer, got ${String(port)}`);
  if (port < 0 || port > 65535) throw new RangeError(`address.port must be in 0..65535, got ${port}`);
  if (host === undefined || host === null || host === '') host = sock.family === 'inet' ? '127.0.0.1' : '::1';
  if (typeof host !== 'string' || nodeNet().isIP(host) === 0) {
    throw new TypeError(`address.address must be a numeric IP address (resolve names with getaddrinfo), got ${String(host)}`);
  }
  return { host, port };
}

export class NetProactor extends Proactor implements SocketWatcher {
  private loop: AbstractEventLoop | null = null;
  private wake: (() => void) | null = null;
  /** The NetSockets this proactor watches, linked through their `_prevWatched`/`_nextWatched`. */
  private watchedHead: NetSocket | null = null;
  /** The uv Sockets with operations waiting (a NetSocket is its own record). */
  private readonly uvStates = new Map<UvSocket, UvState>();
  /**
   * Sockets with news since the last select, linked through `_nextReady` in arrival order (a
   * list through the sockets allocates nothing per read, where an array emptied by each select
   * grew a new backing store for the next).
   */
  private readyHead: SockState | null = null;
  private readyTail: SockState | null = null;
  private wakePending = false;
  /** The loop's wake-up for Node's I/O callbacks: turns it at once, in its own async context (see `_setCallbackWakeup`). */
  private callbackWake: (() => void) | null = null;
  /** Sockets whose transport takes their news itself (see `_consume`). */
  private consumers = 0;
  private deferred: Array<() => void> = [];
  private poller: PollSet | null = null;
  private readonly byFd = new Map<number, UvState>();
  private pollOut = new Int32Array(128);
  private closed = false;

  setLoop(loop: AbstractEventLoop): void {
    if (this.loop !== null && this.loop !== loop) throw new Error('NetProactor is already bound to another loop');
    this.loop = loop;
  }

  setWakeup(wake: (() => void) | null): void {
    this.wake = wake;
    const on = wake !== null;
    for (let sock = this.watchedHead; sock !== null; sock = sock._nextWatched) sock._ref(on);
    if (this.poller !== null) this.armPoller();
  }

  /**
   * @internal ProactorEventLoop's wake-up for a Node callback that is about to return to
   * libuv (a socket's read callback, a setImmediate): it runs the loop's iteration at once
   * in runForever's async context, where `wake` queues it as a microtask. Null: use `wake`.
   */
  _setCallbackWakeup(wake: (() => void) | null): void {
    this.callbackWake = wake;
  }

  // ---- operations ----

  recv(sock: unknown, n: number): Future<Uint8Array> {
    const s = checkSocket(sock);
    checkByteCount(n, 'n');
    if (s instanceof UvSocket) {
      return this.postUv(s, '_reads', (fut) => {
        const buf = Buffer.allocUnsafe(n);
        const r = s.tryRecvInto(buf);
        if (wouldBlock(r)) return false;
        if (r < 0) fut.setException(toError(errnoError(r, 'recv')));
        else fut.setResult(buf.subarray(0, r));
        return true;
      });
    }
    return this.post(this.op<Uint8Array>(s, netRecv, n), '_reads');
  }

  recvInto(sock: unknown, buf: Uint8Array): Future<number> {
    const s = checkSocket(sock);
    checkBytes(buf, 'buf');
    if (s instanceof UvSocket) {
      return this.postUv(s, '_reads', (fut) => {
        const r = s.tryRecvInto(buf);
        if (wouldBlock(r)) return false;
        if (r < 0) fut.setException(toError(errnoError(r, 'recv')));
        else fut.setResult(r);
        return true;
      });
    }
    return this.post(this.op<number>(s, netRecvInto, buf), '_reads');
  }

  recvfrom(sock: unknown, n: number): Future<[Uint8Array, Address]> {
    const s = checkSocket(sock);
    checkByteCount(n, 'n');
    if (s instanceof UvSocket) {
      return this.postUv(s, '_reads', (fut) => {
        const buf = Buffer.allocUnsafe(n);
        const from = {};
        const r = s.tryRecvfrom(buf, 0, n, from);
        if (wouldBlock(r)) return false;
        if (r < 0) fut.setException(toError(errnoError(r, 'recvfrom')));
        else fut.setResult([buf.subarray(0, r), from as Address]);
        return true;
      });
    }
    if (s.type !== 'dgram') throw new TypeError('recvfrom needs a datagram socket');
    return this.post(this.op<[Uint8Array, Address]>(s, netRecvfrom, n), '_reads');
  }

  send(sock: unknown, data: Uint8Array): Future<number> {
    const s = checkSocket(sock);
    checkBytes(data, 'data');
    if (s instanceof UvSocket) {
      return this.postUv(s, '_writes', (fut) => {
        const r = s.trySend(data);
        if (wouldBlock(r)) return false;
        if (r < 0) fut.setException(toError(errnoError(r, 'send')));
        else fut.setResult(r);
        return true;
      });
    }
    const stream = s._stream;
    if (stream === null || s._closed || stream.destroyed) {
      const fut = this.future<number>();
      fut.setException(s._error ?? (s._closed ? closedError('send') : notConnectedError('send')));
      return fut;
    }
    const fut = this.writeOp(s, data.length);
    stream.write(data, s._writeCallback());
    return this.post(fut, '_writes');
  }

  sendto(sock: unknown, data: Uint8Array, address: AddressLike | null): Future<number> {
    const s = checkSocket(sock);
    checkBytes(data, 'data');
    if (s instanceof UvSocket) {
      return this.postUv(s, '_writes', (fut) => {
        const r = address === null ? s.trySend(data) : s.trySendto(data, address as UvAddressLike);
        if (wouldBlock(r)) return false;
        if (r < 0) fut.setException(toError(errnoError(r, 'sendto')));
        else fut.setResult(r);
        return true;
      });
    }
    const socket = s._dgram;
    if (socket === null || s._closed) {
      const fut = this.future<number>();
      fut.setException(closedError('sendto'));
      return fut;
    }
    const target = address === null ? null : nodeTarget(s, address, 'sendto');
    if (target !== null && !('host' in target)) throw new TypeError('sendto on a NetSocket needs an IP address');
    // Each datagram fails or leaves on its own (EMSGSIZE, an ICMP error): its own callback,
    // not the socket's record of writes, where a stream's first failure fails every later one.
    const fut = this.op<number>(s, netSent, null);
    const sent = (err?: Error | null): void => {
      fut._arg = err ?? data.length;
      s._notifyWrite();
    };
    if (target === null) socket.send(data, sent);
    else socket.send(data, target.port, target.host, sent);
    return this.post(fut, '_writes');
  }

  accept(listener: unknown): Future<[unknown, Address | null]> {
    const s = checkSocket(listener, 'listener');
    if (s instanceof UvSocket) {
      return this.postUv(s, '_reads', (fut) => {
        const fd = s.tryAccept();
        if (wouldBlock(fd)) return false;
        if (fd < 0) {
          fut.setException(toError(errnoError(fd, 'accept')));
          return true;
        }
        const conn = UvSocket.fromFd(fd);
        fut.setResult([conn, acceptedPeer(conn)]);
        return true;
      });
    }
    return this.post(this.op<[unknown, Address | null]>(s, netAccept, null), '_reads');
  }

  /**
   * @internal accept() for a server the loop serves: the result's address is null, as the
   * connection's transport reads its peer itself (one getpeername call and its objects less
   * per accepted connection, all garbage at once).
   */
  _acceptToServe(listener: NetSocket): Future<[unknown, Address | null]> {
    return this.post(this.op<[unknown, Address | null]>(listener, netAccept, PEER_UNREAD), '_reads');
  }

  connect(sock: unknown, address: AddressLike): Future<void> {
    const s = checkSocket(sock);
    if (s instanceof UvSocket) return this.connectUv(s, address);
    if (s.type !== 'stream') throw new TypeError('connect needs a stream socket (datagram endpoints connect at creation)');
    if (s._stream !== null || s._server !== null || s._closed) {
      const fut = this.future<void>();
      const err = s._closed ? closedError('connect') : Object.assign(new Error('connect EISCONN (already connected)'), { code: 'EISCONN', syscall: 'connect' });
      fut.setException(err);
      return fut;
    }
    const target = nodeTarget(s, address, 'connect');
    const stream = new (nodeNet().Socket)({ allowHalfOpen: true });
    s._attachStream(stream);
    if ('path' in target) {
      s._peerPath = target.path;
      stream.connect({ path: target.path });
    } else {
      const local = s._local;
      stream.connect({ host: target.host, port: target.port, localAddress: local?.address, localPort: local?.port || undefined });
    }
    const fut = this.post(this.op<void>(s, netConnect, stream), '_writes');
    // Cancelling a connect in progress abandons the connection (the socket is closed).
    if (!fut.done()) fut._onCancel = () => s.close();
    return fut;
  }

  sendfile(sock: unknown, fd: number, offset: number, count: number | null): Future<number> {
    checkSocket(sock);
    checkByteCount(fd, 'fd');
    checkByteCount(offset, 'offset');
    if (count !== null) checkByteCount(count, 'count');
    const fut = this.future<number>();
    sendfileBySends({ fut, send: (chunk) => this.send(sock, chunk), complete: (then) => this.defer(then) }, fd, offset, count);
    return fut;
  }

  select(timeout: number | null = null): Future<unknown>[] {
    if (timeout !== null && (typeof timeout !== 'number' || Number.isNaN(timeout))) {
      throw new TypeError(`timeout must be a number of seconds or null, got ${String(timeout)}`);
    }
    const finished: Future<unknown>[] = [];
    if (this.deferred.length > 0) {
      const deferred = this.deferred;
      this.deferred = [];
      for (const fn of deferred) fn();
    }
    if (this.poller !== null && this.byFd.size > 0) this.harvestPoller();
    let state = this.readyHead;
    // What becomes ready while these run waits for the next select.
    this.readyHead = this.readyTail = null;
    while (state !== null) {
      const next = state._nextReady;
      const news = state._news;
      state._news = 0;
      state._nextReady = null;
      if (news & READ_NEWS) this.run(state._reads, finished);
      if (news & WRITE_NEWS) this.run(state._writes, finished);
      if (state._consumer !== null) this.queueEntry(state._consumer);
      this.settle(state);
      state = next;
    }
    return finished;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const state of [...this.watched(), ...this.uvStates.values()]) {
      for (const fut of [...state._reads, ...state._writes]) fut.cancel();
      state._consumer = null;
    }
    for (const sock of this.watched()) this.unwatch(sock);
    this.uvStates.clear();
    this.consumers = 0;
    this.byFd.clear();
    this.readyHead = this.readyTail = null;
    this.deferred = [];
    this.poller?.close();
    this.poller = null;
  }

  // ---- machinery ----

  private future<T>(): OpFuture<T> {
    if (this.loop === null) throw new Error('NetProactor has no loop: call setLoop(loop) first');
    if (this.closed) throw new Error('NetProactor is closed');
    const fut = new OpFuture<T>(this.loop);
    fut._proactor = this;
    return fut;
  }

  /** A future for `attempt` on `sock` with operand `arg`. */
  private op<T>(sock: NetSocket | UvSocket, attempt: Attempt, arg: unknown): OpFuture<T> {
    const fut = this.future<T>();
    fut._sock = sock;
    fut._attempt = attempt;
    fut._arg = arg;
    return fut;
  }

  /** A future for the write of `size` bytes that the caller hands to Node next. */
  private writeOp(sock: NetSocket, size: number): OpFuture<number> {
    const fut = this.op<number>(sock, netWrite, size);
    fut._ticket = sock._issueWrite();
    return fut;
  }

  private state(sock: NetSocket | UvSocket): SockState {
    if (sock instanceof NetSocket) {
      if (sock._watcher !== this) this.watch(sock);
      return sock;
    }
    let state = this.uvStates.get(sock);
    if (state === undefined) {
      state = new UvState(sock);
      this.uvStates.set(sock, state);
    }
    return state;
  }

  /** `sock`'s record, or undefined when nothing of it is kept. */
  private stateIfKept(sock: NetSocket | UvSocket): SockState | undefined {
    if (sock instanceof NetSocket) return sock._watcher === this ? sock : undefined;
    return this.uvStates.get(sock);
  }

  /** Start watching `sock`: it tells this proactor of its news, and follows the loop's ref. */
  private watch(sock: NetSocket): void {
    // Its queues and list links are one proactor's at a time: an idle socket moves over.
    if (sock._watcher !== null && !sock._watcher._release(sock)) {
      throw new Error('this NetSocket has operations or a transport on another NetProactor');
    }
    sock._watcher = this;
    const head = this.watchedHead;
    sock._nextWatched = head;
    if (head !== null) head._prevWatched = sock;
    this.watchedHead = sock;
    sock._ref(this.wake !== null);
  }

  /** @internal another proactor takes `sock`: false while something of it waits here (see SocketWatcher). */
  _release(sock: NetSocket): boolean {
    if (sock._reads.length > 0 || sock._writes.length > 0 || sock._consumer !== null || sock._news !== 0) return false;
    this.unwatch(sock);
    return true;
  }

  /** Forget `sock` (closed and idle, or the proactor closed): its queues go back to the shared empty one. */
  private unwatch(sock: NetSocket): void {
    const prev = sock._prevWatched;
    const next = sock._nextWatched;
    if (prev === null) this.watchedHead = next;
    else prev._nextWatched = next;
    if (next !== null) next._prevWatched = prev;
    sock._prevWatched = sock._nextWatched = null;
    sock._watcher = null;
    sock._reads = sock._writes = NO_OPS;
  }

  /** @internal the transports that take their NetSocket's news themselves (see `_consume`), oldest watched first. */
  _consumers(): StreamConsumer[] {
    const all: StreamConsumer[] = [];
    for (let sock = this.watchedHead; sock !== null; sock = sock._nextWatched) if (sock._consumer !== null) all.push(sock._consumer);
    return all.reverse();
  }

  /** The watched NetSockets, as an array (unwatching one does not disturb the walk). */
  private watched(): NetSocket[] {
    const all: NetSocket[] = [];
    for (let sock = this.watchedHead; sock !== null; sock = sock._nextWatched) all.push(sock);
    return all;
  }

  /**
   * @internal A transport's fast path: rather than posting a receive and sends as futures,
   * `consumer` is queued on the loop, from select, whenever `sock` has news (data, EOF, an
   * error, a write called back), and reads the NetSocket's state itself. Null ends it.
   */
  _consume(sock: NetSocket, consumer: StreamConsumer | null): void {
    const state = this.state(sock);
    if ((state._consumer === null) !== (consumer === null)) this.consumers += consumer === null ? -1 : 1;
    state._consumer = consumer;
    // Something may already wait (bytes read before the transport existed).
    if (consumer !== null) this.markReady(state);
    else this.settle(state);
  }

  private queueEntry(entry: StreamConsumer): void {
    const loop = this.loop as AbstractEventLoop & Partial<EntryQueue>;
    if (typeof loop._callSoonEntry === 'function') loop._callSoonEntry(entry);
    else loop.callSoon(() => entry._run());
  }

  /**
   * @internal Node's read callback delivered `sock`'s data and is returning to libuv: one
   * stream turns the loop now, from the callback (the transport echoes before Node's callback
   * scope ends, with no microtask hop); more gather one wake-up per turn of Node's loop.
   */
  _dataRead(sock: NetSocket): void {
    sock._news |= READ_NEWS | WRITE_NEWS;
    this.queue(sock);
    if (this.wake !== null) this.wakeForNews(this.callbackWake ?? this.wake);
  }

  /** @internal a NetSocket's news (see SocketWatcher). */
  _socketChanged(sock: NetSocket, writeOnly: boolean): void {
    if (!writeOnly) this.markReady(sock);
    // A write callback matters only to a write still waiting (most complete at once).
    else if (sock._writes.length > 0 || sock._consumer !== null) {
      sock._news |= WRITE_NEWS;
      this.enqueue(sock);
    }
  }

  private markReady(state: SockState): void {
    state._news |= READ_NEWS | WRITE_NEWS;
    this.enqueue(state);
  }

  private enqueue(state: SockState): void {
    this.queue(state);
    if (this.wake !== null) this.wakeForNews(this.wake);
  }

  private queue(state: SockState): void {
    if (state._news & QUEUED) return;
    state._news |= QUEUED;
    const tail = this.readyTail;
    if (tail === null) this.readyHead = state;
    else tail._nextReady = state;
    this.readyTail = state;
  }

  /**
   * One stream has no batch to gather: `wake` now, and the loop runs as this Node callback
   * returns. With more, one wake-up for everything Node reports in this turn of its loop.
   */
  private wakeForNews(wake: () => void): void {
    if (this.consumers <= 1) wake();
    else this.wakeAfterThisTurn();
  }

  /** One wake-up for every completion Node reports in this turn of its loop (setImmediate runs after its I/O). */
  private wakeAfterThisTurn(): void {
    if (this.wakePending) return;
    this.wakePending = true;
    setImmediate(this.flushWake);
  }

  // An Immediate's callback, in the async context of whoever queued it: the callback wake-up enters the loop's.
  private readonly flushWake = (): void => {
    this.wakePending = false;
    if (this.wake !== null) (this.callbackWake ?? this.wake)();
  };

  private defer(fn: () => void): void {
    if (this.closed) return;
    this.deferred.push(fn);
    this.wake?.();
  }

  /** Try `fut`'s operation now unless earlier operations wait in the queue; else queue it. */
  private post<T>(fut: OpFuture<T>, queue: '_reads' | '_writes'): OpFuture<T> {
    const state = this.state(fut._sock as NetSocket | UvSocket);
    let ops = state[queue];
    if (ops.length === 0 && this.tryOp(fut)) {
      fut._attempt = null;
      this.settle(state);
      return fut;
    }
    if (ops === NO_OPS) ops = state[queue] = [];
    fut._queue = ops;
    ops.push(fut);
    this.settle(state);
    return fut;
  }

  /** @internal a waiting operation was cancelled: it leaves its queue. */
  _withdraw(fut: OpFuture<any>): void {
    const ops = fut._queue!;
    fut._queue = null;
    fut._attempt = null;
    const state = this.stateIfKept(fut._sock as NetSocket | UvSocket);
    const i = ops.indexOf(fut);
    if (i >= 0) ops.splice(i, 1);
    if (state === undefined) return;
    // The next operation in line may be able to complete now.
    if (i === 0 && ops.length > 0) {
      state._news |= ops === state._reads ? READ_NEWS : WRITE_NEWS;
      this.enqueue(state);
    }
    this.settle(state);
  }

  private postUv<T>(sock: UvSocket, queue: '_reads' | '_writes', attempt: (fut: OpFuture<T>) => boolean): OpFuture<T> {
    if (sock.closed) {
      const fut = this.future<T>();
      fut.setException(errnoError(-9, queue === '_reads' ? 'recv' : 'send'));
      return fut;
    }
    return this.post(this.op<T>(sock, attempt, null), queue);
  }

  private tryOp(fut: OpFuture<any>): boolean {
    if (fut.done()) return true;
    try {
      if (!fut._attempt!(fut)) return false;
    } catch (error) {
      fut.setException(error);
    }
    return true;
  }

  private run(ops: OpFuture<any>[], finished: Future<unknown>[]): void {
    while (ops.length > 0) {
      const fut = ops[0]!;
      if (!this.tryOp(fut)) return;
      ops.shift();
      fut._queue = null;
      fut._attempt = null;
      finished.push(fut);
    }
  }

  /** Keep the uv registration in step with the queues; forget idle or closed sockets. */
  private settle(state: SockState): void {
    const idle = state._reads.length === 0 && state._writes.length === 0;
    if (state instanceof NetSocket) {
      if (state._closed && idle && state._consumer === null && state._watcher === this) this.unwatch(state);
      return;
    }
    const uv = state as UvState;
    const sock = uv.sock;
    const want = sock.closed ? 0 : (uv._reads.length > 0 ? READABLE : 0) | (uv._writes.length > 0 ? WRITABLE : 0);
    if (want !== uv.events) {
      const poller = (this.poller ??= new PollSet());
      if (uv.events !== 0) {
        // A closed Socket already left every PollSet, and its fd number may be reused.
        if (!sock.closed) poller.remove(uv.fd);
        if (this.byFd.get(uv.fd) === uv) this.byFd.delete(uv.fd);
        uv.events = 0;
      }
      if (want !== 0) {
        uv.fd = sock.fileno();
        poller.add(uv.fd, want);
        this.byFd.set(uv.fd, uv);
        uv.events = want;
      }
      this.armPoller();
    }
    if (idle) this.uvStates.delete(sock);
  }

  private armPoller(): void {
    const poller = this.poller!;
    const wanted = this.wake !== null && this.byFd.size > 0;
    if (wanted && !poller.watching) poller.watch(this.onPollReady);
    else if (!wanted && poller.watching) poller.unwatch();
  }

  private readonly onPollReady = (): void => {
    this.wake?.();
  };

  private harvestPoller(): void {
    const out = this.pollOut;
    const n = this.poller!.wait(0, out);
    for (let i = 0; i < n; i++) {
      const state = this.byFd.get(out[2 * i]!);
      if (state === undefined) continue;
      const events = out[2 * i + 1]!;
      if (events & READABLE) state._news |= READ_NEWS;
      if (events & WRITABLE) state._news |= WRITE_NEWS;
      this.queue(state);
    }
  }

  private connectUv(sock: UvSocket, address: AddressLike): Future<void> {
    let started = false;
    return this.postUv(sock, '_writes', (fut: OpFuture<void>) => {
      const r = started ? sock.getError() : sock.tryConnect(address as UvAddressLike);
      if (!started && r === -EINPROGRESS) {
        started = true;
        return false;
      }
      if (started && wouldBlock(r)) return false;
      if (r < 0) fut.setException(toError(errnoError(r, 'connect', describeTarget(address))));
      else fut.setResult(undefined);
      return true;
    });
  }
}

function describeTarget(address: AddressLike): { address?: string; port?: number; path?: string } | undefined {
  if (typeof address === 'string') return { path: address };
  if (Array.isArray(address)) return { address: address[0], port: address[1] };
  return address as { address?: string; port?: number; path?: string };
}

