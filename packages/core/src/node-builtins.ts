/**
 * Node built-ins that most programs never use through loopkit (child processes, DNS, worker
 * threads, sockets of node:net, streams, X.509 of node:crypto), loaded at first use instead
 * of at `import 'loopkit'`: importing one compiles its modules at every start, whether used
 * or not (with node:dgram, which the proactor loads the same way, 0.7 MB of RSS on Node 20;
 * node:net 2.0 MB and node:crypto 2.4, 2.9 and 4.7 on Node 24). node:util too, only for
 * reprs and reports: on Node 24 it loads 15 more internal modules (worker_threads, the diff
 * for assert...), 1 MB of RSS.
 *
 * The ones every start needs are required, not imported: the ES module namespace of a
 * built-in evaluates every lazy export (node:fs's `promises` alone loads ~30 internal
 * modules: 2.9 MB of RSS on Node 20, 4.1 on Node 24).
 */
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

export const childProcess = (): typeof import('node:child_process') => load('node:child_process');
export const dns = (): typeof import('node:dns') => load('node:dns');
export const workerThreads = (): typeof import('node:worker_threads') => load('node:worker_threads');
export const util = (): typeof import('node:util') => load('node:util');
export const net = (): typeof import('node:net') => load('node:net');
export const stream = (): typeof import('node:stream') => load('node:stream');
export const crypto = (): typeof import('node:crypto') => load('node:crypto');

const asyncHooks = load('node:async_hooks') as typeof import('node:async_hooks');
export const AsyncLocalStorage = asyncHooks.AsyncLocalStorage;
export type AsyncLocalStorage<T> = import('node:async_hooks').AsyncLocalStorage<T>;
export const AsyncResource = asyncHooks.AsyncResource;
export const executionAsyncResource = asyncHooks.executionAsyncResource;
export const os = load('node:os') as typeof import('node:os');
export const fs = load('node:fs') as typeof import('node:fs');
export const { isAbsolute } = load('node:path') as typeof import('node:path');
export const { pathToFileURL } = load('node:url') as typeof import('node:url');

const hrtime = process.hrtime;
/**
 * Monotonic milliseconds (CLOCK_MONOTONIC, as asyncio's time.monotonic()), to the nanosecond:
 * the loop's clock. Not performance.now(): node:perf_hooks (or the global `performance`)
 * loads 9 more internal modules at the first read (0.3 MB of RSS on Node 24 with node:tls
 * loaded); process.hrtime() costs the same per read (~50 ns on Nodes 20 and 24). Read once, at
 * import: the global `process` is an accessor and its `hrtime` sits in a dictionary, so a read
 * at each call took two inline-cache stubs even in optimized code (~200 instructions a read on
 * Node 24: bench/README.md, "Session 16 (s16-timers)"). So replacing `process.hrtime` later
 * does not move the loop's clock; a loop with another clock overrides `time()` (TestLoop).
 */
export function monotonicMs(): number {
  const [seconds, nanoseconds] = hrtime();
  return seconds * 1e3 + nanoseconds / 1e6;
}

/** net.isIP, node:net loaded at the first call (require's cache holds it after). */
export function isIP(input: string): number {
  return net().isIP(input);
}
