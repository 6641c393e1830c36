/**
 * Pipe transports on readiness (asyncio's _UnixReadPipeTransport and
 * _UnixWritePipeTransport): ReadinessStreamTransport with read(2)/writev(2) on a
 * non-blocking fd, watched like a socket, so flow control and EOF work as for TCP.
 *
 * A write pipe also watches its fd for reading: the write end of a pipe never has data
 * to read, but polls readable (EPOLLERR/POLLERR) once the last reader closed. That is how
 * the loss of a child's stdin is seen before anything is written: buffered bytes then fail
 * with BrokenPipeError, an empty buffer closes quietly (asyncio's).
 */
import {
  BrokenPipeError,
  NotImplementedError,
  type BaseProtocol,
  type BytesLike,
  type Future,
  type PipeDirection,
} from '@loopkit/core';
import { closeFd, pipeRead, pipeWritev } from '@loopkit/uv';
import { ReadinessStreamTransport, type FdNames, type TransportLoop } from './readiness-transport.js';

const PIPE_NAMES: FdNames = { read: 'read', write: 'write', readError: 'Fatal read error on pipe transport' };

/** A read or write pipe transport on a non-blocking fd (asyncio's _UnixReadPipeTransport / _UnixWritePipeTransport). */
export class SelectorPipeTransport extends ReadinessStreamTransport {
  private readonly direction: PipeDirection;

  constructor(loop: TransportLoop, fd: number, protocol: BaseProtocol, waiter: Future<void> | null, direction: PipeDirection) {
    super(loop, fd, protocol, { pipe: fd, fileno: fd }, null);
    this.direction = direction;
    this._start(waiter);
  }

  /** Write `data` to the pipe; a read pipe throws NotImplementedError. */
  override write(data: BytesLike): void {
    if (this.direction === 'read') throw new NotImplementedError('a read pipe transport cannot write');
    super.write(data);
  }

  override writelines(list: Iterable<BytesLike>): void {
    if (this.direction === 'read') throw new NotImplementedError('a read pipe transport cannot write');
    super.writelines(list);
  }

  /** True for a write pipe (writeEof() closes it once flushed), false for a read pipe. */
  override canWriteEof(): boolean {
    return this.direction === 'write';
  }

  protected get _names(): FdNames {
    return PIPE_NAMES;
  }

  protected _readInto(buf: Uint8Array | ArrayBuffer, offset: number, length: number): number {
    return pipeRead(this._fd, buf, offset, length);
  }

  protected _writev(chunks: readonly Uint8Array[]): number {
    return pipeWritev(this._fd, chunks);
  }

  /** A pipe has no half-close: EOF is closing the write end once flushed. */
  protected _shutdownWrite(): void {
    this.close();
  }

  protected _closeFd(): void {
    closeFd(this._fd);
  }

  /** Readable: data for a read pipe; for a write pipe, its reader is gone (see the module comment). */
  protected override _readReady(): void {
    if (this.direction === 'read') {
      super._readReady();
      return;
    }
    if (!this._reading) return;
    if (this.getWriteBufferSize() > 0) {
      const err = new BrokenPipeError('write EPIPE: the reading end of the pipe closed');
      err.code = 'EPIPE';
      err.syscall = 'write';
      this._fatalError(err, 'Fatal write error on pipe transport');
    } else {
      this.abort();
    }
  }
}
