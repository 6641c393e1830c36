/**
 * An in-memory connection: two transports wired to each other on one loop, for testing
 * protocols and streams without sockets. It behaves like a socket pair driven by a
 * readiness backend: bytes a write hands over reach the peer's protocol in a later loop
 * iteration; `maxWrite` caps what one write hands over and `capacity` caps what may wait
 * for a peer that is not reading, so write flow control (pauseWriting, drain) can be
 * exercised. Closing or aborting one end sends EOF to the other after the bytes already
 * handed over; writing to an end that is gone fails with ConnectionResetError.
 */
import { BaseStreamTransport } from './base-transport.js';
import { ConnectionResetError } from './errors.js';
import type { AbstractEventLoop } from './events.js';
import type { BaseProtocol } from './protocols.js';
import { describe } from './validate.js';

/** Options of memoryTransportPair(): how the in-memory pipe behaves like an OS socket. */
export interface MemoryTransportOptions {
  /** The most bytes one write hands over (as if the OS took only part of it). Default: no limit. */
  maxWrite?: number;
  /** The most bytes waiting in each direction for a peer that does not read. Default: no limit. */
  capacity?: number;
  /** getExtraInfo() of the first transport. */
  extraA?: Record<string, unknown>;
  /** getExtraInfo() of the second transport. */
  extraB?: Record<string, unknown>;
}

/** One direction of the connection: what a writer handed over and its reader has not received yet. */
class Pipe {
  chunks: Uint8Array[] = [];
  size = 0;
  eof = false;
}

export class MemoryTransport extends BaseStreamTransport {
  /** @internal */ _peer!: MemoryTransport;
  private readonly outgoing: Pipe;
  private readonly incoming: Pipe;
  private readonly maxWrite: number;
  private readonly capacity: number;
  private released = false;
  private wantWrite = false;
  private writableArmed = false;
  private reading = false;
  private deliveryArmed = false;
  private eofDelivered = false;

  /** @internal use memoryTransportPair() */
  constructor(
    loop: AbstractEventLoop,
    protocol: BaseProtocol,
    extra: Record<string, unknown> | undefined,
    outgoing: Pipe,
    incoming: Pipe,
    maxWrite: number,
    capacity: number,
  ) {
    super(loop, protocol, { ...extra });
    this.outgoing = outgoing;
    this.incoming = incoming;
    this.maxWrite = maxWrite;
    this.capacity = capacity;
    this._start();
  }

  protected _writeNow(chunks: readonly Uint8Array[]): number {
    if (this._peer.released) {
      const error = new ConnectionResetError('Connection reset by peer');
      error.code = 'ECONNRESET';
      error.syscall = 'write';
      throw error;
    }
    let room = this.room();
    let taken = 0;
    for (const chunk of chunks) {
      if (room === 0) break;
      const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
      this.outgoing.chunks.push(Uint8Array.prototype.slice.call(part));
      room -= part.length;
      taken += part.length;
    }
    this.outgoing.size += taken;
    if (taken > 0) this._peer.scheduleDelivery();
    return taken;
  }

  protected _startWriting(): void {
    this.wantWrite = true;
    this.armWritable();
  }

  protected _stopWriting(): void {
    this.wantWrite = false;
  }

  protected _startReading(): void {
    this.reading = true;
    this.scheduleDelivery();
  }

  protected _stopReading(): void {
    this.reading = false;
  }

  protected _shutdownWrite(): void {
    this.outgoing.eof = true;
    this._peer.scheduleDelivery();
  }

  protected _closeResources(): void {
    this.released = true;
    this.incoming.chunks = [];
    this.incoming.size = 0;
    this._shutdownWrite();
    // A peer still writing to us learns that we are gone.
    this._peer.armWritable();
  }

  private room(): number {
    return Math.min(this.maxWrite, this.capacity - this.outgoing.size);
  }

  /** @internal "the socket is writable": once per iteration while there is room and data to send. */
  armWritable(): void {
    if (!this.wantWrite || this.writableArmed || (this.room() === 0 && !this._peer.released)) return;
    this.writableArmed = true;
    this._loop.callSoon(this.onWritable);
  }

  private readonly onWritable = (): void => {
    this.writableArmed = false;
    if (!this.wantWrite) return;
    this._writeReady();
    this.armWritable();
  };

  /** @internal "the socket is readable": data or EOF waits and we are reading. */
  scheduleDelivery(): void {
    if (!this.reading || this.deliveryArmed || this.released) return;
    if (this.incoming.size === 0 && (!this.incoming.eof || this.eofDelivered)) return;
    this.deliveryArmed = true;
    this._loop.callSoon(this.deliver);
  }

  private readonly deliver = (): void => {
    this.deliveryArmed = false;
    if (!this.reading || this.released) return;
    const pipe = this.incoming;
    if (pipe.size > 0) {
      const data = Buffer.concat(pipe.chunks, pipe.size);
      pipe.chunks = [];
      pipe.size = 0;
      this._peer.armWritable();
      this._dataReceived(data);
      // EOF, like more data, is read in a later iteration.
      this.scheduleDelivery();
    } else if (pipe.eof && !this.eofDelivered) {
      this.eofDelivered = true;
      this._eofReceived();
    }
  };
}

/**
 * Two connected transports: what one writes, the other's protocol receives. Both protocols
 * get connectionMade in the next loop iteration, `protocolA` first.
 */
export function memoryTransportPair(
  loop: AbstractEventLoop,
  protocolA: BaseProtocol,
  protocolB: BaseProtocol,
  options: MemoryTransportOptions = {},
): [MemoryTransport, MemoryTransport] {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`options must be an object, got ${describe(options)}`);
  }
  const maxWrite = checkSize(options.maxWrite, 'maxWrite');
  const capacity = checkSize(options.capacity, 'capacity');
  const aToB = new Pipe();
  const bToA = new Pipe();
  const a = new MemoryTransport(loop, protocolA, options.extraA, aToB, bToA, maxWrite, capacity);
  const b = new MemoryTransport(loop, protocolB, options.extraB, bToA, aToB, maxWrite, capacity);
  a._peer = b;
  b._peer = a;
  return [a, b];
}

function checkSize(value: unknown, name: string): number {
  if (value === undefined) return Infinity;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${name} must be a number of bytes, got ${describe(value)}`);
  }
  if (value < 1) throw new RangeError(`${name} must be >= 1, got ${value}`);
  return Math.floor(value);
}
