/**
 * The default executor's one worker script (piscina loads it in each worker thread): runs a
 * job's function, given as source text or as an exported `{module, name}`, and hands piscina
 * a result it can post back. Everything thrown leaves as an encoded record (executor-wire.ts)
 * so the loop's thread gets an Error with its class, properties and cause.
 */
import { CLONE_RULE, JOB_IDLE, JOB_STARTED, SELF_CONTAINED, encodeError, type Job } from './executor-wire.js';
import { describe } from './validate.js';
import { workerData } from 'node:worker_threads';

// Evaluating a source costs a parse; a program calls the same few functions many times.
const compiled = new Map<string, (...args: unknown[]) => unknown>();
const MAX_COMPILED = 256;

const states = (workerData as { states?: Int32Array } | null)?.states;

/** Claims a cancellable job for running; false when its Future was cancelled first. */
function claim(job: Job): boolean {
  if (job.state !== undefined) return Atomics.compareExchange(job.state, 0, JOB_IDLE, JOB_STARTED) === JOB_IDLE;
  if (job.slot !== undefined) return Atomics.compareExchange(states!, job.slot, JOB_IDLE, JOB_STARTED) === JOB_IDLE;
  return true;
}

export default async function runJob(job: Job): Promise<unknown> {
  if (!claim(job)) return undefined; // cancelled while queued: the loop has settled its Future

  try {
    const fn = job.source !== undefined ? compile(job.source) : await load(job.module, job.name);
    const result = await fn(...job.args);
    checkResult(result);
    return result;
  } catch (error) {
    throw encodeError(explain(error, job));
  } finally {
    await flushOutput();
  }
}

/**
 * A worker's console output reaches the process through the main thread, on a channel of its
 * own: without this wait, a job's last lines could be printed after the caller printed its
 * result, or lost when the program ends right after. The write callback comes once the
 * main thread has taken the data.
 */
async function flushOutput(): Promise<void> {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.writableLength > 0) await new Promise<void>((resolve) => stream.write('', () => resolve()));
  }
}

function compile(source: string): (...args: unknown[]) => unknown {
  let fn = compiled.get(source);
  if (fn === undefined) {
    // Indirect eval: the function sees the worker's globals and nothing of this module.
    fn = (0, eval)(`(${source}\n)`) as (...args: unknown[]) => unknown;
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    compiled.set(source, fn);
  }
  return fn;
}

async function load(module: string, name: string): Promise<(...args: unknown[]) => unknown> {
  const exports = (await import(module)) as Record<string, unknown>;
  const fn = exports[name];
  if (typeof fn !== 'function') {
    throw new TypeError(`{module, name}: ${JSON.stringify(name)} exported by ${module} is not a function (it is ${describe(fn)})`);
  }
  return fn as (...args: unknown[]) => unknown;
}

/**
 * piscina posts the result itself; a DataCloneError there would kill the worker and reach the
 * loop as `{}`. So a result that may fail is cloned once here first: data that always
 * crosses (primitives, buffers) skips the copy.
 */
function checkResult(result: unknown): void {
  if (typeof result !== 'object' && typeof result !== 'function' && typeof result !== 'symbol') return;
  if (result === null || result instanceof ArrayBuffer || ArrayBuffer.isView(result)) return;
  try {
    structuredClone(result);
  } catch (error) {
    const message = (error as Error).message;
    throw new TypeError(`the result of fn (${describe(result)}) cannot be sent back from the worker thread: ${CLONE_RULE} (${message})`, {
      cause: error,
    });
  }
}

/**
 * A name fn uses from its closure or module scope is missing over here: say so, since "k is
 * not defined" about a `k` in plain sight in the caller's file reads as a loopkit bug.
 */
function explain(error: unknown, job: Job): unknown {
  if (job.source === undefined || !(error instanceof ReferenceError)) return error;
  const missing = /^(\S+) is not defined/.exec(error.message)?.[1];
  if (missing === undefined || missing in globalThis || !usesName(job.source, missing)) return error;
  const why =
    missing === 'require'
      ? 'fn runs there as a script, without CommonJS, so load modules with `await import(...)`'
      : missing.startsWith('__')
        ? `${missing} looks like a helper that a compiler, bundler or test runner (vitest, for import()) wrote into fn's source, defined in fn's module, which stays in the caller's thread`
        : `${missing} is probably a name from fn's closure or module, which stays in the caller's thread`;
  const explained = new ReferenceError(`${missing} is not defined in the worker thread: ${why}; ${SELF_CONTAINED}`, { cause: error });
  explained.stack = `${explained.name}: ${explained.message}\n${error.stack?.split('\n').slice(1).join('\n') ?? ''}`;
  return explained;
}

function usesName(source: string, name: string): boolean {
  const escaped = name.replace(/[$]/g, '\\$');
  return new RegExp(`(^|[^\\w$.])${escaped}($|[^\\w$])`).test(source);
}
