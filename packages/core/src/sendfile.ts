/**
 * loop.sendfile() and loop.sockSendfile() (asyncio's base_events.py): what every loop shares.
 * A backend offers the OS's sendfile through BaseEventLoop's two hooks (`_sendfileNative`,
 * `_sockSendfileNative`); where it has none, or the file or socket cannot use it, the file is
 * read in chunks (libuv's thread pool, as asyncio reads in its executor) and written: to a
 * transport under its write flow control, to a socket with sockSendall.
 *
 * `file` is a file descriptor or an object holding one in `fd` (a `fs.promises.FileHandle`).
 * Reads are positional: unlike asyncio's file objects, the file's own position is left
 * where it was (Node has no seek), so the count resolved is what tells how far it got.
 */
import { fs } from './node-builtins.js';
import { BaseStreamTransport } from './base-transport.js';
import { ConnectionError, RuntimeError } from './errors.js';
import type { AbstractEventLoop } from './events.js';
import type { Future } from './futures.js';
import { Protocol, type BaseProtocol } from './protocols.js';
import { SSLTransport } from './tls/ssl-transport.js';
import type { Transport } from './transports.js';
import { describe } from './validate.js';

/** Bytes read per chunk on the fallback paths: the transport's default high-water mark, and asyncio's socket chunk. */
const TRANSPORT_CHUNK = 64 * 1024;
const SOCKET_CHUNK = 256 * 1024;

/** How a transport can take a file: the OS's sendfile on its socket first, or only chunks written to it. */
export type SendfileMode = 'native' | 'fallback';

/** asyncio's _sendfile_compatible, by kind of transport. */
export function sendfileMode(transport: Transport): SendfileMode | null {
  // TLS must encrypt every byte: the file has to pass through the layer.
  if (transport instanceof SSLTransport) return 'fallback';
  // A stream over a socket: the kernel can copy from the file to the socket.
  if (transport instanceof BaseStreamTransport && transport.getExtraInfo('socket') != null) return 'native';
  // Pipes, datagram and subprocess transports: asyncio refuses them too.
  return null;
}

/** asyncio's _check_sendfile_params for sockSendfile's socket: only a stream socket can take a file. */
export function checkSendfileSocket(sock: unknown): void {
  const type = typeof sock === 'object' && sock !== null ? (sock as { type?: unknown }).type : undefined;
  if (type !== undefined && type !== 'stream') throw new TypeError(`A stream socket was expected for sock, got a ${String(type)} socket`);
}

/** The file descriptor of `file` (an fd or a FileHandle), checked with offset and count as asyncio's _check_sendfile_params. */
export function checkSendfileArgs(file: unknown, offset: unknown, count: unknown): number {
  const fd = typeof file === 'object' && file !== null ? (file as { fd?: unknown }).fd : file;
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) {
    throw new TypeError(`file must be a file descriptor or a FileHandle, got ${describe(file)}`);
  }
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset)) {
    throw new TypeError(`offset must be a non-negative integer (got ${describe(offset)})`);
  }
  if (offset < 0) throw new RangeError(`offset must be a non-negative integer (got ${offset})`);
  if (count !== null && count !== undefined) {
    if (typeof count !== 'number' || !Number.isSafeInteger(count)) {
      throw new TypeError(`count must be a positive integer (got ${describe(count)})`);
    }
    if (count <= 0) throw new RangeError(`count must be a positive integer (got ${count})`);
  }
  return fd;
}

/** Read up to `length` bytes of `fd` at `position` into a fresh buffer (empty at the end of the file). */
function readChunk(fd: number, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  return new Promise((resolve, reject) => {
    fs.read(fd, buf, 0, length, position, (error, n) => (error ? reject(error) : resolve(buf.subarray(0, n))));
  });
}

/** The next chunk's size: at most `chunk`, and no more than what `count` leaves (0: done). */
function nextSize(chunk: number, count: number | null, sent: number): number {
  return count === null ? chunk : Math.min(chunk, count - sent);
}

/**
 * Stands in for a transport's protocol while the file is written (asyncio's
 * _SendfileFallbackProtocol): reading is paused, writes wait for resumeWriting, and the
 * protocol gets the transport back as it was, or connectionLost if it was lost meanwhile.
 */
class SendfileFallbackProtocol extends Protocol {
  private readonly protocol: BaseProtocol;
  private readonly shouldResumeReading: boolean;
  private readonly shouldResumeWriting: boolean;
  private writeReady: Future<boolean> | null = null;

  constructor(private readonly transport: Transport, private readonly loop: AbstractEventLoop) {
    super();
    this.protocol = transport.getProtocol();
    this.shouldResumeReading = transport.isReading();
    this.shouldResumeWriting = (transport as { _isWritingPaused?(): boolean })._isWritingPaused?.() ?? false;
    transport.pauseReading();
    transport.setProtocol(this);
    if (this.shouldResumeWriting) this.writeReady = loop.createFuture<boolean>();
  }

  async drain(): Promise<void> {
    if (this.transport.isClosing()) throw new ConnectionError('Connection closed by peer');
    if (this.writeReady !== null) await this.writeReady;
  }

  override connectionMade(): void {
    throw new RuntimeError('Invalid state: connection should have been established already.');
  }

  override connectionLost(exc: unknown): void {
    const ready = this.writeReady;
    if (ready !== null && !ready.done()) ready.setException(exc ?? new ConnectionError('Connection is closed by peer'));
    this.protocol.connectionLost(exc);
  }

  override pauseWriting(): void {
    this.writeReady ??= this.loop.createFuture<boolean>();
  }

  override resumeWriting(): void {
    const ready = this.writeReady;
    if (ready === null) return;
    this.writeReady = null;
    if (!ready.done()) ready.setResult(false);
  }

  override dataReceived(): void {
    throw new RuntimeError('Invalid state: reading should be paused');
  }

  override eofReceived(): boolean {
    throw new RuntimeError('Invalid state: reading should be paused');
  }

  /** Give the transport back to its protocol, reading and writing as they were. */
  restore(): void {
    this.transport.setProtocol(this.protocol);
    if (this.shouldResumeReading && !this.transport.isClosing()) this.transport.resumeReading();
    this.writeReady?.cancel();
    this.writeReady = null;
    if (this.shouldResumeWriting) this.protocol.resumeWriting();
  }
}

/** asyncio's _sendfile_fallback: the file in chunks through `transport`, under its flow control. */
export async function sendfileByWrites(loop: AbstractEventLoop, transport: Transport, fd: number, offset: number, count: number | null): Promise<number> {
  const proto = new SendfileFallbackProtocol(transport, loop);
  let sent = 0;
  try {
    for (;;) {
      const size = nextSize(TRANSPORT_CHUNK, count, sent);
      if (size <= 0) return sent;
      const chunk = await readChunk(fd, size, offset + sent);
      if (chunk.length === 0) return sent;
      transport.write(chunk);
      await proto.drain();
      sent += chunk.length;
    }
  } finally {
    proto.restore();
  }
}

/** asyncio's _sock_sendfile_fallback: the file in chunks through sockSendall. */
export async function sockSendfileBySends(loop: AbstractEventLoop, sock: unknown, fd: number, offset: number, count: number | null): Promise<number> {
  let sent = 0;
  for (;;) {
    const size = nextSize(SOCKET_CHUNK, count, sent);
    if (size <= 0) return sent;
    const chunk = await readChunk(fd, size, offset + sent);
    if (chunk.length === 0) return sent;
    await loop.sockSendall(sock, chunk);
    sent += chunk.length;
  }
}
