/**
 * Proactor transports (CPython's _ProactorSocketTransport and _ProactorDatagramTransport):
 * read by keeping one receive posted, write by keeping at most one send posted. Flow
 * control, closing and protocol errors are core's (BaseStreamTransport,
 * BaseDatagramTransport); these add only the operations.
 *
 * On a NetProactor's NetSocket the stream transport takes the same completions without
 * their futures: the proactor queues the transport itself on the loop whenever the socket
 * has news (`NetProactor._consume`), and it takes the received chunks itself. A write goes
 * straight to the socket's fd with writev(2) while Node holds nothing unwritten for it
 * (what libuv's uv_try_write does first), where the addon is built and Node exposes the
 * fd: no copy, no Writable stream machinery. What the kernel does not take is copied and
 * handed to Node's stream, one chunk at a time. Same order, same errors.
 */
import {
  BaseDatagramTransport,
  BaseStreamTransport,
  extraInfo,
  socketExtra,
  type AbstractEventLoop,
  type BaseProtocol,
  type ConnectionOwner,
  type DatagramProtocol,
  type Future,
  type SocketAddress,
  toConnectionError,
} from '@loopkit/core';
import { EAGAIN, EINTR, errnoError, isAvailable as uvAvailable, pipeWrite, pipeWritev } from '@loopkit/uv';
import { NetProactor } from './net-proactor.js';
import { CLOSED, closedError, EOF_RECEIVED, ERRORED, NetSocket, notConnectedError, TRANSPORT_READING } from './net-socket.js';
import { addressOf, EXTRA_NOT_READ, keptAddress, type KeptAddress } from './kept-address.js';
import type { Address, Proactor } from './proactor.js';

/** Largest chunk a posted receive asks for (Node delivers at most 64 KiB at a time). */
const READ_SIZE = 256 * 1024;

/** A stream transport's receive and send posted as futures (on a Proactor other than NetProactor), and their done callbacks. */
interface PostedOps {
  readFut: Future<Uint8Array | number> | null;
  sendFut: Future<number> | null;
  readonly readDone: (fut: Future<Uint8Array | number>) => void;
  readonly sendDone: (fut: Future<number>) => void;
}

/**
 * The futures path's state of each transport on it (a Proactor other than NetProactor): kept
 * here, not in a field of every transport, since NetProactor's connections never have one.
 */
const postedOps = new WeakMap<ProactorSocketTransport, PostedOps>();
/** A transport's `fd` on the futures path (the fast path's is the socket's fd or -1). */
const FUTURES_PATH = -2;

/** Where a transport reports that it released its socket (the loop stops owning it). */
export type ReleaseHook = (sock: NetSocket) => void;

/** A proactor loop owning the sockets of its transports (core's BaseSocketLoop): told when one is released. */
export interface SocketOwningLoop extends AbstractEventLoop {
  readonly _proactor: Proactor;
  _transportClosed(sock: NetSocket): void;
}

export class ProactorSocketTransport extends BaseStreamTransport {
  private readonly sock: NetSocket;
  /**
   * Fast path: the size of the write Node has not called back yet, 0 for none. Only this transport
   * writes to its socket, so that write is the socket's last handed to Node: no position kept
   * (8 bytes of each connection).
   */
  private pendingSize = 0;
  /**
   * Fast path: the fd that writes go to directly while Node holds nothing unwritten, or -1.
   * FUTURES_PATH on the futures path (its posted operations are in `postedOps`).
   */
  private readonly fd: number;
  protected override readonly _writeNowKeepsBytes: boolean;
  /**
   * The socket's addresses, read when the connection was made (once the peer reset it, Node
   * can no longer read the peer's; a server logging its peers in connectionLost must see it),
   * kept as host text and port until the extra info is first asked for: most connections never ask, and the info with its two address objects was 144
   * bytes of each idle connection (the selector's transport does the same). Undefined once made.
   */
  private localHost: KeptAddress;
  private peerHost: KeptAddress;
  /** The two ports as one int32, the local one in the high 16 bits (a small integer: one field where two were). */
  private ports: number;

  /**
   * Operations go to `loop`'s proactor, and `loop` is told when the transport releases `sock`:
   * read off the loop, not kept by each transport (16 bytes of each connection).
   */
  constructor(
    loop: SocketOwningLoop,
    sock: NetSocket,
    protocol: BaseProtocol,
    waiter: Future<void> | null,
    server: ConnectionOwner | null,
  ) {
    super(loop, protocol, EXTRA_NOT_READ, server);
    this.sock = sock;
    const [localHost, localPort] = keptAddress(() => sock.getsockname());
    const [peerHost, peerPort] = keptAddress(() => sock.getpeername());
    this.localHost = localHost;
    this.peerHost = peerHost;
    this.ports = (localPort << 16) | peerPort;
    if (loop._proactor instanceof NetProactor && sock instanceof NetSocket) {
      this.fd = uvAvailable() ? sock.fileno() : -1;
    } else {
      this.fd = FUTURES_PATH;
      postedOps.set(this, { readFut: null, sendFut: null, readDone: (done) => this.onRead(done), sendDone: (done) => this.onSent(done) });
    }
    // A write to the fd is over when it returns; one handed to Node keeps its bytes.
    this._writeNowKeepsBytes = this.fd < 0;
    // asyncio sets TCP_NODELAY on every TCP transport: a small write leaves at once.
    if (sock.family !== 'unix') sock._stream?.setNoDelay(true);
    this.direct?._consume(sock, this);
    this._start(waiter);
  }

  /** The loop's proactor, which this transport's operations go to. */
  private get proactor(): Proactor {
    return (this._loop as SocketOwningLoop)._proactor;
  }

  /** The NetProactor that queues this transport on news of its NetSocket (the fast path, where nothing is posted), or null. */
  private get direct(): NetProactor | null {
    return this.fd !== FUTURES_PATH ? ((this._loop as SocketOwningLoop)._proactor as NetProactor) : null;
  }

  /** The futures path's posted operations (only there). */
  private get posted(): PostedOps {
    return postedOps.get(this)!;
  }

  /** The transport is reading: a bit of its socket's flags (see TRANSPORT_READING). */
  private get reading(): boolean {
    return (this.sock._flags & TRANSPORT_READING) !== 0;
  }

  // ---- writing: one send in flight, of the buffer's first chunk. Core gives this transport
  // copies of the caller's bytes and never changes a chunk, so a send takes a chunk as it is.
  protected _writeNow(chunks: readonly Uint8Array[]): number {
    if (this.fd !== FUTURES_PATH) return this.fd >= 0 ? this.writeFd(chunks) : this.writeToNode(chunks);
    if (this.posted.sendFut !== null) return 0;
    // What completes at once never enters the buffer; the rest waits for this send.
    let done = 0;
    for (const chunk of chunks) {
      const fut = this.proactor.send(this.sock, chunk);
      if (!fut.done()) {
        this.track(fut);
        break;
      }
      const error = fut.exception();
      if (error !== null) throw error;
      const n = fut.result();
      done += n;
      if (n < chunk.length) break;
    }
    return done;
  }

  protected _startWriting(): void {
    if (this.direct !== null) {
      if (this.pendingSize === 0) this.writeBuffered();
    } else if (this.posted.sendFut === null) {
      this.sendFirst();
    }
  }

  protected _stopWriting(): void {
    // A posted send cannot be recalled; its completion finds the buffer gone and stops.
  }

  private sendFirst(): void {
    this.track(this.proactor.send(this.sock, this._writeBufferChunks()[0]!));
  }

  private track(fut: Future<number>): void {
    const posted = this.posted;
    posted.sendFut = fut;
    fut.addDoneCallback(posted.sendDone);
  }

  private onSent(fut: Future<number>): void {
    const posted = this.posted;
    if (fut !== posted.sendFut) return;
    posted.sendFut = null;
    if (fut.cancelled()) return;
    const error = fut.exception();
    if (error !== null) {
      this._fatalError(error, 'Fatal write error on socket transport');
      return;
    }
    const left = this._bytesSent(fut.result());
    if (left > 0 && posted.sendFut === null) this.sendFirst();
  }

  // ---- the fast path's writes: to the fd, else handed to Node's stream one at a time ----
  /** `_writeNow` with an fd: writev what Node does not hold back; the bytes the kernel took. */
  private writeFd(chunks: readonly Uint8Array[]): number {
    const stream = this.liveStream();
    // Bytes Node holds (the rest of an earlier write) go first.
    if (this.pendingSize !== 0 || stream.writableLength > 0) return 0;
    // One buffer (an echo's reply) skips the array: reading its element through N-API costs more than the write.
    const r = chunks.length === 1 ? pipeWrite(this.fd, chunks[0]!) : pipeWritev(this.fd, chunks);
    if (r >= 0) return r;
    if (r === -EAGAIN || r === -EINTR) return 0;
    throw toConnectionError(errnoError(r, 'send'));
  }

  /** The socket's Node stream, or the error a send on it meets. */
  private liveStream(): NonNullable<NetSocket['_stream']> {
    const sock = this.sock;
    const stream = sock._stream;
    if (stream === null || (sock._flags & CLOSED) !== 0 || stream.destroyed) throw sock._error ?? (sock._closed ? closedError('send') : notConnectedError('send'));
    return stream;
  }

  /** `_writeNow` of the fast path: what Node wrote at once; it stops at a write Node keeps pending. */
  private writeToNode(chunks: readonly Uint8Array[]): number {
    if (this.pendingSize !== 0) return 0;
    let done = 0;
    for (const chunk of chunks) {
      if (!this.writeChunk(chunk)) break;
      done += chunk.length;
    }
    return done;
  }

  /** Hand `chunk` to Node: true when written at once, false when Node called it back later. Throws as a send would. */
  private writeChunk(chunk: Uint8Array): boolean {
    const sock = this.sock;
    const stream = this.liveStream();
    sock._issueWrite();
    stream.write(chunk, sock._writeCallback());
    // Nothing left unwritten: libuv wrote it all in the call (Node calls back later all the same).
    if (stream.writableLength === 0 && (sock._flags & ERRORED) === 0) return true;
    // Never 0: core hands no empty chunk.
    this.pendingSize = chunk.length;
    return false;
  }

  /**
   * Write the buffer until it is empty or Node keeps a chunk pending: to the fd while the
   * kernel takes bytes, then the head chunk to Node, which waits for room and calls back.
   */
  private writeBuffered(): void {
    try {
      for (let chunk = this._firstBufferedChunk(); chunk !== null; chunk = this._firstBufferedChunk()) {
        let n = this.fd >= 0 ? this.writeFd(this._writeBufferChunks()) : 0;
        if (n === 0) {
          if (!this.writeChunk(chunk)) return;
          n = chunk.length;
        }
        if (this._bytesSent(n) === 0 || this.pendingSize !== 0) return;
      }
    } catch (error) {
      this._fatalError(toConnectionError(error), 'Fatal write error on socket transport');
    }
  }

  /** The pending write was called back (or failed): account for it, then write on. */
  private writeCompleted(): void {
    const sock = this.sock;
    if (!sock._writesCalledBack()) {
      // Not called back yet, but written all the same when Node holds nothing unwritten.
      const stream = sock._stream;
      if (stream === null || stream.writableLength !== 0 || (sock._flags & ERRORED) !== 0) return;
    } else if (sock._aWriteFailed()) {
      this.pendingSize = 0;
      this._fatalError(toConnectionError(sock._writeFailure), 'Fatal write error on socket transport');
      return;
    }
    const size = this.pendingSize;
    this.pendingSize = 0;
    if (this._bytesSent(size) > 0 && this.pendingSize === 0) this.writeBuffered();
  }

  /** @internal the fast path's ready entry: the NetProactor saw news of the socket. */
  _run(): void {
    try {
      // Reads first: what arrived before a reset is delivered before the failed write ends the transport.
      if (this.sock._flags & TRANSPORT_READING && !this._closing) this.readAvailable();
      if (this.pendingSize !== 0) this.writeCompleted();
    } catch (error) {
      this._fatalError(error, 'Fatal error on socket transport');
    }
  }

  /** The fast path's reads: deliver what the socket holds (all of it), then EOF or its error. */
  private readAvailable(): void {
    const sock = this.sock;
    while (sock._buffered > 0) {
      if (this._readsIntoBuffer()) {
        const buf = this._getReadBuffer(-1);
        if (buf === null) return;
        this._bufferUpdated(sock._takeInto(buf));
      } else {
        this._dataReceived(sock._take(sock._buffered));
      }
      // The protocol may have paused reading or closed the transport.
      if ((sock._flags & TRANSPORT_READING) === 0 || this._closing) return;
    }
    const flags = sock._flags;
    if (flags & ERRORED) this._fatalError(sock._error!, 'Fatal read error on socket transport');
    else if (flags & EOF_RECEIVED) this._eofReceived();
    else if (flags & CLOSED) this._fatalError(closedError('recv'), 'Fatal read error on socket transport');
    else if (sock._stream === null) this._fatalError(notConnectedError('recv'), 'Fatal read error on socket transport');
    else sock._wantData();
  }

  // ---- reading: one receive posted while reading; cancelling it keeps the bytes in the socket ----
  protected _startReading(): void {
    this.sock._flags |= TRANSPORT_READING;
    if (this.direct !== null) this.direct._consume(this.sock, this);
    else if (this.posted.readFut === null) this.postRecv();
  }

  protected _stopReading(): void {
    this.sock._flags &= ~TRANSPORT_READING;
    if (this.fd !== FUTURES_PATH) return;
    const posted = this.posted;
    const fut = posted.readFut;
    // A receive that already completed is delivered (core holds it while paused).
    if (fut !== null && !fut.done() && fut.cancel()) posted.readFut = null;
  }

  private postRecv(): void {
    const posted = this.posted;
    if (this._readsIntoBuffer()) {
      const buf = this._getReadBuffer(-1);
      if (buf === null) return;
      posted.readFut = this.proactor.recvInto(this.sock, buf);
    } else {
      posted.readFut = this.proactor.recv(this.sock, READ_SIZE);
    }
    posted.readFut.addDoneCallback(posted.readDone);
  }

  private onRead(fut: Future<Uint8Array | number>): void {
    const posted = this.posted;
    if (fut !== posted.readFut) return;
    posted.readFut = null;
    if (fut.cancelled()) return;
    const error = fut.exception();
    if (error !== null) {
      if (!this._closing) this._fatalError(error, 'Fatal read error on socket transport');
      return;
    }
    const result = fut.result();
    if (typeof result === 'number') {
      if (result === 0) this._eofReceived();
      else this._bufferUpdated(result);
    } else if (result.length === 0) {
      this._eofReceived();
    } else {
      this._dataReceived(result);
    }
    if (this.reading && posted.readFut === null && !this._closing) this.postRecv();
  }

  // ---- extra info: made from the addresses kept, when first asked for ----
  override getExtraInfo<T = any>(name: string, defaultValue: T | null = null): T | null {
    if (this._extra === EXTRA_NOT_READ) this.makeExtra();
    return super.getExtraInfo(name, defaultValue);
  }

  private makeExtra(): void {
    const family = this.sock.family;
    const sockname = addressOf(this.localHost, this.ports >>> 16, family);
    const peername = addressOf(this.peerHost, this.ports & 0xffff, family);
    this.localHost = this.peerHost = undefined;
    this._extra = extraInfo(this.sock, sockname, peername);
  }

  // ---- closing ----
  protected _shutdownWrite(): void {
    this.sock.shutdownWrite();
  }

  protected _closeResources(): void {
    // As asyncio's _force_close: a send still posted is cancelled, not left to fail. Node 22+
    // calls a write that the closing handle dropped back with ECANCELED, which is no write error.
    if (this.fd === FUTURES_PATH) this.posted.sendFut?.cancel();
    this.pendingSize = 0;
    this.direct?._consume(this.sock, null);
    this.sock.close();
    (this._loop as SocketOwningLoop)._transportClosed(this.sock);
  }
}

/**
 * A UDP endpoint (core's BaseDatagramTransport plus the operations): one receive posted while
 * open, datagrams sent one posted send at a time.
 */
export class ProactorDatagramTransport extends BaseDatagramTransport {
  private readonly proactor: Proactor;
  private readonly sock: NetSocket;
  private readonly release: ReleaseHook;
  private sendFut: Future<number> | null = null;
  private readFut: Future<[Uint8Array, Address]> | null = null;

  constructor(
    loop: AbstractEventLoop,
    proactor: Proactor,
    sock: NetSocket,
    protocol: DatagramProtocol,
    connected: boolean,
    waiter: Future<void> | null,
    release: ReleaseHook,
  ) {
    super(loop, protocol, socketExtra(sock), connected, waiter);
    this.proactor = proactor;
    this.sock = sock;
    this.release = release;
  }

  // ---- writing: the head of the queue is posted; the next goes once it completed ----
  protected _sendNow(): boolean {
    return false;
  }

  protected _startWriting(): void {
    if (this.sendFut === null) this.postSend();
  }

  protected _stopWriting(): void {
    // A posted send cannot be recalled; its completion finds the queue gone and stops.
  }

  private postSend(): void {
    for (;;) {
      const [data, addr] = this._queue[0]!;
      let fut: Future<number>;
      try {
        fut = this.proactor.sendto(this.sock, data, addr as Address | null);
      } catch (error) {
        // An address this socket cannot send to is refused before anything is posted: that
        // datagram is reported as a failed send is, and the ones queued behind it still go.
        if (!this._sent(error) || !this._afterSent()) return;
        continue;
      }
      this.sendFut = fut;
      fut.addDoneCallback(this.onSent);
      return;
    }
  }

  private readonly onSent = (fut: Future<number>): void => {
    if (fut !== this.sendFut) return;
    this.sendFut = null;
    if (this._connLost > 0 || fut.cancelled()) return;
    // A datagram that could not go out (ICMP unreachable, ...) is reported; the endpoint stays.
    if (!this._sent(fut.exception())) return;
    if (this._afterSent() && this.sendFut === null) this.postSend();
  };

  // ---- reading: one receive posted while open ----
  protected _startReading(): void {
    if (this._closing || this.readFut !== null) return;
    const fut = this.proactor.recvfrom(this.sock, READ_SIZE);
    this.readFut = fut;
    fut.addDoneCallback(this.onRead);
  }

  protected _stopReading(): void {
    const fut = this.readFut;
    if (fut !== null && !fut.done() && fut.cancel()) this.readFut = null;
  }

  private readonly onRead = (fut: Future<[Uint8Array, Address]>): void => {
    if (fut !== this.readFut) return;
    this.readFut = null;
    if (fut.cancelled() || this._closing) return;
    const error = fut.exception();
    let ok: boolean;
    if (error === null) {
      const [data, addr] = fut.result();
      ok = this._datagramReceived(data, addr as SocketAddress);
    } else if ((error as { code?: unknown }).code === 'EBADF') {
      this._fatalError(error);
      return;
    } else {
      // ICMP errors (ECONNREFUSED on a connected endpoint, ...) concern one exchange.
      ok = this._errorReceived(error);
    }
    if (ok) this._startReading();
  };

  protected _closeResources(): void {
    this.sock.close();
    this.release(this.sock);
  }
}
