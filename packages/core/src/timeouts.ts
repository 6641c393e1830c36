/**
 * asyncio.timeout / timeout_at: a deadline for a stretch of code in the current task.
 * At the deadline the task is cancelled; leaving the scope turns that cancellation into
 * TimeoutError, but only for the timeout that caused it (task.uncancel() brings the
 * task's cancel count back to what it was on entry; a cancellation from anywhere else
 * keeps propagating).
 *
 * `timeout(delay, async () => ...)` sees the body's error, exactly as `async with`.
 * `await using t = timeout(delay)` cannot: its dispose throws TimeoutError when the
 * deadline cancelled the body, and the language reports the body's CancelledError
 * alongside it as a SuppressedError.
 */
import { CancelledError, RuntimeError, TimeoutError } from './errors.js';
import { getRunningLoop } from './events.js';
import type { Handle } from './handles.js';
import { currentTask, type Task } from './tasks.js';
import { describe } from './validate.js';

type State = 'active' | 'expiring' | 'expired' | 'finished';

function checkDeadline(value: unknown, name: string): asserts value is number | null {
  if (value !== null && (typeof value !== 'number' || Number.isNaN(value))) {
    throw new TypeError(`${name} must be a number of seconds or null, got ${describe(value)}`);
  }
}

/** A deadline for the code it scopes (asyncio.Timeout): when it passes, the task is cancelled and TimeoutError raised at the scope's end. */
export class Timeout {
  private state: State = 'active';
  private deadline: number | null;
  private handle: Handle | null = null;
  private readonly task: Task<unknown>;
  /** The task's cancel count on entry: cancellations beyond it are not ours. */
  private readonly cancellingOnEntry: number;

  /** Enters at once: binds to the current task and arms the deadline (loop time, or null). */
  constructor(when: number | null) {
    checkDeadline(when, 'when');
    const task = currentTask();
    if (task === null) throw new RuntimeError('Timeout should be used inside a task');
    this.task = task;
    this.cancellingOnEntry = task.cancelling();
    this.deadline = when;
    this.arm();
  }

  /** The deadline in loop time, or null for none. */
  when(): number | null {
    return this.deadline;
  }

  /** Move the deadline (null: none). Only while the scope is active. */
  reschedule(when: number | null): void {
    checkDeadline(when, 'when');
    if (this.state !== 'active') throw new RuntimeError(`Cannot change state of ${this.state} Timeout`);
    this.deadline = when;
    this.arm();
  }

  /** True once the deadline cancelled the task. */
  expired(): boolean {
    return this.state === 'expiring' || this.state === 'expired';
  }

  /** A description for logs and debugging, as asyncio's repr(). */
  toString(): string {
    const when = this.state === 'active' ? ` when=${this.deadline}` : '';
    return `<Timeout [${this.state}]${when}>`;
  }

  /** @internal Leave the scope after the body failed with `error` (or finished: `failed` false). */
  _exit(failed: boolean, error?: unknown): void {
    this.handle?.cancel();
    this.handle = null;
    if (this.state === 'active') {
      this.state = 'finished';
      return;
    }
    if (this.state !== 'expiring') return;
    this.state = 'expired';
    if (this.task.uncancel() <= this.cancellingOnEntry && failed && error instanceof CancelledError) {
      throw new TimeoutError('', { cause: error });
    }
  }

  /** For `await using`: the body's outcome is unknown here (see the module comment). */
  async [Symbol.asyncDispose](): Promise<void> {
    // A cancellation not delivered yet never reached the body: nothing to convert.
    const delivered = this.state === 'expiring' && !this.task._mustCancel;
    this._exit(delivered, delivered ? new CancelledError() : undefined);
  }

  private arm(): void {
    this.handle?.cancel();
    this.handle = null;
    if (this.deadline === null || this.deadline === Infinity) return;
    const loop = getRunningLoop();
    this.handle =
      this.deadline <= loop.time() ? loop.callSoon(this.onTimeout) : loop.callAt(this.deadline, this.onTimeout);
  }

  private readonly onTimeout = (): void => {
    this.handle = null;
    this.task.cancel();
    this.state = 'expiring';
  };
}

/**
 * Run `body(timeout)` in the current task under a Timeout at `deadline()`, converting its expiry to
 * TimeoutError. Async, so every misuse is reported through the returned promise.
 */
async function within<T>(deadline: () => number | null, body: (timeout: Timeout) => T | PromiseLike<T>): Promise<T> {
  if (typeof body !== 'function') throw new TypeError(`fn must be an async function, got ${describe(body)}`);
  const t = new Timeout(deadline());
  let result: T;
  try {
    result = await body(t);
  } catch (error) {
    t._exit(true, error);
    throw error;
  }
  t._exit(false);
  return result;
}

function deadlineIn(delay: number | null): number | null {
  checkDeadline(delay, 'delay');
  return delay === null ? null : getRunningLoop().time() + delay;
}

/** A Timeout `delay` seconds from now (null: none); with `fn`, run `fn(timeout)` under it. */
export function timeout(delay: number | null): Timeout;
export function timeout<T>(delay: number | null, fn: (timeout: Timeout) => T | PromiseLike<T>): Promise<T>;
export function timeout<T>(delay: number | null, fn?: (timeout: Timeout) => T | PromiseLike<T>): Timeout | Promise<T> {
  if (fn === undefined) return new Timeout(deadlineIn(delay));
  return within(() => deadlineIn(delay), fn);
}

/** A Timeout at loop time `when` (null: none); with `fn`, run `fn(timeout)` under it. */
export function timeoutAt(when: number | null): Timeout;
export function timeoutAt<T>(when: number | null, fn: (timeout: Timeout) => T | PromiseLike<T>): Promise<T>;
export function timeoutAt<T>(when: number | null, fn?: (timeout: Timeout) => T | PromiseLike<T>): Timeout | Promise<T> {
  if (fn === undefined) return new Timeout(when);
  return within(() => when, fn);
}
