/**
 * NodePipeTransport: a pipe transport over a Node stream (a child's stdio socket, or a
 * net.Socket opened on a pipe's fd): core's default for connectReadPipe/connectWritePipe and
 * for the pipes of the default subprocess transport, so a loop whose backend provides none
 * (the proactor, a custom BaseEventLoop) still has them.
 *
 * The BaseStreamTransport hooks, completion style: `_writeNow` hands the bytes to the stream
 * and reports what the OS took at once (Node writes to a pipe synchronously when it can;
 * its `writableLength` counts the rest); what is left stays in the base's buffer, counted
 * for flow control, until the stream's write callback says it was flushed. Reading is the
 * stream's flowing mode, paused and resumed with pauseReading/resumeReading.
 */
import type { Duplex } from 'node:stream';
import { BaseStreamTransport } from '../base-transport.js';
import { BrokenPipeError, NotImplementedError, toConnectionError } from '../errors.js';
import type { AbstractEventLoop } from '../events.js';
import type { Future } from '../futures.js';
import type { BaseProtocol } from '../protocols.js';
import type { BytesLike } from '../transports.js';

/** Which end of a pipe a transport holds: 'read' (connectReadPipe, a child's stdout/stderr) or 'write' (connectWritePipe, its stdin). */
export type PipeDirection = 'read' | 'write';

/**
 * A readable's output caught from the moment it exists: Node resumes a child's stdout and
 * stderr when the child exits (flushStdio) and drops what nobody listens to, so the default
 * subprocess transport starts holding their data at spawn, before the pipe transport exists.
 */
export class HeldStream {
  readonly chunks: Buffer[] = [];
  ended = false;
  error: Error | null = null;

  constructor(readonly stream: Duplex) {
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('error', this.onError);
    stream.pause();
  }

  /** Stop holding: the pipe transport listens from now on. */
  release(): void {
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('error', this.onError);
  }

  private readonly onData = (data: Buffer): void => {
    this.chunks.push(data);
    this.stream.pause(); // flushStdio may have resumed it: hold at most what the pipe had
  };

  private readonly onEnd = (): void => {
    this.ended = true;
  };

  private readonly onError = (err: Error): void => {
    this.error = err;
  };
}

function brokenPipe(message: string): BrokenPipeError {
  const err = new BrokenPipeError(`write EPIPE: ${message}`);
  err.code = 'EPIPE';
  err.syscall = 'write';
  return err;
}

export class NodePipeTransport extends BaseStreamTransport {
  protected override readonly _writeNowKeepsBytes = true;
  private readonly stream: Duplex;
  private readonly direction: PipeDirection;
  /** Bytes handed to the stream and not yet reported flushed, and the post whose flush reports them. */
  private posted = 0;
  private awaiting = 0;
  private lastPost = 0;
  private released = false;

  /** `source`: a stream, or a HeldStream whose caught output is delivered first. */
  constructor(loop: AbstractEventLoop, source: Duplex | HeldStream, protocol: BaseProtocol, waiter: Future<void> | null, direction: PipeDirection, extra: Record<string, unknown> = {}) {
    const held = source instanceof HeldStream ? source : null;
    const stream = held?.stream ?? (source as Duplex);
    super(loop, protocol, { pipe: stream, ...extra });
    this.stream = stream;
    this.direction = direction;
    held?.release();
    stream.on('error', this.onError);
    stream.on('close', this.onClose);
    if (direction === 'read') {
      stream.on('data', this.onData);
      stream.on('end', this.onEnd);
      stream.pause();
    }
    if (held !== null && (held.chunks.length > 0 || held.ended)) {
      // What arrived before this transport waits in the base's paused-reading queue, so it
      // reaches the protocol after connectionMade and before anything read later, in order.
      this.pauseReading();
      for (const chunk of held.chunks) this._dataReceived(chunk);
      if (held.ended) this._eofReceived();
      this._start(waiter);
      loop.callSoon(() => this.resumeReading());
    } else {
      this._start(waiter);
    }
    // after connectionMade (callSoon is FIFO): an error caught before this transport, or
    // the loss of a stream that closed before it (Node destroys a child's stdin at its exit)
    if (held?.error) loop.callSoon(this.onError, held.error);
    else if (held === null && stream.destroyed) loop.callSoon(this.onClose);
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
    if (this.stream.destroyed || this.stream.writableEnded) throw brokenPipe('the pipe is closed');
    const [id, total] = this.post(chunks);
    // Node tried the write at once and the OS refused it (EPIPE: the reader closed its end):
    // the stream is errored now, its 'error' event comes a tick later. Failing here, as the
    // selector's write(2) does, lets the drain() after this write raise instead of the next one's.
    const refused = this.stream.errored;
    if (refused) throw toConnectionError(refused);
    const pending = this.stream.writableLength;
    if (pending > 0) {
      this.posted = pending;
      this.awaiting = id;
    }
    return total - pending;
  }

  protected _startWriting(): void {
    if (this.posted > 0) return; // a flush is awaited: its completion posts what follows
    const [id, total] = this.post(this._writeBufferChunks());
    this.posted = total;
    this.awaiting = id;
    const refused = this.stream.errored;
    if (refused) this.onError(refused);
  }

  protected _stopWriting(): void {}

  protected _startReading(): void {
    if (this.direction === 'read') this.stream.resume();
  }

  protected _stopReading(): void {
    if (this.direction === 'read') this.stream.pause();
  }

  /** A pipe has no half-close: EOF is closing the write end. */
  protected _shutdownWrite(): void {
    this.close();
  }

  protected _closeResources(): void {
    this.released = true;
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.destroy();
  }

  /** Hand `chunks` to the stream; the last one's callback says all of them were flushed. */
  private post(chunks: readonly Uint8Array[]): [id: number, total: number] {
    const id = ++this.lastPost;
    let total = 0;
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i]!;
      total += chunk.length;
      if (i === chunks.length - 1) this.stream.write(chunk, (err?: Error | null) => this.flushed(id, err));
      else this.stream.write(chunk);
    }
    return [id, total];
  }

  /** Post `id` was flushed: the awaited bytes count as sent (a post that completed at once is not awaited). */
  private flushed(id: number, err: Error | null | undefined): void {
    if (err || this.released || id !== this.awaiting) return; // an error also reaches onError
    this.awaiting = 0;
    const sent = this.posted;
    this.posted = 0;
    if (this._bytesSent(sent) > 0) this._startWriting();
  }

  private readonly onData = (data: Buffer): void => {
    this._dataReceived(data);
  };

  private readonly onEnd = (): void => {
    this._eofReceived();
  };

  private readonly onError = (err: Error): void => {
    if (this.released) return;
    // a write racing the stream's destruction (the child exited): the pipe is broken
    if ((err as { code?: string }).code === 'ERR_STREAM_DESTROYED') err = brokenPipe('the pipe is closed');
    const where = this.direction === 'read' ? 'Fatal read error on pipe transport' : 'Fatal write error on pipe transport';
    this._fatalError(toConnectionError(err), where);
  };

  /** The stream closed under us (Node destroys a child's stdin once it exited). */
  private readonly onClose = (): void => {
    if (this.released || this.isClosing()) return;
    if (this.direction === 'read') {
      // A read pipe that closed has ended. Data may still wait for delivery (held while
      // reading was paused): EOF goes behind it, and the transport closes after both.
      this._eofReceived();
      return;
    }
    if (this.getWriteBufferSize() > 0) {
      this._fatalError(brokenPipe('the pipe closed with data still buffered'), 'Fatal write error on pipe transport');
    } else {
      this.abort();
    }
  };
}
