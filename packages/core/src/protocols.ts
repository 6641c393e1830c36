/**
 * Protocols: the callbacks a transport drives (asyncio's protocols.py). Extend one of these
 * classes and override what you need; every method has a do-nothing default, except
 * BufferedProtocol.getBuffer, which has no sensible default.
 *
 * Call order for a connection: connectionMade, then dataReceived (or getBuffer/bufferUpdated)
 * any number of times, then at most one eofReceived, then exactly one connectionLost.
 * pauseWriting/resumeWriting alternate, starting with pauseWriting.
 */
import { NotImplementedError } from './errors.js';
import { isThenable } from './futures.js';
import { describe } from './validate.js';
import type { BaseTransport, DatagramTransport, SocketAddress, Transport } from './transports.js';

/** What every protocol offers: connection state and write flow control. */
export class BaseProtocol {
  /** The connection is up; `transport` is how the protocol writes and closes it. */
  connectionMade(_transport: BaseTransport): void {}

  /** The connection is gone: `exc` is null for a normal close or abort, else the error. */
  connectionLost(_exc: unknown): void {}

  /** The transport's write buffer went over its high-water mark: stop writing for now. */
  pauseWriting(): void {}

  /** The write buffer drained to its low-water mark: writing may go on. */
  resumeWriting(): void {}
}

/** A stream protocol that receives data as chunks (TCP, Unix sockets, pipes). */
export class Protocol extends BaseProtocol {
  override connectionMade(_transport: Transport): void {}

  /** Some bytes arrived. Chunk boundaries mean nothing: buffer until a message is complete. */
  dataReceived(_data: Uint8Array): void {}

  /**
   * The peer will send no more. Return true to keep the transport open for writing;
   * anything else closes it once the buffered writes are flushed.
   */
  eofReceived(): boolean | void {}
}

/**
 * A stream protocol that hands the transport its own buffer to fill, saving a copy.
 * The transport calls getBuffer(sizeHint), writes into it, then bufferUpdated(nbytes).
 */
export class BufferedProtocol extends BaseProtocol {
  override connectionMade(_transport: Transport): void {}

  /**
   * A non-empty buffer to receive into. `sizeHint` is how many bytes are ready, or -1 when
   * unknown; the buffer may be shorter or longer than that.
   */
  getBuffer(_sizeHint: number): Uint8Array {
    throw new NotImplementedError(`${this.constructor.name} must implement getBuffer(sizeHint)`);
  }

  /** The first `nbytes` bytes of the last buffer from getBuffer now hold received data. */
  bufferUpdated(_nbytes: number): void {}

  /** As Protocol.eofReceived: true keeps the transport open for writing. */
  eofReceived(): boolean | void {}
}

/** A datagram (UDP) protocol. */
export class DatagramProtocol extends BaseProtocol {
  override connectionMade(_transport: DatagramTransport): void {}

  /** One datagram arrived from `addr`. */
  datagramReceived(_data: Uint8Array, _addr: SocketAddress | null): void {}

  /** A send or receive failed (an ICMP error, say); the endpoint stays open. */
  errorReceived(_exc: unknown): void {}
}

/** True when `protocol` fills its own buffers (has getBuffer and bufferUpdated). */
export function isBufferedProtocol(protocol: unknown): protocol is BufferedProtocol {
  if (protocol instanceof BufferedProtocol) return true;
  const p = protocol as Partial<BufferedProtocol> | null;
  return (
    typeof p === 'object' && p !== null && typeof p.getBuffer === 'function' && typeof p.bufferUpdated === 'function'
  );
}

/**
 * Throw a TypeError saying what `protocol` is, unless it can serve as `kind`: a 'stream' that
 * receives (dataReceived, or getBuffer and bufferUpdated); a 'datagram' endpoint or 'any'
 * protocol (an object: their methods are optional; a write pipe's protocol receives nothing).
 * A promise means an async factory: say so.
 */
export function checkProtocol(protocol: unknown, kind: 'stream' | 'datagram' | 'any' = 'stream'): void {
  const what = describeProtocol(protocol);
  if (what === null) return;
  if (kind !== 'stream' && typeof protocol === 'object' && protocol !== null && !isThenable(protocol)) return;
  const wanted = {
    stream: 'a Protocol (with dataReceived) or a BufferedProtocol (with getBuffer and bufferUpdated)',
    datagram: 'a DatagramProtocol',
    any: 'a protocol object',
  }[kind];
  throw new TypeError(`protocol must be ${wanted}, got ${what}`);
}

/** Null for a usable stream protocol, else what it is, for the message. */
function describeProtocol(protocol: unknown): string | null {
  if (isThenable(protocol)) return 'a Promise: the protocol factory must return the protocol itself, not a promise of it';
  if (protocol === null || typeof protocol !== 'object') return describe(protocol);
  const p = protocol as Partial<Protocol>;
  if (typeof p.dataReceived === 'function' || isBufferedProtocol(protocol)) return null;
  return `${describe(protocol)} with neither dataReceived() nor getBuffer()/bufferUpdated()`;
}
