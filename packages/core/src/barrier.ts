/**
 * asyncio.Barrier: `parties` tasks wait until all of them arrived, then all go on.
 * It cycles FILLING -> DRAINING -> FILLING; reset() and abort() break current waiters
 * with BrokenBarrierError (abort for good, reset until the barrier drained).
 */
import { BrokenBarrierError } from './errors.js';
import { Condition } from './locks.js';
import { describe } from './validate.js';
import { registerWaitingCall, WaitingCall } from './waiting-calls.js';

type State = 'filling' | 'draining' | 'resetting' | 'broken';

/** Lets `parties` tasks wait until all have arrived (asyncio.Barrier). */
export class Barrier {
  private readonly cond = new Condition();
  private readonly partyCount: number;
  private state: State = 'filling';
  /** Tasks inside wait(). */
  private count = 0;

  constructor(parties: number) {
    if (typeof parties !== 'number' || !Number.isInteger(parties)) {
      throw new TypeError(`parties must be an integer, got ${describe(parties)}`);
    }
    if (parties < 1) throw new RangeError(`parties must be > 0, got ${parties}`);
    this.partyCount = parties;
  }

  /**
   * Wait for all parties; resolves to this task's arrival index (0 .. parties - 1).
   * Throws BrokenBarrierError when the barrier is broken or reset while waiting. A Future
   * wrapping the promise (`waitFor(barrier.wait(), t)`) cancels the wait: the party leaves,
   * as asyncio's cancelled wait does.
   */
  wait(): Promise<number> {
    const call = new WaitingCall();
    return registerWaitingCall(this.waiting(call), call);
  }

  private async waiting(call: WaitingCall): Promise<number> {
    await call.during(this.cond.acquire());
    try {
      call.check();
      await this.blockWhileDraining(call);
      const index = this.count;
      this.count += 1;
      try {
        if (index + 1 === this.partyCount) {
          this.state = 'draining';
          this.cond.notifyAll();
        } else {
          await this.waitForRelease(call);
        }
        return index;
      } finally {
        this.count -= 1;
        this.leave();
      }
    } finally {
      this.cond.release();
    }
  }

  /** Back to the empty state; tasks waiting now get BrokenBarrierError. */
  async reset(): Promise<void> {
    await this.cond.acquire();
    try {
      if (this.count > 0) this.state = 'resetting';
      else this.state = 'filling';
      this.cond.notifyAll();
    } finally {
      this.cond.release();
    }
  }

  /** Break the barrier for good: current and future wait() calls throw BrokenBarrierError. */
  async abort(): Promise<void> {
    await this.cond.acquire();
    try {
      this.state = 'broken';
      this.cond.notifyAll();
    } finally {
      this.cond.release();
    }
  }

  get parties(): number {
    return this.partyCount;
  }

  /** Tasks waiting for the barrier to fill. */
  get nWaiting(): number {
    return this.state === 'filling' ? this.count : 0;
  }

  get broken(): boolean {
    return this.state === 'broken';
  }

  /** A description for logs and debugging, as asyncio's repr(). */
  toString(): string {
    const detail = this.broken ? 'broken' : `${this.state}, waiters:${this.nWaiting}/${this.partyCount}`;
    return `<Barrier [${detail}]>`;
  }

  /** Newcomers wait while the previous cycle drains or resets. */
  private async blockWhileDraining(call: WaitingCall): Promise<void> {
    await call.during(this.cond.waitFor(() => this.state !== 'draining' && this.state !== 'resetting'));
    call.check();
    if (this.state === 'broken') throw new BrokenBarrierError('Barrier aborted');
  }

  private async waitForRelease(call: WaitingCall): Promise<void> {
    await call.during(this.cond.waitFor(() => this.state !== 'filling'));
    call.check();
    if (this.state === 'broken' || this.state === 'resetting') {
      throw new BrokenBarrierError('Abort or reset of barrier');
    }
  }

  /** The last task out ends the drain or reset and lets newcomers in. */
  private leave(): void {
    if (this.count !== 0) return;
    if (this.state === 'resetting' || this.state === 'draining') this.state = 'filling';
    this.cond.notifyAll();
  }
}
