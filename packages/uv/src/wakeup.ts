/**
 * WakeupFd: wakes a loop sleeping on its selector (asyncio's self-pipe). The
 * loop registers `fd` for READABLE and calls drain() when it fires; anyone
 * calls signal(), including another thread given only `writeFd`:
 * `WakeupFd.signalFd(writeFd)` in a worker_thread.
 *
 * Linux: one eventfd (fd === writeFd). Elsewhere: a non-blocking pipe.
 * Close only after every signaller has stopped: a stale number may have been
 * reused by another file by then.
 */
import { native } from './native.js';
import { checkFd, errnoError } from './errors.js';

const leaked = new FinalizationRegistry<[number, number]>(([r, w]) => {
  native().close(r);
  if (w !== r) native().close(w);
});

/** A wake-up descriptor pair (eventfd on Linux, a pipe elsewhere). */
export class WakeupFd implements Disposable {
  #fd: number;
  #writeFd: number;

  constructor() {
    const out = new Int32Array(2);
    const r = native().wakeupOpen(out);
    if (r < 0) throw errnoError(r, process.platform === 'linux' ? 'eventfd' : 'pipe');
    this.#fd = out[0];
    this.#writeFd = out[1];
    leaked.register(this, [this.#fd, this.#writeFd], this);
  }

  /** The descriptor to register for READABLE; -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  /** The descriptor signal() writes to (=== fd on Linux); -1 once closed. */
  get writeFd(): number {
    return this.#writeFd;
  }

  /** True once close() ran. */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /**
   * Wakes the loop. Thread-safe and cheap; several signals before a drain()
   * coalesce into one wake-up. Returns false (and does nothing) once closed.
   */
  signal(): boolean {
    if (this.#writeFd < 0) return false;
    return native().wakeupSignal(this.#writeFd) === 0;
  }

  /**
   * Signals the write end `fd` of a WakeupFd owned elsewhere (e.g. by the loop
   * of another thread). Returns false if the write failed (e.g. EBADF).
   */
  static signalFd(fd: number): boolean {
    checkFd(fd);
    return native().wakeupSignal(fd) === 0;
  }

  /** Consumes pending signals: true if there was at least one. */
  drain(): boolean {
    if (this.#fd < 0) return false;
    const r = native().wakeupDrain(this.#fd);
    if (r < 0) throw errnoError(r, 'read');
    return r > 0;
  }

  /** Closes both ends (idempotent). Removed from every PollSet of this thread first. */
  close(): void {
    const [r, w] = [this.#fd, this.#writeFd];
    if (r < 0) return;
    this.#fd = this.#writeFd = -1;
    leaked.unregister(this);
    native().close(r);
    if (w !== r) native().close(w);
  }

  /** Same as close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
