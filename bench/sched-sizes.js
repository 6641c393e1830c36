// The sizes of bench/sched.js's cases, shared by every side (BENCH_SCALE multiplies them all),
// and the case table both sides' processes run from (this module never imports loopkit).
import { reportMemory, reportTimed } from './case-report.js';
const scale = Number(process.env.BENCH_SCALE ?? 1);
const n = (count) => Math.max(1, Math.round(count * scale));

export const sizes = {
  a: n(1e6), // callSoon chain
  b: n(1e6), // burst
  c: n(1e5), // tasks through sleep(0)
  d: n(1e6), // futures
  e: n(1e5), // timers
  f: n(1e5), // gather
  g: n(1e6), // queue items
  h: n(20), // run()s with one executor call
  i: n(1e5), // idle tasks on an Event
  j: n(1e5), // idle tasks sleeping an hour
};

export const QUEUE_SIZE = 1000;

/** The same pseudo-random delays (seconds, <= 10 ms) for every side. */
export function delays(count) {
  let seed = 42;
  return Array.from({ length: count }, () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return (seed / 0x7fffffff) * 0.01;
  });
}

/**
 * The run of case `kase` (a letter) with one side's implementations of the cases, or
 * undefined for an unknown letter: the same sizes and reports for every side.
 */
export function caseRun(kase, side) {
  return {
    a: () => reportTimed(sizes.a, side.chain),
    b: () => reportTimed(sizes.b, side.burst),
    c: () => reportTimed(sizes.c, side.tasks),
    d: () => reportTimed(sizes.d, side.futures),
    e: () => reportTimed(sizes.e, (count) => side.timers(delays(count))),
    f: () => reportTimed(sizes.f, side.gatherAll),
    g: () => reportTimed(sizes.g, side.queue),
    h: () => reportTimed(sizes.h, side.executor),
    i: () => reportMemory(() => side.idle(sizes.i, 'event')),
    j: () => reportMemory(() => side.idle(sizes.j, 'sleep')),
  }[kase];
}
