/** Argument checks shared by the loop's public methods; messages name the argument. */

export function checkCallback(value: unknown, name = 'callback'): asserts value is (...args: any[]) => unknown {
  if (typeof value !== 'function') {
    throw new TypeError(`${name} must be a function, got ${describe(value)}`);
  }
}

/**
 * The scheduling methods' check (asyncio's `_check_callback`, which CPython runs in debug
 * mode only: here always, as every argument check), in asyncio's words with the argument named.
 * A promise is asyncio's coroutine object.
 */
export function checkLoopCallback(value: unknown, method: string, name = 'callback'): asserts value is (...args: any[]) => unknown {
  if (typeof value !== 'function') throw notCallable(value, method, name);
}

export function notCallable(value: unknown, method: string, name: string): TypeError {
  if (typeof (value as PromiseLike<unknown> | null)?.then === 'function') {
    return new TypeError(`coroutines cannot be used with ${method}(): ${name} is a promise; pass the function that makes it`);
  }
  return new TypeError(`a callable object was expected by ${method}() as ${name}, got ${describe(value)}`);
}

/** An async or generator function (a coroutine function here), not a plain callback. */
export function isCoroutineFunction(fn: Function): boolean {
  const kind = Object.getPrototypeOf(fn)?.constructor?.name;
  return kind === 'AsyncFunction' || kind === 'GeneratorFunction' || kind === 'AsyncGeneratorFunction';
}

/**
 * Debug mode's refusal of a coroutine function as a callback, as asyncio's: its body would run
 * outside any task (an async function) or never (a generator function).
 */
export function checkNotCoroutineFunction(fn: Function, method: string, name = 'callback'): void {
  if (isCoroutineFunction(fn)) {
    throw new TypeError(
      `coroutines cannot be used with ${method}() in debug mode: ${name} is ${describe(fn)}, an async or generator function (run it as a task: createTask)`,
    );
  }
}

export function checkFiniteNumber(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(`${name} must be a finite number of seconds, got ${describe(value)}`);
  }
}

/** A byte count (sock* calls): an integer (TypeError), not negative (RangeError, asyncio's ValueError). */
export function checkByteCount(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`${name} must be an integer, got ${describe(value)}`);
  if (value < 0) throw new RangeError(`${name} must be >= 0, got ${value}`);
  return value;
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (value === null) return 'null';
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'Object'})`;
  return String(value);
}

/**
 * The options object of `where()` (a method's name, for the message), with every key one of
 * `known`: null or undefined is `{}`; an array or any object that is not plain is a TypeError
 * (an array usually means the caller meant to spread it); a key not in `known` is a TypeError
 * naming it and the keys that exist (asyncio's "unexpected keyword argument").
 */
export function checkOptions<T extends object>(options: T | null | undefined, known: readonly string[], where: string): T {
  if (options === undefined || options === null) return {} as T;
  if (typeof options !== 'object' || Array.isArray(options) || !isPlainObject(options)) {
    const what = Array.isArray(options) ? 'an array (to pass several items, spread them: f(...items))' : describe(options);
    throw new TypeError(`${where}() options must be a plain object, got ${what}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const list = known.length === 0 ? 'it takes none' : `known options: ${known.join(', ')}`;
      throw new TypeError(`${where}() got an unexpected option '${key}' (${list})`);
    }
  }
  return options;
}

/** An object literal (or Object.create(null)): what options may be. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
