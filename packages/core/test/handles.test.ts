/**
 * Handle and TimerHandle keep no cancelled flag of their own: cancel() drops the callback,
 * and that is what cancelled(), `_cancelled` (read by the selector's ready fds) and `_run`
 * see. These pin the states asyncio's handles go through.
 */
import { describe, expect, it } from 'vitest';
import { BaseEventLoop } from '../src/base-events.js';
import type { ExceptionContext } from '../src/events.js';
import { Handle, TimerHandle, type HandleOwner, type TimerEntry } from '../src/handles.js';

function owner(): HandleOwner & { cancelledTimers: TimerEntry[]; reports: ExceptionContext[] } {
  const cancelledTimers: TimerEntry[] = [];
  const reports: ExceptionContext[] = [];
  return {
    cancelledTimers,
    reports,
    callExceptionHandler: (context) => void reports.push(context),
    _timerHandleCancelled: (timer) => void cancelledTimers.push(timer),
  };
}

describe('Handle', () => {
  it('runs until cancelled, and a handle that ran is not cancelled', () => {
    const calls: unknown[][] = [];
    const handle = new Handle((...args: unknown[]) => void calls.push(args), [1, 2], owner());
    expect(handle.cancelled()).toBe(false);
    expect(handle._cancelled).toBe(false);
    handle._run();
    expect(calls).toEqual([[1, 2]]);
    expect(handle.cancelled()).toBe(false);
    handle.cancel();
    expect(handle.cancelled()).toBe(true);
    expect(handle._cancelled).toBe(true);
    handle._run();
    expect(calls).toEqual([[1, 2]]);
    expect(String(handle)).toContain('cancelled');
  });

  it('cancel() drops the callback and its arguments, and may be called again', () => {
    const big = { payload: new Uint8Array(16) };
    const handle = new Handle(() => big, [big], owner());
    handle.cancel();
    handle.cancel();
    expect(handle._callback).toBeNull();
    expect(handle._args).toEqual([]);
    expect(handle.cancelled()).toBe(true);
  });

  it('reports a throwing callback to its owner and stays not cancelled', () => {
    const loop = owner();
    const error = new Error('boom');
    const handle = new Handle(() => {
      throw error;
    }, [], loop);
    handle._run();
    expect(loop.reports).toHaveLength(1);
    expect(loop.reports[0]!.exception).toBe(error);
    expect(loop.reports[0]!.handle).toBe(handle);
    expect(handle.cancelled()).toBe(false);
  });
});

describe('TimerHandle', () => {
  it('tells its owner once, on the first cancel(), and keeps when()', () => {
    const loop = owner();
    const timer = new TimerHandle(12.5, () => {}, [], loop);
    timer.cancel();
    timer.cancel();
    expect(loop.cancelledTimers).toEqual([timer]);
    expect(timer.cancelled()).toBe(true);
    expect(timer._cancelled).toBe(true);
    expect(timer.when()).toBe(12.5);
  });

  it('a cancelled timer never runs on a loop, its neighbours do', async () => {
    const loop = new BaseEventLoop();
    const log: string[] = [];
    loop.callLater(0.001, () => log.push('first'));
    const dropped = loop.callLater(0.001, () => log.push('dropped'));
    loop.callLater(0.002, () => {
      log.push('last');
      loop.stop();
    });
    dropped.cancel();
    await loop.runForever();
    loop.close();
    expect(log).toEqual(['first', 'last']);
    expect(dropped.cancelled()).toBe(true);
  });
});
