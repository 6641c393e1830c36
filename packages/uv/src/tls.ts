/**
 * The OpenSSL TLS engine: core's TLSProvider contract (see tls-types.ts) over the SSL
 * objects of native/tls.c. `tlsProvider` is null when the addon did not load.
 *
 * Data path: every native call leaves its numbers in the engine's `io` array (an
 * upper bound of the plaintext the input can yield, state flags, bytes waiting to be
 * sent, the same bound once more input comes, after the handshake the cipher's
 * bytes per record beyond its plaintext, and the plaintext written during a renegotiation
 * that waits for it to finish). So read(), feedAndRead() and
 * takeOutgoing() allocate the exact size with Buffer.allocUnsafe (pooled when small: no
 * malloc) and decrypt or copy straight into it, and they return without calling into C
 * when there is nothing to do; outgoingSize() never calls into C. feedAndRead() and
 * writeInto() are one native call each where the layer would make two, and each skips a
 * copy: the SSL reads the caller's ciphertext where it lies, and writes its records
 * straight into the caller's buffer.
 */
import { nativeOrNull, type NativeModule, type NativeTLSContext, type NativeTLSEngine } from './native.js';
import { compile, resolveOptions } from './tls-options.js';
import type { HandshakeState, TLSContext, TLSEngine, TLSOptions, TLSProvider, TLSSessionInfo } from './tls-types.js';
import { describe } from './errors.js';

export type { HandshakeState, TLSContext, TLSEngine, TLSOptions, TLSProvider, TLSSessionInfo } from './tls-types.js';

// Layout of the io array (native/tls.c: sync_io).
const IO_READABLE = 0;
const IO_FLAGS = 1;
const IO_OUTGOING = 2;
const IO_HELD = 3;
const IO_OVERHEAD = 4;
const IO_DEFERRED = 5;
const IO_LENGTH = 6;
/** A TLS record's header: type, version, length (2 bytes, big-endian). */
const RECORD_HEADER = 5;
const F_CLOSED = 8;
const READ_MAX = 256 * 1024;
const STATES: readonly HandshakeState[] = ['done', 'want-read', 'want-sni'];

function checkMax(max: number): void {
  if (max !== READ_MAX && !(Number.isInteger(max) && max > 0)) {
    throw new RangeError(`max must be a positive integer, got ${describe(max)}`);
  }
}

/**
 * The most plaintext the whole records in `data` can hold, each `overhead` bytes beyond
 * its plaintext (the engine's io[IO_OVERHEAD], > 0); a record cut short at the end holds
 * none yet. At least 1, so that the read still reports an alert, close_notify or error.
 */
function recordsPlaintext(data: Uint8Array, overhead: number): number {
  let bound = 0;
  for (let at = 0; at + RECORD_HEADER <= data.length; ) {
    const length = (data[at + 3]! << 8) | data[at + 4]!;
    at += RECORD_HEADER + length;
    if (at > data.length) break;
    if (length > overhead) bound += length - overhead;
  }
  return bound > 0 ? bound : 1;
}

/** What read() returns for a native read of `got` bytes into `buf` (-1: none ready, 0: close_notify). */
function plaintext(buf: Buffer, got: number): Uint8Array | null {
  if (got > 0) return got === buf.length ? buf : buf.subarray(0, got);
  return got === 0 ? Buffer.alloc(0) : null;
}

/** One TLS connection (an SSL over two memory BIOs). */
class OpenSSLEngine implements TLSEngine {
  readonly #io = new Int32Array(IO_LENGTH);
  readonly #n: NativeTLSEngine;

  constructor(n: NativeModule, ctx: NativeTLSContext, serverHostname: string | null) {
    this.#n = new n.TLSEngine(ctx, serverHostname, this.#io);
  }

  feed(data: Uint8Array): void {
    this.#n.feed(data);
  }

  feedEof(): void {
    this.#n.feedEof();
  }

  handshake(): HandshakeState {
    return STATES[this.#n.handshake()];
  }

  read(max: number = READ_MAX): Uint8Array | null {
    checkMax(max);
    const io = this.#io;
    const est = io[IO_READABLE];
    // No input anywhere and nothing to report (end, close_notify, error, closed): nothing to decrypt.
    if (est === 0 && io[IO_FLAGS] === 0) return null;
    const buf = Buffer.allocUnsafe(est > max ? max : est);
    return plaintext(buf, this.#n.readInto(buf));
  }

  feedAndRead(data: Uint8Array, max: number = READ_MAX): Uint8Array | null {
    checkMax(max);
    const io = this.#io;
    const held = io[IO_HELD];
    const overhead = io[IO_OVERHEAD];
    // Ciphertext never decrypts to more bytes than it holds; whole records with nothing held
    // before them, exactly their plaintext (no view of a larger buffer to make).
    const est = held === 0 && overhead > 0 ? recordsPlaintext(data, overhead) : held + data.length;
    const buf = Buffer.allocUnsafe(est > max ? max : est);
    return plaintext(buf, this.#n.feedRead(data, buf));
  }

  readInto(buf: Uint8Array): number {
    return this.#n.readInto(buf);
  }

  write(data: Uint8Array): void {
    this.#n.write(data);
  }

  writeInto(data: Uint8Array, buf: Uint8Array): number {
    return this.#n.writeInto(data, buf);
  }

  takeOutgoing(): Uint8Array | null {
    const n = this.#io[IO_OUTGOING];
    if (n === 0 && (this.#io[IO_FLAGS] & F_CLOSED) === 0) return null;
    const buf = Buffer.allocUnsafe(n);
    const got = this.#n.takeInto(buf); // throws once closed
    return got === n ? buf : buf.subarray(0, got);
  }

  takeInto(buf: Uint8Array): number {
    if (this.#io[IO_OUTGOING] === 0 && (this.#io[IO_FLAGS] & F_CLOSED) === 0) return 0;
    return this.#n.takeInto(buf); // throws once closed
  }

  outgoingSize(): number {
    if (this.#io[IO_FLAGS] & F_CLOSED) this.#n.takeInto(Buffer.alloc(0)); // throws: closed
    return this.#io[IO_OUTGOING] + this.#io[IO_DEFERRED];
  }

  shutdown(): boolean {
    return this.#n.shutdown();
  }

  servername(): string | null {
    return this.#n.servername();
  }

  useContext(context: TLSContext): void {
    if (!(context instanceof OpenSSLContext)) {
      throw new TypeError(`context must be a TLSContext made by the openssl provider, got ${describe(context)}`);
    }
    this.#n.useContext(context.native);
  }

  info(): TLSSessionInfo {
    return this.#n.info();
  }

  close(): void {
    this.#n.close();
  }
}

/** Compiled options: one SSL_CTX shared by every engine made from it. */
class OpenSSLContext implements TLSContext {
  readonly #mod: NativeModule;

  constructor(
    mod: NativeModule,
    /** The native SSL_CTX wrapper (for useContext). */
    readonly native: NativeTLSContext,
    readonly serverSide: boolean,
    readonly options: TLSOptions,
  ) {
    this.#mod = mod;
  }

  newEngine(serverHostname: string | null): TLSEngine {
    if (serverHostname !== null && typeof serverHostname !== 'string') {
      throw new TypeError(`serverHostname must be a string or null, got ${describe(serverHostname)}`);
    }
    return new OpenSSLEngine(this.#mod, this.native, this.serverSide ? null : serverHostname || null);
  }
}

/** Contexts by options object, client and server apart: a server compiles its options once. */
const cache = new WeakMap<object, [OpenSSLContext | undefined, OpenSSLContext | undefined]>();

function makeProvider(mod: NativeModule): TLSProvider {
  return {
    name: 'openssl',
    createContext(options: TLSOptions, serverSide: boolean): TLSContext {
      if (typeof serverSide !== 'boolean') throw new TypeError(`serverSide must be a boolean, got ${describe(serverSide)}`);
      const where = serverSide ? 'TLS server options' : 'TLS client options';
      const key = typeof options === 'object' && options !== null ? options : null;
      const hit = key ? cache.get(key)?.[serverSide ? 1 : 0] : undefined;
      if (hit) return hit;
      const resolved = resolveOptions(options, where);
      const ctx = new OpenSSLContext(mod, compile(mod, resolved, serverSide), serverSide, options);
      if (key) {
        const pair = cache.get(key) ?? [undefined, undefined];
        pair[serverSide ? 1 : 0] = ctx;
        cache.set(key, pair);
      }
      return ctx;
    },
  };
}

const mod = nativeOrNull();

/** The OpenSSL engine (Node's own OpenSSL), or null when the addon did not load. */
export const tlsProvider: TLSProvider | null = mod ? makeProvider(mod) : null;

/** Live SSL and SSL_CTX objects of the process (a leak shows as growth); zeros without the addon. */
export function tlsStats(): { engines: number; contexts: number } {
  return mod ? mod.tlsStats() : { engines: 0, contexts: 0 };
}
