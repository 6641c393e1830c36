/**
 * Readiness sources for a selector loop running as a guest on Node's libuv loop.
 *
 * Epoll (Linux), Kqueue (macOS/FreeBSD) and PollSet (everywhere) share one
 * shape: add/modify/remove interest in fds, harvest ready (fd, events) pairs
 * with wait(), and watch(onReady) to be woken from Node's loop instead of
 * blocking in wait(). Level-triggered: an fd stays ready until drained.
 * Errors and hangups are reported as READABLE|WRITABLE (limited to the
 * registered interest) so the loop's next recv/send surfaces the error.
 *
 * Lifecycle (details beside the C code, native/watch.c and native/pollset.c):
 * - close() stops watching first, then closes; it is idempotent.
 * - A watching object is kept alive by its watcher; otherwise an unreachable
 *   object is garbage-collected and its descriptor closed by a finalizer.
 * - Closing a registered socket with Socket#close() is safe for all three; for
 *   a PollSet, closing a registered fd by any other means while watching is not.
 */
import { NativePollSet, NativeSelector, native, nativeOrNull } from './native.js';
import { ErrnoError, checkFd, describe, errnoError } from './errors.js';

/** Event bit: the fd is readable (or has an error / hangup). */
export const READABLE = 1;
/** Event bit: the fd is writable (or has an error / hangup). */
export const WRITABLE = 2;

const EBADF = 9;

/** Seconds (asyncio's unit) to the native milliseconds: null/undefined/Infinity
 * block, <= 0 never blocks, otherwise rounded up so a timer is never woken early. */
function toMs(timeout: number | null | undefined): number {
  if (timeout === null || timeout === undefined || timeout === Infinity) return -1;
  if (typeof timeout !== 'number' || Number.isNaN(timeout))
    throw new TypeError(`timeout must be a number of seconds or null, got ${describe(timeout)}`);
  if (timeout <= 0) return 0;
  return Math.min(Math.ceil(timeout * 1000), 0x7fffffff);
}

function checkEvents(events: unknown): number {
  if (events !== 1 && events !== 2 && events !== 3)
    throw new RangeError(`events must be READABLE (1), WRITABLE (2) or both (3), got ${describe(events)}`);
  return events;
}

/** The common implementation; subclasses choose the native class and syscall names. */
abstract class Readiness implements Disposable {
  #h: NativeSelector;
  #closed = false;
  #watching = false;
  readonly #kind: string;
  readonly #ctl: string;
  readonly #wait: string;

  protected constructor(h: NativeSelector, kind: string, ctl: string, wait: string) {
    this.#h = h;
    this.#kind = kind;
    this.#ctl = ctl;
    this.#wait = wait;
  }

  #fail(r: number, syscall: string, fd?: number): never {
    const err: ErrnoError = errnoError(r, syscall);
    if (this.#closed) err.message += ` (${this.#kind} is closed)`;
    else if (fd !== undefined) err.message += ` (fd ${fd})`;
    throw err;
  }

  /** True once close() ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True between watch() and unwatch()/close(). */
  get watching(): boolean {
    return this.#watching;
  }

  /** Registers fd for events (READABLE, WRITABLE or both); EEXIST if already registered. */
  add(fd: number, events: number): void {
    checkFd(fd);
    checkEvents(events);
    const r = this.#h.add(fd, events);
    if (r < 0) this.#fail(r, this.#ctl, fd);
  }

  /** Changes the events of a registered fd; ENOENT if it is not registered. */
  modify(fd: number, events: number): void {
    checkFd(fd);
    checkEvents(events);
    const r = this.#h.modify(fd, events);
    if (r < 0) this.#fail(r, this.#ctl, fd);
  }

  /** Unregisters fd; ENOENT if it is not registered. */
  remove(fd: number): void {
    checkFd(fd);
    const r = this.#h.remove(fd);
    if (r < 0) this.#fail(r, this.#ctl, fd);
  }

  /**
   * Harvests ready fds in one native call: writes (fd, events) pairs into
   * out[0], out[1], out[2], ... (up to out.length / 2 pairs) and returns how many.
   * timeout in seconds: 0 or negative never blocks (the guest-mode case);
   * positive blocks the thread at most that long; null/undefined blocks until
   * an event (only for the synchronous selector API).
   */
  wait(timeout: number | null | undefined, out: Int32Array): number {
    const ms = toMs(timeout);
    if (!(out instanceof Int32Array)) throw new TypeError(`out must be an Int32Array, got ${describe(out)}`);
    if (out.length < 2) throw new RangeError('out must hold at least one (fd, events) pair (length >= 2)');
    const n = this.#h.wait(ms, out);
    if (n < 0) this.#fail(n, this.#wait);
    return n;
  }

  /**
   * Arms a watcher in Node's own loop: onReady() is called (from Node's loop,
   * inside a callback scope, so microtasks run after it) once per loop
   * iteration in which something registered is ready. It never blocks the
   * thread; onReady typically calls wait(0, out). Keeps the process alive
   * unless unref() was called. Throws if already watching.
   */
  watch(onReady: () => void): void {
    this.watchWith(onReady, undefined);
  }

  /** watch() with what a subclass's native watch takes besides onReady. */
  protected watchWith(onReady: () => void, reports: Int32Array | undefined): void {
    if (typeof onReady !== 'function') throw new TypeError(`onReady must be a function, got ${describe(onReady)}`);
    const r = reports === undefined ? this.#h.watch(onReady) : (this.#h as NativePollSet).watch(onReady, reports);
    if (r < 0) {
      const err = errnoError(r, 'watch');
      if (err.code === 'EALREADY') err.message = `${this.#kind} is already watching: call unwatch() first`;
      else if (this.#closed) err.message += ` (${this.#kind} is closed)`;
      throw err;
    }
    this.#watching = true;
  }

  /** Stops the watcher; no onReady call happens after this returns. Idempotent. */
  unwatch(): void {
    this.#h.unwatch();
    this.#watching = false;
  }

  /** The watcher keeps Node's loop alive (the default). Remembered across watch(). */
  ref(): this {
    this.#h.ref();
    return this;
  }

  /** The watcher no longer keeps Node's loop alive. Remembered across watch(). */
  unref(): this {
    this.#h.unref();
    return this;
  }

  /** Unwatches and releases the OS resources; registered fds are not closed. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watching = false;
    this.#h.close();
  }

  /** Same as close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Throws the ERR_NOT_SUPPORTED error of a selector this platform lacks. */
  protected static notSupported(kind: string, needs: string): never {
    const err = new Error(`${kind} is not supported on ${process.platform} (needs ${needs})`) as ErrnoError;
    err.code = 'ERR_NOT_SUPPORTED';
    throw err;
  }

  /** Throws the errno error of a failed create call (a negative `fd`). */
  protected static descriptor(fd: number | undefined, syscall: string): void {
    if (fd === undefined || fd < 0) throw errnoError(fd ?? -EBADF, syscall);
  }
}

/** A level-triggered epoll instance (Linux). Its own `fd` is what watch() polls. */
export class Epoll extends Readiness {
  /** True where epoll exists and the addon loaded. */
  static readonly isSupported: boolean = nativeOrNull()?.Epoll !== undefined;
  readonly #h: NativeSelector;

  constructor() {
    const Cls = native().Epoll; // native() throws when the addon is missing
    if (Cls === undefined) Readiness.notSupported('Epoll', 'Linux');
    const h = new Cls();
    Readiness.descriptor(h.fd, 'epoll_create1');
    super(h, 'Epoll', 'epoll_ctl', 'epoll_wait');
    this.#h = h;
  }

  /** The epoll descriptor, -1 once closed. */
  get fd(): number {
    return this.closed ? -1 : this.#h.fd!;
  }
}

/**
 * A kqueue (macOS, FreeBSD). Same shape as Epoll; add() and modify() are the
 * same operation (kqueue cannot tell them apart). Rarely, the two filters of
 * one fd come back as two pairs: OR them.
 */
export class Kqueue extends Readiness {
  /** True on macOS/FreeBSD when the addon loaded. */
  static readonly isSupported: boolean = nativeOrNull()?.Kqueue !== undefined;
  readonly #h: NativeSelector;

  constructor() {
    const Cls = native().Kqueue;
    if (Cls === undefined) Readiness.notSupported('Kqueue', 'macOS or FreeBSD');
    const h = new Cls();
    Readiness.descriptor(h.fd, 'kqueue');
    super(h, 'Kqueue', 'kevent', 'kevent');
    this.#h = h;
  }

  /** The kqueue descriptor, -1 once closed. */
  get fd(): number {
    return this.closed ? -1 : this.#h.fd!;
  }
}

/**
 * poll(2)-based readiness, available wherever the addon builds. watch() arms
 * one uv_poll per registered fd and coalesces them into one onReady call per
 * Node loop iteration. An fd can be watched by only one PollSet at a time.
 */
export class PollSet extends Readiness {
  /** True when the addon loaded. */
  static readonly isSupported: boolean = nativeOrNull() !== null;
  readonly #h: NativePollSet;

  constructor() {
    const h = new (native().PollSet)();
    super(h, 'PollSet', 'poll', 'poll');
    this.#h = h;
  }

  /**
   * watch(), and Node's loop writes what it reports into `reports` (an Int32Array, length
   * >= 4) as it happens, so reading it costs no call into the addon: `reports[0]` is how
   * many (fd, events) pairs are written from `reports[2]` on (zero it once they are read:
   * later reports are written after the unread ones), and `reports[1]` how many more did
   * not fit and wait for take(). wait(), modify() and remove() update it as they update
   * take()'s. Held until unwatch(); do not transfer its buffer meanwhile.
   */
  override watch(onReady: () => void, reports?: Int32Array): void {
    if (reports !== undefined) {
      if (!(reports instanceof Int32Array)) throw new TypeError(`reports must be an Int32Array, got ${describe(reports)}`);
      if (reports.length < 4) throw new RangeError('reports must hold its two counts and at least one (fd, events) pair (length >= 4)');
    }
    this.watchWith(onReady, reports);
  }

  /**
   * While watching: the (fd, events) pairs Node's loop reported since the last take() or
   * wait(), written into `out` as wait() writes them, without a syscall (Node's loop already
   * polled). Each report is handed over once; what does not fit in `out` stays for the next
   * take(); wait() polls afresh and drops them; modify() and remove() drop an fd's. With a
   * reports array (watch()), only what did not fit there is left for take().
   */
  take(out: Int32Array): number {
    if (!(out instanceof Int32Array)) throw new TypeError(`out must be an Int32Array, got ${describe(out)}`);
    if (out.length < 2) throw new RangeError('out must hold at least one (fd, events) pair (length >= 2)');
    return this.#h.take(out);
  }
}

