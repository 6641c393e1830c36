/**
 * ProactorEventLoop (CPython's BaseProactorEventLoop): core's BaseEventLoop plus what
 * differs for a completion backend. Each iteration's I/O step is `proactor.select()`;
 * sock* methods are proactor operations; transports keep a receive and a send posted;
 * servers keep an accept posted. Readiness (addReader/addWriter) is not offered: core's
 * default throws NotImplementedError, as asyncio's proactor does.
 */
import * as dgram from 'node:dgram';
import * as dns from 'node:dns';
import * as fs from 'node:fs';
import * as net from 'node:net';
import {
  BaseEventLoop,
  CancelledError,
  RuntimeError,
  type DatagramProtocol,
  type Future,
  type BaseProtocol,
} from '@loopkit/core';
import {
  IPPROTO_IPV6,
  IPV6_V6ONLY,
  isAvailable as uvAvailable,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOL_SOCKET,
  Socket as UvSocket,
  socket as uvSocket,
} from '@loopkit/uv';
import { NetProactor } from './net-proactor.js';
import { NetSocket, type NetSocketFamily } from './net-socket.js';
import type { Address, Proactor } from './proactor.js';
import { Server, type ServingLoop } from '@loopkit/core';
import { ProactorDatagramTransport, ProactorSocketTransport, type OwnedTransport } from './transports.js';

type Family = 'inet' | 'inet6';
/** One getaddrinfo result: `[family, type, proto, canonname, sockaddr]`, as asyncio's tuples. */
export type AddrInfo = [family: Family, type: 'stream' | 'dgram', proto: number, canonname: string, sockaddr: Address & { address: string; port: number }];

export interface ConnectionOptions {
  family?: Family | number | null;
  localAddr?: HostPort | null;
  sock?: unknown;
}
export interface ServerOptions {
  backlog?: number;
  reuseAddress?: boolean | null;
  reusePort?: boolean | null;
  family?: Family | number | null;
  sock?: unknown;
  startServing?: boolean;
}
export interface UnixServerOptions {
  backlog?: number;
  sock?: unknown;
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
  sock?: unknown;
}
/** `{address, port}` or `[host, port]`; the host may be a name (resolved with getaddrinfo). */
export type HostPort = { address?: string | null; port: number } | readonly [string | null, number];

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'Object'})`;
  return `${typeof value} ${String(value)}`;
}

function checkFactory(value: unknown): asserts value is () => BaseProtocol {
  if (typeof value !== 'function') throw new TypeError(`protocolFactory must be a function, got ${describe(value)}`);
}

function familyOption(value: unknown, name = 'family'): Family | null {
  if (value === undefined || value === null || value === 0) return null;
  if (value === 'inet' || value === 'IPv4' || value === 4 || value === 2) return 'inet';
  if (value === 'inet6' || value === 'IPv6' || value === 6 || value === 10 || value === 30) return 'inet6';
  throw new TypeError(`${name} must be 'inet', 'inet6' or null, got ${describe(value)}`);
}

function checkPort(port: unknown, name = 'port'): number {
  if (typeof port === 'string' && /^\d+$/.test(port)) port = Number(port);
  if (typeof port !== 'number' || !Number.isInteger(port)) throw new TypeError(`${name} must be an integer, got ${describe(port)}`);
  if (port < 0 || port > 65535) throw new RangeError(`${name} must be in 0..65535, got ${port}`);
  return port;
}

function hostPort(value: unknown, name: string): [string | null, number] {
  if (Array.isArray(value) && value.length === 2) return [(value[0] as string | null) ?? null, checkPort(value[1], `${name}[1]`)];
  if (value !== null && typeof value === 'object' && 'port' in value) {
    const v = value as { address?: string | null; port: unknown };
    return [v.address ?? null, checkPort(v.port, `${name}.port`)];
  }
  throw new TypeError(`${name} must be {address, port} or [host, port], got ${describe(value)}`);
}

function checkPath(path: unknown, name = 'path'): string {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError(`${name} must be a non-empty string, got ${describe(path)}`);
  return path;
}

function once(emitter: net.Server | dgram.Socket, start: (done: () => void) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    emitter.once('error', onError);
    start(() => {
      emitter.off('error', onError);
      resolve();
    });
  });
}

export class ProactorEventLoop extends BaseEventLoop implements ServingLoop {
  /** @internal */ readonly _proactor: Proactor;
  private readonly transports = new Set<OwnedTransport>();
  private readonly servers = new Set<Server>();
  private readonly accepting = new Map<NetSocket, Future<[unknown, Address]>>();

  constructor(proactor: Proactor = new NetProactor()) {
    super();
    if (proactor === null || typeof proactor !== 'object' || typeof proactor.select !== 'function') {
      throw new TypeError(`proactor must implement the Proactor interface, got ${describe(proactor)}`);
    }
    this._proactor = proactor;
    proactor.setLoop(this);
  }

  // ---- the backend hooks ----
  override ioPoll(): void {
    this._proactor.select(0);
  }

  override ioStart(wake: () => void): void {
    this._proactor.setWakeup(wake);
  }

  override ioStop(): void {
    this._proactor.setWakeup(null);
  }

  /** Close a stopped loop: its servers and transports first (connectionLost now), then the proactor. */
  override close(): void {
    if (this.isRunning()) throw new RuntimeError('Cannot close a running event loop');
    if (!this.isClosed()) {
      for (const server of [...this.servers]) server.close();
      for (const transport of [...this.transports]) transport._closeNow();
      this._proactor.close();
    }
    super.close();
  }

  // ---- sock* : one proactor operation each ----
  async sockRecv(sock: unknown, n: number): Promise<Uint8Array> {
    this.checkClosed();
    return await this._proactor.recv(sock, n);
  }

  async sockRecvInto(sock: unknown, buf: Uint8Array): Promise<number> {
    this.checkClosed();
    return await this._proactor.recvInto(sock, buf);
  }

  async sockSendall(sock: unknown, data: Uint8Array): Promise<void> {
    this.checkClosed();
    if (!ArrayBuffer.isView(data)) throw new TypeError(`data must be a Uint8Array or Buffer, got ${describe(data)}`);
    let rest = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    while (rest.length > 0) {
      const n = await this._proactor.send(sock, rest);
      rest = rest.subarray(n);
    }
  }

  async sockConnect(sock: unknown, address: unknown): Promise<void> {
    this.checkClosed();
    const family = (sock as { family?: unknown } | null)?.family;
    if (family === 'unix') {
      const path = typeof address === 'string' ? address : (address as { path?: unknown } | null)?.path;
      await this._proactor.connect(sock, { path: checkPath(path, 'address') });
      return;
    }
    const [host, port] = hostPort(address, 'address');
    const infos = await this.getaddrinfo(host, port, { family: family === 'inet6' ? 'inet6' : 'inet', type: 'stream' });
    await this._proactor.connect(sock, { address: infos[0]![4].address, port });
  }

  async sockAccept(sock: unknown): Promise<[unknown, unknown]> {
    this.checkClosed();
    return await this._proactor.accept(sock);
  }

  // ---- names ----
  /** dns.lookup (the OS resolver, off the loop's thread): asyncio-style tuples. */
  async getaddrinfo(
    host: string | null,
    port: number | string | null,
    options: { family?: Family | number | null; type?: 'stream' | 'dgram' | null; proto?: number; flags?: number } = {},
  ): Promise<AddrInfo[]> {
    const family = familyOption(options.family);
    const p = port === null || port === undefined ? 0 : checkPort(port);
    const type = options.type ?? 'stream';
    if (type !== 'stream' && type !== 'dgram') throw new TypeError(`type must be 'stream', 'dgram' or null, got ${describe(type)}`);
    let found: dns.LookupAddress[];
    if (host === null || host === undefined) {
      found = [
        { address: '127.0.0.1', family: 4 },
        { address: '::1', family: 6 },
      ].filter((a) => family === null || (a.family === 4) === (family === 'inet'));
    } else {
      if (typeof host !== 'string') throw new TypeError(`host must be a string or null, got ${describe(host)}`);
      found = await dns.promises.lookup(host, { all: true, family: family === null ? 0 : family === 'inet' ? 4 : 6, verbatim: true });
    }
    return found.map((a) => {
      const fam: Family = a.family === 6 ? 'inet6' : 'inet';
      return [fam, type, type === 'stream' ? 6 : 17, '', { address: a.address, family: a.family === 6 ? 'IPv6' : 'IPv4', port: p }];
    });
  }

  /** dns.lookupService: `[host, service]`. */
  async getnameinfo(sockaddr: unknown, _flags = 0): Promise<[string, string]> {
    const [host, port] = hostPort(sockaddr, 'sockaddr');
    if (host === null || net.isIP(host) === 0) throw new TypeError(`sockaddr must hold a numeric address, got ${describe(host)}`);
    const { hostname, service } = await dns.promises.lookupService(host, port);
    return [hostname, service];
  }

  // ---- streams ----
  async createConnection(
    protocolFactory: () => BaseProtocol,
    host: string | null = null,
    port: number | null = null,
    options: ConnectionOptions = {},
  ): Promise<[ProactorSocketTransport, BaseProtocol]> {
    checkFactory(protocolFactory);
    this.checkClosed();
    let sock: NetSocket;
    if (options.sock !== undefined && options.sock !== null) {
      if (host !== null || port !== null) throw new TypeError('host/port and sock can not be specified at the same time');
      sock = this.adoptStream(options.sock);
    } else {
      if (host === null && port === null) throw new TypeError('host and port was not specified and no sock specified');
      sock = await this.connectTo(host, checkPort(port), familyOption(options.family), options.localAddr ?? null);
    }
    return await this.makeStream(sock, protocolFactory);
  }

  async createUnixConnection(
    protocolFactory: () => BaseProtocol,
    path: string | null = null,
    options: { sock?: unknown } = {},
  ): Promise<[ProactorSocketTransport, BaseProtocol]> {
    checkFactory(protocolFactory);
    this.checkClosed();
    let sock: NetSocket;
    if (options.sock !== undefined && options.sock !== null) {
      if (path !== null) throw new TypeError('path and sock can not be specified at the same time');
      sock = this.adoptStream(options.sock);
    } else {
      sock = new NetSocket('unix');
      try {
        await this._proactor.connect(sock, { path: checkPath(path) });
      } catch (error) {
        sock.close();
        throw error;
      }
    }
    return await this.makeStream(sock, protocolFactory);
  }

  async createServer(
    protocolFactory: () => BaseProtocol,
    host: string | readonly string[] | null = null,
    port: number | null = null,
    options: ServerOptions = {},
  ): Promise<Server> {
    checkFactory(protocolFactory);
    this.checkClosed();
    const backlog = options.backlog ?? 100;
    if (!Number.isInteger(backlog) || backlog < 0) throw new TypeError(`backlog must be a non-negative integer, got ${describe(backlog)}`);
    const listeners: NetSocket[] = [];
    if (options.sock !== undefined && options.sock !== null) {
      if (host !== null || port !== null) throw new TypeError('host/port and sock can not be specified at the same time');
      listeners.push(await this.adoptListener(options.sock, backlog));
    } else {
      const family = familyOption(options.family);
      const p = port === null ? 0 : checkPort(port);
      if (options.reusePort && !uvAvailable()) {
        throw new TypeError('reusePort needs the @loopkit/uv addon (node:net on Node 20 cannot set SO_REUSEPORT)');
      }
      try {
        for (const [address, fam] of await this.serverAddresses(host, p, family)) {
          listeners.push(await this.listenInet(address, fam, p, backlog, options));
        }
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
  ): Promise<Server> {
    checkFactory(protocolFactory);
    this.checkClosed();
    const backlog = options.backlog ?? 100;
    if (!Number.isInteger(backlog) || backlog < 0) throw new TypeError(`backlog must be a non-negative integer, got ${describe(backlog)}`);
    if (options.sock !== undefined && options.sock !== null) {
      if (path !== null) throw new TypeError('path and sock can not be specified at the same time');
      const listener = await this.adoptListener(options.sock, backlog);
      return await this.makeServer([listener], protocolFactory, backlog, options.startServing ?? true, null);
    }
    const p = checkPath(path);
    // A stale socket file from an earlier run would make listen fail (asyncio removes it too).
    try {
      if (fs.statSync(p).isSocket()) fs.unlinkSync(p);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true });
    await once(server, (done) => server.listen({ path: p, backlog }, done));
    const listener = NetSocket._fromServer(server, 'unix');
    const cleanup = options.cleanupSocket ?? true ? () => removeSocketFile(p) : null;
    return await this.makeServer([listener], protocolFactory, backlog, options.startServing ?? true, cleanup);
  }

  // ---- datagrams ----
  async createDatagramEndpoint(
    protocolFactory: () => DatagramProtocol,
    options: DatagramOptions = {},
  ): Promise<[ProactorDatagramTransport, DatagramProtocol]> {
    checkFactory(protocolFactory);
    this.checkClosed();
    if (options.sock !== undefined && options.sock !== null) {
      throw new TypeError('sock is not supported by ProactorEventLoop.createDatagramEndpoint: node:dgram cannot adopt a socket');
    }
    if (options.reusePort) throw new TypeError('reusePort is not supported for datagram endpoints on node:dgram (Node 20)');
    let family = familyOption(options.family);
    let local: [string, number] | null = null;
    let remote: [string, number] | null = null;
    if (options.localAddr) {
      const [host, port] = hostPort(options.localAddr, 'localAddr');
      const info = (await this.getaddrinfo(host ?? (family === 'inet6' ? '::' : '0.0.0.0'), port, { family, type: 'dgram' }))[0]!;
      family ??= info[0];
      local = [info[4].address, port];
    }
    if (options.remoteAddr) {
      const [host, port] = hostPort(options.remoteAddr, 'remoteAddr');
      const info = (await this.getaddrinfo(host, port, { family, type: 'dgram' }))[0]!;
      family ??= info[0];
      remote = [info[4].address, port];
    }
    family ??= 'inet';
    const socket = dgram.createSocket({ type: family === 'inet6' ? 'udp6' : 'udp4', reuseAddr: Boolean(options.reuseAddress) });
    const sock = NetSocket._fromDgram(socket, family);
    try {
      if (local !== null || remote === null) {
        const [address, port] = local ?? [family === 'inet6' ? '::' : '0.0.0.0', 0];
        await once(socket, (done) => socket.bind(port, address, done));
      }
      if (remote !== null) {
        const [address, port] = remote;
        await once(socket, (done) => socket.connect(port, address, done));
      }
      if (options.allowBroadcast) socket.setBroadcast(true);
    } catch (error) {
      sock.close();
      throw error;
    }
    const protocol = protocolFactory();
    const waiter = this.createFuture<void>();
    const transport = new ProactorDatagramTransport(this, this._proactor, sock, protocol, remote !== null, waiter, this.release);
    this.transports.add(transport);
    try {
      await waiter;
    } catch (error) {
      transport.close();
      throw error;
    }
    return [transport, protocol];
  }

  // ---- serving (ServingLoop) ----
  /** @internal keep one accept posted on `sock` while `server` serves. */
  _startServing(server: Server, sock: unknown): void {
    const listener = sock as NetSocket;
    const post = (): void => {
      if (this.isClosed() || listener.closed) return;
      const fut = this._proactor.accept(listener);
      this.accepting.set(listener, fut);
      fut.addDoneCallback(accepted);
    };
    const accepted = (fut: Future<[unknown, Address]>): void => {
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
      const [conn] = fut.result() as [NetSocket, Address];
      try {
        const protocol = server._protocolFactory() as BaseProtocol;
        this.transports.add(new ProactorSocketTransport(this, this._proactor, conn, protocol, null, server, this.release));
      } catch (exc) {
        this.callExceptionHandler({ message: 'Error on transport creation for incoming connection', exception: exc });
        conn.close();
      }
      post();
    };
    post();
  }

  /** @internal */
  _stopServing(sock: unknown): void {
    const listener = sock as NetSocket;
    const fut = this.accepting.get(listener);
    this.accepting.delete(listener);
    fut?.cancel();
    listener.close();
  }

  /** @internal */
  _serverClosed(server: Server): void {
    this.servers.delete(server);
  }

  // ---- helpers ----
  private readonly release = (transport: OwnedTransport): void => {
    this.transports.delete(transport);
  };

  private async makeStream(sock: NetSocket, protocolFactory: () => BaseProtocol): Promise<[ProactorSocketTransport, BaseProtocol]> {
    let protocol: BaseProtocol;
    try {
      protocol = protocolFactory();
    } catch (error) {
      sock.close();
      throw error;
    }
    const waiter = this.createFuture<void>();
    const transport = new ProactorSocketTransport(this, this._proactor, sock, protocol, waiter, null, this.release);
    this.transports.add(transport);
    try {
      await waiter;
    } catch (error) {
      transport.close();
      throw error;
    }
    return [transport, protocol];
  }

  private async makeServer(
    listeners: NetSocket[],
    protocolFactory: () => BaseProtocol,
    backlog: number,
    startServing: boolean,
    onClose: (() => void) | null,
  ): Promise<Server> {
    const server = new Server(this, listeners, protocolFactory, backlog, onClose);
    this.servers.add(server);
    if (startServing) await server.startServing();
    return server;
  }

  /** Try each resolved address in turn (asyncio's create_connection without happy eyeballs). */
  private async connectTo(host: string | null, port: number, family: Family | null, localAddr: HostPort | null): Promise<NetSocket> {
    const infos = await this.getaddrinfo(host, port, { family, type: 'stream' });
    if (infos.length === 0) throw new Error('getaddrinfo() returned empty list');
    let locals: AddrInfo[] | null = null;
    if (localAddr !== null) {
      const [lhost, lport] = hostPort(localAddr, 'localAddr');
      locals = await this.getaddrinfo(lhost ?? (family === 'inet6' ? '::' : '0.0.0.0'), lport, { family, type: 'stream' });
    }
    const errors: unknown[] = [];
    for (const [fam, , , , addr] of infos) {
      const local = locals?.find((info) => info[0] === fam);
      if (locals !== null && local === undefined) {
        errors.push(new Error(`no matching local address with family=${fam} found`));
        continue;
      }
      const sock = new NetSocket(fam);
      if (local !== undefined) sock.bind(local[4]);
      try {
        await this._proactor.connect(sock, { address: addr.address, port });
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

  /** `[address, family]` pairs to listen on; null host: Node's default (all interfaces, dual stack). */
  private async serverAddresses(host: string | readonly string[] | null, port: number, family: Family | null): Promise<Array<[string | null, Family | null]>> {
    if (host === null || host === '') return [[null, family]];
    const hosts = typeof host === 'string' ? [host] : host;
    const seen = new Set<string>();
    const out: Array<[string | null, Family | null]> = [];
    for (const h of hosts) {
      if (typeof h !== 'string') throw new TypeError(`host must be a string, an array of strings or null, got ${describe(h)}`);
      for (const [fam, , , , addr] of await this.getaddrinfo(h, port, { family, type: 'stream' })) {
        if (seen.has(addr.address)) continue;
        seen.add(addr.address);
        out.push([addr.address, fam]);
      }
    }
    return out;
  }

  private async listenInet(address: string | null, family: Family | null, port: number, backlog: number, options: ServerOptions): Promise<NetSocket> {
    if (options.reusePort) {
      // SO_REUSEPORT must be set before bind: make the socket with the addon, hand it to Node.
      const fam: Family = family ?? (address !== null && net.isIPv6(address) ? 'inet6' : 'inet');
      const sock = uvSocket(fam, 'stream');
      try {
        sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
        sock.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1);
        if (fam === 'inet6') sock.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1);
        sock.bind({ address: address ?? undefined, port });
      } catch (error) {
        sock.close();
        throw error;
      }
      return await this.adoptListener(sock, backlog);
    }
    const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true });
    const listenOptions: net.ListenOptions = { port, backlog };
    if (address !== null) {
      listenOptions.host = address;
      // As asyncio: an IPv6 listener does not also take IPv4 connections.
      if (net.isIPv6(address)) listenOptions.ipv6Only = true;
    }
    await once(server, (done) => server.listen(listenOptions, done));
    const bound = server.address() as net.AddressInfo;
    return NetSocket._fromServer(server, bound.family === 'IPv6' ? 'inet6' : 'inet');
  }

  /** A connected stream socket given by the caller becomes the transport's (a uv Socket is detached into Node). */
  private adoptStream(sock: unknown): NetSocket {
    if (sock instanceof NetSocket) {
      if (sock.type !== 'stream' || sock._stream === null) throw new TypeError(`A connected stream socket was expected, got ${sock}`);
      return sock;
    }
    if (sock instanceof UvSocket) {
      if (sock.type !== 'stream') throw new TypeError(`A stream socket was expected, got a ${sock.type} socket`);
      if (sock.closed) throw new TypeError('sock is closed');
      const family = sock.family as NetSocketFamily;
      const [local, peer] = family === 'unix' ? [pathOf(() => sock.getsockname()), pathOf(() => sock.getpeername())] : ['', ''];
      const stream = new net.Socket({ fd: sock.detach(), allowHalfOpen: true, readable: true, writable: true });
      const adopted = NetSocket._fromStream(stream, family);
      adopted._sockPath = local;
      adopted._peerPath = peer;
      return adopted;
    }
    throw new TypeError(`sock must be a NetSocket or a @loopkit/uv Socket, got ${describe(sock)}`);
  }

  /** A listening (or bound) socket given by the caller: Node listens on its fd. */
  private async adoptListener(sock: unknown, backlog: number): Promise<NetSocket> {
    if (sock instanceof NetSocket) {
      if (sock._server === null) throw new TypeError(`A listening socket was expected, got ${sock}`);
      return sock;
    }
    if (!(sock instanceof UvSocket)) throw new TypeError(`sock must be a NetSocket or a @loopkit/uv Socket, got ${describe(sock)}`);
    if (sock.type !== 'stream') throw new TypeError(`A stream socket was expected, got a ${sock.type} socket`);
    if (sock.closed) throw new TypeError('sock is closed');
    const family = sock.family as NetSocketFamily;
    const path = family === 'unix' ? pathOf(() => sock.getsockname()) : '';
    const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true });
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
}

function pathOf(get: () => unknown): string {
  try {
    const addr = get() as { path?: string };
    return addr.path ?? '';
  } catch {
    return '';
  }
}

function removeSocketFile(path: string): void {
  try {
    if (fs.statSync(path).isSocket()) fs.unlinkSync(path);
  } catch {
    // already gone: nothing to clean up
  }
}
