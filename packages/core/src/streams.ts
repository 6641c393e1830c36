/**
 * Streams (asyncio's streams.py): StreamReader/StreamWriter over any stream transport, and
 * openConnection/startServer on top of the running loop's createConnection/createServer.
 *
 * StreamReaderProtocol feeds a StreamReader and tracks write flow control, so
 * `writer.drain()` waits while the transport's buffer is over its high-water mark. The
 * reader pauses the transport's reading once it holds more than twice its limit.
 */
import { CancelledError, ConnectionResetError, IncompleteReadError, LimitOverrunError, RuntimeError } from './errors.js';
import { _getCurrentLoop, getRunningLoop, type AbstractEventLoop } from './events.js';
import type { Future } from './futures.js';
import { Protocol } from './protocols.js';
import type { AbstractServer } from './server.js';
import { sleep } from './sleep.js';
import { asBytes, type BytesLike, type Transport, type TransportExtraInfo } from './transports.js';
import { OPTION_KEYS, type ConnectionOptions, type ServerOptions, type UnixConnectionOptions, type UnixServerOptions } from './socket-loop.js';
import { checkCallback, checkOptions, describe } from './validate.js';
import type { SSLOption } from './tls/contexts.js';
import { finishedWithoutWaiting, registerWaitingCall, WaitingCall, type ValueKeeper } from './waiting-calls.js';
import { countDroppedWriterCandidate } from './dropped-writers.js';
import { logger } from './log.js';

/** The default limit of a StreamReader's buffer (64 KiB), as asyncio's. */
export const DEFAULT_LIMIT = 64 * 1024;

/** What startServer calls for each connection, with its reader and writer (it may be async). */
export type ClientConnectedCallback = (reader: StreamReader, writer: StreamWriter) => unknown;

/** Options of `new StreamReader()`: its buffer limit and loop. */
export interface StreamReaderOptions {
  limit?: number;
  loop?: AbstractEventLoop;
}

/** A growable byte queue: append at the end, take from the front, search in between. */
class ByteQueue {
  private buf = Buffer.alloc(0);
  private start = 0;
  private end = 0;

  get length(): number {
    return this.end - this.start;
  }

  append(data: Uint8Array): void {
    if (this.end + data.length > this.buf.length) {
      const length = this.length;
      const needed = length + data.length;
      const target = needed * 2 <= this.buf.length ? this.buf : Buffer.allocUnsafe(Math.max(needed * 2, 1024));
      this.buf.copy(target, 0, this.start, this.end);
      this.buf = target;
      this.start = 0;
      this.end = length;
    }
    this.buf.set(data, this.end);
    this.end += data.length;
  }

  indexOf(needle: Uint8Array, from: number): number {
    return this.buf.subarray(this.start, this.end).indexOf(needle, from);
  }

  startsWith(needle: Uint8Array, at: number): boolean {
    return this.length >= at + needle.length && this.indexOf(needle, at) === at;
  }

  /** Put `data` before the first byte (bytes a cancelled read gives back). */
  prepend(data: Uint8Array): void {
    if (data.length <= this.start) {
      this.start -= data.length;
      this.buf.set(data, this.start);
      return;
    }
    const rest = this.buf.subarray(this.start, this.end);
    const joined = Buffer.allocUnsafe(Math.max((data.length + rest.length) * 2, 1024));
    joined.set(data, 0);
    joined.set(rest, data.length);
    this.buf = joined;
    this.start = 0;
    this.end = data.length + rest.length;
  }

  /** Remove and return (a copy of) the first `n` bytes. */
  take(n: number): Buffer {
    n = Math.min(n, this.length);
    const out = Buffer.from(this.buf.subarray(this.start, this.start + n));
    this.drop(n);
    return out;
  }

  drop(n: number): void {
    this.start += Math.min(n, this.length);
    if (this.start === this.end) this.start = this.end = 0;
  }
}

function checkSize(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer, got ${describe(value)}`);
  }
}

/** Reads from a stream connection (asyncio.StreamReader): read, readline, readexactly, readuntil, or `for await` its lines. */
export class StreamReader implements AsyncIterable<Buffer>, ValueKeeper {
  private readonly _limit: number;
  private readonly _loop: AbstractEventLoop;
  private readonly _buffer = new ByteQueue();
  private _eof = false;
  private _waiter: Future<void> | null = null;
  /** The promise of the read call that waits, when it was made cancellable. */
  private _readingCall: Promise<Buffer> | null = null;
  /** The waiter of the read between making it and resuming after it (it may be done already). */
  private _pendingWaiter: Future<void> | null = null;
  /** The waiter whose read was cancelled through its wrapping Future: that read must throw. */
  private _cancelledWaiter: Future<void> | null = null;
  private _exception: unknown = null;
  private _transport: Transport | null = null;
  private _paused = false;

  /** `new StreamReader({limit, loop})`, or `new StreamReader(limit, loop)`. */
  constructor(options: StreamReaderOptions | number = {}, loop?: AbstractEventLoop) {
    if (options === null || (typeof options !== 'object' && typeof options !== 'number')) {
      throw new TypeError(`options must be {limit?, loop?} or a limit, got ${describe(options)}`);
    }
    const opts = typeof options === 'number' ? { limit: options, loop } : checkOptions(options, ['limit', 'loop'], 'StreamReader');
    const limit = opts.limit ?? DEFAULT_LIMIT;
    checkSize(limit, 'limit');
    if (limit <= 0) throw new RangeError(`Limit cannot be <= 0: limit is ${limit}`);
    this._limit = limit;
    this._loop = opts.loop ?? _getCurrentLoop();
  }

  /** The error set with setException (the connection's), or null. */
  exception(): unknown {
    return this._exception;
  }

  /** Make pending and future reads throw `exc`. */
  setException(exc: unknown): void {
    this._exception = exc;
    const waiter = this._waiter;
    if (waiter !== null) {
      this._waiter = null;
      if (!waiter.cancelled()) waiter.setException(exc);
    }
  }

  /** Give the reader the transport it reads from (so it can pause and resume reading). */
  setTransport(transport: Transport): void {
    if (this._transport !== null) throw new RuntimeError('Transport already set');
    this._transport = transport;
  }

  /** @internal startTls: read from the TLS transport now. */
  _replaceTransport(transport: Transport): void {
    this._transport = transport;
  }

  /**
   * @internal startTls: remove and return what is buffered (bytes behind the upgrade point
   * belong to the TLS handshake, CPython gh-142352). A pause this buffer caused is forgotten:
   * startTls resumes the transport itself.
   */
  _takeBuffered(): Buffer | null {
    this._paused = false;
    return this._buffer.length === 0 ? null : this._buffer.take(this._buffer.length);
  }

  /** The stream ended: pending and later reads see EOF. */
  feedEof(): void {
    this._eof = true;
    this._wakeupWaiter();
  }

  /** True when EOF was fed and the buffer is empty. */
  atEof(): boolean {
    return this._eof && this._buffer.length === 0;
  }

  /** Add received bytes (the protocol calls this). */
  feedData(data: BytesLike): void {
    const bytes = asBytes(data, 'data');
    if (this._eof) throw new RuntimeError('feedData after feedEof');
    if (bytes.length === 0) return;
    this._buffer.append(bytes);
    this._wakeupWaiter();
    if (this._transport !== null && !this._paused && this._buffer.length > 2 * this._limit) {
      this._transport.pauseReading();
      this._paused = true;
    }
  }

  /** Up to `n` bytes (all until EOF when n < 0); an empty Buffer at EOF. */
  read(n = -1): Promise<Buffer> {
    return this._cancellableRead(this._waiter, this._read(n));
  }

  private async _read(n: number): Promise<Buffer> {
    checkSize(n, 'n');
    if (this._exception !== null) throw this._exception;
    if (n === 0) return Buffer.alloc(0);
    if (n < 0) {
      const blocks: Buffer[] = [];
      for (;;) {
        const block = await this._read(this._limit);
        if (block.length === 0) return Buffer.concat(blocks);
        blocks.push(block);
      }
    }
    if (this._buffer.length === 0 && !this._eof) await this._waitForData('read');
    const data = this._buffer.take(n);
    this._maybeResumeTransport();
    return data;
  }

  /**
   * One line, ending with '\n'; at EOF the partial last line (empty when none). A line
   * longer than the limit is dropped from the buffer and throws RangeError (asyncio's
   * ValueError) with LimitOverrunError's message; that error is its `cause`.
   */
  readline(): Promise<Buffer> {
    return this._cancellableRead(this._waiter, this._readline());
  }

  private async _readline(): Promise<Buffer> {
    const sep = NEWLINE;
    try {
      return await this._readuntil(sep);
    } catch (error) {
      if (error instanceof IncompleteReadError) return Buffer.from(error.partial);
      if (error instanceof LimitOverrunError) {
        if (this._buffer.startsWith(sep, error.consumed)) this._buffer.drop(error.consumed + sep.length);
        else this._buffer.drop(this._buffer.length);
        this._maybeResumeTransport();
        throw new RangeError(error.message, { cause: error });
      }
      throw error;
    }
  }

  /**
   * Data up to and including `separator` (or the one of several separators whose match
   * ends first). At EOF without a match: IncompleteReadError with the rest, `expected`
   * null. No match within the limit: LimitOverrunError, the data stays buffered.
   */
  readuntil(separator: BytesLike | BytesLike[] = NEWLINE): Promise<Buffer> {
    return this._cancellableRead(this._waiter, this._readuntil(separator));
  }

  private async _readuntil(separator: BytesLike | BytesLike[]): Promise<Buffer> {
    const separators = (Array.isArray(separator) ? separator : [separator]).map((s) => asBytes(s, 'separator'));
    if (separators.length === 0) throw new RangeError('Separator should contain at least one element: separator is empty');
    separators.sort((a, b) => a.length - b.length);
    const minSeplen = separators[0]!.length;
    const maxSeplen = separators[separators.length - 1]!.length;
    if (minSeplen === 0) throw new RangeError('Separator should be at least one-byte string: separator has an empty one');
    if (this._exception !== null) throw this._exception;

    // Where the next search starts: earlier bytes were searched and matched no separator.
    let offset = 0;
    let matchStart = -1;
    let matchEnd = -1;
    for (;;) {
      const buflen = this._buffer.length;
      if (buflen - offset >= minSeplen) {
        for (const sep of separators) {
          const at = this._buffer.indexOf(sep, offset);
          if (at !== -1 && (matchEnd === -1 || at + sep.length < matchEnd)) {
            matchStart = at;
            matchEnd = at + sep.length;
          }
        }
        if (matchEnd !== -1) break;
        offset = Math.max(0, buflen + 1 - maxSeplen);
        if (offset > this._limit) {
          throw new LimitOverrunError('Separator is not found, and chunk exceed the limit', offset);
        }
      }
      if (this._eof) {
        const chunk = this._buffer.take(this._buffer.length);
        throw new IncompleteReadError(chunk, null);
      }
      await this._waitForData('readuntil');
    }
    if (matchStart > this._limit) {
      throw new LimitOverrunError('Separator is found, but chunk is longer than limit', matchStart);
    }
    const chunk = this._buffer.take(matchEnd);
    this._maybeResumeTransport();
    return chunk;
  }

  /** Exactly `n` bytes; IncompleteReadError (with `partial` and `expected`) if EOF comes first. */
  readexactly(n: number): Promise<Buffer> {
    return this._cancellableRead(this._waiter, this._readexactly(n));
  }

  private async _readexactly(n: number): Promise<Buffer> {
    checkSize(n, 'n');
    if (n < 0) throw new RangeError(`readexactly size can not be less than zero: n is ${n}`);
    if (this._exception !== null) throw this._exception;
    if (n === 0) return Buffer.alloc(0);
    while (this._buffer.length < n) {
      if (this._eof) {
        const partial = this._buffer.take(this._buffer.length);
        throw new IncompleteReadError(partial, n);
      }
      await this._waitForData('readexactly');
    }
    const data = this._buffer.take(n);
    this._maybeResumeTransport();
    return data;
  }

  /** `for await (const line of reader)`: lines until EOF. */
  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for (;;) {
      const line = await this.readline();
      if (line.length === 0) return;
      yield line;
    }
  }

  /** A description for logs and debugging, as asyncio's repr(). */
  toString(): string {
    const info = ['StreamReader'];
    if (this._buffer.length > 0) info.push(`${this._buffer.length} bytes`);
    if (this._eof) info.push('eof');
    if (this._limit !== DEFAULT_LIMIT) info.push(`limit=${this._limit}`);
    if (this._waiter !== null) info.push('waiter');
    if (this._exception !== null) info.push(`exception=${String(this._exception)}`);
    if (this._transport !== null) info.push(`transport=${this._transport}`);
    if (this._paused) info.push('paused');
    return `<${info.join(' ')}>`;
  }

  private _wakeupWaiter(): void {
    const waiter = this._waiter;
    if (waiter !== null) {
      this._waiter = null;
      if (!waiter.cancelled()) waiter.setResult(undefined);
    }
  }

  private _maybeResumeTransport(): void {
    if (this._paused && this._buffer.length <= this._limit) {
      this._paused = false;
      this._transport!.resumeReading();
    }
  }

  private async _waitForData(funcName: string): Promise<void> {
    // Only one reader at a time: which of two would get the data is undefined.
    if (this._waiter !== null) {
      throw new RuntimeError(`${funcName}() called while another coroutine is already waiting for incoming data`);
    }
    if (this._paused) {
      this._paused = false;
      this._transport!.resumeReading();
    }
    const waiter = this._loop.createFuture<void>();
    this._waiter = waiter;
    this._pendingWaiter = waiter;
    let cancelled: boolean;
    try {
      await waiter;
    } finally {
      if (this._waiter === waiter) this._waiter = null;
      if (this._pendingWaiter === waiter) this._pendingWaiter = null;
      cancelled = this._cancelledWaiter === waiter;
      if (cancelled) this._cancelledWaiter = null;
    }
    // Its wrapping Future was cancelled after the data came: the data stays for the next read.
    if (cancelled) throw new CancelledError();
  }

  /**
   * `promise`, the read call just made, registered as cancellable when it waits
   * (waiting-calls.ts): a Future wrapping it (`waitFor(reader.readline(), t)`) cancels the
   * read, leaving the data buffered, as asyncio's wait_for cancels the read coroutine.
   */
  private _cancellableRead(waiterBefore: Future<void> | null, promise: Promise<Buffer>): Promise<Buffer> {
    // No new waiter: the call did not wait (or failed), nothing to cancel; what it read can go back.
    if (this._waiter === null || this._waiter === waiterBefore) return finishedWithoutWaiting(promise, this);
    this._readingCall = promise;
    return registerWaitingCall(promise, this);
  }

  /**
   * @internal a read whose caller was cancelled before it received `data` (waiting-calls.ts):
   * the bytes go back ahead of the buffer, as asyncio's cancelled read never took them.
   */
  _takeBack(_promise: object, data: unknown): boolean {
    const bytes = data as Buffer;
    if (bytes.length === 0) return true;
    this._buffer.prepend(bytes);
    this._wakeupWaiter();
    if (this._transport !== null && !this._paused && this._buffer.length > 2 * this._limit) {
      this._transport.pauseReading();
      this._paused = true;
    }
    return true;
  }

  /** @internal the Future wrapping `promise` was cancelled: end that read if it is the one waiting. */
  _cancelWaitingCall(promise: object): void {
    const waiter = this._pendingWaiter;
    // Not waiting: that read is over (its result was on its way to the cancelled Future).
    if (this._readingCall !== promise || waiter === null) return;
    this._readingCall = null;
    this._pendingWaiter = null;
    this._cancelledWaiter = waiter;
    waiter.cancel();
    // The next read may wait at once, as after asyncio's wait_for, which waits for the cancelled read to end.
    if (this._waiter === waiter) this._waiter = null;
  }
}

const NEWLINE = Buffer.from('\n');

/**
 * A protocol with write flow control for awaiting code (asyncio's FlowControlMixin):
 * `_drainHelper()` waits while the transport has paused writing.
 */
export class FlowControlProtocol extends Protocol {
  protected readonly _loop: AbstractEventLoop;
  private _writingPaused = false;
  private readonly _drainWaiters = new Set<Future<void>>();
  private _connectionLost = false;

  constructor(loop?: AbstractEventLoop | null) {
    super();
    this._loop = loop ?? _getCurrentLoop();
  }

  override pauseWriting(): void {
    this._writingPaused = true;
  }

  override resumeWriting(): void {
    this._writingPaused = false;
    for (const waiter of this._drainWaiters) if (!waiter.done()) waiter.setResult(undefined);
  }

  /** The connection ended: the reader sees EOF or the error, and drain() waiters are released. */
  override connectionLost(exc: unknown): void {
    this._connectionLost = true;
    if (!this._writingPaused) return;
    for (const waiter of this._drainWaiters) {
      if (waiter.done()) continue;
      if (exc === null || exc === undefined) waiter.setResult(undefined);
      else waiter.setException(exc);
    }
  }

  /**
   * @internal wait while writing is paused. A Future wrapping the promise (`waitFor(writer.drain(), t)`)
   * cancels the wait (waiting-calls.ts).
   */
  _drainHelper(): Promise<void> {
    if (this._connectionLost) return Promise.reject(new ConnectionResetError('Connection lost'));
    if (!this._writingPaused) return Promise.resolve();
    const call = new WaitingCall();
    return registerWaitingCall(this._drainWaiting(call), call);
  }

  private async _drainWaiting(call: WaitingCall): Promise<void> {
    const waiter = this._loop.createFuture<void>();
    this._drainWaiters.add(waiter);
    call.waiter = waiter;
    try {
      await waiter;
      call.check();
    } finally {
      this._drainWaiters.delete(waiter);
    }
  }
}

/**
 * Closes the connection of a StreamWriter collected while open (asyncio's StreamWriter.__del__;
 * dropped-writers.ts). The held value is the writer's protocol, which holds no writer.
 */
const droppedWriters = new FinalizationRegistry<StreamReaderProtocol>((protocol) => protocol._writerDropped());

/**
 * Adapts a StreamReader to the Protocol interface. With `clientConnected` (servers), each
 * connection calls it with a reader and a writer, as a Task whose failure is reported and
 * closes the connection.
 */
export class StreamReaderProtocol extends FlowControlProtocol {
  private _streamReader: StreamReader | null;
  private _clientConnected: ClientConnectedCallback | null;
  /** Holds the clientConnected task while it runs (tasks are held weakly); never its writer after. */
  private _task: Future<unknown> | null = null;
  /** The connection's transport (the TLS one after startTls), for a writer dropped unclosed. */
  private _transport: Transport | null = null;
  /** Counted in dropped-writers.ts: the handler returned leaving its writer open. */
  private _handlerLeftWriterOpen = false;
  private _overSsl = false;
  private readonly _closed: Future<void>;

  constructor(streamReader: StreamReader | null, clientConnected: ClientConnectedCallback | null = null, loop?: AbstractEventLoop | null) {
    super(loop);
    if (clientConnected !== null && clientConnected !== undefined) checkCallback(clientConnected, 'clientConnected');
    this._streamReader = streamReader;
    this._clientConnected = clientConnected ?? null;
    this._closed = this._loop.createFuture<void>();
  }

  /** A connection: hand the reader its transport and, on a server, start the client callback. */
  override connectionMade(transport: Transport): void {
    const reader = this._streamReader;
    reader?.setTransport(transport);
    this._transport = transport;
    this._overSsl = transport.getExtraInfo('sslcontext') !== null;
    const callback = this._clientConnected;
    if (callback === null) return;
    this._runClientConnected(callback, reader!, this._makeWriter(transport, reader));
  }

  /** @internal a writer of this connection, closing it when collected open. */
  _makeWriter(transport: Transport, reader: StreamReader | null): StreamWriter {
    const writer = new StreamWriter(transport, this, reader, this._loop);
    droppedWriters.register(writer, this, this);
    return writer;
  }

  // A method of its own, so the closures below hold no more than the task needs.
  private _runClientConnected(callback: ClientConnectedCallback, reader: StreamReader, writer: StreamWriter): void {
    // Any function is a coroutine function here (API.md): it runs as a task, so
    // currentTask(), timeout() and cancellation work inside it, whatever it returns.
    const future = this._loop.createTask(() => callback(reader, writer) as PromiseLike<unknown>);
    this._task = future;
    future.addDoneCallback((done) => this._clientConnectedDone(done));
  }

  private _clientConnectedDone(done: Future<unknown>): void {
    // The task holds the writer: drop it, so a writer the handler did not keep can be collected.
    this._task = null;
    const transport = this._transport;
    if (done.cancelled()) {
      transport?.close();
      return;
    }
    const exc = done.exception();
    if (exc !== null) {
      this._loop.callExceptionHandler({ message: 'Unhandled exception in clientConnected', exception: exc, transport });
      transport?.close();
    } else if (transport !== null && !transport.isClosing()) {
      this._handlerLeftWriterOpen = true;
      countDroppedWriterCandidate(1);
    }
  }

  /** @internal the writer was collected: close the connection if it is still open (asyncio's StreamWriter.__del__). */
  _writerDropped(): void {
    const transport = this._transport;
    if (transport === null || transport.isClosing() || this._loop.isClosed()) return;
    // A finalizer runs outside the loop's iterations: close from inside one.
    this._loop.callSoonThreadsafe(() => {
      if (transport.isClosing()) return;
      if (this._loop.getDebug()) logger.warning(`unclosed <StreamWriter transport=${transport}>: closed when collected`);
      transport.close();
    });
  }

  /** The connection ended: wake drain() waiters (with the error, if any). */
  override connectionLost(exc: unknown): void {
    const reader = this._streamReader;
    if (reader !== null) {
      if (exc === null || exc === undefined) reader.feedEof();
      else reader.setException(exc);
    }
    if (!this._closed.done()) {
      if (exc === null || exc === undefined) this._closed.setResult(undefined);
      else {
        this._closed.setException(exc);
        // The error also reaches the reader and drain(): no "never retrieved" report for waitClosed.
        this._closed.exception();
      }
    }
    super.connectionLost(exc);
    this._streamReader = null;
    this._task = null;
    this._transport = null;
    droppedWriters.unregister(this);
    if (this._handlerLeftWriterOpen) {
      this._handlerLeftWriterOpen = false;
      countDroppedWriterCandidate(-1);
    }
  }

  override dataReceived(data: Uint8Array): void {
    this._streamReader?.feedData(data);
  }

  override eofReceived(): boolean {
    this._streamReader?.feedEof();
    // TLS cannot half-close: close instead.
    return !this._overSsl;
  }

  /** @internal a writer from a server's clientConnected is the server side of startTls. */
  _isServerSide(): boolean {
    return this._clientConnected !== null;
  }

  /** @internal startTls: what the reader holds beyond what its user read goes to the handshake. */
  _takeReadAhead(): Uint8Array | null {
    return this._streamReader?._takeBuffered() ?? null;
  }

  /** @internal startTls: the connection now runs over `transport`. */
  _replaceTransport(transport: Transport): void {
    this._streamReader?._replaceTransport(transport);
    this._transport = transport;
    this._overSsl = transport.getExtraInfo('sslcontext') !== null;
  }

  /** @internal what writer.waitClosed() waits for */
  _getCloseWaiter(): Future<void> {
    return this._closed;
  }
}

/** What a StreamWriter needs of its protocol: drain() and waitClosed() wait on it. */
export interface WriterProtocol {
  /** Resolve once writing may go on (at once unless the transport paused writing); reject if the connection was lost. */
  _drainHelper(): Promise<void>;
  /** A Future settled when the connection is closed (what waitClosed() awaits). */
  _getCloseWaiter(): Future<void>;
}

/** asyncio.StreamWriter: writes to a transport; `drain()` is where awaiting code meets write flow control. */
export class StreamWriter {
  private _transport: Transport;
  private readonly _protocol: WriterProtocol;
  private readonly _reader: StreamReader | null;
  private readonly _loop: AbstractEventLoop;

  /** asyncio's signature; `loop` is the loop of the transport (the current loop when omitted). */
  constructor(transport: Transport, protocol: WriterProtocol, reader: StreamReader | null, loop?: AbstractEventLoop) {
    this._transport = transport;
    this._protocol = protocol;
    this._reader = reader;
    this._loop = loop ?? _getCurrentLoop();
  }

  get transport(): Transport {
    return this._transport;
  }

  /** Write bytes (buffered by the transport; await drain() for flow control). */
  write(data: BytesLike): void {
    this._transport.write(data);
  }

  /** Write each chunk in order. */
  writelines(data: Iterable<BytesLike>): void {
    this._transport.writelines(data);
  }

  /** Half-close: no more writes; the peer sees EOF. */
  writeEof(): void {
    this._transport.writeEof();
  }

  /** Whether writeEof() is supported. */
  canWriteEof(): boolean {
    return this._transport.canWriteEof();
  }

  /** Close the transport (await waitClosed() for the end). */
  close(): void {
    this._transport.close();
  }

  /** Whether the transport is closing or closed. */
  isClosing(): boolean {
    return this._transport.isClosing();
  }

  /** Resolves once the connection is closed (throws the error it closed with, if any). */
  async waitClosed(): Promise<void> {
    await this._protocol._getCloseWaiter();
  }

  /** The transport's extra info by name (peername, sockname, socket...), typed as Transport's. */
  getExtraInfo<K extends keyof TransportExtraInfo>(name: K): TransportExtraInfo[K] | null;
  getExtraInfo<K extends keyof TransportExtraInfo, D>(name: K, defaultValue: D): TransportExtraInfo[K] | D;
  getExtraInfo<T = unknown>(name: string, defaultValue?: T | null): T | null;
  getExtraInfo(name: string, defaultValue: unknown = null): unknown {
    return this._transport.getExtraInfo(name, defaultValue);
  }

  /** `await using writer`: close, then wait until closed (throws the error it closed with, as waitClosed). */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.waitClosed();
  }

  /**
   * Wait until the transport's write buffer is back under its low-water mark. Throws the
   * reader's error, or the connection's error (ConnectionResetError when it was lost).
   */
  drain(): Promise<void> {
    const exc = this._reader?.exception() ?? null;
    if (exc !== null) return Promise.reject(exc);
    if (this._transport.isClosing()) return this._drainAfterClosing();
    // The protocol's promise itself: a Future wrapping it cancels the wait (waiting-calls.ts).
    return this._protocol._drainHelper();
  }

  private async _drainAfterClosing(): Promise<void> {
    // Let connectionLost run first, so a write()/drain() loop on a closed connection fails.
    await sleep(0);
    await this._protocol._drainHelper();
  }

  /**
   * Upgrade the connection to TLS in place (asyncio's StreamWriter.start_tls): flush what is
   * buffered, then the handshake; the writer and its reader go on over TLS. A writer from
   * startServer is the server side. Bytes the reader holds beyond what was read go to the
   * handshake (the peer may send its ClientHello right behind a STARTTLS line).
   */
  async startTls(
    ssl: SSLOption,
    options: { serverHostname?: string | null; sslHandshakeTimeout?: number | null; sslShutdownTimeout?: number | null } = {},
  ): Promise<void> {
    const opts = checkOptions(options, ['serverHostname', 'sslHandshakeTimeout', 'sslShutdownTimeout'], 'startTls');
    const protocol = this._protocol;
    if (!(protocol instanceof StreamReaderProtocol)) {
      throw new RuntimeError('startTls() needs a connection\'s writer (from openConnection or startServer), not a pipe\'s');
    }
    await this.drain();
    const transport = await this._loop.startTls(this._transport, protocol, ssl, { ...opts, serverSide: protocol._isServerSide() });
    this._transport = transport;
    protocol._replaceTransport(transport);
  }

  /** A description for logs and debugging, as asyncio's repr(). */
  toString(): string {
    return `<StreamWriter transport=${this._transport}${this._reader ? ` reader=${this._reader}` : ''}>`;
  }
}

/** The option every stream function adds to those of the loop method it calls. */
export interface StreamLimitOption {
  /** The StreamReader's limit (default 64 KiB). */
  limit?: number;
}
/** Options of openConnection: the StreamReader's limit, plus createConnection's options. */
export interface OpenConnectionOptions extends ConnectionOptions, StreamLimitOption {}
/** Options of openUnixConnection: the StreamReader's limit, plus createUnixConnection's options. */
export interface OpenUnixConnectionOptions extends UnixConnectionOptions, StreamLimitOption {}
/** Options of startServer: the StreamReader's limit, plus createServer's options. */
export interface StartServerOptions extends ServerOptions, StreamLimitOption {}
/** Options of startUnixServer: the StreamReader's limit, plus createUnixServer's options. */
export interface StartUnixServerOptions extends UnixServerOptions, StreamLimitOption {}

type Loop = ReturnType<typeof getRunningLoop>;

/** Each stream function knows `limit` and the options of the loop method it calls. */
const STREAM_OPTION_KEYS = {
  openConnection: ['limit', ...OPTION_KEYS.createConnection],
  openUnixConnection: ['limit', ...OPTION_KEYS.createUnixConnection],
  startServer: ['limit', ...OPTION_KEYS.createServer],
  startUnixServer: ['limit', ...OPTION_KEYS.createUnixServer],
};

/** The TCP and Unix forms differ only in which loop method makes the connection. */
async function connectStreams(
  where: 'openConnection' | 'openUnixConnection',
  options: StreamLimitOption,
  connect: (loop: Loop, protocolFactory: () => StreamReaderProtocol, rest: object) => Promise<[unknown, unknown]>,
): Promise<[StreamReader, StreamWriter]> {
  const loop = getRunningLoop();
  const { limit, ...rest } = checkOptions(options, STREAM_OPTION_KEYS[where], where);
  const reader = new StreamReader({ limit, loop });
  const protocol = new StreamReaderProtocol(reader, null, loop);
  const [transport] = await connect(loop, () => protocol, rest);
  return [reader, protocol._makeWriter(transport as Transport, reader)];
}

/** ... and which loop method makes the server. */
async function serveStreams(
  where: 'startServer' | 'startUnixServer',
  clientConnected: ClientConnectedCallback,
  options: StreamLimitOption,
  serve: (loop: Loop, protocolFactory: () => StreamReaderProtocol, rest: object) => Promise<unknown>,
): Promise<AbstractServer> {
  checkCallback(clientConnected, 'clientConnected');
  const loop = getRunningLoop();
  const { limit, ...rest } = checkOptions(options, STREAM_OPTION_KEYS[where], where);
  const factory = (): StreamReaderProtocol =>
    new StreamReaderProtocol(new StreamReader({ limit, loop }), clientConnected, loop);
  return (await serve(loop, factory, rest)) as AbstractServer;
}

/** Connect with the running loop's createConnection; resolves to `[reader, writer]`. */
export function openConnection(
  host: string | null = null,
  port: number | null = null,
  options: OpenConnectionOptions = {},
): Promise<[StreamReader, StreamWriter]> {
  return connectStreams('openConnection', options, (loop, factory, rest) => loop.createConnection(factory, host, port, rest));
}

/**
 * Serve with the running loop's createServer: each connection calls
 * `clientConnected(reader, writer)`, run as a Task.
 */
export function startServer(
  clientConnected: ClientConnectedCallback,
  host: string | readonly string[] | null = null,
  port: number | null = null,
  options: StartServerOptions = {},
): Promise<AbstractServer> {
  return serveStreams('startServer', clientConnected, options, (loop, factory, rest) => loop.createServer(factory, host, port, rest));
}

/** openConnection over a Unix socket at `path`. */
export function openUnixConnection(
  path: string | null = null,
  options: OpenUnixConnectionOptions = {},
): Promise<[StreamReader, StreamWriter]> {
  return connectStreams('openUnixConnection', options, (loop, factory, rest) => loop.createUnixConnection(factory, path, rest));
}

/** startServer over a Unix socket at `path`. */
export function startUnixServer(
  clientConnected: ClientConnectedCallback,
  path: string | null = null,
  options: StartUnixServerOptions = {},
): Promise<AbstractServer> {
  return serveStreams('startUnixServer', clientConnected, options, (loop, factory, rest) => loop.createUnixServer(factory, path, rest));
}
