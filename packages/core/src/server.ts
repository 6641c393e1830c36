/**
 * Server (asyncio's base_events.Server), shared by every backend: the listening sockets,
 * whether they accept, and the connections they made. The backend's loop does the
 * accepting (`ServingLoop`); the server tracks connections so that waitClosed() resolves
 * once it is closed *and* every connection it accepted is gone (asyncio 3.12+).
 */
import type { ConnectionOwner } from './base-transport.js';
import { connectionAccepted } from './connection-burst.js';
import { collectDroppedWriters } from './dropped-writers.js';
import { CancelledError, RuntimeError } from './errors.js';
import type { AbstractEventLoop } from './events.js';
import type { Future } from './futures.js';
import type { BaseProtocol } from './protocols.js';
import { sleep } from './sleep.js';
import type { SocketAddress, Transport } from './transports.js';

/**
 * What createServer resolves to (asyncio's AbstractServer); `Server` implements it.
 * `await using server = await startServer(...)` closes it and waits, as `async with server:`.
 */
export interface AbstractServer extends AsyncDisposable {
  /** Stop listening; connections already accepted stay open. */
  close(): void;
  /** Resolves once the server is closed and its connections are gone. */
  waitClosed(): Promise<void>;
  /** Accept connections until the server is closed (or the awaiting task cancelled). */
  serveForever(): Promise<void>;
  /** Start accepting (idempotent); for servers made with `startServing: false`. */
  startServing(): Promise<void>;
  /** Whether it is accepting connections. */
  isServing(): boolean;
  /** Close the connections it accepted (asyncio 3.13's close_clients). */
  closeClients(): void;
  /** Abort the connections it accepted, dropping unsent data (asyncio 3.13's abort_clients). */
  abortClients(): void;
  /** The listening sockets: `server.sockets[0].getsockname().port`, as asyncio's `server.sockets[0].getsockname()[1]`. */
  readonly sockets: readonly ServerSocket[];
  /** The loop serving it. */
  getLoop(): AbstractEventLoop;
}

/** A listening socket in `server.sockets` (asyncio's TransportSocket): what every backend's socket has. */
export interface ServerSocket {
  /** Its file descriptor (-1 where the platform has none to give). */
  fileno(): number;
  /** The address it listens on: `{address, family, port}`, or `{path}` for a Unix socket. */
  getsockname(): SocketAddress;
}

/** What a Server asks of its loop; `S` is the backend's socket type. */
export interface ServingLoop<S extends ServerSocket = ServerSocket> extends AbstractEventLoop {
  /** Start accepting on `sock`, making connections with `server`'s protocol factory. */
  _startServing(server: Server<S>, sock: S): void;
  /** Stop accepting on `sock` and close it. */
  _stopServing(sock: S): void;
  /** The server is closed: the loop stops owning it. */
  _serverClosed(server: Server<S>): void;
  /** The connections `server` made that are not gone yet (closeClients and abortClients walk them). */
  _connectionsOf(server: Server<S>): Transport[];
}

export class Server<S extends ServerSocket = ServerSocket> implements AbstractServer, ConnectionOwner {
  /** @internal */ readonly _protocolFactory: () => BaseProtocol;
  /** @internal */ readonly _backlog: number;
  private readonly loop: ServingLoop<S>;
  private listening: S[] | null;
  private serving = false;
  /**
   * How many of its connections are not gone yet; the loop, which owns them, finds them when
   * asked (a Set here was ~36 bytes a connection at 9,000, its backing store in large-object space).
   */
  private connections = 0;
  private waiters: Future<void>[] | null = [];
  private servingForever: Future<void> | null = null;
  private readonly onClose: (() => void) | null;

  constructor(loop: ServingLoop<S>, sockets: S[], protocolFactory: () => BaseProtocol, backlog: number, onClose: (() => void) | null = null) {
    this.loop = loop;
    this.listening = sockets;
    this._protocolFactory = protocolFactory;
    this._backlog = backlog;
    this.onClose = onClose;
  }

  /** The loop serving it. */
  getLoop(): AbstractEventLoop {
    return this.loop;
  }

  /** The listening sockets (empty once closed). */
  get sockets(): readonly S[] {
    return this.listening === null ? [] : [...this.listening];
  }

  /** Whether it is accepting connections. */
  isServing(): boolean {
    return this.serving;
  }

  /** Start accepting; idempotent. Resolves after one loop iteration, as asyncio does. */
  async startServing(): Promise<void> {
    this.start();
    await sleep(0);
  }

  /** Accept until the server closes; cancelling the awaiting task closes the server. */
  async serveForever(): Promise<void> {
    if (this.servingForever !== null) throw new RuntimeError(`server ${this} is already being awaited on serveForever()`);
    if (this.listening === null) throw new RuntimeError(`server ${this} is closed`);
    this.start();
    const fut = this.loop.createFuture<void>();
    this.servingForever = fut;
    try {
      await fut;
    } catch (error) {
      if (error instanceof CancelledError) {
        this.close();
        await this.waitClosed();
      }
      throw error;
    } finally {
      this.servingForever = null;
    }
  }

  /** Stop listening and close the listening sockets; accepted connections stay open. */
  close(): void {
    const sockets = this.listening;
    if (sockets === null) return;
    this.listening = null;
    for (const sock of sockets) this.loop._stopServing(sock);
    this.serving = false;
    if (this.servingForever !== null && !this.servingForever.done()) this.servingForever.cancel();
    this.onClose?.();
    this.loop._serverClosed(this);
    if (this.connections === 0) this.wakeup();
  }

  /** Close every connection the server accepted (after flushing their writes). */
  closeClients(): void {
    for (const transport of this.loop._connectionsOf(this)) transport.close();
  }

  /** Abort every connection the server accepted. */
  abortClients(): void {
    for (const transport of this.loop._connectionsOf(this)) transport.abort();
  }

  /** Resolves once the server is closed and every connection it accepted is closed. */
  async waitClosed(): Promise<void> {
    if (this.waiters === null) return;
    const waiter = this.loop.createFuture<void>();
    this.waiters.push(waiter);
    // A connection whose handler dropped its writer unclosed ends when V8 collects the
    // writer (asyncio's StreamWriter.__del__ at once): collect now rather than wait for one.
    if (this.listening === null) collectDroppedWriters();
    await waiter;
  }

  /** `await using`'s end, asyncio's `async with server:` exit: close, then wait until closed. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.waitClosed();
  }

  /** @internal a connection was made. */
  _attach(): void {
    this.connections += 1;
    connectionAccepted();
  }

  /** @internal a connection is gone. */
  _detach(): void {
    this.connections -= 1;
    if (this.connections === 0 && this.listening === null) this.wakeup();
  }

  /** A description for logs and debugging, as asyncio's repr(). */
  toString(): string {
    return `<Server sockets=${this.sockets.length}${this.serving ? ' serving' : ''}>`;
  }

  private start(): void {
    if (this.serving || this.listening === null) return;
    this.serving = true;
    for (const sock of this.listening) this.loop._startServing(this, sock);
  }

  private wakeup(): void {
    const waiters = this.waiters;
    this.waiters = null;
    if (waiters === null || this.loop.isClosed()) return;
    for (const waiter of waiters) if (!waiter.done()) waiter.setResult(undefined);
  }
}
