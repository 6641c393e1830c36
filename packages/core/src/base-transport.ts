/**
 * BaseStreamTransport: the portable half of every stream transport (asyncio's
 * _SelectorTransport/_ProactorBasePipeTransport minus the OS calls). It owns the protocol,
 * extra info, the closing state, the write buffer with its water marks, reading pause and
 * resume, EOF, the fatal-error path and the single connectionLost call.
 *
 * A backend subclass implements these hooks (each called only when its state changes, so
 * start/stop calls alternate):
 * - `_writeNow(chunks)`: offer `chunks` (in order) to the OS without waiting; return how
 *   many bytes it took (0 when it would block). Throw the OS error on failure. A write
 *   that completes here never reaches the buffer, so it never pauses the protocol.
 *   A backend whose `_writeNow` keeps the bytes past the call (a send that completes later)
 *   sets `_writeNowKeepsBytes`: it is then given copies, and the unsent rest of those same
 *   copies is what gets buffered, so a byte is copied once at most.
 * - `_startWriting()` / `_stopWriting()`: the buffer became non-empty / empty.
 *     Readiness backend: watch for writability and call `this._writeReady()` each time.
 *     Completion backend: `_writeNow` posts a send and returns what completed at once;
 *     `_startWriting` posts a send of `this._writeBufferChunks()` unless one is pending,
 *     and its completion calls `this._bytesSent(n)`, which returns the bytes still
 *     buffered: post the next send while that is > 0. Buffered bytes (those of a pending
 *     send included) count in getWriteBufferSize until `_bytesSent` consumes them. The
 *     buffer never changes a byte it holds, so a pending send may keep its chunks.
 *     A failed send calls `this._fatalError(toConnectionError(err), 'Fatal write error on socket transport')`.
 * - `_startReading()` / `_stopReading()`: deliver incoming data with `this._dataReceived(data)`,
 *     or while `this._readsIntoBuffer()` (a BufferedProtocol, nothing held) fill
 *     `this._getReadBuffer(-1)` and call `this._bufferUpdated(n)`; EOF with
 *     `this._eofReceived()`; errors with `this._fatalError(err, 'Fatal read error on socket
 *     transport')`. Data that a completion backend receives while reading is paused is held
 *     and delivered on resumeReading.
 * - `_shutdownWrite()`: send EOF (shutdown(SHUT_WR)); called once the buffer is flushed.
 * - `_closeResources()`: release the socket; called once, right after connectionLost.
 * - `canWriteEof()`: override when the transport cannot half-close (default true).
 *
 * The backend's constructor finishes by calling `this._start(waiter)`: connectionMade, then
 * reading, then `waiter` resolved, each through callSoon. At loop close, `_closeNow()`
 * calls connectionLost synchronously (the loop can no longer run callbacks).
 */
import { watchRejection } from './async-result.js';
import { ConnectionError, RuntimeError } from './errors.js';
import type { AbstractEventLoop } from './events.js';
import { DEFAULT_HIGH_WATER, WriteFlowControl } from './flow-control.js';
import { isFuture, isThenable, setResultUnlessCancelled, type Future } from './futures.js';
import { logger } from './log.js';
import { checkProtocol, isBufferedProtocol, type BaseProtocol, type BufferedProtocol, type Protocol } from './protocols.js';
import { asBytes, Transport, type BytesLike, type WriteBufferLimits } from './transports.js';
import { describe } from './validate.js';

/** After this many writes to a lost connection, each further one logs a warning (asyncio's). */
const LOG_THRESHOLD_FOR_CONNLOST_WRITES = 5;
/** Writes up to this size made while the buffer holds data are appended to one allocation. */
const SMALL_WRITE = 16 * 1024;
/** Largest allocation such appends share. */
const SHARED_CHUNK = 64 * 1024;
const EOF = Symbol('EOF');
/** BaseStreamTransport's private flags (its `_flags` bits): connectionLost was called; connectionMade was. */
const LOST_CALLED = 1;
const MADE = 2;
/** The buffer holds bytes: the backend was told to write them (_startWriting). */
const WRITING = 4;
/** pauseReading() is in effect. */
const PAUSED = 8;
/** The backend is reading; EOF was seen. */
const READING_ACTIVE = 16;
const EOF_SEEN = 32;
/** loop.sendfile() is sending on this transport's socket itself: write() refuses (asyncio's empty waiter). */
const SENDFILE = 64;

/** The sendfile waiting for a transport's buffer to empty (rare: not a field of every transport). */
const flushWaiters = new WeakMap<BaseStreamTransport, Future<void>>();
/** The empty write buffer every transport starts with and returns to (never pushed into). */
const NO_CHUNKS: Uint8Array[] = [];

/** A server that counts its connections, so server.waitClosed() can wait for them. */
export interface ConnectionOwner {
  /** A connection of this server was made. */
  _attach(): void;
  /** A connection of this server ended. */
  _detach(): void;
}

/**
 * A transport's extra info from its socket: the socket, sockname and peername when it has
 * them. Made as one literal when it has all three (the usual connection): an object that
 * gains properties one by one outgrows its in-object slots (a property array more per
 * connection). `peername`: the peer's address when the caller read it earlier (once a peer
 * reset the connection it can no longer be read); undefined reads it now.
 */
export function socketExtra(sock: { getsockname(): unknown; getpeername(): unknown }, peername?: unknown): Record<string, unknown> {
  let sockname: unknown;
  try {
    sockname = sock.getsockname();
  } catch {
    // an unbound socket has no local address to report
  }
  if (peername === undefined) {
    try {
      peername = sock.getpeername();
    } catch {
      // not connected: no peer to report
    }
  }
  return extraInfo(sock, sockname, peername);
}

/** A socket transport's extra info from addresses already read (undefined: none to report). */
export function extraInfo(sock: unknown, sockname: unknown, peername: unknown): Record<string, unknown> {
  // One literal when it has all three (no property array).
  if (sockname !== undefined && peername !== undefined) return { socket: sock, sockname, peername };
  const extra: Record<string, unknown> = { socket: sock };
  if (sockname !== undefined) extra.sockname = sockname;
  if (peername !== undefined) extra.peername = peername;
  return extra;
}

type AnyProtocol = BaseProtocol & Partial<Protocol> & Partial<BufferedProtocol>;

export abstract class BaseStreamTransport extends Transport {
  protected readonly _loop: AbstractEventLoop;
  protected _protocol!: AnyProtocol;
  /** The protocol is a BufferedProtocol: readiness backends read into `_getReadBuffer()`. */
  protected _wantsBuffer = false;
  protected _server: ConnectionOwner | null;

  /** close()/abort() was called or a fatal error happened: no more reading. */
  protected _closing = false;
  /** writeEof() was called. */
  protected _eof = false;
  /** > 0 once connectionLost is scheduled: writes are dropped (and counted). */
  private _connLost = 0;
  /** The private flags (LOST_CALLED ... EOF_SEEN, read with _has), one field for six: a transport per connection, idle ones included, is 40 bytes smaller. */
  private _flags = 0;

  /** Made when limits are set or the buffer first passes the default high mark: most connections never need one. */
  private _flow: WriteFlowControl | null = null;
  private _chunks: Uint8Array[] = NO_CHUNKS;
  private _head = 0;
  /** Unused room right after the last chunk, in its allocation: small writes go there. */
  private _spare: Uint8Array | null = null;
  private _bufferSize = 0;
  /** Data (and EOF) that arrived while paused, delivered on resumeReading. */
  private _held: Array<Uint8Array | typeof EOF> | null = null;

  /** One of the private flags (LOST_CALLED ... EOF_SEEN) is set. */
  private _has(flag: number): boolean {
    return (this._flags & flag) !== 0;
  }

  /** Set or clear one of the private flags. */
  private _set(flag: number, on: boolean): void {
    this._flags = on ? this._flags | flag : this._flags & ~flag;
  }

  constructor(
    loop: AbstractEventLoop,
    protocol: BaseProtocol,
    extra: Record<string, unknown> | null = null,
    server: ConnectionOwner | null = null,
  ) {
    super(extra);
    if (loop === null || typeof loop !== 'object' || typeof loop.callSoon !== 'function') {
      throw new TypeError(`loop must be an event loop, got ${describe(loop)}`);
    }
    this._loop = loop;
    this.setProtocol(protocol);
    this._server = server;
    server?._attach();
  }

  /** @internal this transport is a connection of `owner` (a server) and not gone yet. */
  _connectionOf(owner: ConnectionOwner): boolean {
    return this._server === owner;
  }

  // ---- backend hooks (see the module comment) ----
  /** `_writeNow` keeps the bytes it is given after it returns (see the module comment). */
  protected readonly _writeNowKeepsBytes: boolean = false;
  /** Backend hook: write what the OS takes now of `chunks`, without blocking; returns the bytes written. */
  protected abstract _writeNow(chunks: readonly Uint8Array[]): number;
  /** Backend hook: bytes are buffered; call _bytesSent() as the OS takes them. */
  protected abstract _startWriting(): void;
  /** Backend hook: the buffer is empty; stop watching for writability. */
  protected abstract _stopWriting(): void;
  /** Backend hook: deliver received bytes (_dataReceived, _eofReceived) from now on. */
  protected abstract _startReading(): void;
  /** Backend hook: deliver nothing until _startReading (the bytes stay in the OS). */
  protected abstract _stopReading(): void;
  /** Backend hook: half-close the connection (writeEof once the buffer is flushed). */
  protected abstract _shutdownWrite(): void;
  /** Backend hook: release the socket; the transport is done with it. */
  protected abstract _closeResources(): void;

  // ---- BaseTransport ----
  /** The loop this transport runs on. */
  getLoop(): AbstractEventLoop {
    return this._loop;
  }

  setProtocol(protocol: BaseProtocol): void {
    // Any object: a write pipe's protocol receives nothing. Connections check for more (socket-loop.ts).
    checkProtocol(protocol, 'any');
    this._protocol = protocol as AnyProtocol;
    this._wantsBuffer = isBufferedProtocol(protocol);
  }

  getProtocol(): BaseProtocol {
    return this._protocol;
  }

  isClosing(): boolean {
    return this._closing;
  }

  /** Stop reading, flush the buffer, then connectionLost(null) once. Idempotent. */
  close(): void {
    if (this._closing) return;
    this._closing = true;
    this._setReading(false);
    if (this._bufferSize === 0) {
      this._connLost += 1;
      this._loop.callSoon(callConnectionLost, this, null);
    }
  }

  /** Drop the buffer and close now; connectionLost(null) once. */
  abort(): void {
    this._forceClose(null);
  }

  // ---- reading ----
  isReading(): boolean {
    return !this._has(PAUSED) && !this._closing;
  }

  pauseReading(): void {
    if (this._closing || this._has(PAUSED)) return;
    this._set(PAUSED, true);
    this._setReading(false);
    if (this._loop.getDebug()) logger.debug(`${this} pauses reading`);
  }

  resumeReading(): void {
    if (this._closing || !this._has(PAUSED)) return;
    this._set(PAUSED, false);
    if (this._held !== null) this._loop.callSoon(deliverHeld, this);
    this._setReading(true);
    if (this._loop.getDebug()) logger.debug(`${this} resumes reading`);
  }

  // ---- writing ----
  setWriteBufferLimits(limits?: WriteBufferLimits | number | null, low?: number | null): void {
    (this._flow ??= new WriteFlowControl()).set(limits, low);
    this._maybePauseProtocol();
  }

  getWriteBufferLimits(): [low: number, high: number] {
    const flow = this._flow;
    return flow === null ? [DEFAULT_HIGH_WATER / 4, DEFAULT_HIGH_WATER] : [flow.low, flow.high];
  }

  getWriteBufferSize(): number {
    return this._bufferSize;
  }

  /** @internal write flow control has paused the protocol (startTls carries it over: CPython gh-109051). */
  _isWritingPaused(): boolean {
    return this._flow?.paused ?? false;
  }

  /** @internal startTls: which way the connection is half-closed (a handshake needs both), or null. */
  _halfClosed(): string | null {
    if (this._eof) return 'writeEof() closed its sending side';
    if (this._has(EOF_SEEN)) return 'the peer ended its sending side: eofReceived was called';
    return null;
  }

  write(data: BytesLike): void {
    let bytes = asBytes(data, 'data');
    if (this._eof) throw new RuntimeError('Cannot call write() after writeEof()');
    if (this._has(SENDFILE)) throw new RuntimeError('unable to write; sendfile is in progress');
    if (bytes.length === 0 || this._writeLost()) return;
    if (this._bufferSize > 0) {
      this._append(bytes);
    } else {
      const keeps = this._writeNowKeepsBytes;
      if (keeps) bytes = copyBytes(bytes);
      let sent: number;
      try {
        sent = this._writeNow([bytes]);
      } catch (error) {
        this._fatalError(error, 'Fatal write error on socket transport');
        return;
      }
      if (sent >= bytes.length) return;
      bytes = bytes.subarray(sent);
      // The caller may reuse its buffer once write() returns: keep a copy.
      this._pushChunk(keeps ? bytes : copyBytes(bytes));
    }
    this._buffered();
  }

  /** write() of each item in turn, offered to the OS together, never joined into one copy. */
  writelines(list: Iterable<BytesLike>): void {
    if (list === null || typeof list !== 'object' || typeof (list as Iterable<unknown>)[Symbol.iterator] !== 'function') {
      throw new TypeError(`list must be an iterable of bytes-like objects, got ${describe(list)}`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (const item of list) {
      const bytes = asBytes(item, 'list item');
      if (bytes.length === 0) continue;
      chunks.push(bytes);
      size += bytes.length;
    }
    if (this._eof) throw new RuntimeError('Cannot call write() after writeEof()');
    if (this._has(SENDFILE)) throw new RuntimeError('unable to write; sendfile is in progress');
    if (size === 0 || this._writeLost()) return;
    let sent = 0;
    const keeps = this._bufferSize === 0 && this._writeNowKeepsBytes;
    if (this._bufferSize === 0) {
      if (keeps) for (let i = 0; i < chunks.length; i++) chunks[i] = copyBytes(chunks[i]!);
      try {
        sent = this._writeNow(chunks);
      } catch (error) {
        this._fatalError(error, 'Fatal write error on socket transport');
        return;
      }
      if (sent >= size) return;
    }
    for (const chunk of chunks) {
      if (sent >= chunk.length) {
        sent -= chunk.length;
        continue;
      }
      const rest = sent > 0 ? chunk.subarray(sent) : chunk;
      sent = 0;
      if (keeps) this._pushChunk(rest);
      else this._append(rest);
    }
    this._buffered();
  }

  /** Half-close once the buffer is flushed. Idempotent; a closing transport ignores it. */
  writeEof(): void {
    if (this._closing || this._eof) return;
    this._eof = true;
    if (this._bufferSize === 0) this._shutdownWriteSafely();
  }

  canWriteEof(): boolean {
    return true;
  }

  /** A description for logs and debugging, as asyncio's repr(). */
  toString(): string {
    const state = this._has(LOST_CALLED) ? 'closed' : this._closing ? 'closing' : 'open';
    return `<${this.constructor.name} ${state} buffered=${this._bufferSize}>`;
  }

  // ---- for backends ----
  /** Schedule connectionMade, the start of reading, then `waiter`'s result. */
  protected _start(waiter: Future<void> | null = null): void {
    this._loop.callSoon(connectionMade, this);
    this._loop.callSoon(() => {
      if (this.isReading()) this._setReading(true);
    });
    if (waiter !== null) this._loop.callSoon(setResultUnlessCancelled<void>, waiter, undefined);
  }

  /** The unsent bytes, oldest first (a completion backend sends these). */
  protected _writeBufferChunks(): Uint8Array[] {
    return this._chunks.slice(this._head);
  }

  /** The oldest unsent chunk, or null when the buffer is empty (a completion backend sending one chunk at a time). */
  protected _firstBufferedChunk(): Uint8Array | null {
    return this._bufferSize > 0 ? this._chunks[this._head]! : null;
  }

  /** Readiness backends: the socket is writable, send what the buffer holds. */
  protected _writeReady(): void {
    if (this._connLost > 0 || this._bufferSize === 0) return;
    // A readiness backend's _writeNow is done with the list when it returns, so the buffer's
    // own list can go as it is (no copy per writable event) unless its head was consumed.
    const chunks = this._head === 0 ? this._chunks : this._writeBufferChunks();
    let sent: number;
    try {
      sent = this._writeNow(chunks);
    } catch (error) {
      this._fatalError(error, 'Fatal write error on socket transport');
      return;
    }
    this._bytesSent(sent);
  }

  /**
   * `n` bytes from the head of the buffer reached the OS. Resumes the protocol at the low
   * mark, finishes a pending close or writeEof once empty. Returns the bytes still buffered
   * (0 once the connection is lost).
   */
  protected _bytesSent(n: number): number {
    if (this._connLost > 0) return 0;
    this._consume(n);
    this._maybeResumeProtocol(); // may write more
    if (this._connLost > 0) return 0;
    if (this._bufferSize === 0 && this._has(WRITING)) {
      this._set(WRITING, false);
      this._stopWriting();
      if (this._has(SENDFILE)) settleFlushWaiter(this, null);
      if (this._closing) {
        this._connLost += 1;
        this._loop.callSoon(callConnectionLost, this, null);
      } else if (this._eof) {
        this._shutdownWriteSafely();
      }
    }
    return this._bufferSize;
  }

  /** Deliver received bytes to the protocol (a BufferedProtocol gets them copied into its buffers). */
  protected _dataReceived(data: Uint8Array): void {
    if (this._closing || data.length === 0) return;
    if (this._has(PAUSED) || this._held !== null) {
      (this._held ??= []).push(data);
      return;
    }
    if (!this._wantsBuffer) {
      try {
        this._watch(this._protocol.dataReceived!(data), 'dataReceived');
      } catch (error) {
        this._protocolFailed(error, 'dataReceived');
      }
      return;
    }
    let rest = data;
    while (rest.length > 0 && !this._closing) {
      if (this._has(PAUSED)) {
        // The protocol paused reading part way through this chunk: hold the rest for resume.
        (this._held ??= []).push(rest);
        return;
      }
      const buf = this._getReadBuffer(rest.length);
      if (buf === null) return;
      const n = Math.min(buf.length, rest.length);
      buf.set(rest.subarray(0, n));
      this._bufferUpdated(n);
      rest = rest.subarray(n);
    }
  }

  /**
   * Whether a backend reads into the BufferedProtocol's buffer (`_getReadBuffer`), else hands
   * what it reads to `_dataReceived`. Not while received bytes are held (they came while
   * reading was paused; resumeReading delivers them from the loop): bytes read into the
   * buffer meanwhile would pass them, where `_dataReceived` queues them behind.
   */
  protected _readsIntoBuffer(): boolean {
    return this._wantsBuffer && this._held === null;
  }

  /** A BufferedProtocol's buffer to receive into, or null when getBuffer failed (the transport is then closing). */
  protected _getReadBuffer(sizeHint: number): Uint8Array | null {
    let buf: unknown;
    try {
      buf = this._protocol.getBuffer!(sizeHint);
      if (!ArrayBuffer.isView(buf)) throw new TypeError(`getBuffer() must return a Uint8Array, got ${describe(buf)}`);
      if (buf.byteLength === 0) throw new RuntimeError('getBuffer() returned an empty buffer');
    } catch (error) {
      this._protocolFailed(error, 'getBuffer');
      return null;
    }
    return asBytes(buf);
  }

  /** For backends: `nbytes` were received into the BufferedProtocol's buffer. */
  protected _bufferUpdated(nbytes: number): void {
    try {
      this._watch(this._protocol.bufferUpdated!(nbytes), 'bufferUpdated');
    } catch (error) {
      this._protocolFailed(error, 'bufferUpdated');
    }
  }

  /** The peer sent EOF: eofReceived() true keeps the transport open for writing, else close. */
  protected _eofReceived(): void {
    if (this._closing || this._has(EOF_SEEN)) return;
    if (this._has(PAUSED) || this._held !== null) {
      (this._held ??= []).push(EOF);
      return;
    }
    this._set(EOF_SEEN, true);
    this._setReading(false);
    if (this._loop.getDebug()) logger.debug(`${this} received EOF`);
    let keepOpen: unknown;
    try {
      keepOpen = this._protocol.eofReceived?.();
    } catch (error) {
      this._protocolFailed(error, 'eofReceived');
      return;
    }
    if (isThenable(keepOpen) && !isFuture(keepOpen)) {
      // An async eofReceived(): its resolved value decides, as a returned value would.
      keepOpen.then(
        (value) => {
          if (!value) this.close();
        },
        (error) => this._protocolFailed(error, 'eofReceived'),
      );
      return;
    }
    if (!keepOpen) this.close();
  }

  /**
   * asyncio's _fatal_error: report `exc` to the loop's exception handler (a ConnectionError,
   * the peer's doing, is only logged in debug mode), then close with connectionLost(exc).
   */
  _fatalError(exc: unknown, message = 'Fatal error on transport'): void {
    if (exc instanceof ConnectionError) {
      if (this._loop.getDebug()) logger.debug(`${this}: ${message}: ${String(exc)}`);
    } else {
      this._loop.callExceptionHandler({ message, exception: exc, transport: this, protocol: this._protocol });
    }
    this._forceClose(exc);
  }

  /** Drop the buffer, stop everything, schedule connectionLost(exc) unless already done. */
  protected _forceClose(exc: unknown): void {
    if (this._connLost > 0) return;
    this._dropBuffer();
    if (!this._closing) {
      this._closing = true;
      this._setReading(false);
    }
    this._connLost += 1;
    this._loop.callSoon(callConnectionLost, this, exc);
  }

  /** The loop is closing and runs no more callbacks: connectionLost(null) now, if not yet called. */
  _closeNow(): void {
    if (this._has(LOST_CALLED)) return;
    this._dropBuffer();
    this._closing = true;
    this._setReading(false);
    this._connLost += 1;
    this._callConnectionLost(null);
  }

  // ---- internals ----
  /** @internal (scheduled through the module's connectionMade) */
  _connectionMade(): void {
    if (this._has(LOST_CALLED)) return;
    this._set(MADE, true);
    try {
      this._watch(this._protocol.connectionMade?.(this), 'connectionMade');
    } catch (error) {
      this._protocolFailed(error, 'connectionMade');
    }
  }

  /**
   * @internal loop.sendfile()'s native path begins: write() refuses from now on (until
   * `_endSendfile`), and the promise resolves once the buffered bytes reached the OS, or
   * rejects with ConnectionError if the connection is lost first.
   */
  _beginSendfile(): Future<void> {
    const flushed = this._loop.createFuture<void>();
    this._set(SENDFILE, true);
    if (this._connLost > 0 || this._has(LOST_CALLED)) flushed.setException(new ConnectionError('Connection is closed'));
    else if (this._bufferSize === 0) flushed.setResult(undefined);
    else flushWaiters.set(this, flushed);
    return flushed;
  }

  /** @internal loop.sendfile()'s native path is over: write() works again. */
  _endSendfile(): void {
    this._set(SENDFILE, false);
    flushWaiters.delete(this);
  }

  /** @internal (scheduled through the module's callConnectionLost) */
  _callConnectionLost(exc: unknown): void {
    if (this._has(LOST_CALLED)) return;
    this._set(LOST_CALLED, true);
    if (this._has(SENDFILE)) settleFlushWaiter(this, new ConnectionError('Connection is closed'));
    try {
      if (this._has(MADE)) {
        const result = this._protocol.connectionLost?.(exc);
        watchRejection(result, (error) => this._report('Exception in protocol.connectionLost()', error));
      }
    } catch (error) {
      this._report('Exception in protocol.connectionLost()', error);
    } finally {
      try {
        this._closeResources();
      } catch (error) {
        this._report('Error closing the transport', error);
      }
      const server = this._server;
      this._server = null;
      server?._detach();
    }
  }

  /** @internal (scheduled through the module's deliverHeld) */
  _deliverHeld(): void {
    const held = this._held;
    if (held === null) return;
    this._held = null;
    let i = 0;
    while (i < held.length && !this._has(PAUSED) && !this._closing) {
      const item = held[i++]!;
      if (item === EOF) this._eofReceived();
      else this._dataReceived(item);
    }
    // Paused again midway: keep the rest. What _dataReceived held during this loop is the
    // unread part of item i - 1 (a BufferedProtocol paused mid-chunk), so it goes first.
    const heldMeanwhile = this._held as typeof held | null;
    if (i < held.length && !this._closing) this._held = (heldMeanwhile ?? []).concat(held.slice(i));
  }

  private _setReading(on: boolean): void {
    if (on && this._has(EOF_SEEN)) return;
    if (on === this._has(READING_ACTIVE)) return;
    this._set(READING_ACTIVE, on);
    if (on) this._startReading();
    else this._stopReading();
  }

  /** A protocol method returned `result`: if it is a promise that rejects, the method failed. */
  private _watch(result: unknown, method: string): void {
    if (result !== undefined) watchRejection(result, (error) => this._protocolFailed(error, method));
  }

  private _protocolFailed(error: unknown, method: string): void {
    this._report(`Fatal error: protocol.${method}() call failed.`, error);
    this._forceClose(error);
  }

  private _report(message: string, exception: unknown): void {
    this._loop.callExceptionHandler({ message, exception, transport: this, protocol: this._protocol });
  }

  private _maybePauseProtocol(): void {
    const size = this._bufferSize;
    // Without limits set, a flow control is made only once the default high mark is passed.
    if (this._flow === null && size <= DEFAULT_HIGH_WATER) return;
    if (!(this._flow ??= new WriteFlowControl()).shouldPause(size)) return;
    try {
      this._watch(this._protocol.pauseWriting?.(), 'pauseWriting');
    } catch (error) {
      this._protocolFailed(error, 'pauseWriting');
    }
  }

  private _maybeResumeProtocol(): void {
    if (this._flow === null || !this._flow.shouldResume(this._bufferSize)) return;
    try {
      this._watch(this._protocol.resumeWriting?.(), 'resumeWriting');
    } catch (error) {
      this._protocolFailed(error, 'resumeWriting');
    }
  }

  private _shutdownWriteSafely(): void {
    try {
      this._shutdownWrite();
    } catch (error) {
      // The peer reset the connection: its data and the reset are still to be read, and the
      // read side reports the loss (asyncio's write_eof leaves the transport to its reads).
      if ((error as { code?: unknown } | null)?.code === 'ENOTCONN') return;
      this._fatalError(error, 'Fatal error on transport: shutdown for writing failed');
    }
  }

  /** A write to a lost connection is dropped (asyncio warns after a few). */
  private _writeLost(): boolean {
    if (this._connLost === 0) return false;
    if (this._connLost >= LOG_THRESHOLD_FOR_CONNLOST_WRITES) logger.warning('socket.send() raised exception.');
    this._connLost += 1;
    return true;
  }

  /** Buffer a copy of `bytes` (the caller may reuse them): small ones share one allocation. */
  private _append(bytes: Uint8Array): void {
    const n = bytes.length;
    const spare = this._spare;
    if (spare !== null && n <= spare.length) {
      spare.set(bytes);
      const chunks = this._chunks;
      const last = chunks[chunks.length - 1]!;
      chunks[chunks.length - 1] = new Uint8Array(last.buffer, last.byteOffset, last.length + n);
      this._spare = spare.subarray(n);
      this._bufferSize += n;
      return;
    }
    if (n > SMALL_WRITE) {
      this._pushChunk(copyBytes(bytes));
      return;
    }
    // Room for what follows: as much again as is buffered, within SHARED_CHUNK.
    const block = Buffer.allocUnsafe(Math.max(n, Math.min(SHARED_CHUNK, this._bufferSize + n)));
    block.set(bytes);
    this._pushChunk(block.subarray(0, n));
    this._spare = n < block.length ? block.subarray(n) : null;
  }

  /** Buffer `chunk` as it is (a copy nobody else changes). */
  private _pushChunk(chunk: Uint8Array): void {
    if (this._chunks === NO_CHUNKS) this._chunks = [chunk];
    else this._chunks.push(chunk);
    this._bufferSize += chunk.length;
    this._spare = null;
  }

  /** Bytes were buffered: start writing, pause the protocol at the high mark. */
  private _buffered(): void {
    if (!this._has(WRITING)) {
      this._set(WRITING, true);
      this._startWriting();
    }
    this._maybePauseProtocol();
  }

  private _consume(n: number): void {
    let left = Math.min(n, this._bufferSize);
    this._bufferSize -= left;
    const chunks = this._chunks;
    while (left > 0) {
      const head = chunks[this._head]!;
      if (head.length <= left) {
        left -= head.length;
        this._head += 1;
      } else {
        chunks[this._head] = head.subarray(left);
        left = 0;
      }
    }
    if (this._head === chunks.length) {
      this._chunks = NO_CHUNKS;
      this._head = 0;
      this._spare = null;
    } else if (this._head > 64 && this._head * 2 > chunks.length) {
      this._chunks = chunks.slice(this._head);
      this._head = 0;
    }
  }

  private _dropBuffer(): void {
    this._chunks = NO_CHUNKS;
    this._head = 0;
    this._spare = null;
    this._bufferSize = 0;
    if (this._has(WRITING)) {
      this._set(WRITING, false);
      this._stopWriting();
    }
  }
}

/** The sendfile waiting for `transport`'s buffer to empty goes on (error null), or fails. */
function settleFlushWaiter(transport: BaseStreamTransport, error: Error | null): void {
  const waiter = flushWaiters.get(transport);
  flushWaiters.delete(transport);
  if (waiter === undefined || waiter.done()) return;
  if (error === null) waiter.setResult(undefined);
  else waiter.setException(error);
}

// The transport's scheduled steps, as plain functions taking it: no closure per connection.
function connectionMade(transport: BaseStreamTransport): void {
  transport._connectionMade();
}

function callConnectionLost(transport: BaseStreamTransport, exc: unknown): void {
  transport._callConnectionLost(exc);
}

function deliverHeld(transport: BaseStreamTransport): void {
  transport._deliverHeld();
}

/** A copy of `bytes` (no zero-filling first: every byte is overwritten). */
function copyBytes(bytes: Uint8Array): Uint8Array {
  const copy = Buffer.allocUnsafe(bytes.length);
  copy.set(bytes);
  return copy;
}
