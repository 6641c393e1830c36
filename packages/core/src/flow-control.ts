/**
 * Write flow control (asyncio's _FlowControlMixin): high/low water marks and the paused
 * flag that makes pauseWriting/resumeWriting alternate, once per crossing. Every transport
 * with a write buffer (stream or datagram) keeps one of these.
 */
import type { WriteBufferLimits } from './transports.js';
import { checkOptions, describe } from './validate.js';

/** Default high-water mark of a write buffer, in bytes (64 KiB, as asyncio); the low one is a quarter of it. */
export const DEFAULT_HIGH_WATER = 64 * 1024;

/** A write buffer's water marks and the paused state: pauseWriting() above high, resumeWriting() once at or below low. */
export class WriteFlowControl {
  high = DEFAULT_HIGH_WATER;
  low = DEFAULT_HIGH_WATER / 4;
  /** pauseWriting was called and resumeWriting not yet. */
  paused = false;

  /**
   * Set the marks from `({high, low})` or `(high, low)`. Only high given: low = high/4;
   * only low: high = 4*low; neither: the defaults. Throws unless high >= low >= 0.
   */
  set(limits?: WriteBufferLimits | number | null, lowArg?: number | null): void {
    let high: number | null | undefined;
    let low: number | null | undefined;
    if (typeof limits === 'number') {
      high = limits;
      low = lowArg;
    } else if (limits === undefined || limits === null) {
      low = lowArg;
    } else if (typeof limits === 'object') {
      ({ high, low } = checkOptions(limits, ['high', 'low'], 'setWriteBufferLimits'));
    } else {
      throw new TypeError(`limits must be {high?, low?} or a number, got ${describe(limits)}`);
    }
    checkLimit(high, 'high');
    checkLimit(low, 'low');
    if (high === undefined || high === null) high = low === undefined || low === null ? DEFAULT_HIGH_WATER : 4 * low;
    if (low === undefined || low === null) low = Math.floor(high / 4);
    if (!(high >= low && low >= 0)) {
      throw new RangeError(`high (${high}) must be >= low (${low}) must be >= 0`);
    }
    this.high = high;
    this.low = low;
  }

  /** True when `size` crossed the high mark while not paused: call pauseWriting now. */
  shouldPause(size: number): boolean {
    if (this.paused || size <= this.high) return false;
    this.paused = true;
    return true;
  }

  /** True when `size` fell to the low mark while paused: call resumeWriting now. */
  shouldResume(size: number): boolean {
    if (!this.paused || size > this.low) return false;
    this.paused = false;
    return true;
  }
}

function checkLimit(value: unknown, name: string): void {
  if (value === undefined || value === null) return;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${name} must be a number of bytes, got ${describe(value)}`);
  }
  if (value < 0) throw new RangeError(`${name} must be >= 0, got ${value}`);
}
