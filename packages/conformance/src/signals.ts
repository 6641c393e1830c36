/** Signals (asyncio's add_signal_handler) and threads (run_in_executor, to_thread), for loops that have them. */
import { Future, RuntimeError, getRunningLoop, toThread } from '@loopkit/core';
import { expect } from './expect.js';
import { describe, it } from './kit.js';
import { lacks, withLoop, type LoopUnderTest } from './context.js';
import { rule } from './rules.js';

export function signalSuite(subject: LoopUnderTest): void {
  describe.skipIf(lacks(subject, 'signals'))('signals', () => {
    it('a signal handler runs on the loop, with its arguments, until removed', rule('a signal handler is a callback of the loop: it runs inside the loop, with the arguments given to addSignalHandler', () =>
      withLoop(subject, async (loop) => {
        const got = loop.createFuture<[string, boolean]>();
        // SIGWINCH: ignored by default, so a loop that failed to listen does not kill the process.
        loop.addSignalHandler('SIGWINCH', (tag: string) => got.setResult([tag, getRunningLoop() === loop]), 'winch');
        process.kill(process.pid, 'SIGWINCH');
        expect(await got).toEqual(['winch', true]);
        expect(loop.removeSignalHandler('SIGWINCH')).toBe(true);
        expect(loop.removeSignalHandler('SIGWINCH')).toBe(false);
      })));

    it('SIGKILL and SIGSTOP cannot be handled; a bad signal is refused', () =>
      withLoop(subject, async (loop) => {
        expect(() => loop.addSignalHandler('SIGKILL', () => {})).toThrow(RuntimeError);
        expect(() => loop.addSignalHandler('SIGSTOP', () => {})).toThrow(/SIGSTOP/);
        expect(() => loop.addSignalHandler('SIGNOPE', () => {})).toThrow();
      }));
  });
}

export function threadSuite(subject: LoopUnderTest): void {
  describe.skipIf(lacks(subject, 'threads'))('threads', () => {
    it('runInExecutor(null, fn, ...args) runs fn on a worker thread; its result comes back as a Future', rule('runInExecutor returns a Future of the loop, settled with what the function returns or throws on the executor', () =>
      withLoop(subject, async (loop) => {
        const future = loop.runInExecutor(null, (a: number, b: number) => a * b, 6, 7);
        expect(future).toBeInstanceOf(Future);
        expect(future.getLoop()).toBe(loop);
        expect(await future).toBe(42);
        await expect(loop.runInExecutor(null, () => {
          throw new RangeError('too big');
        })).rejects.toThrow('too big');
        await loop.shutdownDefaultExecutor();
      })));

    it('toThread runs on the running loop\'s default executor', () =>
      withLoop(subject, async (loop) => {
        expect(await toThread((s: string) => s.toUpperCase(), 'loud')).toBe('LOUD');
        await loop.shutdownDefaultExecutor();
      }));
  });
}
