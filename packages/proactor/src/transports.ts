/**
 * Proactor transports (CPython's _ProactorSocketTransport and _ProactorDatagramTransport):
 * read by keeping one receive posted, write by keeping at most one send posted. The
 * stream transport leaves flow control, closing and protocol errors to core's
 * BaseStreamTransport and only adds the operations.
 */
import {
  asBytes,
  BaseStreamTransport,
  DatagramTransport,
  logger,
  RuntimeError,
  WriteFlowControl,
  type AbstractEventLoop,
  type BaseProtocol,
  type ConnectionOwner,
  type DatagramProtocol,
  type Future,
  type SocketAddress,
  type WriteBufferLimits,
} from '@loopkit/core';
import type { NetSocket } from './net-socket.js';
import type { Address, Proactor } from './proactor.js';

/** Largest chunk a posted receive asks for (Node delivers at most 64 KiB at a time). */
const READ_SIZE = 256 * 1024;
const LOG_THRESHOLD_FOR_CONNLOST_WRITES = 5;

/** What the loop needs to know about a transport it owns. */
export interface OwnedTransport {
  /** Loop close: connectionLost now, synchronously, and release the socket. */
  _closeNow(): void;
}

/** Where a transport reports that it released its socket (the loop stops owning it). */
export type ReleaseHook = (transport: OwnedTransport) => void;

function socketExtra(sock: NetSocket): Record<string, unknown> {
  const extra: Record<string, unknown> = { socket: sock };
  try {
    extra.sockname = sock.getsockname();
  } catch {
    // no local address to report
  }
  try {
    extra.peername = sock.getpeername();
  } catch {
    // not connected (an unnamed peer)
  }
  return extra;
}

export class ProactorSocketTransport extends BaseStreamTransport implements OwnedTransport {
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

  // ---- writing: one send in flight; what piles up meanwhile goes out in the next one ----
  protected _writeNow(chunks: readonly Uint8Array[]): number {
    if (this.sendFut !== null) return 0;
    // Node keeps the bytes of an unfinished send: give it a copy, the caller may reuse its buffer.
    const data = Buffer.concat(chunks);
    const fut = this.proactor.send(this.sock, data);
    if (fut.done()) {
      const error = fut.exception();
      if (error !== null) throw error;
      return fut.result();
    }
    this.track(fut);
    return 0;
  }

  protected _startWriting(): void {
    if (this.sendFut === null) this.track(this.proactor.send(this.sock, Buffer.concat(this._writeBufferChunks())));
  }

  protected _stopWriting(): void {
    // A posted send cannot be recalled; its completion finds the buffer gone and stops.
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
    if (left > 0 && this.sendFut === null) this._startWriting();
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
    this.sock.close();
    this.release(this);
  }
}

/**
 * A UDP endpoint: one receive posted while open, sends queued and posted one at a time,
 * with the same water marks and pause/resume crossing rule as a stream.
 */
export class ProactorDatagramTransport extends DatagramTransport implements OwnedTransport {
  private readonly loop: AbstractEventLoop;
  private readonly proactor: Proactor;
  private readonly sock: NetSocket;
  private readonly release: ReleaseHook;
  private readonly connected: boolean;
  private protocol: DatagramProtocol;
  private readonly flow = new WriteFlowControl();
  private queue: Array<[Uint8Array, SocketAddress | null]> = [];
  private bufferSize = 0;
  private sendFut: Future<number> | null = null;
  private readFut: Future<[Uint8Array, Address]> | null = null;
  private closing = false;
  private connLost = 0;
  private lostCalled = false;

  constructor(
    loop: AbstractEventLoop,
    proactor: Proactor,
    sock: NetSocket,
    protocol: DatagramProtocol,
    connected: boolean,
    waiter: Future<void> | null,
    release: ReleaseHook,
  ) {
    super(socketExtra(sock));
    this.loop = loop;
    this.proactor = proactor;
    this.sock = sock;
    this.protocol = protocol;
    this.connected = connected;
    this.release = release;
    loop.callSoon(() => this.callProtocol('connectionMade', () => this.protocol.connectionMade?.(this)));
    loop.callSoon(() => this.postRecv());
    if (waiter !== null) loop.callSoon(() => waiter.done() || waiter.setResult(undefined));
  }

  getLoop(): AbstractEventLoop {
    return this.loop;
  }

  setProtocol(protocol: BaseProtocol): void {
    if (protocol === null || typeof protocol !== 'object') throw new TypeError('protocol must be a protocol object');
    this.protocol = protocol as DatagramProtocol;
  }

  getProtocol(): BaseProtocol {
    return this.protocol;
  }

  isClosing(): boolean {
    return this.closing;
  }

  getWriteBufferSize(): number {
    return this.bufferSize;
  }

  setWriteBufferLimits(limits?: WriteBufferLimits | number | null, low?: number | null): void {
    this.flow.set(limits, low);
    this.maybePause();
  }

  getWriteBufferLimits(): [low: number, high: number] {
    return [this.flow.low, this.flow.high];
  }

  sendto(data: ArrayBufferView | ArrayBuffer, addr: SocketAddress | null = null): void {
    const bytes = asBytes(data, 'data');
    if (addr !== null && this.connected) {
      const peer = this.getExtraInfo<SocketAddress>('peername');
      const same = peer !== null && 'port' in peer && 'port' in addr && peer.port === addr.port && peer.address === addr.address;
      if (!same) throw new TypeError(`Invalid address: must be null or ${JSON.stringify(peer)}`);
      addr = null;
    }
    if (addr === null && !this.connected) throw new TypeError('addr is required: the endpoint has no remote address');
    if (this.connLost > 0) {
      if (this.connLost >= LOG_THRESHOLD_FOR_CONNLOST_WRITES) logger.warning('socket.sendto() raised exception.');
      this.connLost += 1;
      return;
    }
    if (this.closing) throw new RuntimeError('Cannot call sendto() on a closing transport');
    // Keep a copy: the datagram leaves later and the caller may reuse its buffer.
    this.queue.push([Uint8Array.prototype.slice.call(bytes), addr]);
    this.bufferSize += bytes.length;
    if (this.sendFut === null) this.postSend();
    this.maybePause();
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.stopReading();
    if (this.queue.length === 0) this.scheduleLost(null);
  }

  abort(): void {
    this.forceClose(null);
  }

  _closeNow(): void {
    if (this.lostCalled) return;
    this.queue = [];
    this.bufferSize = 0;
    this.closing = true;
    this.stopReading();
    this.connLost += 1;
    this.callConnectionLost(null);
  }

  private postSend(): void {
    const [data, addr] = this.queue[0]!;
    const fut = this.proactor.sendto(this.sock, data, addr as Address | null);
    this.sendFut = fut;
    fut.addDoneCallback(this.onSent);
  }

  private readonly onSent = (fut: Future<number>): void => {
    if (fut !== this.sendFut) return;
    this.sendFut = null;
    if (this.connLost > 0 || fut.cancelled()) return;
    const [data] = this.queue.shift()!;
    this.bufferSize -= data.length;
    const error = fut.exception();
    if (error !== null) {
      // A datagram that could not go out (ICMP unreachable, ...) is reported; the endpoint stays.
      if (!this.callProtocol('errorReceived', () => this.protocol.errorReceived?.(error))) return;
    }
    if (this.flow.shouldResume(this.bufferSize)) {
      if (!this.callProtocol('resumeWriting', () => this.protocol.resumeWriting?.())) return;
    }
    if (this.queue.length > 0) this.postSend();
    else if (this.closing) this.scheduleLost(null);
  };

  private postRecv(): void {
    if (this.closing || this.readFut !== null) return;
    const fut = this.proactor.recvfrom(this.sock, READ_SIZE);
    this.readFut = fut;
    fut.addDoneCallback(this.onRead);
  }

  private stopReading(): void {
    const fut = this.readFut;
    if (fut !== null && !fut.done() && fut.cancel()) this.readFut = null;
  }

  private readonly onRead = (fut: Future<[Uint8Array, Address]>): void => {
    if (fut !== this.readFut) return;
    this.readFut = null;
    if (fut.cancelled() || this.closing) return;
    const error = fut.exception();
    let ok: boolean;
    if (error === null) {
      const [data, addr] = fut.result();
      ok = this.callProtocol('datagramReceived', () => this.protocol.datagramReceived?.(data, addr as SocketAddress));
    } else if ((error as { code?: unknown }).code === 'EBADF') {
      this.fatalError(error);
      return;
    } else {
      // ICMP errors (ECONNREFUSED on a connected endpoint, ...) concern one exchange.
      ok = this.callProtocol('errorReceived', () => this.protocol.errorReceived?.(error));
    }
    if (ok) this.postRecv();
  };

  private maybePause(): void {
    if (this.flow.shouldPause(this.bufferSize)) this.callProtocol('pauseWriting', () => this.protocol.pauseWriting?.());
  }

  /** Run a protocol callback; one that throws is reported and closes the endpoint. */
  private callProtocol(method: string, fn: () => void): boolean {
    if (this.lostCalled) return false;
    try {
      fn();
      return true;
    } catch (error) {
      this.loop.callExceptionHandler({
        message: `Fatal error: protocol.${method}() call failed.`,
        exception: error,
        transport: this,
        protocol: this.protocol,
      });
      this.forceClose(error);
      return false;
    }
  }

  private fatalError(exc: unknown): void {
    this.loop.callExceptionHandler({ message: 'Fatal read error on datagram transport', exception: exc, transport: this, protocol: this.protocol });
    this.forceClose(exc);
  }

  private forceClose(exc: unknown): void {
    if (this.connLost > 0) return;
    this.queue = [];
    this.bufferSize = 0;
    this.closing = true;
    this.stopReading();
    this.scheduleLost(exc);
  }

  private scheduleLost(exc: unknown): void {
    this.connLost += 1;
    this.loop.callSoon(this.callConnectionLost, exc);
  }

  private readonly callConnectionLost = (exc: unknown): void => {
    if (this.lostCalled) return;
    this.lostCalled = true;
    try {
      this.protocol.connectionLost?.(exc);
    } catch (error) {
      this.loop.callExceptionHandler({ message: 'Exception in protocol.connectionLost()', exception: error, transport: this, protocol: this.protocol });
    } finally {
      this.sock.close();
      this.release(this);
    }
  };

  toString(): string {
    return `<ProactorDatagramTransport ${this.lostCalled ? 'closed' : this.closing ? 'closing' : 'open'}>`;
  }
}
