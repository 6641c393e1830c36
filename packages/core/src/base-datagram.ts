/**
 * BaseDatagramTransport: the portable half of every datagram transport (asyncio's
 * _SelectorDatagramTransport/_ProactorDatagramTransport minus the OS calls). It owns the
 * protocol, sendto's address rules, the queue of datagrams waiting to leave with its water
 * marks, closing, the fatal-error path and the single connectionLost call.
 *
 * A backend subclass implements these hooks:
 * - `_sendNow(data, addr)`: sendto found the queue empty: send at once if the OS takes it
 *   without waiting (true), else false and the datagram is queued (a completion backend
 *   just returns false). Throw the OS error: it goes to errorReceived, the datagram is dropped.
 * - `_startWriting()`: the queue became non-empty. Send `this._queue[0]` when the socket is
 *   writable (or post its send); as each head datagram leaves, call `this._sent(error | null)`
 *   (false: the transport closed meanwhile), then `this._afterSent()`, true while more wait.
 * - `_stopWriting()`: nothing more to send (also called when not writing).
 * - `_startReading()` / `_stopReading()`: deliver with `this._datagramReceived(data, addr)`
 *   (false: stop), an error that concerns one exchange with `this._errorReceived(exc)`, one
 *   that ends the socket with `this._fatalError(exc)`.
 * - `_closeResources()`: release the socket; called once, right after connectionLost.
 * At loop close, `_closeNow()` calls connectionLost synchronously.
 */
import { watchRejection } from './async-result.js';
import { RuntimeError } from './errors.js';
import type { AbstractEventLoop } from './events.js';
import { WriteFlowControl } from './flow-control.js';
import { setResultUnlessCancelled, type Future } from './futures.js';
import { logger } from './log.js';
import { checkProtocol, type BaseProtocol, type DatagramProtocol } from './protocols.js';
import { asBytes, DatagramTransport, type DatagramAddress, type SocketAddress, type WriteBufferLimits } from './transports.js';

/** After this many sends on a lost endpoint, each further one logs a warning (asyncio's). */
const LOG_THRESHOLD_FOR_CONNLOST_WRITES = 5;

export abstract class BaseDatagramTransport extends DatagramTransport {
  protected readonly _loop: AbstractEventLoop;
  protected _protocol: DatagramProtocol;
  /** Datagrams waiting to leave, oldest first; a null address is the connected peer. */
  protected _queue: Array<[Uint8Array, DatagramAddress | null]> = [];
  /** close()/abort() was called or a fatal error happened. */
  protected _closing = false;
  /** > 0 once connectionLost is scheduled: sends are dropped (and counted). */
  protected _connLost = 0;
  private readonly connected: boolean;
  private readonly flow = new WriteFlowControl();
  private bufferSize = 0;
  private lostCalled = false;

  constructor(loop: AbstractEventLoop, protocol: DatagramProtocol, extra: Record<string, unknown>, connected: boolean, waiter: Future<void> | null) {
    super(extra);
    this._loop = loop;
    this._protocol = protocol;
    this.connected = connected;
    loop.callSoon(() => this.callProtocol('connectionMade', () => this._protocol.connectionMade?.(this)));
    loop.callSoon(() => {
      if (!this._closing) this._startReading();
    });
    if (waiter !== null) loop.callSoon(setResultUnlessCancelled<void>, waiter, undefined);
  }

  // ---- backend hooks (see the module comment) ----
  /** Backend hook: send one datagram now if the OS takes it without blocking; whether it was sent. */
  protected abstract _sendNow(data: Uint8Array, addr: DatagramAddress | null): boolean;
  /** Backend hook: datagrams are queued; send them as the socket allows, calling _sent() for each. */
  protected abstract _startWriting(): void;
  /** Backend hook: the queue is empty. */
  protected abstract _stopWriting(): void;
  /** Backend hook: deliver received datagrams from now on. */
  protected abstract _startReading(): void;
  /** Backend hook: deliver nothing (the endpoint is closing). */
  protected abstract _stopReading(): void;
  /** Backend hook: release the socket. */
  protected abstract _closeResources(): void;

  /** The loop this endpoint runs on. */
  getLoop(): AbstractEventLoop {
    return this._loop;
  }

  setProtocol(protocol: BaseProtocol): void {
    checkProtocol(protocol, 'datagram');
    this._protocol = protocol as DatagramProtocol;
  }

  getProtocol(): BaseProtocol {
    return this._protocol;
  }

  isClosing(): boolean {
    return this._closing;
  }

  /** Bytes of datagrams queued and not yet sent. */
  getWriteBufferSize(): number {
    return this.bufferSize;
  }

  /** Water marks for pauseWriting/resumeWriting, as for stream transports. */
  setWriteBufferLimits(limits?: WriteBufferLimits | number | null, low?: number | null): void {
    this.flow.set(limits, low);
    this.maybePause();
  }

  /** The water marks `[low, high]`. */
  getWriteBufferLimits(): [low: number, high: number] {
    return [this.flow.low, this.flow.high];
  }

  sendto(data: ArrayBufferView | ArrayBuffer, addr: DatagramAddress | null = null): void {
    const bytes = asBytes(data, 'data');
    if (addr !== null && this.connected) {
      const peer = this.getExtraInfo<SocketAddress>('peername');
      const wanted = isHostPortPair(addr) ? { address: addr[0], port: addr[1] } : addr;
      const same = peer !== null && 'port' in peer && 'port' in wanted && peer.port === wanted.port && peer.address === wanted.address;
      if (!same) throw new TypeError(`Invalid address: must be null or ${JSON.stringify(peer)}`);
      addr = null;
    }
    if (addr === null && !this.connected) throw new TypeError('addr is required: the endpoint has no remote address');
    if (this._connLost > 0) {
      if (this._connLost >= LOG_THRESHOLD_FOR_CONNLOST_WRITES) logger.warning('socket.sendto() raised exception.');
      this._connLost += 1;
      return;
    }
    if (this._closing) throw new RuntimeError('Cannot call sendto() on a closing transport');
    if (this._queue.length === 0) {
      let sent: boolean;
      try {
        sent = this._sendNow(bytes, addr);
      } catch (error) {
        this._errorReceived(error);
        return;
      }
      if (sent) return;
    }
    // The datagram leaves later and the caller may reuse its buffer: keep a copy.
    this._queue.push([Uint8Array.prototype.slice.call(bytes), addr]);
    this.bufferSize += bytes.length;
    if (this._queue.length === 1) this._startWriting();
    this.maybePause();
  }

  /** Stop receiving; connectionLost(null) once the queued datagrams left. Idempotent. */
  close(): void {
    if (this._closing) return;
    this._closing = true;
    this._stopReading();
    if (this._queue.length === 0) this.scheduleLost(null);
  }

  abort(): void {
    this.forceClose(null);
  }

  /** Loop close: connectionLost now, synchronously. */
  _closeNow(): void {
    if (this.lostCalled) return;
    this._queue = [];
    this.bufferSize = 0;
    this._closing = true;
    this._stopReading();
    this._connLost += 1;
    this.callConnectionLost(null);
  }

  /** A description for logs and debugging, as asyncio's repr(). */
  toString(): string {
    return `<${this.constructor.name} ${this.lostCalled ? 'closed' : this._closing ? 'closing' : 'open'}>`;
  }

  // ---- for backends ----
  /** The head datagram left (`error` null) or failed (reported; the endpoint stays). False: the transport closed meanwhile. */
  protected _sent(error: unknown): boolean {
    const [data] = this._queue.shift()!;
    this.bufferSize -= data.length;
    return error === null || this._errorReceived(error);
  }

  /** After sends: resume the protocol at the low mark; true while datagrams wait, else stop writing and finish a pending close. */
  protected _afterSent(): boolean {
    if (this.flow.shouldResume(this.bufferSize) && !this.callProtocol('resumeWriting', () => this._protocol.resumeWriting?.())) return false;
    if (this._queue.length > 0) return true;
    this._stopWriting();
    if (this._closing) this.scheduleLost(null);
    return false;
  }

  /** A datagram arrived (no closure: this runs once per datagram). False: the transport closed. */
  protected _datagramReceived(data: Uint8Array, addr: SocketAddress): boolean {
    if (this.lostCalled) return false;
    try {
      const result = this._protocol.datagramReceived?.(data, addr);
      if (result !== undefined) watchRejection(result, (error) => this.protocolFailed('datagramReceived', error));
      return true;
    } catch (error) {
      this.protocolFailed('datagramReceived', error);
      return false;
    }
  }

  /** An error that concerns one exchange (ICMP unreachable, ...): the endpoint stays. False: the transport closed. */
  protected _errorReceived(exc: unknown): boolean {
    return this.callProtocol('errorReceived', () => this._protocol.errorReceived?.(exc as Error));
  }

  /** The socket failed for good: report, then close with connectionLost(exc). */
  protected _fatalError(exc: unknown): void {
    this._loop.callExceptionHandler({ message: 'Fatal read error on datagram transport', exception: exc, transport: this, protocol: this._protocol });
    this.forceClose(exc);
  }

  // ---- internals ----
  private maybePause(): void {
    if (this.flow.shouldPause(this.bufferSize)) this.callProtocol('pauseWriting', () => this._protocol.pauseWriting?.());
  }

  /** Run a protocol callback; one that throws is reported and closes the endpoint. */
  private callProtocol(method: string, fn: () => unknown): boolean {
    if (this.lostCalled) return false;
    try {
      // An async protocol method's rejection fails it as a throw does (async-result.ts).
      watchRejection(fn(), (error) => this.protocolFailed(method, error));
      return true;
    } catch (error) {
      this.protocolFailed(method, error);
      return false;
    }
  }

  private protocolFailed(method: string, error: unknown): void {
    this._loop.callExceptionHandler({
      message: `Fatal error: protocol.${method}() call failed.`,
      exception: error,
      transport: this,
      protocol: this._protocol,
    });
    this.forceClose(error);
  }

  private forceClose(exc: unknown): void {
    if (this._connLost > 0) return;
    this._queue = [];
    this.bufferSize = 0;
    this._closing = true;
    this._stopReading();
    this._stopWriting();
    this.scheduleLost(exc);
  }

  private scheduleLost(exc: unknown): void {
    this._connLost += 1;
    this._loop.callSoon(this.callConnectionLost, exc);
  }

  private readonly callConnectionLost = (exc: unknown): void => {
    if (this.lostCalled) return;
    this.lostCalled = true;
    const lostFailed = (error: unknown): void =>
      this._loop.callExceptionHandler({ message: 'Exception in protocol.connectionLost()', exception: error, transport: this, protocol: this._protocol });
    try {
      watchRejection(this._protocol.connectionLost?.(exc), lostFailed);
    } catch (error) {
      lostFailed(error);
    } finally {
      this._closeResources();
    }
  };
}

/** asyncio's `(host, port)` form of a datagram address. */
function isHostPortPair(addr: DatagramAddress): addr is readonly [host: string, port: number] {
  return Array.isArray(addr);
}
