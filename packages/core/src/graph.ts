/**
 * asyncio 3.14's call graph: captureCallGraph / formatCallGraph / printCallGraph.
 *
 * What `callStack` holds. A suspended async function's frames are not visible to
 * JavaScript (V8 rebuilds them only for an error thrown while the function runs), so:
 * - for the current task (no future given, or the current task given, from inside it):
 *   the live frames at the call, as V8 reports them (its `async` frames included: the
 *   async functions awaiting, one by one, down to the task's coroutine), innermost first,
 *   skipping `depth` - 1 callers;
 * - for any other future or task: nothing. What stands in for it: in debug mode
 *   (`loop.setDebug(true)`) every future keeps its creation stack anyway, which is given as
 *   `createdAt` (a task's is where its parent made it) and printed as "Created at".
 * The await site itself cannot be taken either: V8 calls a Future's then() from a microtask
 * job, with none of the awaiting function's frames on the stack.
 */
import { RuntimeError } from './errors.js';
import { _getRunningLoop } from './events.js';
import { isFuture, type Future } from './futures.js';
import { awaitersOf } from './awaited-by.js';
import { introspectionId } from './introspection.js';
import { currentTask, Task } from './tasks.js';
import { checkOptions, describe } from './validate.js';

/** One frame: where a function was, as V8 prints it. */
export interface CallStackEntry {
  functionName: string;
  fileName: string;
  lineNumber: number;
  columnNumber: number;
  /** an `async` frame: an async function suspended at an await, resumed by this call chain */
  isAsync: boolean;
}

/** asyncio.FutureCallGraph: a future, the call stack it is at, and the graphs of the futures awaiting it. */
export interface FutureCallGraph {
  future: Future<unknown>;
  /** innermost first; see the module comment for what it holds */
  callStack: CallStackEntry[];
  /** the futures (tasks, gathers, ...) waiting on `future`, each with its own graph */
  awaitedBy: FutureCallGraph[];
  /** the future's creation stack, in debug mode only; else empty */
  createdAt: CallStackEntry[];
}

/** Options of captureCallGraph, formatCallGraph and printCallGraph: `depth` and `limit`. */
export interface CallGraphOptions {
  /** for the current task: how many callers of captureCallGraph to skip, minus one (default 1) */
  depth?: number;
  /**
   * Keep at most |limit| entries of each call stack: the innermost (closest to the call) when
   * positive, the outermost when negative; 0: none at all. Default: every entry.
   */
  limit?: number | null;
}

const FRAME = /^\s*at (async )?(?:(.*?) \((.+?):(\d+):(\d+)\)|(.+?):(\d+):(\d+))$/;
// Core's own files, as a frame names them: a file URL or a path, in dist/ or (where a source
// map rewrites stacks, as under a test runner) in src/; compared without the extension.
const CORE_PACKAGE = new URL('../', import.meta.url);
const CORE_PREFIXES = [CORE_PACKAGE.href, CORE_PACKAGE.pathname];
function coreFile(fileName: string): string | null {
  for (const prefix of CORE_PREFIXES) {
    if (fileName.startsWith(prefix)) return fileName.slice(prefix.length).replace(/^(dist|src)\//, '').replace(/\.[jt]s$/, '');
  }
  return null;
}
// A creation stack starts inside core (new Future, createTask): those frames say nothing.
const inCore = (entry: CallStackEntry): boolean => coreFile(entry.fileName) !== null;

/** The frames of a V8 stack string (the message line and unparsable lines dropped). */
export function parseStack(stack: string | null | undefined): CallStackEntry[] {
  const entries: CallStackEntry[] = [];
  for (const line of (stack ?? '').split('\n')) {
    const m = FRAME.exec(line);
    if (m === null) continue;
    entries.push({
      // A task calls its coroutine function as its own method: V8 then says `Task.main [as _coro]`.
      functionName: (m[2] ?? '').replace(/^Task\.(.*) \[as _coro\]$/, '$1'),
      fileName: m[3] ?? m[6]!,
      lineNumber: Number(m[4] ?? m[7]),
      columnNumber: Number(m[5] ?? m[8]),
      isAsync: m[1] !== undefined,
    });
  }
  return entries;
}

/**
 * A creation stack (debug mode's `sourceTraceback`) as the default exception handler prints
 * it, asyncio's "Object created at": V8's frames, most recent first, from the first one
 * outside core (new Future, new Task and createTask say nothing of where the user made it).
 */
export function formatCreationStack(stack: string): string {
  const frames = stack.split('\n').filter((line) => FRAME.test(line));
  const firstOutside = frames.findIndex((line) => parseStack(line).every((entry) => !inCore(entry)));
  const shown = firstOutside < 0 ? frames : frames.slice(firstOutside);
  return ['Object created at (most recent call first):', ...shown].join('\n');
}

function checkFuture(future: unknown): asserts future is Future<unknown> {
  if (!isFuture(future)) throw new TypeError(`${describe(future)} object does not appear to be compatible with loopkit's Future`);
}

function applyLimit(stack: CallStackEntry[], limit: number | null): CallStackEntry[] {
  if (limit === null) return stack;
  if (limit === 0) return [];
  return limit > 0 ? stack.slice(0, limit) : stack.slice(limit);
}

function buildGraph(future: Future<unknown>, callStack: CallStackEntry[], limit: number | null, path: Set<Future<unknown>>): FutureCallGraph {
  path.add(future);
  const awaitedBy: FutureCallGraph[] = [];
  for (const waiter of awaitersOf(future)) {
    // An await cycle (task a awaits b, b awaits a) would recurse forever: stop where it closes.
    if (!path.has(waiter)) awaitedBy.push(buildGraph(waiter, [], limit, path));
  }
  path.delete(future);
  let created = limit === 0 ? [] : parseStack(future._sourceTraceback);
  const firstOutside = created.findIndex((entry) => !inCore(entry));
  created = firstOutside < 0 ? [] : created.slice(firstOutside);
  const createdAt = applyLimit(created, limit);
  return { future, callStack: applyLimit(callStack, limit), awaitedBy, createdAt };
}

/** The live frames of the caller `depth` levels up, down to the task's step. */
function liveStack(depth: number): CallStackEntry[] {
  const savedLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 100 + depth;
  const stack = new Error().stack;
  Error.stackTraceLimit = savedLimit;
  const frames = parseStack(stack);
  // Drop this module's own frames, then `depth` - 1 callers.
  let start = 0;
  while (start < frames.length && coreFile(frames[start]!.fileName) === 'graph') start++;
  const result: CallStackEntry[] = [];
  for (const frame of frames.slice(start + depth - 1)) {
    // The task machinery: a current task's stack ends where its step was called.
    if (coreFile(frame.fileName) === 'tasks') break;
    // Node's own frames (the microtask queue that resumed an async function) are no call site.
    if (!frame.fileName.startsWith('node:')) result.push(frame);
  }
  return result;
}

function checkGraphOptions(options: CallGraphOptions | undefined, name: string): { depth: number; limit: number | null } {
  const { depth = 1, limit = null } = checkOptions(options ?? {}, ['depth', 'limit'], name);
  if (!Number.isInteger(depth) || depth < 1) throw new RangeError(`depth must be an integer >= 1, got ${describe(depth)}`);
  if (limit !== null && !Number.isInteger(limit)) throw new TypeError(`limit must be an integer or null, got ${describe(limit)}`);
  return { depth, limit };
}

/**
 * The call graph of `future` (default: the current task): what awaits it, transitively.
 * Null when called outside a task with no future; RuntimeError outside a running loop
 * with no future.
 */
export function captureCallGraph(future?: Future<unknown> | null, options?: CallGraphOptions): FutureCallGraph | null {
  const { depth, limit } = checkGraphOptions(options, 'captureCallGraph');
  const loop = _getRunningLoop();
  if (future !== undefined && future !== null) {
    checkFuture(future);
    if (loop === null || future !== currentTask(loop)) return buildGraph(future, [], limit, new Set());
  } else {
    if (loop === null) {
      throw new RuntimeError('captureCallGraph() is called outside of a running event loop and no future to introspect was provided');
    }
    future = currentTask(loop);
    if (future === null) return null;
  }
  return buildGraph(future, limit === 0 ? [] : liveStack(depth), limit, new Set());
}

function frameLine(entry: CallStackEntry): string {
  const name = entry.functionName === '' ? '<anonymous>' : entry.functionName;
  return `  |   File '${entry.fileName}', line ${entry.lineNumber}, in ${entry.isAsync ? 'async ' : ''}${name}()`;
}

function render(graph: FutureCallGraph, lines: string[], level: number): void {
  const add = (line: string): void => {
    lines.push('    '.repeat(level) + line);
  };
  const fut = graph.future;
  const id = `0x${introspectionId(fut).toString(16)}`;
  add(fut instanceof Task ? `* Task(name='${fut.getName()}', id=${id})` : `* ${fut.constructor.name}(id=${id})`);
  if (graph.callStack.length > 0) {
    add('  + Call stack:');
    for (const entry of graph.callStack) add(frameLine(entry));
  }
  if (graph.createdAt.length > 0) {
    add('  + Created at:');
    for (const entry of graph.createdAt) add(frameLine(entry));
  }
  if (graph.awaitedBy.length > 0) {
    add('  + Awaited by:');
    for (const parent of graph.awaitedBy) render(parent, lines, level + 1);
  }
}

/** The call graph as asyncio prints it; '' when there is none (outside a task). */
export function formatCallGraph(future?: Future<unknown> | null, options?: CallGraphOptions): string {
  const { depth, limit } = checkGraphOptions(options, 'formatCallGraph');
  // This module's own frames are skipped anyway: depth counts from the caller of this function.
  const graph = captureCallGraph(future, { depth, limit });
  if (graph === null) return '';
  const lines: string[] = [];
  render(graph, lines, 0);
  return lines.join('\n');
}

/** Print the call graph to stdout (or to `options.file`, anything with write(string)). */
export function printCallGraph(
  future?: Future<unknown> | null,
  options?: CallGraphOptions & { file?: { write(text: string): unknown } | null },
): void {
  const { file = null, ...rest } = options ?? {};
  checkGraphOptions(rest, 'printCallGraph');
  const text = formatCallGraph(future, rest);
  (file ?? process.stdout).write(`${text}\n`);
}
