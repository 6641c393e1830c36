/**
 * Selector transports (asyncio's _SelectorSocketTransport and _SelectorDatagramTransport).
 * The stream transport is core's BaseStreamTransport plus the syscalls: reads happen when
 * the fd is readable, writes try the syscall at once and wait for writability only for
 * what the kernel did not take. Each transport owns two Handles, reused for every readiness
 * event, so the hot path allocates nothing but the received bytes.
 */
import {
  BaseDatagramTransport,
  BaseStreamTransport,
  Handle,
  socketExtra,
  toConnectionError,
  type AbstractEventLoop,
  type BaseProtocol,
  type ConnectionOwner,
  type DatagramProtocol,
  type Future,
  type SocketAddress,
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

/** Datagrams are received here, then copied out at their size. */
const MAX_DATAGRAM = 65536;
const datagramBuffer = Buffer.allocUnsafeSlow(MAX_DATAGRAM);

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
 * A UDP endpoint (core's BaseDatagramTransport plus the syscalls): a datagram is sent at once
 * when nothing is queued, else queued until the fd is writable.
 */
export class SelectorDatagramTransport extends BaseDatagramTransport {
  private readonly sock: Socket;
  private readonly fd: number;
  private readonly readHandle: Handle;
  private readonly writeHandle: Handle;
  private readonly from: AddrOut = {};

  constructor(loop: TransportLoop, sock: Socket, protocol: DatagramProtocol, connected: boolean, waiter: Future<void> | null) {
    super(loop, protocol, socketExtra(sock), connected, waiter);
    this.sock = sock;
    this.fd = sock.fileno();
    this.readHandle = new Handle(this.readReady, [], loop);
    this.writeHandle = new Handle(this.writeReady, [], loop);
  }

  private get loop(): TransportLoop {
    return this._loop as TransportLoop;
  }

  protected _sendNow(data: Uint8Array, addr: SocketAddress | null): boolean {
    const r = this.send(data, addr);
    if (r >= 0) return true;
    if (wouldBlock(r)) return false;
    throw toConnectionError(errnoError(r, 'sendto'));
  }

  protected _startWriting(): void {
    this.loop._setWriter(this.fd, this.writeHandle);
  }

  protected _stopWriting(): void {
    this.loop._setWriter(this.fd, null);
  }

  protected _startReading(): void {
    this.loop._setReader(this.fd, this.readHandle);
  }

  protected _stopReading(): void {
    this.loop._setReader(this.fd, null);
  }

  protected _closeResources(): void {
    this.loop._transportClosed(this.fd);
    this.sock.close();
  }

  private send(bytes: Uint8Array, addr: SocketAddress | null): number {
    return addr === null ? this.sock.trySend(bytes) : this.sock.trySendto(bytes, addr as never);
  }

  private readonly readReady = (): void => {
    if (this._closing) return;
    const r = this.sock.tryRecvfrom(datagramBuffer, 0, MAX_DATAGRAM, this.from);
    if (r >= 0) {
      const from = this.from;
      const addr: SocketAddress = from.path !== undefined
        ? { path: from.path }
        : { address: from.address!, family: from.family!, port: from.port! };
      this._datagramReceived(Buffer.from(datagramBuffer.subarray(0, r)), addr);
    } else if (!wouldBlock(r)) {
      // ICMP errors (ECONNREFUSED on a connected endpoint, ...) concern one exchange.
      this._errorReceived(toConnectionError(errnoError(r, 'recvfrom')));
    }
  };

  private readonly writeReady = (): void => {
    while (this._queue.length > 0 && this._connLost === 0) {
      const [data, addr] = this._queue[0]!;
      const r = this.send(data, addr);
      if (wouldBlock(r)) return;
      if (!this._sent(r < 0 ? toConnectionError(errnoError(r, 'sendto')) : null)) return;
    }
    if (this._connLost === 0) this._afterSent();
  };
}
