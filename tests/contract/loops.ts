/**
 * The loops the contract is checked on: what `newEventLoop()` gives, ProactorEventLoop, and the
 * io_uring loop where this kernel offers it, each made through the `loopkit` package only.
 */
import { describe } from 'vitest';
import { ProactorEventLoop, UringEventLoop, UringProactor, newEventLoop, type AbstractEventLoop } from 'loopkit';

/**
 * runIn: runs `main` as the main task of a fresh loop recording its exception handler's reports,
 * then closes the loop. afterIterations: a value after so many loop iterations.
 */
export { afterIterations, runIn } from '../cpython-audit/loops.js';

export type MakeLoop = () => AbstractEventLoop;

const loops: Array<[string, MakeLoop]> = [
  ['newEventLoop()', () => newEventLoop()],
  ['ProactorEventLoop', () => new ProactorEventLoop()],
];
if (UringProactor.problem() === null) loops.push(['UringEventLoop', () => new UringEventLoop()]);

/** Declares the suite `body` once per loop. */
export function onEachLoop(title: string, body: (make: MakeLoop, name: string) => void): void {
  for (const [name, make] of loops) describe(`${title} [${name}]`, () => body(make, name));
}

/** The error `action` throws synchronously (fails when it returns). */
export function thrown(action: () => unknown): Error {
  try {
    action();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw, got a return');
}

/** The error `promise` rejects with (fails when it resolves). */
export async function rejection(promise: PromiseLike<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection, got a result');
}
