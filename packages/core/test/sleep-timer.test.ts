/**
 * A timed sleep on loopkit's loops is its own entry in the loop's timer heap (no TimerHandle,
 * no argument array: bench/README.md, issue 13 (j)). These pin what it must keep of asyncio's
 * `call_later(delay, _set_result_unless_cancelled, future, result)`: the order among timers of
 * the same deadline, the heap's count of cancelled timers, a subclass's callLater and debug
 * mode seeing every sleep, and a failure reported as that handle's.
 */
import { describe, expect, it } from 'vitest';
import { BaseEventLoop } from '../src/base-events.js';
import type { ExceptionContext } from '../src/events.js';
import type { Future } from '../src/futures.js';
import { InvalidStateError } from '../src/errors.js';
import { TimerHandle } from '../src/handles.js';
import { sleep } from '../src/sleep.js';
import { TestLoop } from '../src/test-loop.js';
import type { TimerHeap } from '../src/timer-heap.js';

/** The loop's timer heap and what its slots hold (private state, read for these invariants). */
function heapOf(loop: BaseEventLoop): { heap: TimerHeap; entries: unknown[] } {
  const heap = (loop as unknown as { timers: TimerHeap }).timers;
  const entries = (heap as unknown as { chunks: unknown[][] }).chunks.flat().filter((entry) => entry !== undefined);
  return { heap, entries };
}

describe('sleep(delay) on a BaseEventLoop', () => {
  it('puts its future itself in the timer heap, with no TimerHandle', async () => {
    const loop = new TestLoop();
    await loop.runUntilComplete(async () => {
      const slept = sleep(5, 'done') as Future<string>;
      const { heap, entries } = heapOf(loop);
      expect(heap.size).toBe(1);
      expect(entries).toHaveLength(1);
      expect(entries[0]).toBe(slept);
      expect(slept.constructor.name).toBe('SleepFuture'); // what `loopkit ps` shows
      expect(await slept).toBe('done');
      expect(heap.size).toBe(0);
    });
    loop.close();
  });

  it('runs in scheduling order with callLater timers of the same deadline', async () => {
    const loop = new TestLoop();
    const seen: string[] = [];
    await loop.runUntilComplete(async () => {
      // Virtual time: all three are due at exactly loop.time() + 1.
      const first = sleep(1) as Future<undefined>;
      loop.callLater(1, () => seen.push(`handle: first ${first.done()}, last ${last.done()}`));
      const last = sleep(1) as Future<undefined>;
      await last;
    });
    loop.close();
    expect(seen).toEqual(['handle: first true, last false']);
  });

  it('counts a cancelled sleep in the heap until it is dropped (or lets it leave at once from the end), as a cancelled TimerHandle', async () => {
    const loop = new TestLoop();
    await loop.runUntilComplete(async () => {
      const sleeps = [1, 2, 3].map((delay) => sleep(delay) as Future<undefined>);
      const { heap } = heapOf(loop);
      sleeps[0]!.cancel();
      sleeps[1]!.cancel();
      sleeps[1]!.cancel(); // a second cancel() counts nothing more
      expect(heap.cancelledCount).toBe(2);
      expect(heap.size).toBe(3);
      // The newest, due last, is at the heap's end: cancelled, it leaves at once.
      const newest = sleep(4) as Future<undefined>;
      expect(heap.size).toBe(4);
      newest.cancel();
      expect(heap.size).toBe(3);
      expect(heap.cancelledCount).toBe(2);
      // Two of three cancelled: the next iteration rebuilds the heap without them.
      await sleeps[2];
      expect(heap.cancelledCount).toBe(0);
      expect(heap.size).toBe(0);
    });
    loop.close();
  });

  it('goes through callLater when a subclass overrides it, as asyncio.sleep goes through call_later', async () => {
    const delays: number[] = [];
    class CountingLoop extends TestLoop {
      override callLater(delay: number, callback: (...args: any[]) => unknown, ...args: unknown[]): TimerHandle {
        delays.push(delay);
        return super.callLater(delay, callback, ...args);
      }
    }
    const loop = new CountingLoop();
    const result = await loop.runUntilComplete(() => sleep(0.5, 'slept') as Future<string>);
    loop.close();
    expect(result).toBe('slept');
    expect(delays).toEqual([0.5]);
  });

  it('uses a TimerHandle in debug mode, which keeps its creation stack', async () => {
    const loop = new TestLoop();
    loop.setDebug(true);
    await loop.runUntilComplete(async () => {
      const slept = sleep(1) as Future<undefined>;
      expect(slept.constructor.name).toBe('SleepFuture'); // the same name on either path
      const { entries } = heapOf(loop);
      expect(entries).toHaveLength(1);
      expect(entries[0]).toBeInstanceOf(TimerHandle);
      expect((entries[0] as TimerHandle)._sourceTraceback).toContain('sleep');
      await slept;
    });
    loop.close();
  });

  it("reports the timer's failure as callLater's handle would: its future was set by someone else", async () => {
    const loop = new TestLoop();
    const reports: ExceptionContext[] = [];
    loop.setExceptionHandler((_loop, context) => void reports.push(context));
    await loop.runUntilComplete(async () => {
      const slept = sleep(1, 'late') as Future<string>;
      slept.setResult('early');
      await sleep(2);
      expect(await slept).toBe('early');
    });
    loop.close();
    expect(reports).toHaveLength(1);
    expect(reports[0]!.message).toMatch(/^Exception in callback setResultUnlessCancelled\(/);
    expect(reports[0]!.exception).toBeInstanceOf(InvalidStateError);
  });
});
