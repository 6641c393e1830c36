/**
 * Property: however many timers fall due at once, they run by (deadline, scheduling order),
 * cancelled ones never, and those not due stay for later. Thousands due together pop
 * through several levels of the timer heap; ties on the deadline (equal callAt times) are
 * common here so the scheduling order must break them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BaseEventLoop } from '@loopkit/core';

interface Planned {
  /** Seconds before now (due at once) or, when negative, after now (not due). */
  ago: number;
  cancel: boolean;
}

const plannedArb = fc.record({
  // Big tie groups, small ones (a few timers per millisecond), and distinct deadlines.
  ago: fc.oneof(
    fc.constantFrom(0.5, 0.5, 0.25, 0.001, -60),
    fc.integer({ min: 0, max: 999 }).map((ms) => ms / 1000),
    fc.double({ min: 0, max: 1, noNaN: true }),
  ),
  cancel: fc.boolean(),
});

describe('timers due together', () => {
  it('run by (deadline, scheduling order) in one iteration; cancelled and future ones do not run', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.array(plannedArb, { minLength: 1, maxLength: 60 }), fc.array(plannedArb, { minLength: 100, maxLength: 6000, size: 'max' })), async (plan) => {
        const loop = new BaseEventLoop();
        const now = loop.time();
        const ran: number[] = [];
        loop.callSoon(() => loop.stop());
        const handles = plan.map((p, i) => loop.callAt(now - p.ago, () => ran.push(i)));
        plan.forEach((p, i) => {
          if (p.cancel) handles[i]!.cancel();
        });
        await loop.runForever();
        loop.close();
        const expected = plan
          .map((p, i) => ({ i, when: now - p.ago, runs: !p.cancel && p.ago >= 0 }))
          .filter((t) => t.runs)
          .sort((a, b) => a.when - b.when || a.i - b.i)
          .map((t) => t.i);
        expect(ran).toEqual(expected);
      }),
      { numRuns: 40 },
    );
  });
});
