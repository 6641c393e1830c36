/**
 * ReadinessStreamTransport: a byte stream on one non-blocking fd watched by the selector
 * (asyncio's _SelectorTransport with _SelectorSocketTransport's read and write paths, which
 * unix_events.py's pipe transports repeat). It is core's BaseStreamTransport plus readiness:
 * reads happen when the fd is readable, writes try the syscall at once and wait for
 * writability only for what the kernel did not take.
 *
 * A subclass supplies the OS calls, as `>= 0` or `-errno` like @loopkit/uv's try* calls:
 * `_readInto` (recv or read), `_writev` (send(msg) or writev), `_closeFd`, plus core's
 * `_shutdownWrite`. They are prototype methods. What the loop queues when the fd is
 * readable is the transport itself (its `_run`, a ready-queue entry like a Handle's): no
 * Handle and no bound function per connection (96 bytes of heap less per connection, idle
 * ones included). The write Handle is made once, when a write first has to wait (most idle
 * connections never need one), and reused for every writability event; so the hot path
 * allocates nothing but the received bytes.
 */
import {
  BaseStreamTransport,
  Handle,
  receiveSlab,
  receivedView,
  toConnectionError,
  type AbstractEventLoop,
  type BaseProtocol,
  type ConnectionOwner,
} from '@loopkit/core';
import { adviseHugePagesForRead, EAGAIN, EINTR, errnoError, tryRecvBatch } from '@loopkit/uv';

type HandleOwner = ConstructorParameters<typeof Handle>[2];

/**
 * What the loop queues when an fd is ready: a Handle, or a stream transport, which is its
 * own read entry. `_run` never throws; `_cancelled` is a cancelled Handle's (a transport is
 * never cancelled: it clears its reader instead).
 */
export interface ReadinessCallback {
  _run(): void;
  readonly _cancelled: boolean;
}

/** What the loop keeps per watched fd: its reader and writer (the events it watches are those of the two that are set). */
export interface FdRegistration {
  reader: ReadinessCallback | null;
  writer: ReadinessCallback | null;
}

/** What a transport needs of its loop: (un)watching its fd, and forgetting it once closed. */
export interface TransportLoop extends AbstractEventLoop, HandleOwner {
  readonly _readAhead: ReadAhead;
  _setReader(fd: number, reader: ReadinessCallback | null): void;
  _setWriter(fd: number, handle: Handle | null): void;
  _transportClosed(fd: number): void;
}

/** How a kind of fd names its calls in errors (`recv`/`send` for a socket, as asyncio's). */
export interface FdNames {
  readonly read: string;
  readonly write: string;
  /** `_fatalError`'s message for a failed read: it names the transport's kind. */
  readonly readError: string;
}

/** Received bytes are views into core's receiveSlab (never reused: a protocol may keep them); a read asks for this much room. */
const MIN_READ = 64 * 1024;

/** A transport's `_aheadIndex`: no read made ahead; queued for the loop's next read-ahead. */
const AHEAD_NONE = -1;
const AHEAD_QUEUED = -2;
/** Sockets read in one read-ahead at most; more readable at one wake-up read themselves. */
const AHEAD_MAX = 256;

/** The call found nothing to do now (EAGAIN) or was interrupted: wait for the next event. */
export function wouldBlock(r: number): boolean {
  return r === -EAGAIN || r === -EINTR;
}

export abstract class ReadinessStreamTransport extends BaseStreamTransport implements ReadinessCallback {
  protected readonly _fd: number;
  private writeHandle: Handle | null = null;
  /** Reading is registered: a read handle queued before a pause must not read. */
  protected _reading = false;
  /** @internal This transport's read in the wake-up's read-ahead (an index into its arrays), AHEAD_NONE or AHEAD_QUEUED. */
  _aheadIndex = AHEAD_NONE;

  constructor(
    loop: TransportLoop,
    fd: number,
    protocol: BaseProtocol,
    extra: Record<string, unknown>,
    server: ConnectionOwner | null,
  ) {
    super(loop, protocol, extra, server);
    this._fd = fd;
  }

  // ---- the OS calls (see the module comment) ----
  /** How this kind of fd names its calls in errors: one record per class, on its prototype (not a field of every transport). */
  protected abstract get _names(): FdNames;
  /** Read into `buf[offset, offset + length)`: bytes read, 0 at EOF, or -errno. */
  protected abstract _readInto(buf: Uint8Array | ArrayBuffer, offset: number, length: number): number;
  /** Write `chunks` in order: bytes the kernel took, or -errno. */
  protected abstract _writev(chunks: readonly Uint8Array[]): number;
  /** Close the fd; the loop has already forgotten it. */
  protected abstract _closeFd(): void;

  private get loop(): TransportLoop {
    return this._loop as TransportLoop;
  }

  protected _writeNow(chunks: readonly Uint8Array[]): number {
    const r = this._writev(chunks);
    if (r >= 0) return r;
    if (wouldBlock(r)) return 0;
    throw toConnectionError(errnoError(r, this._names.write));
  }

  protected _startWriting(): void {
    this.writeHandle ??= new Handle(() => this._writeReady(), [], this.loop);
    this.loop._setWriter(this._fd, this.writeHandle);
  }

  protected _stopWriting(): void {
    this.loop._setWriter(this._fd, null);
  }

  protected _startReading(): void {
    this._reading = true;
    this.loop._setReader(this._fd, this);
  }

  protected _stopReading(): void {
    this._reading = false;
    this.loop._setReader(this._fd, null);
  }

  protected _closeResources(): void {
    this._reading = false;
    // A read made ahead and not delivered is dropped, as the kernel drops what a closed socket did not read.
    if (this._aheadIndex >= 0) this.loop._readAhead.take(this);
    this.loop._transportClosed(this._fd);
    this._closeFd();
  }

  /** @internal Never cancelled (ReadinessCallback): reading stops by clearing the loop's reader. */
  get _cancelled(): boolean {
    return false;
  }

  /** @internal The fd is readable: the loop runs this from its ready queue, as it would a Handle's callback. */
  _run(): void {
    try {
      this._readReady();
    } catch (exception) {
      // A ready-queue entry never throws: what escaped goes where a Handle's callback's would.
      this._loop.callExceptionHandler({
        message: `Exception in callback ${this.constructor.name}._readReady()`,
        exception,
        transport: this,
      });
    }
  }

  /** @internal The Handle asyncio would have run for this read, for the slow-callback warning. */
  _runRepr(): string {
    return `<Handle ${this.constructor.name}._readReady()>`;
  }

  /** Readable: read and deliver (a write pipe overrides it: see pipes.ts). */
  protected _readReady(): void {
    if (this._aheadIndex >= 0) {
      this.deliverReadAhead();
      return;
    }
    if (!this._reading) return;
    let r: number;
    if (this._readsIntoBuffer()) {
      const buf = this._getReadBuffer(-1);
      if (buf === null) return;
      r = this._readInto(buf, 0, buf.byteLength);
      if (r > 0) {
        this._bufferUpdated(r);
        return;
      }
    } else {
      receiveSlab.withRoom(MIN_READ);
      const memory = receiveSlab.memory();
      const start = receiveSlab.offset();
      // Into the slab's ArrayBuffer: the addon skips a view's lookup, ~115 instructions a read.
      r = this._readInto(memory, start, receiveSlab.room());
      if (r > 0) {
        receiveSlab.taken(start + r);
        // Fresh slab memory: huge pages once reads are large or busy (a slab's first read starts at 0).
        adviseHugePagesForRead(r, start === 0);
        this._dataReceived(receivedView(memory, start, r));
        return;
      }
    }
    this.readFailed(r);
  }

  /** A read returned `r` <= 0: EOF, nothing (EAGAIN, EINTR) or an error. */
  private readFailed(r: number): void {
    if (r === 0) this._eofReceived();
    else if (!wouldBlock(r)) this._fatalError(toConnectionError(errnoError(r, this._names.read)), this._names.readError);
  }

  /**
   * The read the wake-up made ahead for this transport, delivered as its own read would have
   * been: paused since, core holds the bytes (and EOF) until resumeReading (the kernel would
   * have held them); closing since, they are dropped (asyncio's close: no more data).
   */
  private deliverReadAhead(): void {
    const ahead = this.loop._readAhead;
    const i = this._aheadIndex;
    const memory = ahead.memory!;
    ahead.take(this);
    if (this._closing) return;
    const start = ahead.out[2 * i]!;
    const r = ahead.out[2 * i + 1]!;
    if (r > 0) {
      adviseHugePagesForRead(r, start === 0);
      this._dataReceived(receivedView(memory, start, r));
    } else {
      this.readFailed(r);
    }
  }

  /** @internal For ReadAhead: this transport's fd. */
  get _readFd(): number {
    return this._fd;
  }

  /** @internal For ReadAhead: whether this transport's next read goes into the receive slab (no read made ahead pending, reading, not a BufferedProtocol's). */
  _readsIntoSlab(): boolean {
    return this._reading && this._aheadIndex === AHEAD_NONE && !this._readsIntoBuffer();
  }
}

/**
 * A loop's read-ahead: while the loop queues the transports a wake-up found readable
 * (`queue`), their sockets are collected, then read in one call into the addon, as many as
 * one slab's room holds (`read`), into core's receive slab; each transport delivers its read
 * when it runs from the ready queue, as its own read would have been. A call into the addon
 * per socket was what the batch saves (N-API's argument checks and crossing). One socket
 * reads itself, as before. For each read `i`: `out[2i]` where its bytes start in `slab`,
 * `out[2i + 1]` what its recv returned. Entries hold until each transport delivers (`unread`
 * counts the rest); no new read-ahead starts before.
 */
export class ReadAhead {
  readonly out = new Int32Array(2 * AHEAD_MAX);
  private readonly fds = new Int32Array(AHEAD_MAX);
  private readonly transports: (ReadinessStreamTransport | null)[] = [];
  /** @internal The ArrayBuffer of the slab the last read-ahead read into (every read of a batch is in it), for the views its deliveries make. */
  memory: ArrayBuffer | null = null;
  /** Transports queued for the next read; of the reads the last one made, those not delivered. */
  private queued = 0;
  private unread = 0;

  /** A readable transport the loop queued: its read is made in the next `read()` if it reads into the slab. */
  queue(transport: ReadinessStreamTransport): void {
    if (this.unread > 0 || this.queued === AHEAD_MAX) return;
    // Queued already: an fd reported twice between two iterations is read once.
    if (!transport._readsIntoSlab()) return;
    transport._aheadIndex = AHEAD_QUEUED;
    this.fds[this.queued] = transport._readFd;
    this.transports[this.queued++] = transport;
  }

  /** Read every queued socket (two or more; one reads itself when it runs). */
  read(): void {
    const count = this.queued;
    this.queued = 0;
    if (count < 2) {
      this.unqueue(0, count);
      return;
    }
    // One slab's room at most (64-512 KiB): the sockets past it read themselves when they run,
    // so a wake-up with many large messages does not read megabytes before its first echo
    // (each read is written back while it is still in the CPU's cache).
    const end = receiveSlab.readBatch(tryRecvBatch, this.fds, count, MIN_READ, this.out);
    for (let i = 0; i < end; i++) this.transports[i]!._aheadIndex = i;
    this.unqueue(end, count);
    this.memory = receiveSlab.memory();
    this.unread = end;
  }

  /** Queued transports `from` to `to` (exclusive) were not read ahead: they read themselves when they run. */
  private unqueue(from: number, to: number): void {
    for (let i = from; i < to; i++) {
      this.transports[i]!._aheadIndex = AHEAD_NONE;
      this.transports[i] = null;
    }
  }

  /** @internal For the transport delivering (or dropping) its read: its entry released. */
  take(transport: ReadinessStreamTransport): void {
    this.transports[transport._aheadIndex] = null;
    transport._aheadIndex = AHEAD_NONE;
    // The last delivery lets the slab go (core's receiveSlab keeps the memory it still uses).
    if (--this.unread === 0) this.memory = null;
  }
}
