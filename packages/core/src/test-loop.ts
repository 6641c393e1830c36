/**
 * TestLoop: a loop with virtual time and no I/O. When nothing is ready it jumps its clock
 * to the next timer instead of waiting, so timer tests are exact and instant.
 *
 * It is also the smallest custom backend: of the EventLoopBackend contract it overrides
 * only `idle()` (what waiting means) and `time()` (what now means). A user's backend
 * starts the same way: extend BaseEventLoop, override the hooks of backend.ts it needs.
 */
import { BaseEventLoop } from './base-events.js';
import { checkFiniteNumber } from './validate.js';

export class TestLoop extends BaseEventLoop {
  private clock = 0;

  constructor() {
    super();
    this.clockResolution = 1e-9;
  }

  /** Virtual seconds since the loop was made. */
  override time(): number {
    return this.clock;
  }

  /** Move the clock forward by `seconds`; timers due by then run at the next iteration. */
  advance(seconds: number): void {
    checkFiniteNumber(seconds, 'seconds');
    if (seconds < 0) throw new RangeError(`seconds must not be negative, got ${seconds}`);
    this.clock += seconds;
  }

  /** Idle with a timer pending: jump to it. With none: wait (for callSoon) like any loop. */
  override idle(deadline: number | null): void {
    if (deadline === null) {
      super.idle(null);
      return;
    }
    if (deadline > this.clock) this.clock = deadline;
    this.endIdle();
  }
}
