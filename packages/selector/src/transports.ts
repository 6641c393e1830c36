/**
 * Selector transports (asyncio's _SelectorSocketTransport and _SelectorDatagramTransport).
 * The stream transport is core's BaseStreamTransport plus the syscalls: reads happen when
 * the fd is readable, writes try the syscall at once and wait for writability only for
 * what the kernel did not take. Each transport owns two Handles, reused for every readiness
 * event, so the hot path allocates nothing but the received bytes.
 */
import {
  asBytes,
  BaseStreamTransport,
  DatagramTransport,
  Handle,
  logger,
  RuntimeError,
  toConnectionError,
  WriteFlowControl,
  type AbstractEventLoop,
  type BaseProtocol,
  type ConnectionOwner,
  type DatagramProtocol,
  type Future,
  type SocketAddress,
  type WriteBufferLimits,
} from '@loopkit/core';
import { EAGAIN, EINTR, errnoError, IPPROTO_TCP, SHUT_WR, TCP_NODELAY, type AddrOut, type Socket } from '@loopkit/uv';

type HandleOwner = ConstructorParameters<typeof Handle>[2];

/** What a transport needs of its loop: (un)watching its fd, and forgetting it once closed. */
export interface TransportLoop extends AbstractEventLoop, HandleOwner {
  _setReader(fd: number, handle: Handle | null): void;
  _setWriter(fd: number, handle: Handle | null): void;
  _transportClosed(fd: number): void;
}

/** Received bytes are views into a shared slab, never reused: a protocol may keep them. */
const SLAB_SIZE = 256 * 1024;
const MIN_READ = 64 * 1024;
let slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
let slabOffset = 0;

const LOG_THRESHOLD_FOR_CONNLOST_WRITES = 5;
/** Datagrams are received here, then copied out at their size. */
const MAX_DATAGRAM = 65536;
const datagramBuffer = Buffer.allocUnsafeSlow(MAX_DATAGRAM);

function socketExtra(sock: Socket): Record<string, unknown> {
  const extra: Record<string, unknown> = { socket: sock };
  try {
    extra.sockname = sock.getsockname();
  } catch {
    // an unbound socket has no local address to report
  }
  try {
    extra.peername = sock.getpeername();
  } catch {
    // not connected: no peer to report
  }
  return extra;
}

function wouldBlock(r: number): boolean {
  return r === -EAGAIN || r === -EINTR;
}

export class SelectorSocketTransport extends BaseStreamTransport {
  private readonly sock: Socket;
  private readonly fd: number;
  private readonly readHandle: Handle;
  private readonly writeHandle: Handle;
  /** Reading is registered: a read handle queued before a pause must not read. */
  private reading = false;

  constructor(
    loop: TransportLoop,
    sock: Socket,
    protocol: BaseProtocol,
    waiter: Future<void> | null = null,
    server: ConnectionOwner | null = null,
  ) {
    super(loop, protocol, socketExtra(sock), server);
    this.sock = sock;
    this.fd = sock.fileno();
    this.readHandle = new Handle(this.readReady, [], loop);
    this.writeHandle = new Handle(this.writeReady, [], loop);
    if (sock.family !== 'unix') {
      // Small writes go out at once (asyncio sets TCP_NODELAY on every TCP transport).
      try {
        sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1);
      } catch {
        // Not fatal: only latency suffers.
      }
    }
    this._start(waiter);
  }

  private get loop(): TransportLoop {
    return this._loop as TransportLoop;
  }

  protected _writeNow(chunks: readonly Uint8Array[]): number {
    const r = chunks.length === 1 ? this.sock.trySend(chunks[0]!) : this.sock.trySendv(chunks);
    if (r >= 0) return r;
    if (wouldBlock(r)) return 0;
    throw toConnectionError(errnoError(r, 'send'));
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

  protected _shutdownWrite(): void {
    try {
      this.sock.shutdown(SHUT_WR);
    } catch (error) {
      throw toConnectionError(error);
    }
  }

  protected _closeResources(): void {
    this.reading = false;
    this.loop._transportClosed(this.fd);
    this.sock.close();
  }

  private readonly readReady = (): void => {
    if (!this.reading) return;
    let r: number;
    if (this._wantsBuffer) {
      const buf = this._getReadBuffer(-1);
      if (buf === null) return;
      r = this.sock.tryRecvInto(buf);
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
      r = this.sock.tryRecvInto(slab, start, SLAB_SIZE - start);
      if (r > 0) {
        slabOffset = (start + r + 7) & ~7;
        this._dataReceived(slab.subarray(start, start + r));
        return;
      }
    }
    if (r === 0) this._eofReceived();
    else if (!wouldBlock(r)) this._fatalError(toConnectionError(errnoError(r, 'recv')), 'Fatal read error on socket transport');
  };

  private readonly writeReady = (): void => {
    this._writeReady();
  };
}

/**
 * A UDP endpoint: datagrams are sent at once when the queue is empty, else queued until
 * the fd is writable; the same water marks and pause/resume rule as a stream.
 */
export class SelectorDatagramTransport extends DatagramTransport {
  private readonly loop: TransportLoop;
  private readonly sock: Socket;
  private readonly fd: number;
  private readonly connected: boolean;
  private protocol: DatagramProtocol;
  private readonly flow = new WriteFlowControl();
  private queue: Array<[Uint8Array, SocketAddress | null]> = [];
  private bufferSize = 0;
  private closing = false;
  private connLost = 0;
  private lostCalled = false;
  private readonly readHandle: Handle;
  private readonly writeHandle: Handle;
  private readonly from: AddrOut = {};

  constructor(loop: TransportLoop, sock: Socket, protocol: DatagramProtocol, connected: boolean, waiter: Future<void> | null) {
    super(socketExtra(sock));
    this.loop = loop;
    this.sock = sock;
    this.fd = sock.fileno();
    this.protocol = protocol;
    this.connected = connected;
    this.readHandle = new Handle(this.readReady, [], loop);
    this.writeHandle = new Handle(this.writeReady, [], loop);
    loop.callSoon(() => this.callProtocol('connectionMade', () => this.protocol.connectionMade?.(this)));
    loop.callSoon(() => {
      if (!this.closing) loop._setReader(this.fd, this.readHandle);
    });
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
    if (this.queue.length === 0) {
      const r = this.send(bytes, addr);
      if (r >= 0) return;
      if (!wouldBlock(r)) {
        this.callProtocol('errorReceived', () => this.protocol.errorReceived?.(toConnectionError(errnoError(r, 'sendto'))));
        return;
      }
      this.loop._setWriter(this.fd, this.writeHandle);
    }
    // The datagram leaves later and the caller may reuse its buffer: keep a copy.
    this.queue.push([Uint8Array.prototype.slice.call(bytes), addr]);
    this.bufferSize += bytes.length;
    this.maybePause();
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.loop._setReader(this.fd, null);
    if (this.queue.length === 0) this.scheduleLost(null);
  }

  abort(): void {
    this.forceClose(null);
  }

  /** Loop close: connectionLost now, synchronously. */
  _closeNow(): void {
    if (this.lostCalled) return;
    this.queue = [];
    this.bufferSize = 0;
    this.closing = true;
    this.connLost += 1;
    this.callConnectionLost(null);
  }

  private send(bytes: Uint8Array, addr: SocketAddress | null): number {
    return addr === null ? this.sock.trySend(bytes) : this.sock.trySendto(bytes, addr as never);
  }

  private readonly readReady = (): void => {
    if (this.closing) return;
    const r = this.sock.tryRecvfrom(datagramBuffer, 0, MAX_DATAGRAM, this.from);
    if (r >= 0) {
      const from = this.from;
      const addr: SocketAddress = from.path !== undefined
        ? { path: from.path }
        : { address: from.address!, family: from.family!, port: from.port! };
      this.callProtocol('datagramReceived', () => this.protocol.datagramReceived?.(Buffer.from(datagramBuffer.subarray(0, r)), addr));
    } else if (!wouldBlock(r)) {
      // ICMP errors (ECONNREFUSED on a connected endpoint, ...) concern one exchange.
      this.callProtocol('errorReceived', () => this.protocol.errorReceived?.(toConnectionError(errnoError(r, 'recvfrom'))));
    }
  };

  private readonly writeReady = (): void => {
    while (this.queue.length > 0 && this.connLost === 0) {
      const [data, addr] = this.queue[0]!;
      const r = this.send(data, addr);
      if (wouldBlock(r)) return;
      this.queue.shift();
      this.bufferSize -= data.length;
      if (r < 0 && !this.callProtocol('errorReceived', () => this.protocol.errorReceived?.(toConnectionError(errnoError(r, 'sendto'))))) return;
    }
    if (this.connLost > 0) return;
    if (this.flow.shouldResume(this.bufferSize) && !this.callProtocol('resumeWriting', () => this.protocol.resumeWriting?.())) return;
    if (this.queue.length === 0) {
      this.loop._setWriter(this.fd, null);
      if (this.closing) this.scheduleLost(null);
    }
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

  private forceClose(exc: unknown): void {
    if (this.connLost > 0) return;
    this.queue = [];
    this.bufferSize = 0;
    this.closing = true;
    this.loop._setReader(this.fd, null);
    this.loop._setWriter(this.fd, null);
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
      this.loop._transportClosed(this.fd);
      this.sock.close();
    }
  };

  toString(): string {
    return `<SelectorDatagramTransport ${this.lostCalled ? 'closed' : this.closing ? 'closing' : 'open'}>`;
  }
}
