/**
 * Selector transports (asyncio's _SelectorSocketTransport and _SelectorDatagramTransport).
 * The stream transport is ReadinessStreamTransport on a socket: recv, send/sendmsg and
 * shutdown(SHUT_WR). The datagram transport owns two Handles, reused for every readiness
 * event, so the hot path allocates nothing but the received datagram.
 */
import {
  BaseDatagramTransport,
  Handle,
  socketExtra,
  toConnectionError,
  type BaseProtocol,
  type ConnectionOwner,
  type DatagramProtocol,
  type Future,
  type DatagramAddress,
  type SocketAddress,
} from '@loopkit/core';
import { errnoError, IPPROTO_TCP, SHUT_WR, TCP_NODELAY, type AddrOut, type SockAddr, type Socket } from '@loopkit/uv';
import { ReadinessStreamTransport, wouldBlock, type FdNames, type FdRegistration, type ReadinessCallback, type TransportLoop } from './readiness-transport.js';

/** Datagrams are received here, then copied out at their size. */
const MAX_DATAGRAM = 65536;
const datagramBuffer = Buffer.allocUnsafeSlow(MAX_DATAGRAM);

/** A loop that can host a socket transport: Node's loop watches its fd, the transport being its registration. */
export interface SocketTransportLoop extends TransportLoop {
  _hostTransport(fd: number, registration: FdRegistration): void;
}

/** A socket transport's extra info until first asked for (frozen: it is every such transport's). */
const EXTRA_NOT_READ: Record<string, unknown> = Object.freeze({});

const SOCKET_NAMES: FdNames = { read: 'recv', write: 'send', readError: 'Fatal read error on socket transport' };

/**
 * A stream socket transport (asyncio's _SelectorSocketTransport): ReadinessStreamTransport with
 * recv, send/sendmsg and shutdown(SHUT_WR); TCP_NODELAY on TCP. Its extra info ('socket',
 * 'sockname', 'peername') is made when first asked for, or when the socket closes if nobody
 * asked: most connections never ask, and the info with its two addresses was 190 bytes of each
 * idle connection's heap. Only the peer's address is read at once, as asyncio reads it: once
 * the peer reset the connection, getpeername fails, and a server logging its peers in
 * connectionLost must still see it. An IP peer's address is kept as its host text (shared
 * with the other connections from that host) and port, and its object made with the extra
 * info: the object was 56 bytes of each idle connection. On a socket the loop made or
 * accepted (`hosted`), the transport is also the loop's registration of its fd
 * (FdRegistration: one object less per connection).
 */
export class SelectorSocketTransport extends ReadinessStreamTransport implements FdRegistration {
  private readonly sock: Socket;
  /**
   * The peer's address, read when the connection was made: an IP peer's host text (its port in
   * `peerPort`), another peer's address as read; undefined: none, or already in the extra info.
   */
  private peer: string | SockAddr | undefined;
  private peerPort = 0;
  /** @internal FdRegistration, for a hosted socket: the loop's reader and writer of the fd. */
  reader: ReadinessCallback | null = null;
  /** @internal */
  writer: ReadinessCallback | null = null;

  constructor(
    loop: TransportLoop,
    sock: Socket,
    protocol: BaseProtocol,
    waiter: Future<void> | null = null,
    server: ConnectionOwner | null = null,
    hosted = false,
  ) {
    super(loop, sock.fileno(), protocol, EXTRA_NOT_READ, server);
    this.sock = sock;
    let peer: SockAddr | undefined;
    try {
      peer = sock.getpeername();
    } catch {
      peer = undefined; // not connected: no peer to report
    }
    if (peer !== undefined && 'port' in peer) {
      this.peer = peer.address;
      this.peerPort = peer.port;
    } else {
      this.peer = peer;
    }
    if (sock.family !== 'unix') {
      // Small writes go out at once (asyncio sets TCP_NODELAY on every TCP transport).
      try {
        sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1);
      } catch {
        // Not fatal: only latency suffers.
      }
    }
    this._start(waiter);
    // After _start (which only schedules, and throws on a closed loop): reading starts in a later callback.
    if (hosted) (loop as SocketTransportLoop)._hostTransport(this._fd, this);
  }

  protected get _names(): FdNames {
    return SOCKET_NAMES;
  }

  protected _readInto(buf: Uint8Array | ArrayBuffer, offset: number, length: number): number {
    return this.sock.tryRecvInto(buf, offset, length);
  }

  protected _writev(chunks: readonly Uint8Array[]): number {
    if (chunks.length !== 1) return this.sock.trySendv(chunks);
    return this.sock.trySend(chunks[0]!);
  }

  protected _shutdownWrite(): void {
    try {
      this.sock.shutdown(SHUT_WR);
    } catch (error) {
      throw toConnectionError(error);
    }
  }

  override getExtraInfo<T = any>(name: string, defaultValue: T | null = null): T | null {
    if (this._extra === EXTRA_NOT_READ) this.readExtra();
    return super.getExtraInfo(name, defaultValue);
  }

  protected _closeFd(): void {
    // Read now, while the fd is open: connectionLost and later callers may still ask.
    if (this._extra === EXTRA_NOT_READ) this.readExtra();
    this.sock.close();
  }

  /** The extra info, with the peer's address as read when the connection was made. */
  private readExtra(): void {
    const peer = this.peer;
    // The same object getpeername gives (its properties in its order).
    const peername = typeof peer === 'string' ? { address: peer, family: this.sock.family === 'inet' ? 'IPv4' : 'IPv6', port: this.peerPort } : peer;
    this._extra = socketExtra(this.sock, peername);
    this.peer = undefined;
  }

  /** @internal loop.sendfile()'s native path (sendfile.ts): the OS's sendfile from `fileFd` on this socket. */
  _trySendfile(fileFd: number, offset: number, n: number): number {
    return this.sock.trySendfile(fileFd, offset, n);
  }

  /** @internal loop.sendfile()'s native path: call `again` when the socket is writable (null: stop). */
  _whenWritable(again: (() => void) | null): void {
    const loop = this._loop as TransportLoop;
    loop._setWriter(this._fd, again === null ? null : new Handle(again, [], loop));
  }
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

  protected _sendNow(data: Uint8Array, addr: DatagramAddress | null): boolean {
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

  private send(bytes: Uint8Array, addr: DatagramAddress | null): number {
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
      let r: number;
      try {
        r = this.send(data, addr);
      } catch (error) {
        // An address this socket cannot take, refused before the syscall: that datagram is
        // reported and dropped as one the OS refused (left at the head, it threw at every turn).
        if (!this._sent(error)) return;
        continue;
      }
      if (wouldBlock(r)) return;
      if (!this._sent(r < 0 ? toConnectionError(errnoError(r, 'sendto')) : null)) return;
    }
    if (this._connLost === 0) this._afterSent();
  };
}
