/**
 * Pipe transports on readiness (asyncio's _UnixReadPipeTransport and
 * _UnixWritePipeTransport): core's BaseStreamTransport plus read(2)/writev(2) on a
 * non-blocking fd, watched like a socket, so flow control and EOF work as for TCP.
 *
 * A write pipe also watches its fd for reading: the write end of a pipe never has data
 * to read, but polls readable (EPOLLERR/POLLERR) once the last reader closed. That is how
 * the loss of a child's stdin is seen before anything is written: buffered bytes then fail
 * with BrokenPipeError, an empty buffer closes quietly (asyncio's).
 */
import {
  BaseStreamTransport,
  BrokenPipeError,
  Handle,
  NotImplementedError,
  toConnectionError,
  type BaseProtocol,
  type BytesLike,
  type Future,
  type PipeDirection,
} from '@loopkit/core';
import { EAGAIN, EINTR, closeFd, errnoError, pipeRead, pipeWritev } from '@loopkit/uv';
import type { TransportLoop } from './transports.js';

/** Received bytes are views into a shared slab, never reused: a protocol may keep them. */
const SLAB_SIZE = 256 * 1024;
const MIN_READ = 64 * 1024;
let slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
let slabOffset = 0;

function wouldBlock(r: number): boolean {
  return r === -EAGAIN || r === -EINTR;
}

export class SelectorPipeTransport extends BaseStreamTransport {
  private readonly fd: number;
  private readonly direction: PipeDirection;
  private readonly readHandle: Handle;
  private readonly writeHandle: Handle;
  private reading = false;

  constructor(loop: TransportLoop, fd: number, protocol: BaseProtocol, waiter: Future<void> | null, direction: PipeDirection) {
    super(loop, protocol, { pipe: fd, fileno: fd });
    this.fd = fd;
    this.direction = direction;
    this.readHandle = new Handle(direction === 'read' ? this.readReady : this.readerGone, [], loop);
    this.writeHandle = new Handle(this.writeReady, [], loop);
    this._start(waiter);
  }

  private get loop(): TransportLoop {
    return this._loop as TransportLoop;
  }

  override write(data: BytesLike): void {
    if (this.direction === 'read') throw new NotImplementedError('a read pipe transport cannot write');
    super.write(data);
  }

  override writelines(list: Iterable<BytesLike>): void {
    if (this.direction === 'read') throw new NotImplementedError('a read pipe transport cannot write');
    super.writelines(list);
  }

  override canWriteEof(): boolean {
    return this.direction === 'write';
  }

  protected _writeNow(chunks: readonly Uint8Array[]): number {
    const r = pipeWritev(this.fd, chunks);
    if (r >= 0) return r;
    if (wouldBlock(r)) return 0;
    throw toConnectionError(errnoError(r, 'write'));
  }

  protected _startWriting(): void {
    this.loop._setWriter(this.fd, this.writeHandle);
  }

  protected _stopWriting(): void {
    this.loop._setWriter(this.fd, null);
  }

  protected _startReading(): void {
    this.reading = true;
    this.loop._setReader(this.fd, this.readHandle);
  }

  protected _stopReading(): void {
    this.reading = false;
    this.loop._setReader(this.fd, null);
  }

  /** A pipe has no half-close: EOF is closing the write end once flushed. */
  protected _shutdownWrite(): void {
    this.close();
  }

  protected _closeResources(): void {
    this.reading = false;
    this.loop._transportClosed(this.fd);
    closeFd(this.fd);
  }

  private readonly readReady = (): void => {
    if (!this.reading) return;
    let r: number;
    if (this._wantsBuffer) {
      const buf = this._getReadBuffer(-1);
      if (buf === null) return;
      r = pipeRead(this.fd, buf);
      if (r > 0) {
        this._bufferUpdated(r);
        return;
      }
    } else {
      if (SLAB_SIZE - slabOffset < MIN_READ) {
        slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
        slabOffset = 0;
      }
      const start = slabOffset;
      r = pipeRead(this.fd, slab, start, SLAB_SIZE - start);
      if (r > 0) {
        slabOffset = (start + r + 7) & ~7;
        this._dataReceived(slab.subarray(start, start + r));
        return;
      }
    }
    if (r === 0) this._eofReceived();
    else if (!wouldBlock(r)) this._fatalError(toConnectionError(errnoError(r, 'read')), 'Fatal read error on pipe transport');
  };

  /** The write end polled readable: the reader is gone (see the module comment). */
  private readonly readerGone = (): void => {
    if (!this.reading) return;
    if (this.getWriteBufferSize() > 0) {
      const err = new BrokenPipeError('write EPIPE: the reading end of the pipe closed');
      err.code = 'EPIPE';
      err.syscall = 'write';
      this._fatalError(err, 'Fatal write error on pipe transport');
    } else {
      this.abort();
    }
  };

  private readonly writeReady = (): void => {
    this._writeReady();
  };
}
