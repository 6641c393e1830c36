/**
 * Uring: an io_uring instance (Linux) whose completions wake Node's own loop. A thin
 * layer over native/uring.c, where the lifecycle rules are written; in short:
 * - `recv/send(fd, buf, offset, length)`, `poll(fd, events)`, `accept(fd)` queue one
 *   operation and return its id (> 0) or `-errno`; `submit()` enters the kernel with
 *   everything queued (call it once per turn of Node's loop);
 * - `harvest(out)` copies up to `out.length / 2` `(id, result)` pairs (result: bytes,
 *   the new fd, poll events, or `-errno`) in one call; a Buffer given to recv/send stays
 *   referenced until its completion was harvested;
 * - `recvPooled(fd, max)` receives into a buffer of the ring's receive pool, picked by the
 *   kernel when data arrives (kernel 5.19+; -ENOSYS without a pool); its result carries
 *   the buffer: `Uring.pooledBytes(result)` bytes in buffer `Uring.pooledBuffer(result)`,
 *   copied out by `take`/`takeInto` (which give the buffer back) or given back by `recycle`;
 * - `cancel(id)` asks the kernel to cancel; the operation still completes (`-ECANCELED`
 *   or its result), and is harvested like any other;
 * - `watch(onReady)` arms a uv_poll on the ring fd, readable while completions wait (as Epoll#watch);
 * - `close()` cancels what is in flight and waits for it (bounded) before unmapping.
 */
import { errnoError } from './errors.js';
import { nativeOrNull } from './native.js';

interface NativeUring {
  readonly fd: number;
  recv(fd: number, buf: ArrayBufferView, offset: number, length: number): number;
  recvPooled(fd: number, max: number): number;
  take(bid: number, n: number): Buffer;
  takeInto(bid: number, n: number, dest: ArrayBufferView): number;
  recycle(bid: number): number;
  send(fd: number, buf: ArrayBufferView, offset: number, length: number): number;
  poll(fd: number, events: number): number;
  accept(fd: number): number;
  cancel(id: number): number;
  submit(): number;
  harvest(out: Float64Array): number;
  inflight(): number;
  watch(onReady: () => void): number;
  unwatch(): number;
  ref(): number;
  unref(): number;
  close(): number;
}

type UringCtor = new (entries?: number) => NativeUring;

function nativeClass(): UringCtor | null {
  return ((nativeOrNull() as unknown as { Uring?: UringCtor } | null)?.Uring) ?? null;
}

let probed: string | null | undefined;

/** A pooled receive's result encodes its buffer above 32 bits: bytes + (bid + 1) * 2^32. */
const BID_UNIT = 2 ** 32;

/** An io_uring instance (Linux) for a completion backend: queue operations, submit them, harvest their results (see the README). */
export class Uring {
  readonly #ring: NativeUring;
  #closed = false;
  #watching = false;

  /**
   * Why a ring cannot be set up here (no addon, not Linux, io_uring_setup refused: e.g.
   * seccomp or `kernel.io_uring_disabled`), or null when it can. Probed once.
   */
  static problem(): string | null {
    if (probed === undefined) {
      try {
        new Uring(2).close();
        probed = null;
      } catch (error) {
        probed = error instanceof Error ? error.message : String(error);
      }
    }
    return probed;
  }

  /** A ring of `entries` submission slots (1..4096; completions have 16384). */
  constructor(entries = 256) {
    if (typeof entries !== 'number' || !Number.isInteger(entries)) throw new TypeError(`entries must be an integer, got ${String(entries)}`);
    if (entries < 1 || entries > 4096) throw new RangeError(`entries must be in 1..4096, got ${entries}`);
    const Ctor = nativeClass();
    if (Ctor === null) {
      const err = new Error(
        nativeOrNull() === null ? 'io_uring needs the @loopkit/uv native addon, which did not load' : `io_uring is Linux only (this is ${process.platform})`,
      ) as NodeJS.ErrnoException;
      err.code = nativeOrNull() === null ? 'ERR_LOOPKIT_NATIVE_UNAVAILABLE' : 'ERR_NOT_SUPPORTED';
      throw err;
    }
    const ring = new Ctor(entries);
    if (ring.fd < 0) throw errnoError(ring.fd, 'io_uring_setup');
    this.#ring = ring;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get watching(): boolean {
    return this.#watching;
  }

  /** Queue a receive into `buf`; its id (> 0) or -errno. */
  recv(fd: number, buf: ArrayBufferView, offset = 0, length = buf.byteLength - offset): number {
    return this.#ring.recv(fd, buf, offset, length);
  }

  /** Queue a receive of up to `max` bytes into a pool buffer; its id (> 0) or -errno (-ENOSYS: this ring has no pool). */
  recvPooled(fd: number, max: number): number {
    return this.#ring.recvPooled(fd, max);
  }

  /** Whether a completion's result carries a pool buffer (a pooled receive that got bytes). */
  static isPooled(result: number): boolean {
    return result >= BID_UNIT;
  }

  /** The pool buffer a pooled result carries. */
  static pooledBuffer(result: number): number {
    return Math.floor(result / BID_UNIT) - 1;
  }

  /** The bytes a pooled result carries (the plain result otherwise). */
  static pooledBytes(result: number): number {
    return result % BID_UNIT;
  }

  /** A copy of the first `n` bytes of pool buffer `bid`, which goes back to the kernel. */
  take(bid: number, n: number): Buffer {
    return this.#ring.take(bid, n);
  }

  /** Copy the first `n` bytes of pool buffer `bid` to the start of `dest`, and give the buffer back; `n`. */
  takeInto(bid: number, n: number, dest: ArrayBufferView): number {
    return this.#ring.takeInto(bid, n, dest);
  }

  /** Give pool buffer `bid` back unread. */
  recycle(bid: number): void {
    this.#ring.recycle(bid);
  }

  /** Queue a send of `buf`; its id (> 0) or -errno. */
  send(fd: number, buf: ArrayBufferView, offset = 0, length = buf.byteLength - offset): number {
    return this.#ring.send(fd, buf, offset, length);
  }

  /** One-shot readiness: completes with READABLE/WRITABLE bits. */
  poll(fd: number, events: number): number {
    return this.#ring.poll(fd, events);
  }

  /** Queue an accept on a listening socket; its id (> 0) or -errno. */
  accept(fd: number): number {
    return this.#ring.accept(fd);
  }

  /** Queue the cancellation of operation `id` (it still completes, with -ECANCELED or its result). */
  cancel(id: number): number {
    return this.#ring.cancel(id);
  }

  /** Hand every queued operation to the kernel in one io_uring_enter; how many, or -errno. */
  submit(): number {
    return this.#ring.submit();
  }

  /** Copy up to `out.length / 2` completions as `(id, result)` pairs; how many. */
  harvest(out: Float64Array): number {
    return this.#ring.harvest(out);
  }

  /** Operations submitted whose completion was not harvested yet. */
  get inflight(): number {
    return this.#closed ? 0 : this.#ring.inflight();
  }

  /** Calls `onReady` (in a callback scope) from Node's loop when completions wait. */
  watch(onReady: () => void): void {
    if (typeof onReady !== 'function') throw new TypeError('onReady must be a function');
    const r = this.#ring.watch(onReady);
    if (r < 0) throw errnoError(r, 'uv_poll_start');
    this.#watching = true;
  }

  /** Stop watching: no onReady call after this returns. */
  unwatch(): void {
    this.#ring.unwatch();
    this.#watching = false;
  }

  /** Keep the process alive while watching. */
  ref(): void {
    this.#ring.ref();
  }

  /** Do not keep the process alive while watching. */
  unref(): void {
    this.#ring.unref();
  }

  /** Cancel everything in flight, wait for it, and free the ring. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watching = false;
    this.#ring.close();
  }

  /** Same as close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
