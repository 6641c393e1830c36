/**
 * Transports (asyncio's transports.py): what a protocol can ask of its connection.
 * These classes are the interfaces: every method throws NotImplementedError until a
 * subclass provides it, as in asyncio. Backends do not start from here but from
 * BaseStreamTransport (base-transport.ts), which implements the portable part once.
 */
import type { Duplex } from 'node:stream';
import { NotImplementedError } from './errors.js';
import type { SSLOption } from './tls/contexts.js';
import type { CipherInfo, PeerCertificate, SSLObject } from './tls/ssl-object.js';
import type { BaseProtocol } from './protocols.js';
import { describe } from './validate.js';

/** `{address, family, port}` for IP (as Node's socket.address()), `{path}` for Unix sockets. */
export type SocketAddress = { address: string; family: string; port: number } | { path: string };

/** A transport's socket as extra info 'socket' shows it: the loop's own socket object (what every loop's has). */
export interface TransportSocket {
  /** Its file descriptor (-1 where the platform has none to give). */
  fileno(): number;
  /** The socket's local address. */
  getsockname(): SocketAddress;
  /** Throws when the socket is not connected. */
  getpeername(): SocketAddress;
}

/**
 * The extra info names loopkit's transports know, and what each gives (asyncio's names). A
 * transport gives only the names that apply to it (getExtraInfo returns the default for others).
 */
export interface TransportExtraInfo {
  /** The remote address of a connected socket. */
  peername: SocketAddress;
  /** The socket's own address. */
  sockname: SocketAddress;
  socket: TransportSocket;
  /** TLS: the `ssl` the caller gave, or for `ssl: true` the context made for it. */
  sslcontext: Exclude<SSLOption, boolean | null | undefined>;
  /** TLS, once the handshake is done. */
  ssl_object: SSLObject;
  /** TLS: the peer's certificate as Node's getPeerCertificate() shows it; null when it sent none. */
  peercert: PeerCertificate | null;
  /** TLS: the negotiated cipher as Node's getCipher() shows it. */
  cipher: CipherInfo | null;
  /** ssl_object's and sslcontext's camelCase names. */
  sslObject: SSLObject;
  sslContext: Exclude<SSLOption, boolean | null | undefined>;
  /** TLS: always null (no TLS compression, as asyncio with OpenSSL 1.1+). */
  compression: null;
  /** A pipe transport: the file descriptor (readiness loops) or the Node stream (NetProactor) it runs on. */
  pipe: number | Duplex;
  /** A subprocess transport: the child's pid. */
  subprocess: number;
}

/** Bytes a transport accepts: a Uint8Array (Buffer included), another typed array, a DataView or an ArrayBuffer. */
export type BytesLike = ArrayBufferView | ArrayBuffer;

/** setWriteBufferLimits' options; `setWriteBufferLimits(high, low)` works too. */
export interface WriteBufferLimits {
  high?: number | null;
  low?: number | null;
}

function notImplemented(self: object, method: string): NotImplementedError {
  return new NotImplementedError(`${self.constructor.name} does not implement ${method}()`);
}

/** What every transport offers (asyncio.BaseTransport): extra info, closing, the protocol it feeds. */
export class BaseTransport {
  /** @internal extra information by name (getExtraInfo) */
  protected _extra: Record<string, unknown>;

  constructor(extra?: Record<string, unknown> | null) {
    this._extra = extra ?? {};
  }

  /**
   * Transport-specific information by name: the names of TransportExtraInfo are typed, any
   * other name gives `unknown` (or the type given). `defaultValue` (null unless given) for a
   * name the transport does not know.
   */
  getExtraInfo<K extends keyof TransportExtraInfo>(name: K): TransportExtraInfo[K] | null;
  getExtraInfo<K extends keyof TransportExtraInfo, D>(name: K, defaultValue: D): TransportExtraInfo[K] | D;
  getExtraInfo<T = unknown>(name: string, defaultValue?: T | null): T | null;
  getExtraInfo(name: string, defaultValue: unknown = null): unknown {
    return Object.hasOwn(this._extra, name) ? this._extra[name] : defaultValue;
  }

  /** True once close() or abort() was called, or the connection failed. */
  isClosing(): boolean {
    throw notImplemented(this, 'isClosing');
  }

  /** Close after flushing buffered writes; the protocol then sees connectionLost(null), once. */
  close(): void {
    throw notImplemented(this, 'close');
  }

  /** Make `protocol` the one this transport feeds from now on. */
  setProtocol(_protocol: BaseProtocol): void {
    throw notImplemented(this, 'setProtocol');
  }

  /** The protocol this transport feeds. */
  getProtocol(): BaseProtocol {
    throw notImplemented(this, 'getProtocol');
  }
}

/** The reading half of a stream transport (asyncio.ReadTransport): pause and resume reading. */
export class ReadTransport extends BaseTransport {
  /** False once pauseReading() was called (until resumeReading()) or the transport is closing. */
  isReading(): boolean {
    throw notImplemented(this, 'isReading');
  }

  /** Deliver no data to the protocol until resumeReading(). Idempotent. */
  pauseReading(): void {
    throw notImplemented(this, 'pauseReading');
  }

  /** Deliver data again after pauseReading(). Idempotent. */
  resumeReading(): void {
    throw notImplemented(this, 'resumeReading');
  }
}

/** The writing half of a stream transport (asyncio.WriteTransport): write, flow control, EOF, abort. */
export class WriteTransport extends BaseTransport {
  /**
   * Water marks in bytes for pauseWriting/resumeWriting: `({high, low})` or `(high, low)`.
   * Only high given: low = high/4; only low: high = 4*low; neither: 64 KiB / 16 KiB.
   */
  setWriteBufferLimits(_limits?: WriteBufferLimits | number | null, _low?: number | null): void {
    throw notImplemented(this, 'setWriteBufferLimits');
  }

  /** `[low, high]`, the order of asyncio's `(low, high)`. */
  getWriteBufferLimits(): [low: number, high: number] {
    throw notImplemented(this, 'getWriteBufferLimits');
  }

  /** Bytes written but not yet accepted by the OS. */
  getWriteBufferSize(): number {
    throw notImplemented(this, 'getWriteBufferSize');
  }

  /** Queue `data` for sending; never blocks. An empty write does nothing; a string throws TypeError. */
  write(_data: BytesLike): void {
    throw notImplemented(this, 'write');
  }

  /** Write every chunk of `list`, in order, as one write. */
  writelines(list: Iterable<BytesLike>): void {
    this.write(joinBytes(list, 'list'));
  }

  /** Half-close: EOF goes out once the buffered data is flushed; later writes throw. */
  writeEof(): void {
    throw notImplemented(this, 'writeEof');
  }

  /** Whether writeEof() is supported (a half-close). */
  canWriteEof(): boolean {
    throw notImplemented(this, 'canWriteEof');
  }

  /** Close at once, dropping buffered data; the protocol sees connectionLost(null). */
  abort(): void {
    throw notImplemented(this, 'abort');
  }
}

/** A bidirectional stream (TCP, Unix socket, pipe pair): a ReadTransport and a WriteTransport. */
export class Transport extends ReadTransport {}
// Transport inherits WriteTransport's methods too (the language has one base class only).
export interface Transport extends WriteTransport {}
for (const name of Object.getOwnPropertyNames(WriteTransport.prototype)) {
  if (name === 'constructor') continue;
  Object.defineProperty(Transport.prototype, name, Object.getOwnPropertyDescriptor(WriteTransport.prototype, name)!);
}
// ...and `transport instanceof WriteTransport` holds, as in asyncio.
const ownInstanceOf = Function.prototype[Symbol.hasInstance];
Object.defineProperty(WriteTransport, Symbol.hasInstance, {
  value(this: Function, obj: unknown): boolean {
    return ownInstanceOf.call(this, obj) || (this === WriteTransport && ownInstanceOf.call(Transport, obj));
  },
});

/** Where sendto sends a datagram: an address as the loop gives them (`{address, port}`), or asyncio's `[host, port]` pair. */
export type DatagramAddress = SocketAddress | readonly [host: string, port: number];

/** A datagram endpoint (UDP). */
export class DatagramTransport extends BaseTransport {
  /** Send one datagram to `addr`, or to the connected peer when `addr` is omitted. */
  sendto(_data: BytesLike, _addr?: DatagramAddress | null): void {
    throw notImplemented(this, 'sendto');
  }

  /** Close at once, dropping queued datagrams; the protocol sees connectionLost(null). */
  abort(): void {
    throw notImplemented(this, 'abort');
  }
}

/**
 * View `data` as bytes, or throw TypeError naming `name` (asyncio's bytes rule: a string is
 * text, not bytes). A Uint8Array comes back as is; other views share the same memory.
 */
export function asBytes(data: unknown, name = 'data'): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  const what = typeof data === 'string' ? 'a string' : describe(data);
  throw new TypeError(`${name} argument must be a bytes-like object (Uint8Array, Buffer), not ${what}`);
}

/** Concatenate byte chunks into one Buffer, checking each (TypeError names `name`). */
export function joinBytes(list: Iterable<unknown>, name: string): Buffer {
  if (list === null || typeof list !== 'object' || typeof (list as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw new TypeError(`${name} must be an iterable of bytes-like objects, got ${describe(list)}`);
  }
  const chunks: Uint8Array[] = [];
  for (const item of list) chunks.push(asBytes(item, `${name} item`));
  return Buffer.concat(chunks);
}
