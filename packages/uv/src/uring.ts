/**
 * Uring: an io_uring instance (Linux) whose completions wake Node's own loop. A thin
 * layer over native/uring.c, where the lifecycle rules are written; in short:
 * - `recv/send(fd, buf, offset, length)`, `poll(fd, events)`, `pollMulti(fd, events)`, `accept(fd)` queue one
 *   operation and return its id (> 0) or `-errno`; `submit()` enters the kernel with
 *   everything queued (call it once per turn of Node's loop);
 * - `recvPooled(fd, max)` receives into a buffer of the ring's receive pool, picked by the
 *   kernel when data arrives (kernel 5.19+; -ENOSYS without a pool); `recvMulti(fd, limit)`
 *   does the same for every chunk until EOF, an error, a dry pool, a cancel or, with a
 *   limit, about `limit` bytes (kernel 6.0+, the limit 6.17+; an older kernel completes it
 *   with -EINVAL);
 * - `harvest(out, slab, at)` writes up to `out.length / 4` completions as (id, result,
 *   more, where) in one call: `result` is bytes, the new fd, poll events, or `-errno`;
 *   `more` is 1 while a multishot receive or poll stays armed; a pooled receive's bytes are
 *   copied into `slab` at `where` (>= at, 8-aligned; -1 for none; -2 when dropped: `at`
 *   -1 says the caller has no slab) and its pool buffer goes back to the kernel in the same call. A Buffer given to recv/send stays referenced
 *   until its completion was harvested;
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
  recvMulti(fd: number, limit: number): number;
  send(fd: number, buf: ArrayBufferView, offset: number, length: number): number;
  poll(fd: number, events: number): number;
  pollMulti(fd: number, events: number): number;
  accept(fd: number): number;
  cancel(id: number): number;
  submit(): number;
  harvestTarget(out: Float64Array, slab: Uint8Array): number;
  harvester(): (at: number) => number;
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

/** An io_uring instance (Linux) for a completion backend: queue operations, submit them, harvest their results (see the README). */
export class Uring {
  /** The most one pooled completion carries (a pool buffer's size). */
  static readonly POOL_BUFFER_SIZE = 64 * 1024;
  /** `harvest`'s `at` when the caller has no slab to give (its allocation failed): pooled bytes are dropped, each reported at `BYTES_DROPPED`. */
  static readonly NO_SLAB = -1;
  /** `where` of a pooled receive whose bytes `harvest` dropped (called with `NO_SLAB`): its reader must fail, its stream has a gap. */
  static readonly BYTES_DROPPED = -2;
  readonly #ring: NativeUring;
  /** The native harvest bound to this ring (no receiver to unwrap per call), and the out and slab it writes to. */
  readonly #harvestAt: (at: number) => number;
  #harvestOut: Float64Array | null = null;
  #harvestSlab: Uint8Array | null = null;
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
    this.#harvestAt = ring.harvester();
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

  /**
   * Queue a multishot receive into pool buffers: a completion per chunk until it ends; its
   * id (> 0) or -errno (-ENOSYS: no pool). With `limit` > 0 it also ends (its last
   * completion without "more") once it received `limit` bytes, passing it by at most one
   * pool buffer: the most the kernel takes off the socket before the caller re-arms it, so
   * a reader that stops re-arming leaves the rest in the socket and the peer is throttled.
   * The limit needs kernel 6.17+; an older kernel completes the receive with -EINVAL.
   */
  recvMulti(fd: number, limit = 0): number {
    return this.#ring.recvMulti(fd, limit);
  }

  /** Queue a send of `buf`; its id (> 0) or -errno. */
  send(fd: number, buf: ArrayBufferView, offset = 0, length = buf.byteLength - offset): number {
    return this.#ring.send(fd, buf, offset, length);
  }

  /** One-shot readiness: completes with poll(2) revents (POLLIN, POLLOUT; POLLRDHUP once the peer shut down, POLLHUP, POLLERR). */
  poll(fd: number, events: number): number {
    return this.#ring.poll(fd, events);
  }

  /**
   * Multishot readiness (kernel 5.13+): a completion (poll(2) revents, as `poll`'s) each
   * time the fd wakes with `events` ready, flagged "more" until a cancel or an error ends it; its id (> 0) or -errno. It
   * reports wake-ups, not a level: read until the socket is drained. An older kernel
   * completes it with -EINVAL.
   */
  pollMulti(fd: number, events: number): number {
    return this.#ring.pollMulti(fd, events);
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

  /**
   * Copy up to `out.length / 4` completions as (id, result, more, where), pooled bytes into
   * `slab` from `at` on; how many. It stops early when a chunk does not fit: give it a slab
   * with at least `Uring.POOL_BUFFER_SIZE` bytes of room, or `at` `Uring.NO_SLAB` when none
   * could be allocated (`slab` then the last one given). `out` and `slab` are checked and
   * held by the ring when they differ from the last call's (a caller harvests with the same
   * ones again and again), so their memory must not be detached meanwhile.
   */
  harvest(out: Float64Array, slab: Uint8Array, at: number): number {
    if (out !== this.#harvestOut || slab !== this.#harvestSlab) {
      const r = this.#ring.harvestTarget(out, slab);
      if (r < 0) return r;
      this.#harvestOut = out;
      this.#harvestSlab = slab;
    }
    return this.#harvestAt(at);
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
    this.#harvestOut = this.#harvestSlab = null;
    this.#ring.close();
  }

  /** Same as close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
