/**
 * The selectors module (Python's Lib/selectors.py): register file objects for read or
 * write readiness and ask which are ready. Every concrete selector wraps one readiness
 * object of @loopkit/uv (epoll, kqueue or poll), so all of them also offer what a loop
 * running as a guest on Node's loop needs: `watch(onReady)` / `unwatch()`.
 *
 * Level-triggered, as Python's: an fd stays ready until drained. `select(timeout)` is
 * synchronous; `select(0)` and a negative timeout never block, `select()` blocks the
 * thread (use it outside a running loop only).
 */
import { Epoll, Kqueue, PollSet } from '@loopkit/uv';
import { RuntimeError } from '@loopkit/core';
import { describe } from './util.js';

export const EVENT_READ = 1;
export const EVENT_WRITE = 2;

/** An fd number, or an object with `fileno()` (a @loopkit/uv Socket, say). */
export type FileObject = number | { fileno(): number };

/** What a registration records: the object, its fd, the events of interest and user data. */
export class SelectorKey<D = unknown> {
  constructor(
    readonly fileobj: FileObject,
    readonly fd: number,
    readonly events: number,
    readonly data: D,
  ) {}
}

/** Python's KeyError: the fd is already registered, or not registered. */
export class KeyError extends Error {}
Object.defineProperty(KeyError.prototype, 'name', { value: 'KeyError', writable: true, configurable: true });

/** The fd of `fileobj`; TypeError when it has none, RangeError when it is negative (a closed socket). */
export function fileobjToFd(fileobj: unknown): number {
  let fd: unknown;
  if (typeof fileobj === 'number') fd = fileobj;
  else if (fileobj !== null && typeof fileobj === 'object' && typeof (fileobj as { fileno?: unknown }).fileno === 'function') {
    fd = (fileobj as { fileno(): unknown }).fileno();
  } else {
    throw new TypeError(`Invalid file object: fileobj must be a file descriptor or an object with fileno(), got ${describe(fileobj)}`);
  }
  if (typeof fd !== 'number' || !Number.isInteger(fd)) throw new TypeError(`fileobj's file descriptor must be an integer, got ${describe(fd)}`);
  if (fd < 0) throw new RangeError(`Invalid file descriptor: ${fd}`);
  return fd;
}

function checkEvents(events: unknown): number {
  if (events !== 1 && events !== 2 && events !== 3) {
    throw new RangeError(`events must be EVENT_READ (1), EVENT_WRITE (2) or both (3), got ${describe(events)}`);
  }
  return events;
}

/** A Map callers can read but not change: the selector updates it through Map.prototype. */
class KeyMap extends Map<number, SelectorKey> {
  override set(): this {
    throw new TypeError("a selector's map is read-only: use register/modify/unregister");
  }
  override delete(): boolean {
    throw new TypeError("a selector's map is read-only: use register/modify/unregister");
  }
  override clear(): void {
    throw new TypeError("a selector's map is read-only: use register/modify/unregister");
  }
}
const mapSet = Map.prototype.set;
const mapDelete = Map.prototype.delete;
const mapClear = Map.prototype.clear;

/** The readiness object a selector wraps (the shape Epoll, Kqueue and PollSet share). */
interface Readiness {
  add(fd: number, events: number): void;
  modify(fd: number, events: number): void;
  remove(fd: number): void;
  wait(timeout: number | null | undefined, out: Int32Array): number;
  watch(onReady: () => void): void;
  unwatch(): void;
  close(): void;
}

const MAX_PAIRS = 4096;

export abstract class BaseSelector implements Disposable {
  private readonly readiness: Readiness;
  private readonly map = new KeyMap();
  private closed = false;
  /** @internal (fd, events) pairs from the last poll; the loop reads them without copying. */
  _out = new Int32Array(2 * 256);

  protected constructor(readiness: Readiness) {
    this.readiness = readiness;
  }

  /** Register `fileobj` for `events`; returns its key. KeyError when already registered. */
  register<D = unknown>(fileobj: FileObject, events: number, data: D = null as D): SelectorKey<D> {
    this.checkOpen();
    checkEvents(events);
    const fd = fileobjToFd(fileobj);
    const existing = this.map.get(fd);
    if (existing !== undefined) {
      throw new KeyError(`${describe(fileobj)} (FD ${fd}) is already registered`);
    }
    const key = new SelectorKey<D>(fileobj, fd, events, data);
    this.readiness.add(fd, events); // a bad fd throws here (EBADF), before the map changes
    mapSet.call(this.map, fd, key);
    return key;
  }

  /** Unregister `fileobj` (also after it was closed); returns its key. KeyError when unknown. */
  unregister(fileobj: FileObject): SelectorKey {
    const key = this.map.get(this.lookup(fileobj));
    if (key === undefined) throw new KeyError(`${describe(fileobj)} is not registered`);
    mapDelete.call(this.map, key.fd);
    try {
      this.readiness.remove(key.fd);
    } catch {
      // The fd was closed before unregistering: the kernel already dropped it.
    }
    return key;
  }

  /** Change the events and/or data of a registration; returns the new key. */
  modify<D = unknown>(fileobj: FileObject, events: number, data: D = null as D): SelectorKey<D> {
    this.checkOpen();
    checkEvents(events);
    const key = this.map.get(this.lookup(fileobj));
    if (key === undefined) throw new KeyError(`${describe(fileobj)} is not registered`);
    if (events !== key.events) {
      try {
        this.readiness.modify(key.fd, events);
      } catch (error) {
        this.unregister(fileobj); // as Python: a registration that cannot be changed is dropped
        throw error;
      }
    } else if (data === key.data) {
      return key as SelectorKey<D>;
    }
    const updated = new SelectorKey<D>(key.fileobj, key.fd, events, data);
    mapSet.call(this.map, key.fd, updated);
    return updated;
  }

  /**
   * The ready registrations as `[key, events]` pairs. `timeout` in seconds: 0 or negative
   * never blocks, positive blocks at most that long, null/undefined until something is ready.
   */
  select(timeout: number | null = null): Array<[SelectorKey, number]> {
    this.checkOpen();
    if (timeout !== null && timeout !== undefined && (typeof timeout !== 'number' || Number.isNaN(timeout))) {
      throw new TypeError(`timeout must be a number of seconds or null, got ${describe(timeout)}`);
    }
    if (timeout === null && this.map.size === 0) {
      throw new RuntimeError('select() with no timeout on an empty selector would block forever');
    }
    const n = this._poll(timeout);
    const out = this._out;
    const ready: Array<[SelectorKey, number]> = [];
    const index = new Map<number, number>();
    for (let i = 0; i < 2 * n; i += 2) {
      const key = this.map.get(out[i]!);
      if (key === undefined) continue;
      const events = out[i + 1]! & key.events;
      if (events === 0) continue;
      const at = index.get(key.fd); // kqueue may report the two filters of one fd separately
      if (at === undefined) {
        index.set(key.fd, ready.length);
        ready.push([key, events]);
      } else {
        ready[at]![1] |= events;
      }
    }
    return ready;
  }

  /** @internal Harvest ready (fd, events) pairs into `_out`; returns how many. */
  _poll(timeout: number | null): number {
    const wanted = Math.min(Math.max(this.map.size, 256), MAX_PAIRS);
    if (this._out.length < 2 * wanted) this._out = new Int32Array(2 * wanted);
    return this.readiness.wait(timeout, this._out);
  }

  /** The key of a registered `fileobj`; KeyError when unknown, RuntimeError once closed. */
  getKey(fileobj: FileObject): SelectorKey {
    this.checkOpen();
    const key = this.map.get(this.lookup(fileobj));
    if (key === undefined) throw new KeyError(`${describe(fileobj)} is not registered`);
    return key;
  }

  /** fd -> key, a live read-only Map (emptied by close); null once closed. */
  getMap(): Map<number, SelectorKey> | null {
    return this.closed ? null : this.map;
  }

  /** Call `onReady` from Node's loop whenever a registered fd may be ready (never blocks). */
  watch(onReady: () => void): void {
    this.checkOpen();
    this.readiness.watch(onReady);
  }

  /** Stop the watcher armed by watch(); idempotent. */
  unwatch(): void {
    if (!this.closed) this.readiness.unwatch();
  }

  /** Forget every registration and release the OS resources (registered fds stay open). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    mapClear.call(this.map);
    this.readiness.close();
  }

  /** Same as close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** The fd for `fileobj`, or for a closed object still registered (its fileno() is -1 now). */
  private lookup(fileobj: FileObject): number {
    try {
      return fileobjToFd(fileobj);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      for (const key of this.map.values()) if (key.fileobj === fileobj) return key.fd;
      throw error;
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new RuntimeError('Selector is closed');
  }
}

/** epoll(7), Linux. */
export class EpollSelector extends BaseSelector {
  constructor() {
    super(new Epoll());
  }
}

/** kqueue(2), macOS and FreeBSD; elsewhere the constructor throws (code ERR_NOT_SUPPORTED). */
export class KqueueSelector extends BaseSelector {
  constructor() {
    super(new Kqueue());
  }
}

/** poll(2): available wherever the addon builds; lookups are linear. */
export class PollSelector extends BaseSelector {
  constructor() {
    super(new PollSet());
  }
}

/** The most efficient selector of this platform: epoll, then kqueue, then poll. */
export const DefaultSelector: new () => BaseSelector = Epoll.isSupported
  ? EpollSelector
  : Kqueue.isSupported
    ? KqueueSelector
    : PollSelector;
