/**
 * The misuse property's child (fuzz.test.ts starts it): fast-check calls public functions
 * with random arguments on one loop class and checks each outcome. A call must return or
 * settle with a value, or fail with an Error whose message names one of its parameters (or
 * a documented condition: a system error with a code, a timeout, a cancellation); nothing
 * may reject unhandled or throw a non-Error. A call still pending after a short while is
 * cancelled where it can be and left (asyncio waits forever too: sleep(1e9), an empty
 * queue's get); what must hold then is that the loop still closes and the process exits,
 * which the parent checks with a time limit.
 *
 * `node fuzz-child.mjs <loop class> <seed> <runs>` prints each case before running it (so a
 * hang names its case), then one JSON line {"done": true, "failures": [...]}.
 */
import fc from 'fast-check';
import * as core from '@loopkit/core';
import { loopFactory } from '../faults/loops.mjs';

const [loopName, seedArg, runsArg] = process.argv.slice(2);
const seed = Number(seedArg);
const numRuns = Number(runsArg);
const failures = [];
const unhandled = [];
process.on('unhandledRejection', (reason) => unhandled.push(String(reason?.stack ?? reason)));
process.on('uncaughtException', (error) => unhandled.push(`uncaught: ${String(error?.stack ?? error)}`));

const JUNK_ERROR = 'thrown by a junk function';
/** Values a new user might pass by mistake. */
const junk = fc.constantFrom(
  undefined, null, NaN, -1, 0, 0.5, 1, 2 ** 31, 1e308, Infinity, -Infinity, '1', 'abc', '', true, false,
  {}, [], [1, 2], { bogus: 1 }, () => {}, async () => {}, async () => { throw new Error(JUNK_ERROR); }, 1n, Symbol('s'), new Date(0), Buffer.from('x'), new Map(),
  Promise.resolve(1),
);
/** Options objects with a right key holding a wrong value, or a wrong key. */
const junkOptions = (keys) =>
  fc.oneof(
    junk,
    fc.record({ key: fc.constantFrom(...keys, 'bogus', 'timout'), value: junk }).map(({ key, value }) => ({ [key]: value })),
  );

/** name: the public name; params: names a message may use; options: which argument is an options object; args: generator; call(loop, args). */
const targets = [
  { name: 'sleep', params: ['delay'], args: fc.tuple(junk, junk), call: (_l, a) => core.sleep(...a) },
  { name: 'gather', params: ['gather', 'aws', 'returnExceptions', 'coroutine', 'awaitable'], args: fc.array(junk, { maxLength: 3 }), call: (_l, a) => core.gather(...a) },
  { name: 'wait', options: 1, params: ['wait', 'aws', 'timeout', 'returnWhen', 'awaitable', 'coroutine'], args: fc.tuple(junk, junkOptions(['timeout', 'returnWhen'])), call: (_l, a) => core.wait(...a) },
  { name: 'waitFor', params: ['aw', 'timeout', 'awaitable', 'coroutine'], args: fc.tuple(junk, junk), call: (_l, a) => core.waitFor(...a) },
  { name: 'asCompleted', options: 1, params: ['aws', 'timeout', 'asCompleted', 'awaitable', 'coroutine'], args: fc.tuple(junk, junkOptions(['timeout'])), call: (_l, a) => core.asCompleted(...a) },
  { name: 'shield', params: ['aw', 'arg', 'awaitable', 'coroutine'], args: fc.tuple(junk), call: (_l, a) => core.shield(...a) },
  { name: 'timeout', params: ['delay', 'fn', 'when'], args: fc.tuple(junk, junk), call: (_l, a) => leave(core.timeout(...a)) },
  { name: 'timeoutAt', params: ['when', 'fn'], args: fc.tuple(junk, junk), call: (_l, a) => leave(core.timeoutAt(...a)) },
  { name: 'ensureFuture', params: ['aw', 'arg', 'awaitable', 'coroutine', 'loop'], args: fc.tuple(junk), call: (_l, a) => core.ensureFuture(...a) },
  { name: 'callSoon', params: ['callback'], args: fc.tuple(junk, junk), call: (l, a) => l.callSoon(...a) },
  { name: 'callLater', params: ['delay', 'callback'], args: fc.tuple(junk, junk), call: (l, a) => l.callLater(...a) },
  { name: 'callAt', params: ['when', 'callback'], args: fc.tuple(junk, junk), call: (l, a) => l.callAt(...a) },
  { name: 'createTask', options: 1, params: ['coro', 'name', 'createTask', 'options', 'context'], args: fc.tuple(junk, junkOptions(['name'])), call: (l, a) => l.createTask(...a) },
  { name: 'setDebug', params: ['enabled'], args: fc.tuple(junk), call: (l, a) => l.setDebug(...a) },
  { name: 'setTaskFactory', params: ['factory'], args: fc.tuple(junk), call: (l, a) => l.setTaskFactory(...a) },
  { name: 'Queue', params: ['maxsize'], args: fc.tuple(junk), call: (_l, a) => new core.Queue(...a) },
  { name: 'Semaphore', params: ['value'], args: fc.tuple(junk), call: (_l, a) => new core.Semaphore(...a) },
  { name: 'BoundedSemaphore', params: ['value'], args: fc.tuple(junk), call: (_l, a) => new core.BoundedSemaphore(...a) },
  { name: 'Barrier', params: ['parties'], args: fc.tuple(junk), call: (_l, a) => new core.Barrier(...a) },
  { name: 'Condition', params: ['lock'], args: fc.tuple(junk), call: (_l, a) => new core.Condition(...a) },
  { name: 'StreamReader', options: 0, params: ['limit', 'options', 'loop', 'StreamReader'], args: fc.tuple(junkOptions(['limit'])), call: (_l, a) => new core.StreamReader(...a) },
  { name: 'reader.readexactly', params: ['n'], args: fc.tuple(junk), call: (_l, a) => fedReader().readexactly(...a) },
  { name: 'reader.read', params: ['n'], args: fc.tuple(junk), call: (_l, a) => fedReader().read(...a) },
  { name: 'reader.readuntil', params: ['separator'], args: fc.tuple(junk), call: (_l, a) => fedReader().readuntil(...a) },
  { name: 'future.setException', params: ['exception'], args: fc.tuple(junk), call: (l, a) => l.createFuture().setException(...a) },
  { name: 'future.addDoneCallback', params: ['fn', 'callback', 'context'], args: fc.tuple(junk), call: (l, a) => l.createFuture().addDoneCallback(...a) },
  { name: 'queue.putNowait/getNowait', params: ['item'], args: fc.tuple(junk), call: (_l, a) => { const q = new core.Queue(1); q.putNowait(...a); return q.getNowait(); } },
  { name: 'createConnection', options: 3, params: ['protocolFactory', 'host', 'port', 'createConnection', 'family', 'localAddr', 'sock', 'happyEyeballsDelay', 'interleave', 'allErrors', 'ssl', 'serverHostname', 'sslHandshakeTimeout', 'sslShutdownTimeout'],
    args: fc.tuple(fc.constantFrom(() => new core.Protocol(), undefined, {}), fc.constantFrom('127.0.0.1', null, 42, ''), fc.constantFrom(1, null, -1, 70000, 'x', NaN), junkOptions(['family', 'localAddr', 'happyEyeballsDelay', 'interleave', 'allErrors', 'ssl'])),
    call: (l, a) => l.createConnection(...a).then(([t]) => t.close()) },
  { name: 'createServer', options: 3, params: ['protocolFactory', 'host', 'port', 'createServer', 'backlog', 'reuseAddress', 'reusePort', 'keepAlive', 'family', 'sock', 'startServing', 'ssl'],
    args: fc.tuple(fc.constantFrom(() => new core.Protocol(), undefined), fc.constantFrom('127.0.0.1', null, 42, ['127.0.0.1']), fc.constantFrom(0, null, -1, 70000, 'x'), junkOptions(['backlog', 'reuseAddress', 'keepAlive', 'family', 'startServing'])),
    call: (l, a) => l.createServer(...a).then((s) => { s.close(); return s.waitClosed(); }) },
  { name: 'createDatagramEndpoint', options: 1, params: ['protocolFactory', 'createDatagramEndpoint', 'localAddr', 'remoteAddr', 'family', 'reuseAddress', 'reusePort', 'allowBroadcast', 'sock'],
    args: fc.tuple(fc.constantFrom(() => new core.DatagramProtocol(), undefined), junkOptions(['localAddr', 'remoteAddr', 'family', 'allowBroadcast'])),
    call: (l, a) => l.createDatagramEndpoint(...a).then(([t]) => t.close()) },
  { name: 'sendfile', options: 4, params: ['transport', 'file', 'offset', 'count', 'sendfile', 'fallback'],
    args: fc.tuple(junk, junk, junk, junk, junkOptions(['fallback'])), call: (l, a) => l.sendfile(...a) },
  { name: 'connectAcceptedSocket', options: 2, params: ['protocolFactory', 'sock', 'connectAcceptedSocket', 'ssl', 'sslHandshakeTimeout', 'sslShutdownTimeout'],
    args: fc.tuple(fc.constantFrom(() => new core.Protocol(), undefined), junk, junkOptions(['ssl', 'sslHandshakeTimeout'])),
    call: (l, a) => l.connectAcceptedSocket(...a).then(([t]) => t.close()) },
  { name: 'getaddrinfo', options: 2, params: ['host', 'port', 'family', 'type', 'options', 'flags', 'proto'], args: fc.tuple(fc.constantFrom('127.0.0.1', null, 42, ''), fc.constantFrom(0, null, -1, 'x', 70000), junkOptions(['family', 'type'])), call: (l, a) => l.getaddrinfo(...a) },
];

/**
 * Leave a scope timeout()/timeoutAt() entered (given no fn, they enter the current task, as
 * `await using` does): left open, its deadline would cancel the task running every case.
 */
function leave(result) {
  return result instanceof core.Timeout ? result[Symbol.asyncDispose]() : result;
}

function fedReader() {
  const reader = new core.StreamReader();
  reader.feedData(Buffer.from('line one\nline two'));
  reader.feedEof();
  return reader;
}

/** Why an error is not acceptable for `target`, or null when it is. */
function badError(target, error) {
  if (!(error instanceof Error)) return `threw a non-Error: ${typeof error} ${safe(error)}`;
  if (error instanceof core.CancelledError || error instanceof core.TimeoutError || error instanceof core.IncompleteReadError || error instanceof core.LimitOverrunError) return null;
  if (typeof error.code === 'string' && error.code.startsWith('E') && !error.code.startsWith('ERR_')) return null; // a system error from a real attempt
  // allErrors: every address's failure, grouped; acceptable when each one is.
  if (error instanceof core.ExceptionGroup && error.exceptions.length > 0) {
    const inner = error.exceptions.map((e) => badError(target, e)).find((p) => p !== null);
    return inner === undefined ? null : `in ${error.name}: ${inner}`;
  }
  if (error instanceof core.QueueFull || error instanceof core.QueueEmpty) return null;
  if (!error.message) return `${error.name} with no message`;
  // A junk function that was run (as it may be) failed with its own error: the call worked.
  if (error.message === JUNK_ERROR) return null;
  // A junk task factory set by an earlier case (setTaskFactory) fails every task made later: that is said clearly too.
  if (error.message.startsWith('the task factory must return')) return null;
  if (target.params.some((p) => new RegExp(`\\b${p}\\b`).test(error.message))) return null;
  return `${error.name}: ${error.message} (names none of ${target.params.join(', ')})`;
}

function safe(value) {
  try {
    return typeof value === 'symbol' ? value.toString() : typeof value === 'bigint' ? `${value}n` : JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** True when an options argument holds a key no method knows: the call must not succeed. */
function hasUnknownKey(target, args) {
  const a = args[target.options ?? -1];
  return a !== null && typeof a === 'object' && Object.getPrototypeOf(a) === Object.prototype && ('bogus' in a || 'timout' in a);
}

async function check(loop, target, args) {
  process.stdout.write(`${JSON.stringify({ case: target.name, args: args.map(safe) })}\n`);
  const ignoredKey = hasUnknownKey(target, args) ? 'accepted an unknown option key' : null;
  let result;
  try {
    result = target.call(loop, args);
  } catch (error) {
    return badError(target, error);
  }
  if (!core.isThenable(result)) return ignoredKey;
  const outcome = await Promise.race([
    Promise.resolve(result).then(() => ignoredKey, (error) => badError(target, error)),
    new Promise((resolve) => setTimeout(resolve, 100, 'pending')),
  ]);
  if (outcome === 'pending') {
    // Waiting forever can be right (sleep(1e308)); stop waiting, and make sure of no stray rejection.
    if (typeof result.cancel === 'function') result.cancel();
    Promise.resolve(result).catch(() => {});
    return ignoredKey;
  }
  return outcome;
}

const loop = loopFactory(loopName)();
loop.setExceptionHandler(() => {});
await loop.runUntilComplete(async () => {
  await fc.assert(
    fc.asyncProperty(fc.oneof(...targets.map((target) => target.args.map((args) => ({ target, args })))), async ({ target, args }) => {
      const problem = await check(loop, target, args);
      if (problem !== null) failures.push({ case: target.name, args: args.map(safe), problem });
      return true;
    }),
    { seed, numRuns },
  );
  await core.sleep(0.05);
});
for (const task of core.allTasks(loop)) task.cancel();
loop.close();
process.stdout.write(`${JSON.stringify({ done: true, failures, unhandled })}\n`);
