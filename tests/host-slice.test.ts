/**
 * The host slice and the loop's clock reads (base-events.ts, hop): a busy loop reads the clock
 * only every few callbacks, yet Node's own loop still turns within a bound counted in
 * callbacks, and a timer still fires at the first iteration after it is due (step 4 reads
 * its own clock).
 */
import { describe, expect, it } from 'vitest';
import { BaseEventLoop, newEventLoop } from 'loopkit';

/** Keep the thread for `ms` milliseconds of wall clock, as a slow callback does. */
function busyFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe('the host slice of a busy loop', () => {
  for (const [name, make] of [
    ['BaseEventLoop', () => new BaseEventLoop()],
    ['the default loop', () => newEventLoop()],
  ] as const) {
    it(`${name}: Node's setImmediate runs at least every HOST_SLICE_MS plus a few callbacks of an endless chain of slow callbacks`, async () => {
      const loop = make();
      let callbacks = 0;
      let hostTurns = 0;
      let turnsSeen = 0;
      let sinceHostTurn = 0;
      let widestGap = 0;
      const hostTurn = (): void => {
        hostTurns++;
        if (loop.isRunning()) setImmediate(hostTurn);
      };
      const step = (): void => {
        busyFor(1);
        // Callbacks between two host turns: the widest such run is the slice's length in callbacks.
        if (hostTurns !== turnsSeen) {
          turnsSeen = hostTurns;
          sinceHostTurn = 0;
        }
        widestGap = Math.max(widestGap, ++sinceHostTurn);
        if (++callbacks === 200) loop.stop();
        else loop.callSoon(step);
      };
      setImmediate(hostTurn);
      loop.callSoon(step);
      await loop.runForever();
      loop.close();
      // HOST_SLICE_MS (4) of 1 ms callbacks, then at most CALLBACKS_PER_CLOCK_READ (8) before
      // the clock is read: 12, and one of slack. A loop that never read the clock would run all 200.
      expect(hostTurns).toBeGreaterThanOrEqual(200 / 13);
      expect(widestGap).toBeLessThanOrEqual(13);
    });
  }

  it('a timer due during an endless chain of short callbacks fires at the first iteration after it is due', async () => {
    const loop = new BaseEventLoop();
    const DELAY = 0.005;
    let dueAt = Infinity;
    let stepsAfterDue = 0;
    let fired = false;
    let steps = 0;
    const step = (): void => {
      steps++;
      busyFor(0.05);
      if (loop.time() >= dueAt && !fired) stepsAfterDue++;
      if (fired || steps > 1_000_000) loop.stop();
      else loop.callSoon(step);
    };
    loop.callSoon(() => {
      dueAt = loop.time() + DELAY;
      loop.callAt(dueAt, () => {
        fired = true;
      });
      loop.callSoon(step);
    });
    await loop.runForever();
    loop.close();
    expect(fired).toBe(true);
    // The step that first finds the timer due ends its iteration; the next iteration's step 4
    // takes the timer, behind that iteration's step: two steps, not the callbacks a stale clock lags.
    expect(stepsAfterDue).toBeLessThanOrEqual(2);
  });
});
