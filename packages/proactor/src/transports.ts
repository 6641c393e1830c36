/**
 * Proactor transports (CPython's _ProactorSocketTransport and _ProactorDatagramTransport):
 * read by keeping one receive posted, write by keeping at most one send posted. Flow
 * control, closing and protocol errors are core's (BaseStreamTransport,
 * BaseDatagramTransport); these add only the operations.
 */
import {
  BaseDatagramTransport,
  BaseStreamTransport,
  socketExtra,
  type AbstractEventLoop,
  type BaseProtocol,
  type ConnectionOwner,
  type DatagramProtocol,
  type Future,
  type SocketAddress,
} from '@loopkit/core';
import type { NetSocket } from './net-socket.js';
import type { Address, Proactor } from './proactor.js';

/** Largest chunk a posted receive asks for (Node delivers at most 64 KiB at a time). */
const READ_SIZE = 256 * 1024;

/** Where a transport reports that it released its socket (the loop stops owning it). */
export type ReleaseHook = (sock: NetSocket) => void;

export class ProactorSocketTransport extends BaseStreamTransport {
  private readonly proactor: Proactor;
  private readonly sock: NetSocket;
  private readonly release: ReleaseHook;
  private readFut: Future<Uint8Array | number> | null = null;
  private sendFut: Future<number> | null = null;
  private reading = false;

  constructor(
    loop: AbstractEventLoop,
    proactor: Proactor,
    sock: NetSocket,
    protocol: BaseProtocol,
    waiter: Future<void> | null,
    server: ConnectionOwner | null,
    release: ReleaseHook,
  ) {
    super(loop, protocol, socketExtra(sock), server);
    this.proactor = proactor;
    this.sock = sock;
    this.release = release;
    // asyncio sets TCP_NODELAY on every TCP transport: a small write leaves at once.
    if (sock.family !== 'unix') sock._stream?.setNoDelay(true);
    this._start(waiter);
  }

  // ---- writing: one send in flight, of the buffer's first chunk. Core gives this transport
  // copies of the caller's bytes and never changes a chunk, so a send takes a chunk as it is.
  protected override readonly _writeNowKeepsBytes = true;

  protected _writeNow(chunks: readonly Uint8Array[]): number {
    if (this.sendFut !== null) return 0;
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
    if (this.sendFut === null) this.sendFirst();
  }

  protected _stopWriting(): void {
    // A posted send cannot be recalled; its completion finds the buffer gone and stops.
  }

  private sendFirst(): void {
    this.track(this.proactor.send(this.sock, this._writeBufferChunks()[0]!));
  }

  private track(fut: Future<number>): void {
    this.sendFut = fut;
    fut.addDoneCallback(this.onSent);
  }

  private readonly onSent = (fut: Future<number>): void => {
    if (fut !== this.sendFut) return;
    this.sendFut = null;
    if (fut.cancelled()) return;
    const error = fut.exception();
    if (error !== null) {
      this._fatalError(error, 'Fatal write error on socket transport');
      return;
    }
    const left = this._bytesSent(fut.result());
    if (left > 0 && this.sendFut === null) this.sendFirst();
  };

  // ---- reading: one receive posted while reading; cancelling it keeps the bytes in the socket ----
  protected _startReading(): void {
    this.reading = true;
    if (this.readFut === null) this.postRecv();
  }

  protected _stopReading(): void {
    this.reading = false;
    const fut = this.readFut;
    // A receive that already completed is delivered (core holds it while paused).
    if (fut !== null && !fut.done() && fut.cancel()) this.readFut = null;
  }

  private postRecv(): void {
    if (this._wantsBuffer) {
      const buf = this._getReadBuffer(-1);
      if (buf === null) return;
      this.readFut = this.proactor.recvInto(this.sock, buf);
    } else {
      this.readFut = this.proactor.recv(this.sock, READ_SIZE);
    }
    this.readFut.addDoneCallback(this.onRead);
  }

  private readonly onRead = (fut: Future<Uint8Array | number>): void => {
    if (fut !== this.readFut) return;
    this.readFut = null;
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
    if (this.reading && this.readFut === null && !this._closing) this.postRecv();
  };

  // ---- closing ----
  protected _shutdownWrite(): void {
    this.sock.shutdownWrite();
  }

  protected _closeResources(): void {
    // As asyncio's _force_close: a send still posted is cancelled, not left to fail. Node 22+
    // calls a write that the closing handle dropped back with ECANCELED, which is no write error.
    this.sendFut?.cancel();
    this.sock.close();
    this.release(this.sock);
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
    const [data, addr] = this._queue[0]!;
    const fut = this.proactor.sendto(this.sock, data, addr as Address | null);
    this.sendFut = fut;
    fut.addDoneCallback(this.onSent);
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
