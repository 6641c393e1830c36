/** Future: callbacks, results, cancellation, awaiting, unretrieved exceptions. */
import { expect } from './expect.js';
import { describe, it } from './kit.js';
import { rule } from './rules.js';
import { CancelledError, Future, InvalidStateError, isFuture, sleep, type ExceptionContext } from '@loopkit/core';
import { withLoop, type LoopUnderTest } from './context.js';
import { collectUntil, noGc } from './gc.js';

export function futureSuite(subject: LoopUnderTest): void {
  describe('Future', () => {
    it('schedules done callbacks with callSoon, in registration order, never inside setResult', rule("a future's done callbacks are scheduled with callSoon, in registration order, never called inside setResult", () =>
      withLoop(subject, async (loop) => {
        const fut = loop.createFuture<number>();
        const calls: string[] = [];
        fut.addDoneCallback((f) => calls.push(`a${f.result()}`));
        fut.addDoneCallback(() => calls.push('b'));
        fut.setResult(7);
        expect(calls).toEqual([]);
        await sleep(0);
        expect(calls).toEqual(['a7', 'b']);
        // A callback added once done is scheduled too, not called at once.
        fut.addDoneCallback(() => calls.push('late'));
        expect(calls).toEqual(['a7', 'b']);
        await sleep(0);
        expect(calls).toEqual(['a7', 'b', 'late']);
      })));

    it('result() and exception() of a pending future throw InvalidStateError', rule('result() and exception() of a pending future raise InvalidStateError', () =>
      withLoop(subject, async (loop) => {
        const fut = loop.createFuture();
        expect(() => fut.result()).toThrow(InvalidStateError);
        expect(() => fut.exception()).toThrow(InvalidStateError);
        expect(fut.done()).toBe(false);
      })));

    it('setResult/setException on a done future throw InvalidStateError', () =>
      withLoop(subject, async (loop) => {
        const fut = loop.createFuture<number>();
        fut.setResult(1);
        expect(() => fut.setResult(2)).toThrow(InvalidStateError);
        expect(() => fut.setException(new Error('x'))).toThrow(InvalidStateError);
        expect(fut.result()).toBe(1);
        expect(fut.exception()).toBeNull();
      }));

    it('await gives the result or throws the exception', () =>
      withLoop(subject, async (loop) => {
        const ok = loop.createFuture<string>();
        loop.callSoon(() => ok.setResult('yes'));
        expect(await ok).toBe('yes');
        const bad = loop.createFuture<string>();
        const boom = new Error('boom');
        loop.callSoon(() => bad.setException(boom));
        await expect(bad).rejects.toBe(boom);
        expect(bad.exception()).toBe(boom);
      }));

    it('cancel(msg) returns true once and carries the message', rule('cancel() succeeds once, and the CancelledError it causes carries its message', () =>
      withLoop(subject, async (loop) => {
        const fut = loop.createFuture();
        expect(fut.cancel('stop it')).toBe(true);
        expect(fut.cancel('again')).toBe(false);
        expect(fut.cancelled()).toBe(true);
        expect(fut.done()).toBe(true);
        let caught: unknown;
        try {
          fut.result();
        } catch (e) {
          caught = e;
        }
        expect(caught).toBeInstanceOf(CancelledError);
        expect((caught as CancelledError).message).toBe('stop it');
        await expect(fut).rejects.toBeInstanceOf(CancelledError);
        const done = loop.createFuture();
        done.setResult(1);
        expect(done.cancel()).toBe(false);
      })));

    it('removeDoneCallback returns how many registrations it removed', () =>
      withLoop(subject, async (loop) => {
        const fut = loop.createFuture();
        const calls: string[] = [];
        const a = () => calls.push('a');
        const b = () => calls.push('b');
        fut.addDoneCallback(a);
        fut.addDoneCallback(b);
        fut.addDoneCallback(a);
        expect(fut.removeDoneCallback(a)).toBe(2);
        expect(fut.removeDoneCallback(a)).toBe(0);
        fut.setResult(null);
        await sleep(0);
        expect(calls).toEqual(['b']);
      }));

    it('awaiting a done future does not wait for a loop iteration', () =>
      withLoop(subject, async (loop) => {
        const fut = loop.createFuture<number>();
        fut.setResult(5);
        let ran = false;
        loop.callSoon(() => {
          ran = true;
        });
        expect(await fut).toBe(5);
        expect(ran).toBe(false);
      }));

    it('is a thenable whose then() chains like a promise, asynchronously', () =>
      withLoop(subject, async (loop) => {
        const fut = loop.createFuture<number>();
        fut.setResult(2);
        let seen = 0;
        const chained = fut.then((v) => {
          seen = v;
          return v * 10;
        });
        expect(seen).toBe(0);
        expect(await chained).toBe(20);
        expect(isFuture(fut)).toBe(true);
        expect(isFuture(Promise.resolve())).toBe(false);
      }));

    it('then() on a pending future chains like a promise: values, errors, catch, finally', () =>
      withLoop(subject, async (loop) => {
        const ok = loop.createFuture<number>();
        const doubled = ok.then((v) => v * 2).then((v) => v + 1);
        const bad = loop.createFuture<number>();
        const boom = new Error('boom');
        const recovered = bad.then(null, (e: Error) => `recovered ${e.message}`);
        const rethrown = ok.then(() => {
          throw boom;
        });
        const caught = rethrown.catch((e: unknown) => e);
        const adopted = ok.then((v) => Promise.resolve(v * 10));
        let finallyRan = false;
        const finished = ok.then((v) => v).finally(() => {
          finallyRan = true;
        });
        loop.callSoon(() => ok.setResult(4));
        loop.callSoon(() => bad.setException(boom));
        expect(await doubled).toBe(9);
        expect(await recovered).toBe('recovered boom');
        expect(await caught).toBe(boom);
        expect(await adopted).toBe(40);
        expect(await finished).toBe(4);
        expect(finallyRan).toBe(true);
      }));

    it('new Future() binds to the running loop', () =>
      withLoop(subject, async (loop) => {
        expect(new Future().getLoop()).toBe(loop);
        expect(new Future({ loop }).getLoop()).toBe(loop);
      }));

    it('rejects bad input to setException and addDoneCallback', () =>
      withLoop(subject, async (loop) => {
        const fut = loop.createFuture();
        expect(() => fut.setException(null)).toThrow(TypeError);
        expect(() => fut.addDoneCallback(42 as never)).toThrow(/callback/);
      }));

    it.skipIf(noGc)('reports an exception nobody retrieved once, when the future is collected', async () => {
      const reports: ExceptionContext[] = [];
      await withLoop(subject, async (loop) => {
        loop.setExceptionHandler((_l, ctx) => reports.push(ctx));
        (() => {
          loop.createFuture().setException(new Error('lost'));
          const seen = loop.createFuture();
          seen.setException(new Error('seen'));
          seen.exception();
        })();
        await collectUntil(() => reports.length > 0);
      });
      expect(reports).toHaveLength(1);
      expect(reports[0]!.message).toBe('Future exception was never retrieved');
      expect((reports[0]!.exception as Error).message).toBe('lost');
    });
  });
}
