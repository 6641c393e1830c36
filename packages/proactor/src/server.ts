/**
 * Server (asyncio's base_events.Server): the listening sockets, whether they accept, and
 * the connections they made. The loop runs the accept loops (`ServingLoop`); the server
 * only counts connections so that waitClosed() resolves once it is closed *and* every
 * connection it accepted is gone (asyncio 3.12+).
 */
import {
  CancelledError,
  RuntimeError,
  sleep,
  type AbstractEventLoop,
  type AbstractServer,
  type ConnectionOwner,
  type Future,
  type Transport,
} from '@loopkit/core';

/** What a Server asks of its loop. */
export interface ServingLoop extends AbstractEventLoop {
  /** Start accepting on `sock`, making connections with `server`'s protocol factory. */
  _startServing(server: Server, sock: unknown): void;
  /** Stop accepting on `sock` and close it. */
  _stopServing(sock: unknown): void;
  /** The server is closed: the loop stops owning it. */
  _serverClosed(server: Server): void;
}

export class Server implements AbstractServer, ConnectionOwner {
  /** @internal */ readonly _protocolFactory: () => unknown;
  /** @internal */ readonly _backlog: number;
  private readonly loop: ServingLoop;
  private listening: unknown[] | null;
  private serving = false;
  private activeCount = 0;
  private readonly connections = new Set<Transport>();
  private waiters: Future<void>[] | null = [];
  private servingForever: Future<void> | null = null;
  private readonly onClose: (() => void) | null;

  constructor(loop: ServingLoop, sockets: unknown[], protocolFactory: () => unknown, backlog: number, onClose: (() => void) | null = null) {
    this.loop = loop;
    this.listening = sockets;
    this._protocolFactory = protocolFactory;
    this._backlog = backlog;
    this.onClose = onClose;
  }

  getLoop(): AbstractEventLoop {
    return this.loop;
  }

  /** The listening sockets (empty once closed). */
  get sockets(): readonly unknown[] {
    return this.listening === null ? [] : [...this.listening];
  }

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
    if (this.activeCount === 0) this.wakeup();
  }

  /** Close every connection the server accepted (after flushing their writes). */
  closeClients(): void {
    for (const transport of [...this.connections]) transport.close();
  }

  /** Abort every connection the server accepted. */
  abortClients(): void {
    for (const transport of [...this.connections]) transport.abort();
  }

  /** Resolves once the server is closed and every connection it accepted is closed. */
  async waitClosed(): Promise<void> {
    if (this.waiters === null) return;
    const waiter = this.loop.createFuture<void>();
    this.waiters.push(waiter);
    await waiter;
  }

  /** @internal a connection was made. */
  _attach(transport: Transport): void {
    this.activeCount += 1;
    this.connections.add(transport);
  }

  /** @internal a connection is gone. */
  _detach(transport: Transport): void {
    this.activeCount -= 1;
    this.connections.delete(transport);
    if (this.activeCount === 0 && this.listening === null) this.wakeup();
  }

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
