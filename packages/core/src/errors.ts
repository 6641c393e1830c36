/** Errors of asyncio's vocabulary, as JS Error subclasses (names mirror asyncio's). */

function named<T extends new (...args: any[]) => Error>(cls: T, name: string): T {
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true });
  return cls;
}

/** The operation was cancelled. `message` is the msg given to `cancel(msg)` (empty if none). */
export class CancelledError extends Error {
  constructor(message = '') {
    super(message);
  }

  /**
   * `e instanceof CancelledError` also holds for the CancelledError of another copy of
   * @loopkit/core in the process (two versions installed side by side), so a task still
   * sees its cancellation when the future it awaited came from the other copy.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    return this === CancelledError && typeof value === 'object' && value !== null && (value as Branded)[CANCELLED_BRAND] === true;
  }
}
named(CancelledError, 'CancelledError');
const CANCELLED_BRAND = Symbol.for('loopkit.CancelledError');
type Branded = { [CANCELLED_BRAND]?: boolean };
Object.defineProperty(CancelledError.prototype, CANCELLED_BRAND, { value: true });

/** An operation is not allowed in the object's current state (e.g. result() of a pending future). */
export class InvalidStateError extends Error {}
named(InvalidStateError, 'InvalidStateError');

/** A deadline passed (waitFor, timeout, wait with a timeout). */
export class TimeoutError extends Error {}
named(TimeoutError, 'TimeoutError');

/** The method is not offered by this loop or backend (addReader on a proactor, say). */
export class NotImplementedError extends Error {}
named(NotImplementedError, 'NotImplementedError');

/**
 * Ctrl-C ended `run()`/`Runner.run()` (Python's KeyboardInterrupt): the main task was
 * cancelled by SIGINT and did not swallow it, or a second SIGINT came. Left uncaught, it
 * ends the process as Node's own Ctrl-C does (see sigint.ts).
 */
export class KeyboardInterrupt extends Error {
  constructor(message = 'interrupted by SIGINT (Ctrl-C)', options?: ErrorOptions) {
    super(message, options);
  }
}
named(KeyboardInterrupt, 'KeyboardInterrupt');

/** asyncio's RuntimeError: a misuse of a loop or task that is not an argument error. */
export class RuntimeError extends Error {}
named(RuntimeError, 'RuntimeError');

/** The stream ended before `expected` bytes arrived (null: an unknown total); `partial` holds what did. */
export class IncompleteReadError extends Error {
  readonly partial: Uint8Array;
  readonly expected: number | null;
  constructor(partial: Uint8Array, expected: number | null) {
    // asyncio's words, 'undefined' for an unknown total (readuntil at EOF) included.
    super(`${partial.length} bytes read on a total of ${expected ?? 'undefined'} expected bytes`);
    this.partial = partial;
    this.expected = expected;
  }
}
named(IncompleteReadError, 'IncompleteReadError');

/**
 * A separator was not found within the stream's buffer limit; `consumed` bytes may be
 * dropped. readuntil() throws it; readline() throws a plain RangeError with its message
 * instead, as asyncio's readline() raises ValueError. It is a RangeError itself too, so
 * code catching RangeError catches both.
 */
export class LimitOverrunError extends RangeError {
  readonly consumed: number;
  constructor(message: string, consumed: number) {
    super(message);
    this.consumed = consumed;
  }
}
named(LimitOverrunError, 'LimitOverrunError');

/** getNowait() on an empty queue. */
export class QueueEmpty extends Error {}
named(QueueEmpty, 'QueueEmpty');
/** putNowait() on a full queue. */
export class QueueFull extends Error {}
named(QueueFull, 'QueueFull');
/** put() or get() on a queue that was shut down (get: once it is also empty). */
export class QueueShutDown extends Error {}
named(QueueShutDown, 'QueueShutDown');
/** The barrier was reset or aborted while a task waited on it, or is broken. */
export class BrokenBarrierError extends Error {}
named(BrokenBarrierError, 'BrokenBarrierError');

/**
 * A signal for a child process that is gone (Python's ProcessLookupError): its exit was
 * reaped and its pipes closed, so its pid may belong to another process by now. `code` is
 * 'ESRCH', as Node's process.kill() of a missing pid says.
 */
export class ProcessLookupError extends Error {
  readonly code = 'ESRCH';
  readonly errno = 3;
}
named(ProcessLookupError, 'ProcessLookupError');
/** The transport or socket cannot use the OS sendfile (the loop falls back to reads and writes unless told not to). */
export class SendfileNotAvailableError extends RuntimeError {}
named(SendfileNotAvailableError, 'SendfileNotAvailableError');

/**
 * Python's ExceptionGroup: several errors raised together (TaskGroup). `message` is Python's
 * `eg.message`; `String(eg)`, `toString()` and the first line of `stack` read as Python's
 * `str(eg)`, "msg (2 sub-exceptions)". `exceptions` is `errors` (AggregateError's), one list.
 */
export class ExceptionGroup extends AggregateError {
  declare readonly exceptions: readonly unknown[];
  constructor(message: string, exceptions: Iterable<unknown>) {
    if (typeof message !== 'string') throw new TypeError(`message must be a string, got ${typeof message}`);
    if (exceptions === null || typeof (exceptions as Partial<Iterable<unknown>>)?.[Symbol.iterator] !== 'function') {
      throw new TypeError(`exceptions must be an iterable of errors, got ${exceptions === null ? 'null' : typeof exceptions}`);
    }
    const list = [...exceptions];
    if (list.length === 0) throw new RangeError('exceptions must be a non-empty iterable (as Python\'s ExceptionGroup)');
    super(list, message);
    // Non-enumerable as `errors`: Node's report of an uncaught error lists them once.
    Object.defineProperty(this, 'exceptions', { value: this.errors, configurable: true });
    // V8 formats the stack's first line from `message` at the first read: read it with the summary.
    this.message = this.toString().slice(this.name.length + 2);
    void this.stack;
    this.message = message;
  }

  /** Python's `str(eg)` after the name: "ExceptionGroup: msg (2 sub-exceptions)". */
  override toString(): string {
    const count = this.exceptions.length;
    return `${this.name}: ${this.message} (${count} sub-exception${count === 1 ? '' : 's'})`;
  }

  /**
   * Python's `eg.subgroup(condition)`: a group of the exceptions that match, nested groups
   * keeping their structure, or null when none does. `condition` is an Error class, an array
   * of them (Python's tuple) or a predicate; it is tried on this group and on each nested
   * group first, and a group that matches is kept whole (the very object). The groups made
   * are `derive()`'s, with this group's `cause` and stack frames (Python copies `__cause__`
   * and `__traceback__`).
   */
  subgroup(condition: ExceptionGroupCondition): ExceptionGroup | null {
    return splitGroup(this, matcherOf(condition), false).match as ExceptionGroup | null;
  }

  /** Python's `eg.split(condition)`: `[match, rest]`, as `subgroup` for each side; null for an empty side. */
  split(condition: ExceptionGroupCondition): [ExceptionGroup | null, ExceptionGroup | null] {
    const parts = splitGroup(this, matcherOf(condition), true);
    return [parts.match as ExceptionGroup | null, parts.rest as ExceptionGroup | null];
  }

  /**
   * Python's `eg.derive(excs)`: a group with this one's message around `excs`. As in Python it
   * is a plain ExceptionGroup, whatever this group's class (a subclass's constructor may take
   * other arguments): a subclass overrides `derive` for `split`/`subgroup` to keep its class.
   */
  derive(excs: Iterable<unknown>): ExceptionGroup {
    return new ExceptionGroup(this.message, excs);
  }
}
named(ExceptionGroup, 'ExceptionGroup');

/** What `subgroup`/`split` select by: an Error class, an array of Error classes, or a predicate. */
export type ExceptionGroupCondition =
  | (abstract new (...args: any[]) => unknown)
  | ReadonlyArray<abstract new (...args: any[]) => unknown>
  | ((exc: unknown) => unknown);

const CONDITION_ERROR = 'condition must be an Error class, an array of Error classes, or a predicate function (other than a class), got';

function isErrorClass(value: unknown): value is abstract new (...args: any[]) => unknown {
  return typeof value === 'function' && (value === Error || (value as { prototype?: unknown }).prototype instanceof Error);
}

/** A class that is not an Error class: `class` syntax, or a built-in constructor (Python refuses `int`). */
function isOtherClass(fn: Function): boolean {
  const source = Function.prototype.toString.call(fn);
  return /^class\b/.test(source) || (fn.prototype !== undefined && source.endsWith('{ [native code] }'));
}

function describeCondition(value: unknown): string {
  if (typeof value === 'function') return value.name === '' ? 'an anonymous class' : `class ${value.name}`;
  return value === null ? 'null' : Array.isArray(value) ? 'an array holding something else' : typeof value;
}

function matcherOf(condition: unknown): (exc: unknown) => boolean {
  if (isErrorClass(condition)) return (exc) => exc instanceof condition;
  if (Array.isArray(condition)) {
    for (const cls of condition) if (!isErrorClass(cls)) throw new TypeError(`${CONDITION_ERROR} an array holding ${describeCondition(cls)}`);
    const classes = [...condition] as Array<abstract new (...args: any[]) => unknown>;
    return (exc) => classes.some((cls) => exc instanceof cls);
  }
  if (typeof condition === 'function' && !isOtherClass(condition)) return (exc) => Boolean(condition(exc));
  throw new TypeError(`${CONDITION_ERROR} ${describeCondition(condition)}`);
}

/** CPython's exceptiongroup_split_recursive: the matching part and (withRest) the rest of `exc`. */
function splitGroup(exc: unknown, matches: (exc: unknown) => boolean, withRest: boolean): { match: unknown; rest: unknown } {
  if (matches(exc)) return { match: exc, rest: null };
  if (!(exc instanceof ExceptionGroup)) return { match: null, rest: withRest ? exc : null };
  const matched: unknown[] = [];
  const rest: unknown[] = [];
  for (const child of exc.exceptions) {
    const parts = splitGroup(child, matches, withRest);
    if (parts.match !== null) matched.push(parts.match);
    if (withRest && parts.rest !== null) rest.push(parts.rest);
  }
  return { match: subset(exc, matched), rest: withRest ? subset(exc, rest) : null };
}

/** `derive(excs)` with the original's cause and stack frames (CPython's exceptiongroup_subset); null for none. */
function subset(original: ExceptionGroup, excs: unknown[]): ExceptionGroup | null {
  if (excs.length === 0) return null;
  const group = original.derive(excs);
  if (!(group instanceof ExceptionGroup)) throw new TypeError('derive must return an instance of ExceptionGroup');
  if ('cause' in original) Object.defineProperty(group, 'cause', { value: original.cause, writable: true, configurable: true, enumerable: false });
  const stack = original.stack;
  const frames = typeof stack === 'string' ? stack.indexOf('\n    at ') : -1;
  if (frames >= 0) group.stack = group.toString() + stack!.slice(frames);
  return group;
}

/**
 * Python's ConnectionError family. Instances also carry Node's `code`, `errno` and
 * `syscall`, so `err instanceof ConnectionResetError` and `err.code === 'ECONNRESET'` both work.
 */
export class ConnectionError extends Error {
  code?: string;
  errno?: number;
  syscall?: string;
}
named(ConnectionError, 'ConnectionError');
export class ConnectionResetError extends ConnectionError {}
named(ConnectionResetError, 'ConnectionResetError');
export class BrokenPipeError extends ConnectionError {}
named(BrokenPipeError, 'BrokenPipeError');
export class ConnectionRefusedError extends ConnectionError {}
named(ConnectionRefusedError, 'ConnectionRefusedError');
export class ConnectionAbortedError extends ConnectionError {}
named(ConnectionAbortedError, 'ConnectionAbortedError');

/**
 * A TLS failure (asyncio's ssl.SSLError): `code` is OpenSSL's reason (e.g.
 * 'ERR_SSL_WRONG_VERSION_NUMBER', in Node's spelling) or Node's code; `reason` and `library`
 * are Python's ssl.SSLError's, when known ('WRONG_VERSION_NUMBER', 'SSL').
 */
export class SSLError extends ConnectionError {
  reason?: string;
  library?: string;
}
named(SSLError, 'SSLError');
/** The peer's certificate or its host name did not verify (asyncio's ssl.SSLCertVerificationError). */
export class SSLCertVerificationError extends SSLError {
  /** OpenSSL's X509 verify result (e.g. 18 for a self-signed certificate), and its text. */
  verifyCode?: number;
  verifyMessage?: string;
}
named(SSLCertVerificationError, 'SSLCertVerificationError');

const connectionErrorClasses: Record<string, typeof ConnectionError> = {
  ECONNRESET: ConnectionResetError,
  EPIPE: BrokenPipeError,
  ESHUTDOWN: BrokenPipeError,
  ECONNREFUSED: ConnectionRefusedError,
  ECONNABORTED: ConnectionAbortedError,
};

/**
 * Turn a Node-style system error (`{code, errno, syscall, message}`) into the matching
 * ConnectionError subclass, keeping its fields; other errors come back unchanged.
 */
export function toConnectionError<E>(err: E): E | ConnectionError {
  const e = err as { code?: unknown; message?: string; errno?: number; syscall?: string; stack?: string };
  if (err instanceof ConnectionError || typeof e?.code !== 'string') return err;
  const cls = connectionErrorClasses[e.code];
  if (!cls) return err;
  const out = new cls(e.message ?? e.code);
  out.code = e.code;
  if (e.errno !== undefined) out.errno = e.errno;
  if (e.syscall !== undefined) out.syscall = e.syscall;
  if (e.stack) out.stack = e.stack;
  return out;
}
