/**
 * Node built-ins that most programs never use through loopkit (child processes, DNS, worker
 * threads), loaded at first use instead of at `import 'loopkit'`: importing one compiles its
 * modules at every start, whether used or not (with node:dgram, which the proactor loads the
 * same way, 0.7 MB of RSS on Node 20). node:util too, only for reprs and reports: on Node 24
 * it loads 15 more internal modules (worker_threads, the diff for assert...), 1 MB of RSS.
 */
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

export const childProcess = (): typeof import('node:child_process') => load('node:child_process');
export const dns = (): typeof import('node:dns') => load('node:dns');
export const workerThreads = (): typeof import('node:worker_threads') => load('node:worker_threads');
export const util = (): typeof import('node:util') => load('node:util');
