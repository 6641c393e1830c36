/**
 * What crosses between the loop's thread and the default executor's worker threads: the job,
 * its start/cancel flag, and errors. Imported by both sides, so it stays free of the rest of
 * core (the worker loads only this, validate.ts and its own script).
 */

/** Work for the generic worker script: a function's source text or an exported function. */
export type Job = (
  | { source: string; module?: undefined; name?: undefined }
  | { source?: undefined; module: string; name: string }
) & {
  args: unknown[];
  /** Cancellable jobs only: the job's state word is `states[slot]` (the pool's, see below) ... */
  slot?: number;
  /** ... or `state[0]`, its own, when the pool's slots are all taken. */
  state?: Int32Array;
};

// A job's state word. Worker and loop race with compareExchange from IDLE, so exactly one of
// "started" and "cancelled" wins: a job whose Future was cancelled never starts, and a started
// one is never cut short (asyncio cannot stop a running thread either; the result is dropped).
// The words live in one SharedArrayBuffer per pool, given to each worker as its workerData
// (`{states}`), so a job carries a slot number: a buffer of its own costs a few µs to post
// and more to collect.
export const STATE_SLOTS = 16384;
export const JOB_IDLE = 0;
export const JOB_STARTED = 1;
export const JOB_CANCELLED = 2;

/** The rule every executor message ends with, so each one says why and what to do. */
export const SELF_CONTAINED =
  'the default executor runs fn in a worker thread, which receives only its source text, so fn must be ' +
  'self-contained (using only its arguments, globals and `await import(...)`) or given as ' +
  '{module, name}, a module URL or package name and the name of a function it exports';

/** What is lost in a structured clone, named for the messages of arguments and results. */
export const CLONE_RULE =
  'values cross threads by structured clone, which copies data (primitives, plain objects, arrays, ' +
  'Map, Set, Date, RegExp, Error, ArrayBuffer and typed arrays) but not functions, symbols, ' +
  'promises, WeakMaps or objects that hold them';

const TAG = '__loopkitWorkerError';

/**
 * An error as it crosses: structured clone keeps only message, stack and the name of the
 * seven standard classes, dropping a subclass's name, `code`, `errno`, `path` and `cause`
 * (and turns a DOMException into `{}`). The record keeps those, and a thrown non-Error.
 */
interface ErrorRecord {
  [TAG]: 1;
  name?: string;
  message?: string;
  stack?: string;
  props?: Record<string, unknown>;
  cause?: ErrorRecord;
  value?: unknown;
  isValue?: boolean;
}

export function encodeError(error: unknown, depth = 0): ErrorRecord {
  if (!(error instanceof Error) && !isDomException(error)) {
    try {
      return { [TAG]: 1, isValue: true, value: structuredClone(error) };
    } catch (cloneError) {
      const what = new TypeError(`fn threw a value that cannot be sent back from the worker thread (${String(error)}): ${CLONE_RULE}`);
      return encodeError(Object.assign(what, { cause: cloneError }), depth);
    }
  }
  const e = error as Error & Record<string, unknown>;
  const record: ErrorRecord = { [TAG]: 1, name: e.name, message: e.message, stack: e.stack };
  for (const key of Object.keys(e)) {
    if (key === 'cause' || key === 'name' || key === 'message' || key === 'stack') continue;
    const value = e[key];
    // A property that cannot cross (a callback, a socket) is left behind; the error still goes.
    if (typeof value === 'function' || typeof value === 'symbol') continue;
    try {
      const copy = typeof value === 'object' && value !== null ? structuredClone(value) : value;
      (record.props ??= {})[key] = copy;
    } catch {
      continue;
    }
  }
  if (e.cause !== undefined && depth < 4) record.cause = encodeError(e.cause, depth + 1);
  return record;
}

const STANDARD: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  ReferenceError,
  SyntaxError,
  EvalError,
  URIError,
};

/** The error a record describes, of the same standard class, with its name, stack and properties. */
export function decodeError(value: unknown): unknown {
  if (!isErrorRecord(value)) return value;
  if (value.isValue) return value.value;
  const ctor = STANDARD[value.name ?? ''] ?? Error;
  const error = new ctor(value.message ?? '', value.cause !== undefined ? { cause: decodeError(value.cause) } : undefined);
  if (value.name !== undefined && error.name !== value.name) {
    Object.defineProperty(error, 'name', { value: value.name, writable: true, configurable: true });
  }
  if (value.stack !== undefined) error.stack = value.stack;
  if (value.props !== undefined) Object.assign(error, value.props);
  return error;
}

function isErrorRecord(value: unknown): value is ErrorRecord {
  return typeof value === 'object' && value !== null && (value as ErrorRecord)[TAG] === 1;
}

function isDomException(value: unknown): boolean {
  return typeof DOMException === 'function' && value instanceof DOMException;
}

/** True for the error a failed structured clone throws (a DOMException named DataCloneError). */
export function isDataCloneError(value: unknown): value is Error {
  return typeof value === 'object' && value !== null && (value as Error).name === 'DataCloneError';
}
