/**
 * Synchronization primitives for tasks of one loop (asyncio.locks): Lock, Event, Condition,
 * Semaphore, BoundedSemaphore. Not thread-safe; each binds to the loop that first waits on it.
 * Waiters are futures woken in FIFO order; a waiter cancelled after being woken passes
 * its turn on, so a wake-up is never lost.
 */
import { CancelledError, RuntimeError } from './errors.js';
import { Deque } from './deque.js';
import { Held } from './held.js';
import type { Future } from './futures.js';
import { LoopBound } from './loop-bound.js';
import type { PromiseWaiter, WaiterOwner } from './promise-waiter.js';
import { describe } from './validate.js';
import { finishedWithoutWaiting, registerWaitingCall, WaitingCall, type ValueKeeper } from './waiting-calls.js';

/** True when some waiter has not given up (been cancelled). */
function anyWaiting(waiters: Deque<Future<unknown>>): boolean {
  for (const w of waiters) if (!w.cancelled()) return true;
  return false;
}

/** A mutual-exclusion lock with FIFO fairness (asyncio.Lock). */
export class Lock extends LoopBound implements WaiterOwner<true> {
  private readonly waiters = new Deque<Future<unknown>>();
  private isLocked = false;

  /** Whether the lock is held. */
  locked(): boolean {
    return this.isLocked;
  }

  /** Wait until the lock is free, then take it. Resolves to true. */
  acquire(): Promise<true> {
    // Fairness: only jump the queue when every waiter gave up.
    if (!this.isLocked && !anyWaiting(this.waiters)) {
      this.isLocked = true;
      return finishedWithoutWaiting(Promise.resolve(true), this);
    }
    return this.waitInLine(this.waiters); // the rest is in _waiterWoken
  }

  /** @internal the rest of acquire() once its waiter is done. */
  _waiterWoken(waiter: PromiseWaiter<true>, failed: boolean, error: unknown): true {
    this.waiters.remove(waiter);
    if (failed) {
      // Woken but cancelled before taking the lock: hand the turn to the next waiter.
      if (!this.isLocked) this.wakeUpFirst();
      throw error;
    }
    this.isLocked = true;
    return true;
  }

  /** @internal an acquire() whose caller was cancelled before it received the lock: release it (waiting-calls.ts). */
  _takeBack(): boolean {
    this.release();
    return true;
  }

  /** asyncio's `async with lock:` as `await using _ = await lock.hold()`: acquire now, release at the scope's end. */
  async hold(): Promise<Held> {
    await this.acquire();
    return new Held(this);
  }

  /** Release the lock and wake the first waiter; throws RuntimeError when not locked. */
  release(): void {
    if (!this.isLocked) throw new RuntimeError('Lock is not acquired.');
    this.isLocked = false;
    this.wakeUpFirst();
  }

  private wakeUpFirst(): void {
    const first = this.waiters.peek();
    // A done waiter is already set to wake up.
    if (first !== undefined && !first.done()) first.setResult(true);
  }

  /** A description for logs and debugging, as asyncio's repr(). */
  override toString(): string {
    const waiting = this.waiters.length > 0 ? `, waiters:${this.waiters.length}` : '';
    return `<Lock [${this.isLocked ? 'locked' : 'unlocked'}${waiting}]>`;
  }
}

/** A flag tasks can wait for (asyncio.Event). */
export class Event extends LoopBound implements WaiterOwner<true> {
  private readonly waiters = new Deque<Future<unknown>>();
  private value = false;

  /** Whether the flag is set. */
  isSet(): boolean {
    return this.value;
  }

  /** Set the flag and wake every waiter. */
  set(): void {
    if (this.value) return;
    this.value = true;
    for (const fut of this.waiters) if (!fut.done()) fut.setResult(true);
  }

  /** Reset the flag: wait() blocks again. */
  clear(): void {
    this.value = false;
  }

  /** Resolve to true once the flag is set (at once if it is). */
  wait(): Promise<true> {
    if (this.value) return Promise.resolve(true);
    return this.waitInLine(this.waiters); // the rest is in _waiterWoken
  }

  /** @internal the rest of wait() once its waiter is done. */
  _waiterWoken(waiter: PromiseWaiter<true>, failed: boolean, error: unknown): true {
    this.waiters.remove(waiter);
    if (failed) throw error;
    return true;
  }

  /** @internal a wait() whose caller was cancelled before it resumed: it took nothing, so it may raise. */
  _takeBack(): boolean {
    return true;
  }

  /** A description for logs and debugging, as asyncio's repr(). */
  override toString(): string {
    const waiting = this.waiters.length > 0 ? `, waiters:${this.waiters.length}` : '';
    return `<Event [${this.value ? 'set' : 'unset'}${waiting}]>`;
  }
}

/** What Condition needs of its lock. */
export interface LockLike {
  /** Wait until the lock is free, then take it. */
  acquire(): Promise<unknown>;
  /** Release the lock. */
  release(): void;
  /** Whether the lock is held. */
  locked(): boolean;
}

function isLockLike(value: unknown): value is LockLike {
  const lock = value as LockLike | null;
  return (
    typeof lock === 'object' &&
    lock !== null &&
    typeof lock.acquire === 'function' &&
    typeof lock.release === 'function' &&
    typeof lock.locked === 'function'
  );
}

/** A condition variable over a lock (asyncio.Condition). */
export class Condition extends LoopBound implements ValueKeeper {
  private readonly lock: LockLike;
  private readonly waiters = new Deque<Future<unknown>>();

  constructor(lock?: LockLike | null) {
    super();
    if (lock !== undefined && lock !== null && !isLockLike(lock)) {
      throw new TypeError(`lock must be a Lock (with acquire, release and locked), got ${describe(lock)}`);
    }
    this.lock = lock ?? new Lock();
  }

  /** Whether the underlying lock is held. */
  locked(): boolean {
    return this.lock.locked();
  }

  /** Acquire the underlying lock. */
  acquire(): Promise<unknown> {
    return this.lock.acquire();
  }

  /** Release the underlying lock. */
  release(): void {
    this.lock.release();
  }

  /** `async with cond:` as `await using _ = await cond.hold()`: acquire the lock now, release it at the scope's end. */
  async hold(): Promise<Held> {
    await this.acquire();
    return new Held(this);
  }

  /**
   * Release the lock, wait for a notify, re-acquire the lock (even when cancelled), and
   * resolve to true. The caller must hold the lock. A Future wrapping the promise
   * (`waitFor(cond.wait(), t)`) cancels the wait, and settles once the lock is held again.
   */
  wait(): Promise<true> {
    const call = new WaitingCall(this);
    return registerWaitingCall(this.waiting(call), call);
  }

  private async waiting(call: WaitingCall): Promise<true> {
    if (!this.locked()) throw new RuntimeError('cannot wait on un-acquired lock');
    const fut = this.createWaiter();
    this.release();
    try {
      try {
        this.waiters.push(fut);
        call.waiter = fut;
        try {
          await fut;
          // Notified, but cancelled before resuming: asyncio raises at this await too.
          call.check();
          return true;
        } finally {
          call.waiter = null;
          this.waiters.remove(fut);
        }
      } finally {
        await this.reacquire(call);
      }
    } catch (error) {
      // We may have been notified before failing: pass the notification on.
      this.notifyWaiters(1);
      throw error;
    }
  }

  /**
   * Wait until `predicate()` is truthy; resolves to its value. The caller must hold the lock.
   * A Future wrapping the promise cancels the wait in progress, as wait()'s does.
   */
  waitFor<T>(predicate: () => T): Promise<T> {
    const call = new WaitingCall(this);
    return registerWaitingCall(this.waitingFor(predicate, call), call);
  }

  private async waitingFor<T>(predicate: () => T, call: WaitingCall): Promise<T> {
    if (typeof predicate !== 'function') throw new TypeError(`predicate must be a function, got ${describe(predicate)}`);
    let result = predicate();
    while (!result) {
      await call.during(this.wait());
      result = predicate();
    }
    return result;
  }

  /**
   * @internal a wait() or waitFor() whose caller was cancelled before it resumed: it raises
   * holding the lock, as asyncio's cancelled wait, and passes on the notification it got.
   */
  _takeBack(): boolean {
    this.notifyWaiters(1);
    return true;
  }

  /** Wake up to `n` waiters. The caller must hold the lock. */
  notify(n = 1): void {
    if (typeof n !== 'number' || Number.isNaN(n)) throw new TypeError(`n must be a number, got ${describe(n)}`);
    if (!this.locked()) throw new RuntimeError('cannot notify on un-acquired lock');
    this.notifyWaiters(n);
  }

  /** Wake every task waiting on the condition (the caller must hold the lock). */
  notifyAll(): void {
    this.notify(this.waiters.length);
  }

  /**
   * Take the lock back however often we are cancelled meanwhile; rethrow the last cancel.
   * Only cancellation retries: any other failure would repeat forever.
   */
  private async reacquire(call: WaitingCall): Promise<void> {
    let cancelled: CancelledError | null = null;
    for (;;) {
      try {
        await call.during(this.acquire() as Promise<unknown>);
        break;
      } catch (error) {
        if (!(error instanceof CancelledError)) throw error;
        cancelled = error;
      }
    }
    if (cancelled !== null) throw cancelled;
    // Cancelled through a wrapping Future while an acquire nobody could cancel (a LockLike's) waited.
    call.check();
  }

  private notifyWaiters(n: number): void {
    let woken = 0;
    for (const fut of this.waiters) {
      if (woken >= n) break;
      if (!fut.done()) {
        woken += 1;
        fut.setResult(false);
      }
    }
  }

  /** A description for logs and debugging, as asyncio's repr(). */
  override toString(): string {
    const waiting = this.waiters.length > 0 ? `, waiters:${this.waiters.length}` : '';
    return `<Condition [${this.locked() ? 'locked' : 'unlocked'}${waiting}]>`;
  }
}

function checkCount(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer, got ${describe(value)}`);
  }
  if (value < 0) throw new RangeError(`Semaphore initial ${name} must be >= 0, got ${value}`); // asyncio's words
}

/** A counter of free slots; acquire waits while it is 0 (asyncio.Semaphore). FIFO. */
export class Semaphore extends LoopBound implements WaiterOwner<true> {
  private readonly waiters = new Deque<Future<unknown>>();
  protected value: number;

  constructor(value = 1) {
    super();
    checkCount(value, 'value');
    this.value = value;
  }

  /** True when acquire() would wait: no slot, or earlier waiters go first. */
  locked(): boolean {
    return this.value === 0 || anyWaiting(this.waiters);
  }

  /** Take a slot, waiting while none is free (FIFO); resolves to true. */
  acquire(): Promise<true> {
    if (!this.locked()) {
      this.value -= 1;
      return finishedWithoutWaiting(Promise.resolve(true), this);
    }
    return this.waitInLine(this.waiters); // the rest is in _waiterWoken
  }

  /** @internal the rest of acquire() once its waiter is done. */
  _waiterWoken(waiter: PromiseWaiter<true>, failed: boolean, error: unknown): true {
    this.waiters.remove(waiter);
    try {
      // Given a slot by wakeUpNext() but failing anyway: give the slot back.
      if (failed && waiter.done() && !waiter.cancelled()) this.value += 1;
    } finally {
      // Waiters that arrived meanwhile queued behind us: wake as many as there are slots.
      while (this.value > 0 && this.wakeUpNext());
    }
    if (failed) throw error;
    return true;
  }

  /** @internal an acquire() whose caller was cancelled before it received the slot: give it back (waiting-calls.ts). */
  _takeBack(): boolean {
    this.release();
    return true;
  }

  /** Give a slot back, waking the first waiter. */
  release(): void {
    this.value += 1;
    this.wakeUpNext();
  }

  /** `async with sem:` as `await using _ = await sem.hold()`: take a slot now, give it back at the scope's end. */
  async hold(): Promise<Held> {
    await this.acquire();
    return new Held(this);
  }

  /** Give a slot to the first waiter not yet woken; false when there is none. */
  private wakeUpNext(): boolean {
    for (const fut of this.waiters) {
      if (!fut.done()) {
        this.value -= 1;
        fut.setResult(true);
        return true;
      }
    }
    return false;
  }

  /** A description for logs and debugging, as asyncio's repr(). */
  override toString(): string {
    const waiting = this.waiters.length > 0 ? `, waiters:${this.waiters.length}` : '';
    const state = this.locked() ? 'locked' : `unlocked, value:${this.value}`;
    return `<${this.constructor.name} [${state}${waiting}]>`;
  }
}

/** A Semaphore that refuses to be released above its initial value (RangeError). */
export class BoundedSemaphore extends Semaphore {
  private readonly bound: number;

  constructor(value = 1) {
    super(value);
    this.bound = value;
  }

  /** Give a slot back; RangeError above the initial value. */
  override release(): void {
    if (this.value >= this.bound) throw new RangeError('BoundedSemaphore released too many times');
    super.release();
  }
}
