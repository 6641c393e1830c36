/**
 * BaseSocketLoop: the portable half of a loop with sockets (the network methods of asyncio's
 * base_events.BaseEventLoop). It checks the arguments of createConnection, createServer,
 * createUnixConnection, createUnixServer and createDatagramEndpoint, resolves names, tries
 * each resolved address in turn, makes the protocol and the Server, and owns the transports
 * and servers until loop.close(). The backend (`S`: its socket type) says only how a socket
 * is made, connected, bound and listened, and which transport it gets: the abstract hooks below.
 */
import { fs } from './node-builtins.js';
import { BaseEventLoop } from './base-events.js';
import { BaseStreamTransport } from './base-transport.js';
import { CancelledError, ExceptionGroup, RuntimeError } from './errors.js';
import type { Future } from './futures.js';
import {
  checkBacklog,
  checkPath,
  checkPort,
  familyOption,
  getaddrinfo,
  getnameinfo,
  hostPort,
  type AddrInfo,
  type AddrInfoOptions,
  type Family,
  type HostPort,
  type InetSockAddr,
  type SockType,
} from './names.js';
import { checkProtocol, type BaseProtocol, type DatagramProtocol } from './protocols.js';
import { interleaveAddrInfos, staggeredConnect, type Attempt } from './happy-eyeballs.js';
import { Server, type ServerSocket, type ServingLoop } from './server.js';
import type { BaseTransport, DatagramTransport, Transport } from './transports.js';
import { checkCallback, checkOptions, describe } from './validate.js';
import { clientTLS, serverTLS, TLS_CLIENT_OPTIONS, TLS_SERVER_OPTIONS, type TLSClientOptions, type TLSServerOptions, type TLSSetup } from './tls/contexts.js';
import type { SSLTransport } from './tls/ssl-transport.js';
import { newSSLProtocol } from './tls/sslproto.js';

/** `A`: what a caller may pass as `sock`. */
export interface ConnectionOptions<A = unknown> extends TLSClientOptions {
  family?: Family | number | null;
  localAddr?: HostPort | null;
  sock?: A | null;
  /** Seconds to wait for one address before racing the next (RFC 8305; asyncio suggests 0.25); null: one at a time. */
  happyEyeballsDelay?: number | null;
  /** Reorder the addresses by family, first `interleave` of the first family, then alternating (default 1 with happyEyeballsDelay). */
  interleave?: number | null;
  /** When every address fails: an ExceptionGroup of all their errors instead of one error (asyncio 3.12's all_errors). */
  allErrors?: boolean;
}
/** Options of createUnixConnection (asyncio's create_unix_connection keywords): a given socket, TLS. */
export interface UnixConnectionOptions<A = unknown> extends TLSClientOptions {
  sock?: A | null;
}
/** Options of createServer (asyncio's create_server keywords): backlog, address reuse, family, a given socket, whether to start serving, TLS. */
export interface ServerOptions<A = unknown> extends TLSServerOptions {
  backlog?: number;
  reuseAddress?: boolean | null;
  reusePort?: boolean | null;
  family?: Family | number | null;
  sock?: A | null;
  startServing?: boolean;
  /** SO_KEEPALIVE on the listening sockets, so on every connection they accept (asyncio 3.13's keep_alive). */
  keepAlive?: boolean | null;
}
/** Options of createUnixServer: backlog, a given socket, whether to start serving, socket file cleanup, TLS. */
export interface UnixServerOptions<A = unknown> extends TLSServerOptions {
  backlog?: number;
  sock?: A | null;
  startServing?: boolean;
  /** Remove the socket file when the server closes (asyncio 3.13's cleanup_socket). */
  cleanupSocket?: boolean;
}
/**
 * Options of createDatagramEndpoint: local and remote address, family, port reuse, broadcast, a
 * given socket. No reuseAddress: asyncio 3.13 removed reuse_address (SO_REUSEADDR lets another
 * process bind the same UDP address and take its datagrams), so it is refused as an unknown option.
 */
export interface DatagramOptions<A = unknown> {
  localAddr?: HostPort | null;
  remoteAddr?: HostPort | null;
  family?: Family | number | null;
  reusePort?: boolean | null;
  allowBroadcast?: boolean | null;
  sock?: A | null;
}

/** What the loop needs of a transport it owns. */
export interface OwnedTransport extends BaseTransport {
  /** Loop close: connectionLost now, synchronously, and release the socket. */
  _closeNow(): void;
}

/** What the portable code does with a backend's socket. */
export interface LoopSocket extends ServerSocket {
  /** Bind to a local address. */
  bind(address: InetSockAddr): void;
  /** Close the socket. */
  close(): void;
}

/** The wildcard address of a family (IPv4's when any will do). */
export function anyAddress(family: Family | null): string {
  return family === 'inet6' ? '::' : '0.0.0.0';
}

/** The options each method knows (a misspelt key is a TypeError, not silently ignored). */
export const OPTION_KEYS = {
  createConnection: ['family', 'localAddr', 'sock', 'happyEyeballsDelay', 'interleave', 'allErrors', ...TLS_CLIENT_OPTIONS],
  createUnixConnection: ['sock', ...TLS_CLIENT_OPTIONS],
  createServer: ['backlog', 'reuseAddress', 'reusePort', 'keepAlive', 'family', 'sock', 'startServing', ...TLS_SERVER_OPTIONS],
  createUnixServer: ['backlog', 'sock', 'startServing', 'cleanupSocket', ...TLS_SERVER_OPTIONS],
  createDatagramEndpoint: ['localAddr', 'remoteAddr', 'family', 'reusePort', 'allowBroadcast', 'sock'],
  connectAcceptedSocket: TLS_SERVER_OPTIONS,
} as const;

export abstract class BaseSocketLoop<
  S extends LoopSocket,
  ST extends OwnedTransport & Transport,
  DT extends OwnedTransport & DatagramTransport,
  A = unknown,
> extends BaseEventLoop implements ServingLoop<S> {
  /** Live transports by `_transportKey(sock)`; loop.close() closes them. */
  protected readonly _transports = new Map<unknown, OwnedTransport>();
  private readonly servers = new Set<Server<S>>();

  // ---- backend hooks ----
  /** A new unconnected stream socket. */
  protected abstract _newStreamSocket(family: Family | 'unix'): S;
  /** Connect `sock` to a numeric address or a Unix path. */
  protected abstract _connect(sock: S, address: InetSockAddr | { path: string }): Promise<void>;
  /** The connected stream socket a caller passed as `sock`, checked (or adopted). */
  protected abstract _givenStreamSocket(sock: unknown): S;
  /** The listening socket a caller passed as `sock`, checked (or adopted). */
  protected abstract _givenListener(sock: unknown, backlog: number): S | Promise<S>;
  /** Throw if `reusePort` cannot be honoured for this kind of socket. */
  protected abstract _checkReusePort(type: SockType): void;
  /**
   * A socket bound (or listening) on `address`; null when that wildcard address is not
   * available here (the others serve). `address` is null only where `_anyAddresses` says so.
   */
  protected abstract _listenInet(address: string | null, family: Family | null, port: number, backlog: number, options: ServerOptions<A>): S | null | Promise<S | null>;
  /** A socket bound (or listening) on the Unix path. */
  protected abstract _listenUnix(path: string, backlog: number): S | Promise<S>;
  /** The datagram socket a caller passed as `sock`, and whether it is connected. */
  protected abstract _givenDatagramSocket(sock: unknown): [S, boolean];
  /** A datagram socket bound to `local` (if given) and connected to `remote` (if given), with the options' flags. */
  protected abstract _openDatagram(family: Family, local: InetSockAddr | null, remote: InetSockAddr | null, options: DatagramOptions<A>): Promise<S>;
  /** Backend hook: the stream transport for a connected socket. */
  protected abstract _streamTransport(sock: S, protocol: BaseProtocol, waiter: Future<void> | null, server: Server<S> | null): ST;
  /** Backend hook: the datagram transport for a UDP socket. */
  protected abstract _datagramTransport(sock: S, protocol: DatagramProtocol, connected: boolean, waiter: Future<void>): DT;
  abstract _startServing(server: Server<S>, sock: S): void;
  abstract _stopServing(sock: S): void;

  /** What a transport on `sock` is owned by; the transport passes it to `_transportClosed`. */
  protected _transportKey(sock: S): unknown {
    return sock;
  }

  /** `[address, family]` pairs a null host listens on: every interface, IPv4 and IPv6 (asyncio's). */
  protected _anyAddresses(family: Family | null): Array<[string | null, Family | null]> {
    const any: Array<[string, Family]> = [['0.0.0.0', 'inet'], ['::', 'inet6']];
    return any.filter(([, f]) => family === null || f === family);
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
  async createConnection<P extends BaseProtocol = BaseProtocol>(
    protocolFactory: () => P,
    host: string | null = null,
    port: number | null = null,
    options: ConnectionOptions<A> = {},
  ): Promise<[ST | SSLTransport, P]> {
    checkCallback(protocolFactory, 'protocolFactory');
    options = checkOptions(options, OPTION_KEYS.createConnection, 'createConnection');
    this.checkClosed();
    const tls = clientTLS(this, options, host, 'createConnection');
    let sock: S;
    if (options.sock !== undefined && options.sock !== null) {
      if (host !== null || port !== null) throw new TypeError('host/port and sock can not be specified at the same time');
      sock = this._givenStreamSocket(options.sock);
    } else {
      if (host === null && port === null) throw new TypeError('host and port was not specified and no sock specified');
      const delay = checkHappyEyeballs(options);
      sock = await this.connectTo(host, checkPort(port), familyOption(options.family), options.localAddr ?? null, delay, options.interleave ?? null, checkFlag(options.allErrors, 'allErrors'));
    }
    return await this.makeStream(sock, protocolFactory, tls);
  }

  async createUnixConnection<P extends BaseProtocol = BaseProtocol>(
    protocolFactory: () => P,
    path: string | null = null,
    options: UnixConnectionOptions<A> = {},
  ): Promise<[ST | SSLTransport, P]> {
    checkCallback(protocolFactory, 'protocolFactory');
    options = checkOptions(options, OPTION_KEYS.createUnixConnection, 'createUnixConnection');
    this.checkClosed();
    // A Unix path names no host: serverHostname must be given with ssl (asyncio's rule).
    const tls = clientTLS(this, options, null, 'createUnixConnection');
    let sock: S;
    if (options.sock !== undefined && options.sock !== null) {
      if (path !== null) throw new TypeError('path and sock can not be specified at the same time');
      sock = this._givenStreamSocket(checkUnixStream(options.sock));
    } else {
      if (path === null) throw new TypeError('no path and sock were specified');
      const p = checkPath(path);
      sock = this._newStreamSocket('unix');
      try {
        await this._connect(sock, { path: p });
      } catch (error) {
        sock.close();
        throw error;
      }
    }
    return await this.makeStream(sock, protocolFactory, tls);
  }

  /**
   * A transport on a stream socket accepted outside the loop (asyncio's
   * connect_accepted_socket): the server side of a connection, TLS included.
   */
  async connectAcceptedSocket<P extends BaseProtocol = BaseProtocol>(protocolFactory: () => P, sock: unknown, options: TLSServerOptions = {}): Promise<[ST | SSLTransport, P]> {
    checkCallback(protocolFactory, 'protocolFactory');
    options = checkOptions(options, OPTION_KEYS.connectAcceptedSocket, 'connectAcceptedSocket');
    this.checkClosed();
    const tls = serverTLS(this, options, 'connectAcceptedSocket');
    return await this.makeStream(this._givenStreamSocket(sock), protocolFactory, tls);
  }

  /** Listen on every address of `host` (all interfaces when null); resolves to the Server. */
  async createServer(
    protocolFactory: () => BaseProtocol,
    host: string | readonly string[] | null = null,
    port: number | null = null,
    options: ServerOptions<A> = {},
  ): Promise<Server<S>> {
    checkCallback(protocolFactory, 'protocolFactory');
    options = checkOptions(options, OPTION_KEYS.createServer, 'createServer');
    this.checkClosed();
    protocolFactory = this.tlsFactory(protocolFactory, serverTLS(this, options, 'createServer'));
    const backlog = checkBacklog(options.backlog ?? 100);
    const listeners: S[] = [];
    if (options.sock !== undefined && options.sock !== null) {
      if (host !== null || port !== null) throw new TypeError('host/port and sock can not be specified at the same time');
      listeners.push(await this._givenListener(options.sock, backlog));
    } else {
      const p = port === null ? 0 : checkPort(port);
      if (options.reusePort) this._checkReusePort('stream');
      checkFlag(options.keepAlive, 'keepAlive');
      try {
        for (const [address, family] of await this.serverAddresses(host, p, familyOption(options.family))) {
          const sock = await this._listenInet(address, family, p, backlog, options);
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
    options: UnixServerOptions<A> = {},
  ): Promise<Server<S>> {
    checkCallback(protocolFactory, 'protocolFactory');
    options = checkOptions(options, OPTION_KEYS.createUnixServer, 'createUnixServer');
    this.checkClosed();
    protocolFactory = this.tlsFactory(protocolFactory, serverTLS(this, options, 'createUnixServer'));
    const backlog = checkBacklog(options.backlog ?? 100);
    if (options.sock !== undefined && options.sock !== null) {
      if (path !== null) throw new TypeError('path and sock can not be specified at the same time');
      // As asyncio 3.13, a given socket's file is removed on close too (read before a backend adopts it).
      const boundPath = (options.cleanupSocket ?? true) ? socketFilePath(options.sock) : null;
      const listener = await this._givenListener(checkUnixStream(options.sock), backlog);
      return await this.makeServer([listener], protocolFactory, backlog, options.startServing ?? true, fileCleanup(boundPath));
    }
    if (path === null) throw new TypeError('path was not specified, and no sock specified');
    const p = checkPath(path);
    // An abstract name ('\0...') has no file: nothing to remove before or after. Nor has a
    // Windows named pipe (\\.\pipe\name: node:net serves a Unix path there as one).
    const hasFile = !p.startsWith('\0') && !isNamedPipe(p);
    // A stale socket file from an earlier run would make bind fail (asyncio removes it too).
    if (hasFile) removeSocketFile(p);
    let sock: S;
    try {
      sock = await this._listenUnix(p, backlog);
    } catch (error) {
      // asyncio's message: a file that is not a stale socket is in the way.
      if ((error as { code?: unknown }).code === 'EADDRINUSE') (error as Error).message = `Address '${p}' is already in use (${(error as Error).message})`;
      throw error;
    }
    const cleanup = hasFile && (options.cleanupSocket ?? true) ? fileCleanup(p) : null;
    return await this.makeServer([sock], protocolFactory, backlog, options.startServing ?? true, cleanup);
  }

  // ---- datagrams ----
  async createDatagramEndpoint<P extends DatagramProtocol = DatagramProtocol>(protocolFactory: () => P, options: DatagramOptions<A> = {}): Promise<[DT, P]> {
    checkCallback(protocolFactory, 'protocolFactory');
    options = checkOptions(options, OPTION_KEYS.createDatagramEndpoint, 'createDatagramEndpoint');
    this.checkClosed();
    let sock: S;
    let connected: boolean;
    if (options.sock !== undefined && options.sock !== null) {
      // As asyncio: a given socket is used as it is.
      const modifiers = DATAGRAM_SOCKET_MODIFIERS.filter((key) => options[key] !== undefined && options[key] !== null && options[key] !== false);
      if (modifiers.length > 0) throw new TypeError(`socket modifier keyword arguments can not be used when sock is specified (${modifiers.join(', ')})`);
      [sock, connected] = this._givenDatagramSocket(options.sock);
    } else {
      if (options.reusePort) this._checkReusePort('dgram');
      let family = familyOption(options.family);
      if (!options.localAddr && !options.remoteAddr && family === null) {
        throw new TypeError('unexpected address family: give localAddr, remoteAddr or family');
      }
      let local: InetSockAddr | null = null;
      let remote: InetSockAddr | null = null;
      if (options.localAddr) {
        const [host, port] = hostPort(options.localAddr, 'localAddr');
        const info = firstAddress(await getaddrinfo(host ?? anyAddress(family), port, { family, type: 'dgram' }), 'localAddr', host, family);
        family ??= info[0];
        local = info[4];
      }
      if (options.remoteAddr) {
        const [host, port] = hostPort(options.remoteAddr, 'remoteAddr');
        const info = firstAddress(await getaddrinfo(host, port, { family, type: 'dgram' }), 'remoteAddr', host, family);
        family ??= info[0];
        remote = info[4];
      }
      sock = await this._openDatagram(family ?? 'inet', local, remote, options);
      connected = remote !== null;
    }
    const protocol = closeOnThrow(sock, protocolFactory);
    const waiter = this.createFuture<void>();
    const transport = closeOnThrow(sock, () => this._datagramTransport(sock, protocol, connected, waiter));
    return [await this.own(sock, transport, waiter), protocol];
  }

  // ---- ownership ----
  /** @internal A transport released its socket: the loop stops owning it. */
  _transportClosed(key: unknown): void {
    this._transports.delete(key);
  }

  /** @internal (ServingLoop) */
  _serverClosed(server: Server<S>): void {
    this.servers.delete(server);
  }

  /** @internal (ServingLoop) the transports of `server`'s connections, oldest first. */
  _connectionsOf(server: Server<S>): Transport[] {
    const connections: Transport[] = [];
    for (const transport of this._ownedTransports()) if (transport instanceof BaseStreamTransport && transport._connectionOf(server)) connections.push(transport);
    return connections;
  }

  /**
   * Close a stopped loop: its servers and transports first, while it is still open, so a
   * connectionLost that resolves a future a task awaits (a StreamReader's) is not refused
   * with "Event loop is closed"; then what BaseEventLoop closes.
   */
  override close(): void {
    if (this.isRunning()) throw new RuntimeError('Cannot close a running event loop');
    if (!this.isClosed()) this._closeOwned();
    super.close();
  }

  /** Loop close: close the servers, then the transports still owned (connectionLost now). */
  protected _closeOwned(): void {
    for (const server of [...this.servers]) server.close();
    for (const transport of this._ownedTransports()) transport._closeNow();
  }

  /**
   * Own `transport` (of socket `key`) until it releases its socket (`_transportClosed`). A
   * backend that finds some of its transports another way (NetProactor: through its watched
   * sockets) keeps those out of the map, and gives them back in `_ownedTransports`.
   */
  protected _own(key: unknown, transport: OwnedTransport): void {
    this._transports.set(key, transport);
  }

  /** Every transport the loop owns, as an array (closing one does not disturb the walk). */
  protected _ownedTransports(): OwnedTransport[] {
    return [...this._transports.values()];
  }

  /** A listener accepted `conn`: give it a transport with the server's protocol. */
  protected _connectionAccepted(server: Server<S>, conn: S): void {
    try {
      const protocol = streamProtocol(server._protocolFactory);
      this._own(this._transportKey(conn), this._streamTransport(conn, protocol, null, server));
    } catch (error) {
      this.callExceptionHandler({ message: 'Error on transport creation for incoming connection', exception: error });
      conn.close();
    }
  }

  // ---- helpers ----
  private async makeStream<P extends BaseProtocol>(sock: S, protocolFactory: () => P, tls: TLSSetup | null): Promise<[ST | SSLTransport, P]> {
    const protocol = closeOnThrow(sock, () => streamProtocol(protocolFactory));
    const waiter = this.createFuture<void>();
    if (tls === null) {
      const transport = closeOnThrow(sock, () => this._streamTransport(sock, protocol, waiter, null));
      return [await this.own(sock, transport, waiter), protocol];
    }
    // TLS: the socket transport carries an SSLProtocol; the waiter resolves after the handshake.
    const ssl = closeOnThrow(sock, () => newSSLProtocol(this, protocol, tls, waiter));
    await this.own(sock, closeOnThrow(sock, () => this._streamTransport(sock, ssl, null, null)), waiter);
    return [ssl.appTransport, protocol];
  }

  /** A TLS server's connections: each app protocol behind its own SSLProtocol. */
  private tlsFactory(protocolFactory: () => BaseProtocol, tls: TLSSetup | null): () => BaseProtocol {
    if (tls === null) return protocolFactory;
    return () => newSSLProtocol(this, protocolFactory(), tls, null);
  }

  /** Own the new transport; once made, it is the caller's (a failed or cancelled wait closes it). */
  private async own<T extends OwnedTransport>(sock: S, transport: T, waiter: Future<void>): Promise<T> {
    this._own(this._transportKey(sock), transport);
    try {
      await waiter;
    } catch (error) {
      transport.close();
      throw error;
    }
    return transport;
  }

  private async makeServer(
    listeners: S[],
    protocolFactory: () => BaseProtocol,
    backlog: number,
    startServing: boolean,
    onClose: (() => void) | null,
  ): Promise<Server<S>> {
    const server = new Server<S>(this, listeners, protocolFactory, backlog, onClose);
    this.servers.add(server);
    if (startServing) await server.startServing();
    return server;
  }

  /**
   * Connect to one of `host`'s addresses: each in turn, or with a `delay` a staggered race
   * over the addresses interleaved by family (happy eyeballs, as asyncio's create_connection).
   */
  private async connectTo(
    host: string | null,
    port: number,
    family: Family | null,
    localAddr: HostPort | null,
    delay: number | null,
    interleave: number | null,
    allErrors: boolean,
  ): Promise<S> {
    let infos = await this.getaddrinfo(host, port, { family, type: 'stream' });
    if (infos.length === 0) throw new Error(`getaddrinfo() returned empty list for host ${describe(host)}`);
    let locals: AddrInfo[] | null = null;
    if (localAddr !== null) {
      const [lhost, lport] = hostPort(localAddr, 'localAddr');
      locals = await this.getaddrinfo(lhost ?? anyAddress(family), lport, { family, type: 'stream' });
    }
    // asyncio: interleave defaults to 1 once happy eyeballs is on.
    if (interleave !== null || delay !== null) infos = interleaveAddrInfos(infos, interleave ?? 1);
    const attempt = (index: number): Attempt<S> => {
      const [fam, , , , addr] = infos[index]!;
      const local = locals?.find((info) => info[0] === fam);
      if (locals !== null && local === undefined) throw new Error(`no matching local address with family=${fam} found`);
      const sock = this._newStreamSocket(fam);
      try {
        if (local !== undefined) sock.bind(local[4]);
      } catch (error) {
        sock.close();
        throw error;
      }
      return { sock, connected: this._connect(sock, addr) };
    };
    if (delay !== null && infos.length > 1) {
      const { sock, errors } = await staggeredConnect(this, infos.length, attempt, delay);
      if (sock !== null) return sock;
      throw connectErrors(errors, allErrors);
    }
    const errors: unknown[] = [];
    for (let i = 0; i < infos.length; i++) {
      let tried: Attempt<S>;
      try {
        tried = attempt(i);
      } catch (error) {
        errors.push(error);
        continue;
      }
      try {
        await tried.connected;
        return tried.sock;
      } catch (error) {
        tried.sock.close();
        if (error instanceof CancelledError) throw error;
        errors.push(error);
      }
    }
    throw connectErrors(errors, allErrors);
  }

  /** `[address, family]` pairs to listen on: each distinct address of each host, or `_anyAddresses` for a null host. */
  private async serverAddresses(host: string | readonly string[] | null, port: number, family: Family | null): Promise<Array<[string | null, Family | null]>> {
    if (host === null || host === '') return this._anyAddresses(family);
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
}

/** The factory's protocol, checked: a connection needs one that receives data. */
function streamProtocol<P extends BaseProtocol>(factory: () => P): P {
  const protocol = factory();
  checkProtocol(protocol);
  return protocol;
}

/** `make()`'s result; if it throws, `sock` is closed first (nothing of a failed setup stays open). */
function closeOnThrow<T>(sock: LoopSocket, make: () => T): T {
  try {
    return make();
  } catch (error) {
    sock.close();
    throw error;
  }
}

/** createDatagramEndpoint options that configure the socket it makes, refused with a given `sock`. */
const DATAGRAM_SOCKET_MODIFIERS = ['localAddr', 'remoteAddr', 'family', 'reusePort', 'allowBroadcast'] as const;

/** The first resolved address of `name` (RangeError when none is of `family`, as asyncio's "could not bind"). */
function firstAddress(infos: AddrInfo[], name: string, host: string | null, family: Family | null): AddrInfo {
  const info = infos[0];
  if (info === undefined) throw new RangeError(`${name} ${describe(host)} has no ${family === null ? '' : `${family} `}address`);
  return info;
}

/** `sock`, when it is a Unix stream socket (or something that does not say its family and type). */
function checkUnixStream(sock: unknown): unknown {
  const { family, type } = sock as { family?: unknown; type?: unknown };
  if ((family !== undefined && family !== 'unix') || (type !== undefined && type !== 'stream')) {
    throw new TypeError(`A UNIX Domain Stream Socket was expected, got ${sock}`);
  }
  return sock;
}

/** Removes the socket file at `path` on close unless something else replaced it meanwhile; null when there is none to watch. */
function fileCleanup(path: string | null): (() => void) | null {
  if (path === null) return null;
  let inode: number;
  try {
    inode = fs.statSync(path).ino;
  } catch {
    return null; // not there (already removed): nothing of ours to remove later
  }
  return () => removeSocketFile(path, inode);
}

/** The file path a given Unix socket is bound to; null for other sockets and abstract names. */
function socketFilePath(sock: unknown): string | null {
  const getsockname = (sock as { getsockname?: unknown }).getsockname;
  if (typeof getsockname !== 'function') return null;
  let name: unknown;
  try {
    name = getsockname.call(sock);
  } catch {
    return null;
  }
  const p = (name as { path?: unknown } | null)?.path;
  return typeof p === 'string' && p !== '' && !p.startsWith('\0') && !isNamedPipe(p) ? p : null;
}

function removeSocketFile(path: string, inode?: number): void {
  try {
    const st = fs.statSync(path);
    if (st.isSocket() && (inode === undefined || st.ino === inode)) fs.unlinkSync(path);
  } catch {
    // already gone: nothing to remove
  }
}

/**
 * The one error of a failed connect, or of every attempt when they differ (asyncio's
 * "Multiple exceptions"); with allErrors, all of them in an ExceptionGroup.
 */
function connectErrors(errors: unknown[], allErrors: boolean): unknown {
  if (allErrors) return new ExceptionGroup('create_connection failed', errors);
  const codes = new Set(errors.map((e) => (e as { code?: unknown }).code ?? String(e)));
  if (errors.length === 1 || codes.size === 1) return errors[0];
  return Object.assign(new Error(`Multiple exceptions: ${errors.map(String).join(', ')}`), { errors });
}

/** An on/off option: a boolean, or null/undefined for off. */
function checkFlag(value: unknown, name: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${describe(value)}`);
  return value;
}

/** happyEyeballsDelay checked: null (off) or a non-negative number of seconds; interleave a positive integer or null. */
function checkHappyEyeballs(options: ConnectionOptions<unknown>): number | null {
  const { happyEyeballsDelay: delay = null, interleave = null } = options;
  if (delay !== null && (typeof delay !== 'number' || !(delay >= 0) || delay === Infinity)) {
    throw new TypeError(`happyEyeballsDelay must be a non-negative number of seconds or null, got ${describe(delay)}`);
  }
  if (interleave !== null && (!Number.isInteger(interleave) || interleave < 1)) {
    throw new TypeError(`interleave must be a positive integer or null, got ${describe(interleave)}`);
  }
  return delay;
}

/** A Windows named pipe path (\\.\pipe\name or \\?\pipe\name), which node:net serves on Windows. */
function isNamedPipe(path: string): boolean {
  return process.platform === 'win32' && /^[\\/]{2}[.?][\\/]pipe[\\/]/i.test(path);
}
