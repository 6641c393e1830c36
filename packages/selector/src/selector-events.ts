/**
 * SelectorEventLoop (asyncio's selector_events.py): core's BaseEventLoop plus readiness.
 *
 * Backend contract (core/backend.ts): ioPoll = one non-blocking select and dispatch of the
 * ready readers and writers; ioStart = the selector's host watcher calls `wake`. Every fd
 * has one registration whose data holds its reader and writer Handles, queued as they are
 * (no allocation) when the fd is ready. sock* methods try the syscall first and register
 * only when it would block; transports and servers build on the same registrations.
 */
import * as fs from 'node:fs';
import { constants as osConstants } from 'node:os';
import {
  BaseEventLoop,
  CancelledError,
  Handle,
  RuntimeError,
  toConnectionError,
  type BaseProtocol,
  type DatagramProtocol,
  type Future,
} from '@loopkit/core';
import {
  EAGAIN,
  EINPROGRESS,
  EINTR,
  errnoError,
  IPPROTO_IPV6,
  IPV6_V6ONLY,
  SO_BROADCAST,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOL_SOCKET,
  Socket,
  socket as makeSocket,
  WakeupFd,
  type SocketFamily,
} from '@loopkit/uv';
import { familyOfAddress, familyOption, getaddrinfo, getnameinfo, hostPort, type AddrInfo, type AddrInfoOptions, type Family, type HostPort } from './names.js';
import { BaseSelector, DefaultSelector, EVENT_READ, EVENT_WRITE, fileobjToFd, type FileObject } from './selectors.js';
import { Server, type ServingLoop } from '@loopkit/core';
import { SelectorDatagramTransport, SelectorSocketTransport, type TransportLoop } from './transports.js';
import { checkBacklog, checkFunction, checkPath, checkPort, describe } from './util.js';

/** After running out of fds, accepting resumes this many seconds later (asyncio's). */
const ACCEPT_RETRY_DELAY = 1;
const { EMFILE, ENFILE, ENOBUFS, ENOMEM, ECONNABORTED } = osConstants.errno;

/** A registration's data: the fd's reader and writer. */
class FdHandlers {
  reader: Handle | null = null;
  writer: Handle | null = null;
}

export interface ConnectionOptions {
  family?: Family | number | null;
  localAddr?: HostPort | null;
  sock?: Socket | null;
}
export interface ServerOptions {
  backlog?: number;
  reuseAddress?: boolean | null;
  reusePort?: boolean | null;
  family?: Family | number | null;
  sock?: Socket | null;
  startServing?: boolean;
}
export interface UnixServerOptions {
  backlog?: number;
  sock?: Socket | null;
  startServing?: boolean;
  /** Remove the socket file when the server closes (asyncio 3.13's cleanup_socket). */
  cleanupSocket?: boolean;
}
export interface DatagramOptions {
  localAddr?: HostPort | null;
  remoteAddr?: HostPort | null;
  family?: Family | number | null;
  reuseAddress?: boolean | null;
  reusePort?: boolean | null;
  allowBroadcast?: boolean | null;
  sock?: Socket | null;
}

/** What sock* methods take: a @loopkit/uv Socket (anything with its try* methods). */
function checkSock(sock: unknown): Socket {
  if (!(sock instanceof Socket)) throw new TypeError(`sock must be a @loopkit/uv Socket, got ${describe(sock)}`);
  return sock;
}

function wouldBlock(r: number): boolean {
  return r === -EAGAIN || r === -EINTR;
}

function osError(r: number, syscall: string, address?: { address?: string; port?: number; path?: string }): Error {
  return toConnectionError(errnoError(r, syscall, address)) as Error;
}

export class SelectorEventLoop extends BaseEventLoop implements TransportLoop, ServingLoop<Socket> {
  /** @internal */ readonly _selector: BaseSelector;
  private readonly keys: Map<number, { events: number; data: unknown }>;
  private readonly selfPipe: WakeupFd;
  /** fd -> the transport using it: addReader and friends refuse those fds. */
  private readonly transports = new Map<number, SelectorSocketTransport | SelectorDatagramTransport>();
  private readonly servers = new Set<Server<Socket>>();
  /** Events the last ioPoll found, and events idle() harvested for the next ioPoll. */
  private lastPolled = 0;
  private harvested = 0;

  constructor(selector: BaseSelector | null = null) {
    super();
    if (selector !== null && !(selector instanceof BaseSelector)) {
      throw new TypeError(`selector must be a BaseSelector (EpollSelector, PollSelector, ...), got ${describe(selector)}`);
    }
    this._selector = selector ?? new DefaultSelector();
    const keys = this._selector.getMap();
    if (keys === null) throw new TypeError('selector is closed');
    this.keys = keys;
    // The self-pipe: signalling it wakes a loop idling on its selector, from any thread.
    this.selfPipe = new WakeupFd();
    this._setReader(this.selfPipe.fd, new Handle(() => this.selfPipe.drain(), [], this));
  }

  // ---- the backend contract ----
  override ioPoll(): void {
    const selector = this._selector;
    const n = this.harvested > 0 ? this.harvested : selector._poll(0);
    this.harvested = 0;
    this.lastPolled = n;
    if (n === 0) return;
    const out = selector._out;
    const keys = this.keys;
    for (let i = 0; i < 2 * n; i += 2) {
      const fd = out[i]!;
      const key = keys.get(fd);
      if (key === undefined) continue;
      const handlers = key.data;
      if (!(handlers instanceof FdHandlers)) continue; // registered on the selector directly, not through the loop
      const events = out[i + 1]! & key.events;
      if (events & EVENT_READ) {
        const reader = handlers.reader;
        if (reader !== null) {
          if (reader._cancelled) this.setHandler(fd, EVENT_READ, null, false);
          else this._addCallback(reader);
        }
      }
      if (events & EVENT_WRITE) {
        const writer = handlers.writer;
        if (writer !== null) {
          if (writer._cancelled) this.setHandler(fd, EVENT_WRITE, null, false);
          else this._addCallback(writer);
        }
      }
    }
  }

  override ioStart(wake: () => void): void {
    this._selector.watch(wake);
  }

  override ioStop(): void {
    this._selector.unwatch();
    this.lastPolled = this.harvested = 0;
  }

  /** Close what the loop still owns (connectionLost now), then the self-pipe and the selector. */
  override ioClose(): void {
    for (const server of [...this.servers]) server.close();
    for (const transport of [...this.transports.values()]) transport._closeNow();
    this._setReader(this.selfPipe.fd, null);
    this.selfPipe.close();
    this._selector.close();
  }

  /**
   * Before sleeping after an iteration that did I/O, look once more: under load more events
   * arrived meanwhile, and going on at once (they wait in `harvested` for the next ioPoll)
   * saves a round trip through Node's loop. With no timer due, the selector's watcher alone
   * wakes the loop: no host timer to arm.
   */
  override idle(deadline: number | null): void {
    if (this.lastPolled > 0) {
      this.lastPolled = 0;
      this.harvested = this._selector._poll(0);
      if (this.harvested > 0) {
        this.endIdle();
        return;
      }
    }
    if (deadline !== null) super.idle(deadline);
  }

  /** callSoon plus a signal on the self-pipe, as asyncio's _write_to_self. */
  override callSoonThreadsafe<A extends unknown[]>(callback: (...args: A) => unknown, ...args: A): Handle {
    const handle = this.callSoon(callback, ...args);
    this.selfPipe.signal();
    return handle;
  }

  // ---- readiness ----
  /** Call `callback(...args)` whenever `fd` is readable. Replaces an earlier reader. */
  override addReader(fd: FileObject, callback: (...args: any[]) => unknown, ...args: unknown[]): void {
    this.checkClosed();
    const n = this.userFd(fd);
    checkFunction(callback, 'callback');
    this.setHandler(n, EVENT_READ, new Handle(callback, args, this), true);
  }

  /** Stop watching `fd` for reading; true when a reader was registered. */
  override removeReader(fd: FileObject): boolean {
    if (this.isClosed()) return false;
    return this.setHandler(this.userFd(fd), EVENT_READ, null, true);
  }

  /** Call `callback(...args)` whenever `fd` is writable. Replaces an earlier writer. */
  override addWriter(fd: FileObject, callback: (...args: any[]) => unknown, ...args: unknown[]): void {
    this.checkClosed();
    const n = this.userFd(fd);
    checkFunction(callback, 'callback');
    this.setHandler(n, EVENT_WRITE, new Handle(callback, args, this), true);
  }

  /** Stop watching `fd` for writing; true when a writer was registered. */
  override removeWriter(fd: FileObject): boolean {
    if (this.isClosed()) return false;
    return this.setHandler(this.userFd(fd), EVENT_WRITE, null, true);
  }

  /** @internal Set or clear (null) the reader of `fd`; the caller keeps its handle usable (not cancelled). */
  _setReader(fd: number, handle: Handle | null): boolean {
    return this.setHandler(fd, EVENT_READ, handle, false);
  }

  /** @internal Set or clear (null) the writer of `fd`; the caller keeps its handle usable (not cancelled). */
  _setWriter(fd: number, handle: Handle | null): boolean {
    return this.setHandler(fd, EVENT_WRITE, handle, false);
  }

  /** @internal A transport released its fd: drop the registration before the fd is closed. */
  _transportClosed(fd: number): void {
    this.transports.delete(fd);
    if (this.keys.has(fd)) this._selector.unregister(fd);
  }

  /**
   * One registration per fd shared by read and write (asyncio's _add_reader/_remove_reader).
   * `cancel`: the replaced or removed handle is cancelled (user callbacks); transports reuse theirs.
   */
  private setHandler(fd: number, event: number, handle: Handle | null, cancel: boolean): boolean {
    const key = this.keys.get(fd);
    if (handle === null) {
      if (key === undefined) return false;
      const handlers = key.data as FdHandlers;
      const previous = event === EVENT_READ ? handlers.reader : handlers.writer;
      if (event === EVENT_READ) handlers.reader = null;
      else handlers.writer = null;
      const events = key.events & ~event;
      if (events === 0) this._selector.unregister(fd);
      else if (events !== key.events) this._selector.modify(fd, events, handlers);
      if (previous === null) return false;
      if (cancel) previous.cancel();
      return true;
    }
    if (key === undefined) {
      const handlers = new FdHandlers();
      if (event === EVENT_READ) handlers.reader = handle;
      else handlers.writer = handle;
      this._selector.register(fd, event, handlers);
      return false;
    }
    const handlers = key.data as FdHandlers;
    const previous = event === EVENT_READ ? handlers.reader : handlers.writer;
    if (previous === handle) return true;
    if (event === EVENT_READ) handlers.reader = handle;
    else handlers.writer = handle;
    if ((key.events & event) === 0) this._selector.modify(fd, key.events | event, handlers);
    if (cancel) previous?.cancel();
    return previous !== null;
  }

  private userFd(fileobj: FileObject): number {
    const fd = fileobjToFd(fileobj);
    const transport = this.transports.get(fd);
    if (transport !== undefined) throw new RuntimeError(`File descriptor ${fd} is used by transport ${transport}`);
    return fd;
  }

  // ---- sock*: the syscall first, readiness only when it would block ----
  async sockRecv(sock: Socket, n: number): Promise<Buffer> {
    checkSock(sock);
    if (!Number.isInteger(n) || n < 0) throw new TypeError(`n must be a non-negative integer, got ${describe(n)}`);
    const buf = Buffer.allocUnsafe(n);
    const got = await this.sockRecvInto(sock, buf);
    return buf.subarray(0, got);
  }

  async sockRecvInto(sock: Socket, buf: ArrayBufferView): Promise<number> {
    checkSock(sock);
    if (!ArrayBuffer.isView(buf)) throw new TypeError(`buf must be a Uint8Array or Buffer, got ${describe(buf)}`);
    this.checkClosed();
    const r = sock.tryRecvInto(buf);
    if (r >= 0) return r;
    if (!wouldBlock(r)) throw osError(r, 'recv');
    return await this.whenReady<number>(sock, EVENT_READ, (fut) => {
      const r2 = sock.tryRecvInto(buf);
      if (r2 >= 0) fut.setResult(r2);
      else if (!wouldBlock(r2)) fut.setException(osError(r2, 'recv'));
    });
  }

  async sockSendall(sock: Socket, data: ArrayBufferView): Promise<void> {
    checkSock(sock);
    if (!ArrayBuffer.isView(data)) throw new TypeError(`data must be a Uint8Array or Buffer, got ${describe(data)}`);
    this.checkClosed();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    let sent = 0;
    // Returns true when done; throws on error.
    const push = (): boolean => {
      while (sent < bytes.length) {
        const r = sock.trySend(bytes, sent);
        if (r < 0) {
          if (wouldBlock(r)) return false;
          throw osError(r, 'send');
        }
        sent += r;
      }
      return true;
    };
    if (push()) return;
    await this.whenReady<void>(sock, EVENT_WRITE, (fut) => {
      try {
        if (push()) fut.setResult(undefined);
      } catch (error) {
        fut.setException(error);
      }
    });
  }

  async sockConnect(sock: Socket, address: unknown): Promise<void> {
    checkSock(sock);
    this.checkClosed();
    let target: { address: string; port: number } | { path: string };
    if (sock.family === 'unix') {
      const path = typeof address === 'string' ? address : (address as { path?: unknown } | null)?.path;
      target = { path: checkPath(path, 'address') };
    } else {
      const [host, port] = hostPort(address, 'address');
      const infos = await getaddrinfo(host, port, { family: sock.family, type: sock.type });
      if (infos.length === 0) throw new Error(`getaddrinfo(${describe(host)}) returned an empty list`);
      target = { address: infos[0]![4].address, port };
    }
    const r = sock.tryConnect(target);
    if (r === 0) return;
    if (r !== -EINPROGRESS && !wouldBlock(r)) throw osError(r, 'connect', target);
    await this.whenReady<void>(sock, EVENT_WRITE, (fut) => {
      const err = sock.getError();
      if (err === 0) fut.setResult(undefined);
      else if (err !== -EINPROGRESS && !wouldBlock(err)) fut.setException(osError(err, 'connect', target));
    });
  }

  async sockAccept(sock: Socket): Promise<[Socket, unknown]> {
    checkSock(sock);
    this.checkClosed();
    const tryAccept = (): [Socket, unknown] | null => {
      try {
        return sock.accept();
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code === 'EAGAIN' || code === 'EINTR') return null;
        throw toConnectionError(error);
      }
    };
    const accepted = tryAccept();
    if (accepted !== null) return accepted;
    return await this.whenReady<[Socket, unknown]>(sock, EVENT_READ, (fut) => {
      try {
        const got = tryAccept();
        if (got !== null) fut.setResult(got);
      } catch (error) {
        fut.setException(error);
      }
    });
  }

  /**
   * Wait until `sock` is ready for `event`, calling `attempt` on each readiness until it
   * settles the future. Done or cancelled, the registration goes (asyncio's _sock_read_done).
   */
  private whenReady<T>(sock: Socket, event: number, attempt: (fut: Future<T>) => void): Future<T> {
    const fd = this.userFd(sock);
    const keyed = this.keys.get(fd);
    const busy = keyed !== undefined && (event === EVENT_READ ? (keyed.data as FdHandlers).reader : (keyed.data as FdHandlers).writer);
    if (busy) throw new RuntimeError(`another operation is already waiting for ${event === EVENT_READ ? 'reading' : 'writing'} on fd ${fd}`);
    const fut = this.createFuture<T>();
    const handle = new Handle(() => {
      if (!fut.done()) attempt(fut);
    }, [], this);
    this.setHandler(fd, event, handle, true);
    fut.addDoneCallback(() => {
      const key = this.keys.get(fd);
      const current = key === undefined ? null : event === EVENT_READ ? (key.data as FdHandlers).reader : (key.data as FdHandlers).writer;
      if (current === handle && !this.isClosed()) this.setHandler(fd, event, null, true);
    });
    return fut;
  }

  // ---- names ----
  async getaddrinfo(host: string | null, port: number | string | null, options: AddrInfoOptions = {}): Promise<AddrInfo[]> {
    return await getaddrinfo(host, port, options);
  }

  async getnameinfo(sockaddr: unknown, flags = 0): Promise<[string, string]> {
    return await getnameinfo(sockaddr, flags);
  }

  // ---- streams ----
  /** Connect to host:port (each resolved address in turn) and make a transport: `[transport, protocol]`. */
  async createConnection(
    protocolFactory: () => BaseProtocol,
    host: string | null = null,
    port: number | null = null,
    options: ConnectionOptions = {},
  ): Promise<[SelectorSocketTransport, BaseProtocol]> {
    checkFunction(protocolFactory, 'protocolFactory');
    this.checkClosed();
    let sock: Socket;
    if (options.sock !== undefined && options.sock !== null) {
      if (host !== null || port !== null) throw new TypeError('host/port and sock can not be specified at the same time');
      sock = this.checkStreamSock(options.sock);
    } else {
      if (host === null && port === null) throw new TypeError('host and port was not specified and no sock specified');
      sock = await this.connectTo(host, checkPort(port), familyOption(options.family), options.localAddr ?? null);
    }
    return await this.makeStream(sock, protocolFactory);
  }

  async createUnixConnection(
    protocolFactory: () => BaseProtocol,
    path: string | null = null,
    options: { sock?: Socket | null } = {},
  ): Promise<[SelectorSocketTransport, BaseProtocol]> {
    checkFunction(protocolFactory, 'protocolFactory');
    this.checkClosed();
    let sock: Socket;
    if (options.sock !== undefined && options.sock !== null) {
      if (path !== null) throw new TypeError('path and sock can not be specified at the same time');
      sock = this.checkStreamSock(options.sock);
    } else {
      const p = checkPath(path);
      sock = makeSocket('unix', 'stream');
      try {
        await this.sockConnect(sock, p);
      } catch (error) {
        sock.close();
        throw error;
      }
    }
    return await this.makeStream(sock, protocolFactory);
  }

  /** Listen on every address of `host` (all interfaces when null); resolves to the Server. */
  async createServer(
    protocolFactory: () => BaseProtocol,
    host: string | readonly string[] | null = null,
    port: number | null = null,
    options: ServerOptions = {},
  ): Promise<Server<Socket>> {
    checkFunction(protocolFactory, 'protocolFactory');
    this.checkClosed();
    const backlog = checkBacklog(options.backlog ?? 100);
    const listeners: Socket[] = [];
    if (options.sock !== undefined && options.sock !== null) {
      if (host !== null || port !== null) throw new TypeError('host/port and sock can not be specified at the same time');
      listeners.push(this.checkStreamSock(options.sock));
    } else {
      const p = port === null ? 0 : checkPort(port);
      if (options.reusePort && SO_REUSEPORT < 0) throw new TypeError('reusePort is not supported on this platform');
      try {
        for (const [address, family] of await this.serverAddresses(host, p, familyOption(options.family))) {
          const sock = this.bindInet(address, family, p, 'stream', options);
          if (sock !== null) listeners.push(sock);
        }
        if (listeners.length === 0) throw new Error(`no address to listen on for host ${describe(host)}`);
      } catch (error) {
        for (const sock of listeners) sock.close();
        throw error;
      }
    }
    return await this.makeServer(listeners, protocolFactory, backlog, options.startServing ?? true, null);
  }

  async createUnixServer(
    protocolFactory: () => BaseProtocol,
    path: string | null = null,
    options: UnixServerOptions = {},
  ): Promise<Server<Socket>> {
    checkFunction(protocolFactory, 'protocolFactory');
    this.checkClosed();
    const backlog = checkBacklog(options.backlog ?? 100);
    if (options.sock !== undefined && options.sock !== null) {
      if (path !== null) throw new TypeError('path and sock can not be specified at the same time');
      return await this.makeServer([this.checkStreamSock(options.sock)], protocolFactory, backlog, options.startServing ?? true, null);
    }
    const p = checkPath(path);
    // A stale socket file from an earlier run would make bind fail (asyncio removes it too).
    removeSocketFile(p);
    const sock = makeSocket('unix', 'stream');
    try {
      sock.bind(p);
    } catch (error) {
      sock.close();
      throw error;
    }
    const inode = fs.statSync(p).ino;
    // Remove the file on close unless something else replaced it meanwhile.
    const cleanup = options.cleanupSocket ?? true ? () => removeSocketFile(p, inode) : null;
    return await this.makeServer([sock], protocolFactory, backlog, options.startServing ?? true, cleanup);
  }

  // ---- datagrams ----
  async createDatagramEndpoint(
    protocolFactory: () => DatagramProtocol,
    options: DatagramOptions = {},
  ): Promise<[SelectorDatagramTransport, DatagramProtocol]> {
    checkFunction(protocolFactory, 'protocolFactory');
    this.checkClosed();
    let sock: Socket;
    let connected = false;
    if (options.sock !== undefined && options.sock !== null) {
      sock = checkSock(options.sock);
      if (sock.type !== 'dgram') throw new TypeError(`A datagram socket was expected, got a ${sock.type} socket`);
      try {
        sock.getpeername();
        connected = true;
      } catch {
        connected = false;
      }
    } else {
      let family = familyOption(options.family);
      let local: [string, number] | null = null;
      let remote: [string, number] | null = null;
      if (options.localAddr) {
        const [host, port] = hostPort(options.localAddr, 'localAddr');
        const info = (await getaddrinfo(host ?? (family === 'inet6' ? '::' : '0.0.0.0'), port, { family, type: 'dgram' }))[0]!;
        family ??= info[0];
        local = [info[4].address, port];
      }
      if (options.remoteAddr) {
        const [host, port] = hostPort(options.remoteAddr, 'remoteAddr');
        const info = (await getaddrinfo(host, port, { family, type: 'dgram' }))[0]!;
        family ??= info[0];
        remote = [info[4].address, port];
      }
      sock = makeSocket(family ?? 'inet', 'dgram');
      try {
        if (options.reuseAddress) sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
        if (options.reusePort) sock.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1);
        if (options.allowBroadcast) sock.setsockopt(SOL_SOCKET, SO_BROADCAST, 1);
        if (local !== null) sock.bind({ address: local[0], port: local[1] });
        if (remote !== null) {
          await this.sockConnect(sock, { address: remote[0], port: remote[1] });
          connected = true;
        }
      } catch (error) {
        sock.close();
        throw error;
      }
    }
    let protocol: DatagramProtocol;
    try {
      protocol = protocolFactory();
    } catch (error) {
      sock.close();
      throw error;
    }
    const waiter = this.createFuture<void>();
    const transport = new SelectorDatagramTransport(this, sock, protocol, connected, waiter);
    this.transports.set(sock.fileno(), transport);
    try {
      await waiter;
    } catch (error) {
      transport.close();
      throw error;
    }
    return [transport, protocol];
  }

  // ---- serving (ServingLoop) ----
  /** @internal listen, then accept up to `backlog` connections per readiness event. */
  _startServing(server: Server<Socket>, sock: Socket): void {
    sock.listen(server._backlog);
    this._setReader(sock.fileno(), new Handle(this.acceptConnections, [server, sock], this));
  }

  /** @internal */
  _stopServing(sock: Socket): void {
    if (!this.isClosed()) this._setReader(sock.fileno(), null);
    sock.close();
  }

  /** @internal */
  _serverClosed(server: Server<Socket>): void {
    this.servers.delete(server);
  }

  private readonly acceptConnections = (server: Server<Socket>, sock: Socket): void => {
    for (let i = 0; i < Math.max(server._backlog, 1); i++) {
      let conn: Socket;
      try {
        [conn] = sock.accept();
      } catch (error) {
        const errno = -((error as { errno?: number }).errno ?? 0);
        if (errno === EAGAIN || errno === EINTR || errno === ECONNABORTED) return;
        if (errno === EMFILE || errno === ENFILE || errno === ENOBUFS || errno === ENOMEM) {
          // Out of fds or memory: stop accepting for a while rather than spin (asyncio's).
          this.callExceptionHandler({ message: 'socket.accept() out of system resource', exception: error, socket: sock });
          this._setReader(sock.fileno(), null);
          this.callLater(ACCEPT_RETRY_DELAY, () => {
            if (server.isServing() && !sock.closed) this._setReader(sock.fileno(), new Handle(this.acceptConnections, [server, sock], this));
          });
          return;
        }
        throw error;
      }
      try {
        const protocol = server._protocolFactory();
        this.transports.set(conn.fileno(), new SelectorSocketTransport(this, conn, protocol, null, server));
      } catch (error) {
        this.callExceptionHandler({ message: 'Error on transport creation for incoming connection', exception: error });
        conn.close();
      }
    }
  };

  // ---- helpers ----
  private checkStreamSock(sock: unknown): Socket {
    const s = checkSock(sock);
    if (s.type !== 'stream') throw new TypeError(`A stream socket was expected, got a ${s.type} socket`);
    if (s.closed) throw new TypeError('sock is closed');
    return s;
  }

  private async makeStream(sock: Socket, protocolFactory: () => BaseProtocol): Promise<[SelectorSocketTransport, BaseProtocol]> {
    let protocol: BaseProtocol;
    try {
      protocol = protocolFactory();
    } catch (error) {
      sock.close();
      throw error;
    }
    const waiter = this.createFuture<void>();
    const transport = new SelectorSocketTransport(this, sock, protocol, waiter);
    this.transports.set(sock.fileno(), transport);
    try {
      await waiter;
    } catch (error) {
      transport.close();
      throw error;
    }
    return [transport, protocol];
  }

  private async makeServer(
    listeners: Socket[],
    protocolFactory: () => BaseProtocol,
    backlog: number,
    startServing: boolean,
    onClose: (() => void) | null,
  ): Promise<Server<Socket>> {
    const server = new Server<Socket>(this, listeners, protocolFactory, backlog, onClose);
    this.servers.add(server);
    if (startServing) await server.startServing();
    return server;
  }

  /** Try each resolved address in turn (asyncio's create_connection without happy eyeballs). */
  private async connectTo(host: string | null, port: number, family: Family | null, localAddr: HostPort | null): Promise<Socket> {
    const infos = await getaddrinfo(host, port, { family, type: 'stream' });
    if (infos.length === 0) throw new Error('getaddrinfo() returned empty list');
    let locals: AddrInfo[] | null = null;
    if (localAddr !== null) {
      const [lhost, lport] = hostPort(localAddr, 'localAddr');
      locals = await getaddrinfo(lhost ?? (family === 'inet6' ? '::' : '0.0.0.0'), lport, { family, type: 'stream' });
    }
    const errors: unknown[] = [];
    for (const [fam, , , , addr] of infos) {
      const local = locals?.find((info) => info[0] === fam);
      if (locals !== null && local === undefined) {
        errors.push(new Error(`no matching local address with family=${fam} found`));
        continue;
      }
      const sock = makeSocket(fam, 'stream');
      try {
        if (local !== undefined) sock.bind(local[4]);
        await this.sockConnect(sock, addr);
        return sock;
      } catch (error) {
        sock.close();
        if (error instanceof CancelledError) throw error;
        errors.push(error);
      }
    }
    const codes = new Set(errors.map((e) => (e as { code?: unknown }).code ?? String(e)));
    if (errors.length === 1 || codes.size === 1) throw errors[0];
    throw Object.assign(new Error(`Multiple exceptions: ${errors.map(String).join(', ')}`), { errors });
  }

  /** `[address, family]` pairs to listen on; a null host means every interface, IPv4 and IPv6. */
  private async serverAddresses(host: string | readonly string[] | null, port: number, family: Family | null): Promise<Array<[string, Family]>> {
    if (host === null || host === '') {
      const any: Array<[string, Family]> = [['0.0.0.0', 'inet'], ['::', 'inet6']];
      return any.filter(([, f]) => family === null || f === family);
    }
    const hosts = typeof host === 'string' ? [host] : host;
    if (!Array.isArray(hosts)) throw new TypeError(`host must be a string, an array of strings or null, got ${describe(host)}`);
    const seen = new Set<string>();
    const out: Array<[string, Family]> = [];
    for (const h of hosts) {
      if (typeof h !== 'string') throw new TypeError(`host must be a string, an array of strings or null, got ${describe(h)}`);
      for (const [fam, , , , addr] of await getaddrinfo(h, port, { family, type: 'stream' })) {
        if (seen.has(addr.address)) continue;
        seen.add(addr.address);
        out.push([addr.address, fam]);
      }
    }
    return out;
  }

  /** A bound socket; null for '::' where IPv6 is unavailable (the IPv4 socket still serves). */
  private bindInet(address: string, family: Family, port: number, type: 'stream', options: ServerOptions): Socket | null {
    let sock: Socket;
    try {
      sock = makeSocket(family as SocketFamily, type);
    } catch (error) {
      if (address === '::' && (error as { code?: unknown }).code === 'EAFNOSUPPORT') return null;
      throw error;
    }
    try {
      // POSIX servers reuse the address by default, so a restart does not hit TIME_WAIT.
      if (options.reuseAddress ?? true) sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
      if (options.reusePort) sock.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1);
      // As asyncio: an IPv6 listener does not also take IPv4 connections.
      if (family === 'inet6') sock.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1);
      sock.bind({ address, port });
    } catch (error) {
      sock.close();
      if (address === '::' && (error as { code?: unknown }).code === 'EADDRNOTAVAIL') return null;
      const e = error as Error;
      e.message = `error while attempting to bind on address ${familyOfAddress(address) === 'inet6' ? `[${address}]` : address}:${port}: ${e.message}`;
      throw error;
    }
    return sock;
  }
}

function removeSocketFile(path: string, inode?: number): void {
  try {
    const st = fs.statSync(path);
    if (st.isSocket() && (inode === undefined || st.ino === inode)) fs.unlinkSync(path);
  } catch {
    // already gone: nothing to remove
  }
}
