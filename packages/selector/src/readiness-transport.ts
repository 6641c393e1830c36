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
  toConnectionError,
  type AbstractEventLoop,
  type BaseProtocol,
  type ConnectionOwner,
} from '@loopkit/core';
import { adviseHugePagesForRead, EAGAIN, EINTR, errnoError } from '@loopkit/uv';

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

/** The call found nothing to do now (EAGAIN) or was interrupted: wait for the next event. */
export function wouldBlock(r: number): boolean {
  return r === -EAGAIN || r === -EINTR;
}

export abstract class ReadinessStreamTransport extends BaseStreamTransport implements ReadinessCallback {
  protected readonly _fd: number;
  private writeHandle: Handle | null = null;
  /** Reading is registered: a read handle queued before a pause must not read. */
  protected _reading = false;

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
  protected abstract _readInto(buf: Uint8Array, offset: number, length: number): number;
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
      const slab = receiveSlab.withRoom(MIN_READ);
      const start = receiveSlab.offset();
      r = this._readInto(slab, start, receiveSlab.room());
      if (r > 0) {
        receiveSlab.taken(start + r);
        // Fresh slab memory: huge pages once reads are large or busy (a slab's first read starts at 0).
        adviseHugePagesForRead(r, start === 0);
        this._dataReceived(slab.subarray(start, start + r));
        return;
      }
    }
    if (r === 0) this._eofReceived();
    else if (!wouldBlock(r)) this._fatalError(toConnectionError(errnoError(r, this._names.read)), this._names.readError);
  }
}
