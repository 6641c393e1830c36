/** The event loop: scheduling, timers, running, stopping, closing, errors, debug, guest mode. */
import { expect } from './expect.js';
import { describe, it } from './kit.js';
import { rule } from './rules.js';
import { logger, sleep, type AbstractEventLoop, type ExceptionContext } from '@loopkit/core';
import { withLoop, type LoopUnderTest } from './context.js';
import { Interrupt, lettingThrough } from './support/escape.js';

/** Run `loop` until `body` settles, as runUntilComplete does, but with a fresh loop closed after. */
function fresh(subject: LoopUnderTest): AbstractEventLoop & { close(): void } {
  return subject.make();
}

export function loopSuite(subject: LoopUnderTest): void {
  describe('event loop', () => {
    it('runs callbacks in callSoon order; one scheduled inside a callback runs in the next iteration', rule("callbacks ready when an iteration starts must run in that iteration, in callSoon order, before any added during it (asyncio's _run_once runs exactly the callbacks that were ready when it began)", async () => {
      const loop = fresh(subject);
      const log: string[] = [];
      loop.callSoon(() => {
        log.push('a');
        loop.callSoon(() => log.push('c'));
      });
      loop.callSoon(() => log.push('b'));
      loop.stop(); // before runForever: exactly one iteration
      await loop.runForever();
      expect(log).toEqual(['a', 'b']);
      loop.stop();
      await loop.runForever();
      expect(log).toEqual(['a', 'b', 'c']);
      loop.close();
    }));

    it('passes arguments and skips cancelled handles', rule('callSoon passes its extra arguments to the callback, and a handle cancelled before its turn never runs', async () => {
      const loop = fresh(subject);
      const log: unknown[] = [];
      loop.callSoon((x: number, y: string) => log.push(x, y), 1, 'two');
      const h = loop.callSoon(() => log.push('cancelled'));
      h.cancel();
      expect(h.cancelled()).toBe(true);
      loop.stop();
      await loop.runForever();
      expect(log).toEqual([1, 'two']);
      loop.close();
    }));

    it('runs timers by deadline; equal deadlines in scheduling order', rule('timers run in deadline order, equal deadlines in the order they were scheduled, and none before its deadline', () =>
      withLoop(subject, async (loop) => {
        const log: string[] = [];
        const done = loop.createFuture();
        const t0 = loop.time();
        // 90 ms between 'early' and the rest: a loaded machine can stall 10 ms between two lines.
        const when = t0 + 0.1;
        loop.callAt(when, () => log.push('late-1'));
        loop.callLater(0.01, () => log.push('early'));
        loop.callAt(when, () => log.push('late-2'));
        loop.callAt(when, () => {
          log.push('late-3');
          done.setResult(null);
        });
        const before = loop.time();
        const timer = loop.callLater(0.015, () => log.push('never'));
        expect(timer.when()).toBeGreaterThanOrEqual(before + 0.015);
        expect(timer.when()).toBeLessThanOrEqual(loop.time() + 0.015);
        timer.cancel();
        await done;
        expect(log).toEqual(['early', 'late-1', 'late-2', 'late-3']);
        expect(loop.time() - t0).toBeGreaterThanOrEqual(0.1 - 1e-6);
      })));

    it('drops cancelled timers lazily and rebuilds the heap when more than half are cancelled', rule('cancelled timers leave the heap lazily: popped when they reach the top, all at once when more than half are cancelled', async () => {
      const loop = fresh(subject);
      const heap = () => (loop as unknown as { timers: { size: number } }).timers.size;
      const timers = Array.from({ length: 10 }, (_, i) => loop.callLater(100 + i, () => {}));
      timers[5]!.cancel();
      timers[6]!.cancel();
      loop.stop();
      await loop.runForever();
      expect(heap()).toBe(10); // cancelled ones deep in the heap stay until most are cancelled
      timers[0]!.cancel();
      loop.stop();
      await loop.runForever();
      expect(heap()).toBe(9); // a cancelled timer at the top is popped
      for (const t of timers.slice(1, 5)) t.cancel();
      loop.stop();
      await loop.runForever();
      expect(heap()).toBe(3); // 7 of 10 cancelled: rebuilt without them
      loop.close();
    }));

    it('time() is monotonic seconds', () =>
      withLoop(subject, async (loop) => {
        const a = loop.time();
        await sleep(0.002);
        const b = loop.time();
        expect(typeof a).toBe('number');
        expect(b).toBeGreaterThan(a);
        expect(b - a).toBeLessThan(5);
      }));

    it('rejects bad arguments with TypeErrors naming them', async () => {
      const loop = fresh(subject);
      expect(() => loop.callSoon(42 as never)).toThrow(/callback/);
      expect(() => loop.callSoon(42 as never)).toThrow(TypeError);
      expect(() => loop.callLater(NaN, () => {})).toThrow(/delay/);
      expect(() => loop.callLater('1' as never, () => {})).toThrow(TypeError);
      expect(() => loop.callAt(Infinity, () => {})).toThrow(/when/);
      expect(() => loop.callLater(1, null as never)).toThrow(/callback/);
      expect(() => loop.setExceptionHandler(5 as never)).toThrow(TypeError);
      expect(() => loop.setTaskFactory('x' as never)).toThrow(TypeError);
      loop.close();
    });

    it('refuses to run nested, twice, or closed; close() of a running loop throws', rule("one loop runs at a time: running it nested or twice, running another inside it, running a closed loop and closing a running one all fail with asyncio's messages", async () => {
      const loop = fresh(subject);
      await loop.runUntilComplete(async () => {
        await expect(loop.runForever()).rejects.toThrow('This event loop is already running');
        await expect(loop.runUntilComplete(async () => 1)).rejects.toThrow('already running');
        expect(() => loop.close()).toThrow('Cannot close a running event loop');
        const other = subject.make();
        await expect(other.runForever()).rejects.toThrow('Cannot run the event loop while another loop is running');
        other.close();
      });
      loop.close();
      loop.close(); // idempotent
      expect(loop.isClosed()).toBe(true);
      await expect(loop.runForever()).rejects.toThrow('Event loop is closed');
      await expect(loop.runUntilComplete(async () => 1)).rejects.toThrow('Event loop is closed');
      expect(() => loop.callSoon(() => {})).toThrow('Event loop is closed');
    }));

    it('runUntilComplete throws when stopped before the future completed', rule("runUntilComplete fails with 'Event loop stopped before Future completed.' when the loop stops first", async () => {
      const loop = fresh(subject);
      const fut = loop.createFuture();
      loop.callSoon(() => loop.stop());
      await expect(loop.runUntilComplete(fut)).rejects.toThrow('Event loop stopped before Future completed.');
      expect(loop.isRunning()).toBe(false);
      loop.close();
    }));

    it('isRunning() and getRunningLoop track the run', async () => {
      const loop = fresh(subject);
      expect(loop.isRunning()).toBe(false);
      const core = await import('@loopkit/core');
      expect(() => core.getRunningLoop()).toThrow('no running event loop');
      const inside = await loop.runUntilComplete(async () => [loop.isRunning(), core.getRunningLoop()] as const);
      expect(inside).toEqual([true, loop]);
      expect(loop.isRunning()).toBe(false);
      loop.close();
    });

    it('a throwing callback reaches the exception handler and the loop runs on', rule('an error thrown by a callback goes to the exception handler, with the callback named, and the loop runs on', () =>
      withLoop(subject, async (loop, reports) => {
        const boom = new Error('boom');
        loop.callSoon(function failing() {
          throw boom;
        });
        let after = false;
        loop.callSoon(() => {
          after = true;
        });
        await sleep(0);
        expect(after).toBe(true);
        expect(reports).toHaveLength(1);
        const ctx = reports[0] as ExceptionContext;
        expect(ctx.exception).toBe(boom);
        // asyncio 3.13's words: the callback's name, its arguments only in debug mode.
        expect(ctx.message).toBe('Exception in callback failing()');
        expect(ctx.handle).toBeDefined();
      })));

    it("an exception escaping a callback keeps the rest of its batch: the next run runs it first, in asyncio's order", rule("an exception that leaves the loop's turn (asyncio's KeyboardInterrupt) ends runForever, and what its iteration had not run yet stays first in the ready queue: the next run runs it, then what was queued since, then the due timers", async () => {
      const loop = lettingThrough(fresh(subject));
      const log: string[] = [];
      const interrupted = new Set<string>();
      const callback = (name: string, options: { interrupts?: boolean; queues?: string } = {}) => () => {
        log.push(name);
        if (options.queues !== undefined) loop.callSoon(callback(options.queues));
        if (options.interrupts === true && !interrupted.has(name)) {
          interrupted.add(name);
          throw new Interrupt(name);
        }
      };
      loop.callSoon(callback('1', { queues: 'queued by 1' }));
      loop.callSoon(callback('2', { interrupts: true }));
      loop.callSoon(callback('3', { interrupts: true, queues: 'queued by 3' }));
      loop.callSoon(callback('4'));
      await expect(loop.runForever()).rejects.toBeInstanceOf(Interrupt);
      expect(log).toEqual(['1', '2']);
      // A loop that lost '3' would idle for ever: stopped from outside, it fails here instead.
      const guard = setTimeout(() => loop.stop(), 2000);
      try {
        await expect(loop.runForever()).rejects.toBeInstanceOf(Interrupt);
      } finally {
        clearTimeout(guard);
      }
      expect(log).toEqual(['1', '2', '3']);
      loop.callSoon(callback('queued between runs'));
      loop.callAt(loop.time(), callback('due timer'));
      loop.callSoon(() => loop.stop());
      await loop.runForever();
      // CPython 3.13 runs the same calls in this order.
      expect(log).toEqual(['1', '2', '3', '4', 'queued by 1', 'queued by 3', 'queued between runs', 'due timer']);
      loop.close();
    }));

    it('in debug mode the report of a throwing callback shows its arguments', () =>
      withLoop(subject, async (loop, reports) => {
        loop.setDebug(true);
        loop.callSoon(
          function failing(_n: number, _s: string) {
            throw new Error('boom');
          },
          1,
          'x',
        );
        loop.callLater(0, () => {
          throw new Error('anonymous');
        });
        await sleep(0.001);
        await sleep(0);
        const messages = (reports as ExceptionContext[]).map((ctx) => ctx.message);
        expect(messages).toEqual(["Exception in callback failing(1, 'x')", 'Exception in callback <anonymous>()']);
        // The frame that scheduled it: this file, as source (vitest) or as the built dist/loop.js.
        expect(String((reports[0] as ExceptionContext).sourceTraceback)).toMatch(/loop\.[jt]s/);
      }));

    it('exception handler API: get/set/default/call; a throwing handler is logged and the loop runs on', async () => {
      const loop = fresh(subject);
      expect(loop.getExceptionHandler()).toBeNull();
      const logged: unknown[][] = [];
      const original = logger.error;
      logger.error = (...args: unknown[]) => void logged.push(args);
      try {
        loop.callExceptionHandler({ message: 'plain report', exception: new Error('x') });
        expect(logged).toHaveLength(1);
        expect(String(logged[0]![0])).toContain('plain report');
        const handler = () => {
          throw new Error('handler broke');
        };
        loop.setExceptionHandler(handler);
        expect(loop.getExceptionHandler()).toBe(handler);
        loop.callSoon(() => {
          throw new Error('cb broke');
        });
        const after = loop.createFuture();
        loop.callSoon(() => after.setResult('ran'));
        expect(await loop.runUntilComplete(after)).toBe('ran');
        expect(logged).toHaveLength(2);
        expect(String(logged[1]![0])).toContain('Unhandled error in exception handler');
        expect((logged[1]![1] as Error).message).toBe('handler broke');
        loop.setExceptionHandler(null);
        expect(loop.getExceptionHandler()).toBeNull();
      } finally {
        logger.error = original;
        loop.close();
      }
    });

    it('debug mode reports callbacks slower than slowCallbackDuration', async () => {
      const loop = fresh(subject);
      const warnings: string[] = [];
      const original = logger.warning;
      logger.warning = (msg: string) => void warnings.push(msg);
      try {
        expect(loop.getDebug()).toBe(false);
        loop.setDebug(true);
        expect(loop.getDebug()).toBe(true);
        loop.slowCallbackDuration = 0.01;
        loop.callSoon(function slowOne() {
          const until = performance.now() + 25;
          while (performance.now() < until);
        });
        loop.callSoon(function quickOne() {});
        loop.stop();
        await loop.runForever();
        expect(warnings).toHaveLength(1);
        // 25 ms of work, but a loaded machine may preempt it for longer: the format is what counts.
        expect(warnings[0]).toMatch(/Executing .*slowOne.* took \d+\.\d\d\d seconds/);
      } finally {
        logger.warning = original;
        loop.close();
      }
    });

    it('does not block the thread: Node timers fire while the loop always has work', rule("the loop is a guest of Node's own loop: it never blocks the thread, even when callbacks are always ready", async () => {
      const loop = fresh(subject);
      let nodeTimerFired = false;
      let iterationsAfterTimer = -1;
      let count = 0;
      setTimeout(() => {
        nodeTimerFired = true;
      }, 1);
      const spin = () => {
        count++;
        if (nodeTimerFired && iterationsAfterTimer < 0) iterationsAfterTimer = count;
        if (count < 2_000_000 && !(nodeTimerFired && count > iterationsAfterTimer + 10)) loop.callSoon(spin);
        else loop.stop();
      };
      loop.callSoon(spin);
      const running = loop.runForever();
      expect(loop.isRunning()).toBe(true); // runForever returned at once
      await running;
      expect(nodeTimerFired).toBe(true);
      expect(count).toBeLessThan(2_000_000); // the timer fired while the loop was still busy
      loop.close();
    }));

    it('an idle loop does not poll: no iterations while it waits for a far timer', rule('an idle loop sleeps until its next timer or a wake-up: no busy polling of the backend', async () => {
      const loop = fresh(subject);
      if (subject.caps.virtualTime) {
        loop.close();
        return; // a virtual clock jumps instead of waiting
      }
      let polls = 0;
      const poll = (loop as unknown as { ioPoll: () => void }).ioPoll.bind(loop);
      (loop as unknown as { ioPoll: () => void }).ioPoll = () => {
        polls++;
        poll();
      };
      loop.callLater(0.2, () => loop.stop());
      await loop.runForever();
      expect(polls).toBeLessThanOrEqual(4); // start, maybe an early host-timer wake, the deadline
      loop.close();
    }));

    it('stop() from a Node callback wakes an idle loop', rule('stop() called from outside the loop (a Node callback) wakes an idle loop, which then stops', async () => {
      const loop = fresh(subject);
      setTimeout(() => loop.stop(), 5);
      await loop.runForever();
      expect(loop.isRunning()).toBe(false);
      loop.close();
    }));

    it('is an AbstractEventLoop; a subclass missing a method throws NotImplementedError', async () => {
      const core = await import('@loopkit/core');
      const loop = fresh(subject);
      expect(loop).toBeInstanceOf(core.AbstractEventLoop);
      class Bare extends core.AbstractEventLoop {}
      expect(() => new Bare().callSoon(() => {})).toThrow(core.NotImplementedError);
      expect(() => new Bare().callSoon(() => {})).toThrow('Bare does not implement callSoon()');
      loop.close();
    });

    it('createTask uses the task factory', async () => {
      const loop = fresh(subject);
      const made: string[] = [];
      expect(loop.getTaskFactory()).toBeNull();
      const core = await import('@loopkit/core');
      const factory = (l: AbstractEventLoop, coro: () => Promise<unknown>, opts: { name?: string }) => {
        made.push(opts.name ?? '?');
        return new core.Task(coro, { loop: l, name: opts.name });
      };
      loop.setTaskFactory(factory as never);
      expect(loop.getTaskFactory()).toBe(factory);
      const result = await loop.runUntilComplete(async () => {
        const t = loop.createTask(async () => 3, { name: 'via-factory' });
        return [await t, t.getName()];
      });
      expect(result).toEqual([3, 'via-factory']);
      expect(made).toContain('via-factory');
      loop.close();
    });
  });
}
