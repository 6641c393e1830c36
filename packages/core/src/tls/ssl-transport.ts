/**
 * The transport the application's protocol gets on a TLS connection (asyncio's
 * _SSLProtocolTransport). It holds no state of its own beyond "closed": every call goes to
 * its SSLProtocol, which owns the engine, the socket transport and both flow controls.
 */
import { NotImplementedError } from '../errors.js';
import type { AbstractEventLoop } from '../events.js';
import type { BaseProtocol } from '../protocols.js';
import { asBytes, Transport, type BytesLike, type TransportExtraInfo, type WriteBufferLimits } from '../transports.js';
import { describe } from '../validate.js';

/** What the transport asks of its SSLProtocol (sslproto.ts). */
export interface SSLTransportOwner {
  readonly _loop: AbstractEventLoop;
  _extraInfo(name: string): { found: boolean; value: unknown };
  _socketClosing(): boolean;
  _appProtocol(): BaseProtocol;
  _setAppProtocol(protocol: BaseProtocol): void;
  _startShutdown(): void;
  _abort(): void;
  _writeApp(chunks: Uint8Array[]): void;
  _appReading(): boolean;
  _pauseAppReading(): void;
  _resumeAppReading(): void;
  _setAppWriteLimits(limits?: WriteBufferLimits | number | null, low?: number | null): void;
  _appWriteLimits(): [low: number, high: number];
  _appWriteBufferSize(): number;
}

export class SSLTransport extends Transport {
  /** @internal close() or abort() was called, or the connection is gone. */
  _closed = false;
  private readonly _owner: SSLTransportOwner;

  /** @internal made by SSLProtocol */
  constructor(owner: SSLTransportOwner) {
    super(null);
    this._owner = owner;
  }

/** The event loop this transport runs on. */
  getLoop(): AbstractEventLoop {
    return this._owner._loop;
  }

  /** TLS names ('peercert', 'cipher', 'sslcontext', 'ssl_object'), then the socket transport's own (peername, ...). */
  override getExtraInfo<K extends keyof TransportExtraInfo>(name: K): TransportExtraInfo[K] | null;
  override getExtraInfo<K extends keyof TransportExtraInfo, D>(name: K, defaultValue: D): TransportExtraInfo[K] | D;
  override getExtraInfo<T = unknown>(name: string, defaultValue?: T | null): T | null;
  override getExtraInfo(name: string, defaultValue: unknown = null): unknown {
    const { found, value } = this._owner._extraInfo(name);
    return found ? value : defaultValue;
  }

  /** Also true once the socket transport is closing, whoever closed it (CPython gh-118950). */
  override isClosing(): boolean {
    return this._closed || this._owner._socketClosing();
  }

  /** Send close_notify after the buffered writes, wait for the peer's (sslShutdownTimeout), then close. */
  override close(): void {
    if (this._closed) return;
    this._closed = true;
    this._owner._startShutdown();
  }

  /** Close the connection now, dropping what is buffered; no close_notify. */
  override abort(): void {
    this._closed = true;
    this._owner._abort();
  }

  override setProtocol(protocol: BaseProtocol): void {
    this._owner._setAppProtocol(protocol);
  }

  override getProtocol(): BaseProtocol {
    return this._owner._appProtocol();
  }

  override isReading(): boolean {
    return !this.isClosing() && this._owner._appReading();
  }

  /** Deliver nothing until resumeReading(); the socket transport stops reading too. */
  override pauseReading(): void {
    if (this.isClosing()) return;
    this._owner._pauseAppReading();
  }

  override resumeReading(): void {
    if (this.isClosing()) return;
    this._owner._resumeAppReading();
  }

  /**
   * Water marks for the application's pauseWriting/resumeWriting, over getWriteBufferSize():
   * what waits in the TLS layer plus what the socket transport still holds.
   */
  override setWriteBufferLimits(limits?: WriteBufferLimits | number | null, low?: number | null): void {
    this._owner._setAppWriteLimits(limits, low);
  }

  override getWriteBufferLimits(): [low: number, high: number] {
    return this._owner._appWriteLimits();
  }

  /** Bytes written and not yet accepted by the OS: the TLS layer's backlog plus the socket transport's buffer. */
  override getWriteBufferSize(): number {
    return this._owner._appWriteBufferSize();
  }

  override write(data: BytesLike): void {
    const bytes = asBytes(data, 'data');
    if (bytes.length > 0) this._owner._writeApp([bytes]);
  }

  override writelines(list: Iterable<BytesLike>): void {
    if (list === null || typeof list !== 'object' || typeof (list as Iterable<unknown>)[Symbol.iterator] !== 'function') {
      throw new TypeError(`list must be an iterable of bytes-like objects, got ${describe(list)}`);
    }
    const chunks: Uint8Array[] = [];
    for (const item of list) {
      const bytes = asBytes(item, 'list item');
      if (bytes.length > 0) chunks.push(bytes);
    }
    if (chunks.length > 0) this._owner._writeApp(chunks);
  }

  /** TLS has no half-close that asyncio offers: false, as asyncio's. */
  override canWriteEof(): boolean {
    return false;
  }

  override writeEof(): void {
    throw new NotImplementedError('TLS transports cannot half-close: writeEof() is not supported (close() sends close_notify)');
  }

  override toString(): string {
    return `<SSLTransport ${this.isClosing() ? 'closing' : 'open'}>`;
  }
}
