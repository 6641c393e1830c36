/**
 * What the examples share. The seed snippets sleep for seconds (10 s in one); every delay
 * goes through seconds(), scaled by LOOPKIT_EXAMPLE_SCALE (or --scale=N) so `loopkit demo`
 * stays quick: LOOPKIT_EXAMPLE_SCALE=0.1 turns the 10 s sleep into 1 s. Default 1.
 */
import { isMainThread, threadId } from 'node:worker_threads';
import type { AbstractEventLoop } from 'loopkit';

function readScale(): number {
  const arg = process.argv.find((a) => a.startsWith('--scale='))?.slice('--scale='.length);
  const raw = arg ?? process.env.LOOPKIT_EXAMPLE_SCALE ?? '1';
  const scale = Number(raw);
  if (!Number.isFinite(scale) || scale <= 0) throw new RangeError(`the example time scale must be a positive number, got ${raw}`);
  return scale;
}

export const SCALE = readScale();

/** The seed's delay, in the scaled seconds this run uses. */
export function seconds(s: number): number {
  return s * SCALE;
}

/** Python's current_thread().getName(): MainThread, or Thread-<id> for a worker. */
export function threadName(): string {
  return isMainThread ? 'MainThread' : `Thread-${threadId}`;
}

/** One line saying which loop the example got, and the time scale. */
export function banner(loop: AbstractEventLoop): void {
  const scaled = SCALE === 1 ? '' : ` (delays x${SCALE})`;
  console.log(`-- ${loop.constructor.name}, LOOPKIT_BACKEND=${process.env.LOOPKIT_BACKEND ?? '(unset)'}${scaled}`);
}

/** Python's time.sleep: blocks the whole thread (the callbacks example needs exactly that). */
export function blockingSleep(s: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, s * 1000);
}
