/** Edge cases of core that need a particular loop class or a broken backend. */
import { describe, expect, it } from 'vitest';
import {
  BaseEventLoop,
  BufferedProtocol,
  LimitOverrunError,
  Protocol,
  TestLoop,
  gather,
  memoryTransportPair,
  sleep,
  wrapFuture,
  type ExceptionContext,
  type Transport,
} from '@loopkit/core';

describe('core edge cases', () => {
  it("time() reads CLOCK_MONOTONIC in seconds, as asyncio's time.monotonic(): the clock process.hrtime reads", () => {
    const loop = new BaseEventLoop();
    const [seconds, nanoseconds] = process.hrtime();
    const hrtime = seconds + nanoseconds / 1e9;
    const time = loop.time();
    // performance.now() would count from the process's start, not the system's.
    expect(time - hrtime).toBeGreaterThanOrEqual(0);
    expect(time - hrtime).toBeLessThan(1);
    loop.close();
  });

  it('time() reads the process.hrtime taken at import: replacing process.hrtime later does not move the clock', () => {
    const loop = new BaseEventLoop();
    const original = process.hrtime;
    const fake = Object.assign((): [number, number] => [5, 0], { bigint: original.bigint });
    process.hrtime = fake;
    let time: number;
    try {
      time = loop.time();
    } finally {
      process.hrtime = original;
      loop.close();
    }
    const [seconds, nanoseconds] = process.hrtime();
    expect(time).not.toBe(5);
    expect(Math.abs(time - (seconds + nanoseconds / 1e9))).toBeLessThan(1);
  });

  it('a backend whose ioStart throws leaves the loop stopped, not stuck running', async () => {
    class Broken extends BaseEventLoop {
      override ioStart(): void {
        throw new Error('cannot watch');
      }
    }
    const broken = new Broken();
    await expect(broken.runForever()).rejects.toThrow('cannot watch');
    expect(broken.isRunning()).toBe(false);
    broken.close();
    const other = new TestLoop();
    expect(await other.runUntilComplete(async () => 'ran')).toBe('ran');
    other.close();
  });

  it('a wrapped promise that settles after its loop closed goes nowhere (no unhandled rejection)', async () => {
    const loop = new TestLoop();
    let resolveLater!: (v: string) => void;
    const late = new Promise<string>((resolve) => {
      resolveLater = resolve;
    });
    let rejectLater!: (e: Error) => void;
    const lateError = new Promise<string>((_resolve, reject) => {
      rejectLater = reject;
    });
    const futures = await loop.runUntilComplete(async () => [wrapFuture(late), wrapFuture(lateError)]);
    loop.close();
    resolveLater('too late');
    rejectLater(new Error('too late'));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(futures.map((f) => f.done())).toEqual([false, false]);
  });

  it('gather with a bad argument after a coroutine function throws TypeError and reports nothing else', async () => {
    const loop = new TestLoop();
    const reports: ExceptionContext[] = [];
    loop.setExceptionHandler((_l, ctx) => reports.push(ctx));
    await loop.runUntilComplete(async () => {
      expect(() =>
        gather(async () => {
          throw new Error('child');
        }, 42 as never),
      ).toThrow(TypeError);
      await sleep(0);
      await sleep(0);
    });
    loop.close();
    expect(reports.filter((r) => String(r.message).startsWith('Exception in callback'))).toEqual([]);
  });

  it('LimitOverrunError is also a RangeError (asyncio readline raises ValueError)', () => {
    const error = new LimitOverrunError('too long', 10);
    expect(error).toBeInstanceOf(RangeError);
    expect(error.consumed).toBe(10);
  });

  it('shutdownDefaultExecutor rejects a bad timeout before shutting anything down', async () => {
    const loop = new BaseEventLoop();
    const shutdowns: boolean[] = [];
    loop.setDefaultExecutor({
      submit: async () => undefined as never,
      shutdown: async (wait: boolean) => void shutdowns.push(wait),
    });
    await expect(loop.shutdownDefaultExecutor('soon' as never)).rejects.toThrow(TypeError);
    expect(shutdowns).toEqual([]);
    await loop.shutdownDefaultExecutor();
    expect(shutdowns).toEqual([true]);
    loop.close();
  });

  it('a BufferedProtocol that pauses reading mid-chunk gets the rest only after resuming, in order', async () => {
    const loop = new TestLoop();
    await loop.runUntilComplete(async () => {
      const received: number[] = [];
      let transport: Transport | null = null;
      class Small extends BufferedProtocol {
        private readonly buf = new Uint8Array(4);
        override connectionMade(t: Transport): void {
          transport = t;
        }
        override getBuffer(): Uint8Array {
          return this.buf;
        }
        override bufferUpdated(n: number): void {
          received.push(...this.buf.subarray(0, n));
          if (received.length === 4) transport!.pauseReading();
        }
      }
      const reader = new Small();
      const [, sender] = memoryTransportPair(loop, reader, new Protocol());
      await sleep(0);
      sender.write(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
      await sleep(0.01);
      expect(received).toEqual([1, 2, 3, 4]);
      transport!.resumeReading();
      await sleep(0.01);
      expect(received).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });
    loop.close();
  });
});
