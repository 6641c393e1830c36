/**
 * ProactorEventLoop (CPython's BaseProactorEventLoop): core's BaseSocketLoop plus what
 * differs for a completion backend. Each iteration's I/O step is `proactor.select()`;
 * sock* methods are proactor operations; transports keep a receive and a send posted;
 * servers keep an accept posted. The network methods (createConnection, createServer, ...)
 * are core's: the hooks at the end say how a NetSocket is made, bound, listened and
 * connected. Readiness (addReader/addWriter) is not offered: core's default throws
 * NotImplementedError, as asyncio's proactor does.
 */
import type * as NodeDgram from 'node:dgram';
import type * as net from 'node:net';
import {
  _ioWaitingCall,
  anyAddress,
  BaseSocketLoop,
  checkByteCount,
  checkPath,
  resolveAddress,
  type _WaitingCall,
  type BaseProtocol,
  type DatagramOptions,
  type DatagramProtocol,
  type Family,
  type Future,
  type InetSockAddr,
  type OwnedTransport,
  type Server,
  type ServerOptions,
  type SockType,
} from '@loopkit/core';
import {
  IPPROTO_IPV6,
  IPV6_V6ONLY,
  keepFreedMemory,
  isAvailable as uvAvailable,
  SO_KEEPALIVE,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOL_SOCKET,
  Socket as UvSocket,
  socket as uvSocket,
} from '@loopkit/uv';
import { dgram, net as nodeNet } from './builtins.js';
import { NetProactor } from './net-proactor.js';
import { NetSocket, type NetSocketFamily } from './net-socket.js';
import type { Address, Proactor } from './proactor.js';
import { ProactorDatagramTransport, ProactorSocketTransport } from './transports.js';

/**
 * A proactor whose watcher calls back in the async context setWakeup was called in
 * (UringProactor: `_setHostWakeup`), or whose Node callbacks may turn the loop from their own
 * async context (NetProactor's reads: `_setCallbackWakeup`).
 */
interface HostWaking {
  _setHostWakeup?(wake: (() => void) | null): void;
  _setCallbackWakeup?(wake: (() => void) | null): void;
}

/** While callbacks keep the loop busy, a completion waits at most this long (ms) for select()... */
const MAX_SELECT_GAP_MS = 0.05;
/** ...or this many iterations (a bound that holds however fast iterations are). */
const MAX_SKIPPED_SELECTS = 512;

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'Object'})`;
  return `${typeof value} ${String(value)}`;
}

/** Where `address` points for `sock`: a Unix path, or a host name resolved without blocking. */
async function targetOf(sock: unknown, address: unknown, type: 'stream' | 'dgram'): Promise<{ address: string; port: number } | { path: string }> {
  const family = (sock as { family?: unknown } | null)?.family;
  if (family !== 'unix') return await resolveAddress(address, family === 'inet6' ? 'inet6' : 'inet', type);
  const path = typeof address === 'string' ? address : (address as { path?: unknown } | null)?.path;
  return { path: checkPath(path, 'address') };
}

function once(emitter: net.Server | NodeDgram.Socket, start: (done: () => void) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    emitter.once('error', onError);
    start(() => {
      emitter.off('error', onError);
      resolve();
    });
  });
}

export class ProactorEventLoop extends BaseSocketLoop<NetSocket, ProactorSocketTransport, ProactorDatagramTransport> {
  /** @internal */ readonly _proactor: Proactor;
  private readonly accepting = new Map<NetSocket, Future<[unknown, Address | null]>>();
  private completionsDue = true;
  private selectedAt = 0;
  private skippedSelects = 0;

  constructor(proactor: Proactor = new NetProactor()) {
    super();
    if (proactor === null || typeof proactor !== 'object' || typeof proactor.select !== 'function') {
      throw new TypeError(`proactor must implement the Proactor interface, got ${describe(proactor)}`);
    }
    this._proactor = proactor;
    proactor.setLoop(this);
    // Received chunks are fresh memory that V8 frees in bulk: keep it in the process (see @loopkit/uv).
    keepFreedMemory();
  }

  // ---- the backend hooks ----
  /**
   * select() only when the proactor may have completions: its wake-up came since the last
   * select (the Proactor contract calls it whenever one waits). While callbacks keep the loop
   * busy the wake-up comes only as Node's loop turns, once per host slice, so select() also
   * runs after MAX_SELECT_GAP_MS or MAX_SKIPPED_SELECTS.
   */
  override ioPoll(): void {
    if (!this.completionsDue && this.skippedSelects < MAX_SKIPPED_SELECTS && this.iterationScheduledAt - this.selectedAt < MAX_SELECT_GAP_MS) {
      this.skippedSelects++;
      return;
    }
    this.completionsDue = false;
    this.skippedSelects = 0;
    this.selectedAt = this.iterationScheduledAt;
    this._proactor.select(0);
  }

  /**
   * Core keeps no wake-up that finds the loop busy, and the proactor's may: one from code
   * the loop runs (a transport resuming reading) or from a Node callback while an iteration
   * waits for microtasks, after this iteration's select. Sleeping now would lose that
   * completion, so the loop goes on to select it.
   */
  override idle(deadline: number | null): void {
    if (this.completionsDue) {
      this.endIdle();
      return;
    }
    super.idle(deadline);
  }

  override ioStart(wake: () => void): void {
    this.completionsDue = true; // what completed while the loop was stopped
    (this._proactor as HostWaking)._setHostWakeup?.(this.wakeFromHost);
    (this._proactor as HostWaking)._setCallbackWakeup?.(this.wakeFromCallback);
    this._proactor.setWakeup(() => {
      this.completionsDue = true;
      wake();
    });
  }

  /** A proactor's watcher calling back in runForever's async context (UringProactor's ring): turn at once. */
  private readonly wakeFromHost = (): void => {
    this.completionsDue = true;
    this._wakeFromHost();
  };

  /** A Node callback of the proactor's, in its handle's async context: turn at once in runForever's (core's `_wakeFromNodeCallback`). */
  private readonly wakeFromCallback = (): void => {
    this.completionsDue = true;
    this._wakeFromNodeCallback();
  };

  override ioStop(): void {
    this._proactor.setWakeup(null);
    (this._proactor as HostWaking)._setHostWakeup?.(null);
    (this._proactor as HostWaking)._setCallbackWakeup?.(null);
  }

  /** Loop close: the servers and transports (BaseSocketLoop's), then the proactor they ran on. */
  protected override _closeOwned(): void {
    super._closeOwned();
    this._proactor.close();
  }

  // ---- sock* : one proactor operation each ----
  // Each is a waiting call (core's waiting-calls.ts): a Future wrapping its promise, as in
  // waitFor(loop.sockAccept(sock), t), cancels the operation when it is cancelled.
  sockRecv(sock: unknown, n: number): Promise<Uint8Array> {
    return _ioWaitingCall(async (call) => {
      this.checkClosed();
      return await this.operation(call, () => this._proactor.recv(sock, n));
    });
  }

  sockRecvInto(sock: unknown, buf: Uint8Array): Promise<number> {
    return _ioWaitingCall(async (call) => {
      this.checkClosed();
      return await this.operation(call, () => this._proactor.recvInto(sock, buf));
    });
  }

  sockSendall(sock: unknown, data: Uint8Array): Promise<void> {
    return _ioWaitingCall(async (call) => {
      this.checkClosed();
      if (!ArrayBuffer.isView(data)) throw new TypeError(`data must be a Uint8Array or Buffer, got ${describe(data)}`);
      let rest = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      while (rest.length > 0) {
        const chunk = rest;
        const n = await this.operation(call, () => this._proactor.send(sock, chunk));
        rest = rest.subarray(n);
      }
    });
  }

  /** Receive one datagram of up to `bufsize` bytes: `[data, sender address]` (asyncio 3.11's sock_recvfrom). */
  sockRecvfrom(sock: unknown, bufsize: number): Promise<[Uint8Array, Address]> {
    return _ioWaitingCall(async (call) => {
      this.checkClosed();
      checkByteCount(bufsize, 'bufsize');
      return await this.operation(call, () => this._proactor.recvfrom(sock, bufsize));
    });
  }

  /** Receive one datagram into `buf` (its first `nbytes`; 0: all of it): `[bytes, sender address]`. */
  sockRecvfromInto(sock: unknown, buf: Uint8Array, nbytes = 0): Promise<[number, Address]> {
    return _ioWaitingCall(async (call) => {
      this.checkClosed();
      if (!ArrayBuffer.isView(buf)) throw new TypeError(`buf must be a Uint8Array or Buffer, got ${describe(buf)}`);
      checkByteCount(nbytes, 'nbytes');
      if (nbytes > buf.byteLength) throw new RangeError(`nbytes is greater than the length of the buffer (${nbytes} > ${buf.byteLength})`);
      const [data, address] = await this.operation(call, () => this._proactor.recvfrom(sock, nbytes === 0 ? buf.byteLength : nbytes));
      new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength).set(data);
      return [data.length, address];
    });
  }

  /** Send `data` as one datagram to `address`: resolves to the bytes sent (asyncio 3.11's sock_sendto). */
  sockSendto(sock: unknown, data: Uint8Array, address: unknown): Promise<number> {
    return _ioWaitingCall(async (call) => {
      this.checkClosed();
      if (!ArrayBuffer.isView(data)) throw new TypeError(`data must be a Uint8Array or Buffer, got ${describe(data)}`);
      const target = await targetOf(sock, address, 'dgram');
      return await this.operation(call, () => this._proactor.sendto(sock, data, target));
    });
  }

  sockConnect(sock: unknown, address: unknown): Promise<void> {
    return _ioWaitingCall(async (call) => {
      this.checkClosed();
      const target = await targetOf(sock, address, 'stream');
      await this.operation(call, () => this._proactor.connect(sock, target));
    });
  }

  /** Accept a connection on `sock`; resolves to `[socket, address]`, the socket of `sock`'s kind (every proactor accepts so). */
  sockAccept<S>(sock: S): Promise<[S, unknown]> {
    return _ioWaitingCall(async (call) => {
      this.checkClosed();
      const op = this.operation(call, () => this._proactor.accept(sock));
      try {
        return (await op) as [S, unknown];
      } catch (error) {
        // The caller was cancelled after the accept completed (in the same iteration): the
        // connection reaches nobody, so it is closed here, or its fd would leak.
        if (op.done() && !op.cancelled() && op.exception() === null) (op.result()[0] as { close(): void }).close();
        throw error;
      }
    });
  }

  /** Start a proactor operation as `call`'s current waiter (unless the call was cancelled already). */
  private operation<T>(call: _WaitingCall, start: () => Future<T>): Future<T> {
    call.check();
    const op = start();
    call.waiter = op;
    return op;
  }

  // ---- serving (ServingLoop) ----
  /** @internal keep one accept posted on `sock` while `server` serves. */
  _startServing(server: Server<NetSocket>, listener: NetSocket): void {
    const post = (): void => {
      if (this.isClosed() || listener.closed) return;
      const proactor = this._proactor;
      const fut = proactor instanceof NetProactor && listener instanceof NetSocket ? proactor._acceptToServe(listener) : proactor.accept(listener);
      this.accepting.set(listener, fut);
      fut.addDoneCallback(accepted);
    };
    const accepted = (fut: Future<[unknown, Address | null]>): void => {
      if (this.accepting.get(listener) !== fut) {
        // Accepted just before the server closed: nobody will serve this connection.
        if (!fut.cancelled() && fut.exception() === null) (fut.result()[0] as NetSocket).close();
        return;
      }
      this.accepting.delete(listener);
      if (fut.cancelled()) return;
      const error = fut.exception();
      if (error !== null) {
        // asyncio stops serving on a socket whose accept failed (unless it was closed).
        if (!listener.closed) {
          this.callExceptionHandler({ message: 'Accept failed on a socket', exception: error, socket: listener });
          listener.close();
        }
        return;
      }
      this._connectionAccepted(server, fut.result()[0] as NetSocket);
      post();
    };
    post();
  }

  /** @internal */
  _stopServing(listener: NetSocket): void {
    const fut = this.accepting.get(listener);
    this.accepting.delete(listener);
    fut?.cancel();
    listener.close();
  }

  // ---- ownership: a NetSocket's transport on the fast path is found through the socket ----
  /**
   * A transport taking its NetSocket's news itself is the socket's `_consumer` for its whole
   * life, and the NetProactor walks its watched sockets: the loop finds it there, with no entry
   * in core's map of transports (at 9,000 connections the map's backing store was ~50 bytes a
   * connection, in large-object space).
   */
  protected override _own(key: unknown, transport: OwnedTransport): void {
    if (key instanceof NetSocket && key._consumer === (transport as unknown)) return;
    super._own(key, transport);
  }

  protected override _ownedTransports(): OwnedTransport[] {
    const proactor = this._proactor;
    const direct = proactor instanceof NetProactor ? (proactor._consumers() as ProactorSocketTransport[]) : [];
    return [...super._ownedTransports(), ...direct];
  }

  // ---- what differs in the network methods (core's BaseSocketLoop hooks) ----
  private readonly release = (sock: NetSocket): void => {
    this._transportClosed(sock);
  };

  protected _newStreamSocket(family: Family | 'unix'): NetSocket {
    return new NetSocket(family);
  }

  protected async _connect(sock: NetSocket, address: InetSockAddr | { path: string }): Promise<void> {
    await this._proactor.connect(sock, address);
  }

  protected _checkReusePort(type: SockType): void {
    if (type === 'dgram') throw new TypeError('reusePort is not supported for datagram endpoints on node:dgram (Node 20)');
    if (!uvAvailable()) throw new TypeError('reusePort needs the @loopkit/uv addon (node:net on Node 20 cannot set SO_REUSEPORT)');
  }

  protected async _listenInet(address: string | null, family: Family | null, port: number, backlog: number, options: ServerOptions): Promise<NetSocket | null> {
    if (options.reusePort) {
      // SO_REUSEPORT must be set before bind: make the socket with the addon, hand it to Node.
      const fam: Family = family ?? (address !== null && nodeNet().isIPv6(address) ? 'inet6' : 'inet');
      const sock = uvSocket(fam, 'stream');
      try {
        sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
        sock.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1);
        if (options.keepAlive) sock.setsockopt(SOL_SOCKET, SO_KEEPALIVE, 1);
        if (fam === 'inet6') sock.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1);
        sock.bind({ address: address ?? undefined, port });
      } catch (error) {
        sock.close();
        throw bindFailed(error, address ?? (fam === 'inet6' ? '::' : '0.0.0.0'), port);
      }
      return await this._givenListener(sock, backlog);
    }
    // keepAlive: Node sets SO_KEEPALIVE on each connection it accepts.
    const server = nodeNet().createServer({ pauseOnConnect: true, allowHalfOpen: true, keepAlive: Boolean(options.keepAlive) });
    // A null host is core's 0.0.0.0 and :: (one listener per family, as asyncio); an IPv6
    // listener does not also take IPv4 connections, as asyncio.
    const host = address ?? undefined;
    const listenOptions: net.ListenOptions = { port, backlog, host, ipv6Only: host !== undefined && nodeNet().isIPv6(host) };
    try {
      await once(server, (done) => server.listen(listenOptions, done));
    } catch (error) {
      // No IPv6 on this host: the IPv4 listener serves alone (as the selector loop).
      if (host === '::' && (error as { code?: unknown }).code === 'EAFNOSUPPORT') return null;
      throw bindFailed(error, host ?? '0.0.0.0', port);
    }
    const bound = server.address() as net.AddressInfo;
    return NetSocket._fromServer(server, bound.family === 'IPv6' ? 'inet6' : 'inet');
  }

  /** A connected stream socket given by the caller becomes the transport's (a uv Socket is detached into Node). */
  protected _givenStreamSocket(sock: unknown): NetSocket {
    if (sock instanceof NetSocket) {
      if (sock.type !== 'stream' || sock._stream === null) throw new TypeError(`A connected stream socket was expected, got ${sock}`);
      return sock;
    }
    if (sock instanceof UvSocket) {
      if (sock.type !== 'stream') throw new TypeError(`A stream socket was expected, got a ${sock.type} socket`);
      if (sock.closed) throw new TypeError('sock is closed');
      const family = sock.family as NetSocketFamily;
      const [local, peer] = family === 'unix' ? [pathOf(() => sock.getsockname()), pathOf(() => sock.getpeername())] : ['', ''];
      const stream = new (nodeNet().Socket)({ fd: sock.detach(), allowHalfOpen: true, readable: true, writable: true });
      const adopted = NetSocket._fromStream(stream, family);
      adopted._sockPath = local;
      adopted._peerPath = peer;
      return adopted;
    }
    throw new TypeError(`sock must be a NetSocket or a @loopkit/uv Socket, got ${describe(sock)}`);
  }

  /** A listening (or bound) socket given by the caller: Node listens on its fd. */
  protected async _givenListener(sock: unknown, backlog: number): Promise<NetSocket> {
    if (sock instanceof NetSocket) {
      if (sock._server === null) throw new TypeError(`A listening socket was expected, got ${sock}`);
      return sock;
    }
    if (!(sock instanceof UvSocket)) throw new TypeError(`sock must be a NetSocket or a @loopkit/uv Socket, got ${describe(sock)}`);
    if (sock.type !== 'stream') throw new TypeError(`A stream socket was expected, got a ${sock.type} socket`);
    if (sock.closed) throw new TypeError('sock is closed');
    const family = sock.family as NetSocketFamily;
    const path = family === 'unix' ? pathOf(() => sock.getsockname()) : '';
    const server = nodeNet().createServer({ pauseOnConnect: true, allowHalfOpen: true });
    const fd = sock.detach();
    try {
      await once(server, (done) => server.listen({ fd, backlog }, done));
    } catch (error) {
      server.close(); // Node closed the adopted fd with its handle
      throw error;
    }
    const listener = NetSocket._fromServer(server, family);
    if (family === 'unix') listener._sockPath = path;
    return listener;
  }

  protected async _listenUnix(path: string, backlog: number): Promise<NetSocket> {
    if (uvAvailable() && !path.startsWith('\0')) {
      // Bound here and adopted by fd: libuv unlinks the path of a pipe it bound itself when
      // the server closes, even a file someone else replaced it with or one the caller keeps
      // (cleanupSocket: false). The loop removes the file itself, as asyncio does. (An abstract
      // name has no file: node:net binds it.)
      const sock = uvSocket('unix', 'stream');
      try {
        sock.bind({ path });
      } catch (error) {
        sock.close();
        throw error;
      }
      return await this._givenListener(sock, backlog);
    }
    const server = nodeNet().createServer({ pauseOnConnect: true, allowHalfOpen: true });
    await once(server, (done) => server.listen({ path, backlog }, done));
    return NetSocket._fromServer(server, 'unix');
  }

  protected _givenDatagramSocket(): [NetSocket, boolean] {
    throw new TypeError('sock is not supported by ProactorEventLoop.createDatagramEndpoint: node:dgram cannot adopt a socket');
  }

  protected async _openDatagram(family: Family, local: InetSockAddr | null, remote: InetSockAddr | null, options: DatagramOptions): Promise<NetSocket> {
    const socket = dgram().createSocket({ type: family === 'inet6' ? 'udp6' : 'udp4' });
    const sock = NetSocket._fromDgram(socket, family);
    try {
      // node:dgram receives only once bound: an endpoint with no address binds to any.
      if (local !== null || remote === null) {
        const { address, port } = local ?? { address: anyAddress(family), port: 0 };
        await once(socket, (done) => socket.bind(port, address, done));
      }
      if (remote !== null) await once(socket, (done) => socket.connect(remote.port, remote.address, done));
      if (options.allowBroadcast) socket.setBroadcast(true);
    } catch (error) {
      sock.close();
      throw error;
    }
    return sock;
  }

  protected _streamTransport(sock: NetSocket, protocol: BaseProtocol, waiter: Future<void> | null, server: Server<NetSocket> | null): ProactorSocketTransport {
    return new ProactorSocketTransport(this, sock, protocol, waiter, server);
  }

  protected _datagramTransport(sock: NetSocket, protocol: DatagramProtocol, connected: boolean, waiter: Future<void>): ProactorDatagramTransport {
    return new ProactorDatagramTransport(this, this._proactor, sock, protocol, connected, waiter, this.release);
  }
}

function pathOf(get: () => unknown): string {
  try {
    const addr = get() as { path?: string };
    return addr.path ?? '';
  } catch {
    return '';
  }
}

/** A listener that could not bind says where, as asyncio's OSError and the other loops (its code and errno kept). */
function bindFailed(error: unknown, host: string, port: number): unknown {
  if (error instanceof Error) error.message = `error while attempting to bind on address ${host.includes(':') ? `[${host}]` : host}:${port}: ${error.message}`;
  return error;
}
