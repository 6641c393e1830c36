/**
 * The loop-side checks of the default executor: what can be sent as work, found before
 * sending (a function with no usable source would otherwise come back as a SyntaxError
 * about text the user never wrote), and which argument failed to cross when one did.
 */
import { CLONE_RULE, SELF_CONTAINED, isDataCloneError, type Job } from './executor-wire.js';
import { describe } from './validate.js';

/** A reference to an exported function, for work that is not self-contained. */
export interface FunctionRef {
  module: string;
  name: string;
}

// The source of each function already checked: the checks parse it, once per function, and
// once per source text for a closure made anew at each call (`(x) => x + 1` in a loop).
const sources = new WeakMap<Function, string>();
const checkedSources = new Set<string>();
const MAX_CHECKED_SOURCES = 1024;

/** The job for `fn(...args)`; throws TypeError when `fn` cannot run in a worker. */
export function makeJob(fn: unknown, args: unknown[]): Job {
  if (typeof fn === 'function') return { source: functionSource(fn), args };
  if (isFunctionRef(fn)) {
    if (/^\.{1,2}[/\\]/.test(fn.module)) {
      throw new TypeError(
        `{module, name}: module ${JSON.stringify(fn.module)} is relative, and would be resolved from loopkit's worker script; ` +
          `give a URL, such as new URL(${JSON.stringify(fn.module)}, import.meta.url).href, or a package name`,
      );
    }
    return { module: fn.module, name: fn.name, args };
  }
  throw new TypeError(`fn must be a self-contained function or a {module, name} reference, got ${describe(fn)}: ${SELF_CONTAINED}`);
}

function functionSource(fn: Function): string {
  let source = sources.get(fn);
  if (source !== undefined) return source;
  source = Function.prototype.toString.call(fn);
  if (checkedSources.has(source)) {
    sources.set(fn, source);
    return source;
  }
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
    throw new TypeError(
      `fn (${describe(fn)}) is a native or bound function, which has no source text to send: ${SELF_CONTAINED}. ` +
        'Wrap it in an arrow function that names what it calls, such as (...xs) => Math.max(...xs)',
    );
  }
  if (/^class\b/.test(source)) throw new TypeError(`fn (${describe(fn)}) is a class, which cannot be called: ${SELF_CONTAINED}`);
  try {
    // Compiled, never called: only asks whether the source stands alone as an expression.
    new Function(`return (${source}\n)`);
  } catch (error) {
    throw new TypeError(
      `fn (${describe(fn)}) is a method written in shorthand (\`name() {...}\` in an object literal or a class), ` +
        `whose source is not a function on its own: ${SELF_CONTAINED}. Write it as \`name: (...) => ...\` or a function expression`,
      { cause: error },
    );
  }
  sources.set(fn, source);
  if (checkedSources.size >= MAX_CHECKED_SOURCES) checkedSources.clear();
  checkedSources.add(source);
  return source;
}

export function isFunctionRef(value: unknown): value is FunctionRef {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as FunctionRef).module === 'string' &&
    typeof (value as FunctionRef).name === 'string'
  );
}

/**
 * A job that failed to post: name the argument at fault (cloned one at a time, only on this
 * error path) with the DataCloneError as cause. Other errors pass through.
 */
export function explainSendError(error: unknown, args: unknown[]): unknown {
  if (!isDataCloneError(error)) return error;
  for (let i = 0; i < args.length; i++) {
    try {
      structuredClone(args[i]);
    } catch (argError) {
      return new TypeError(
        `argument ${i + 1} after fn (${describe(args[i])}) cannot be sent to the worker thread: ${CLONE_RULE} (${(argError as Error).message})`,
        { cause: error },
      );
    }
  }
  return new TypeError(`the arguments of fn cannot be sent to the worker thread: ${CLONE_RULE} (${error.message})`, { cause: error });
}
