/** The proactor tests' loop: runs `body` on a ProactorEventLoop and expects nothing reported to its exception handler. */
import { expect } from 'vitest';
import { NetProactor, ProactorEventLoop } from '@loopkit/proactor';

export function run<T>(body: (loop: ProactorEventLoop) => Promise<T>, proactor = new NetProactor()): Promise<T> {
  return runOn(new ProactorEventLoop(proactor), body);
}

/** Runs `body` on `loop`, closes it, and expects nothing reported to its exception handler. */
export async function runOn<L extends ProactorEventLoop, T>(loop: L, body: (loop: L) => Promise<T>): Promise<T> {
  const reports: unknown[] = [];
  loop.setExceptionHandler((_l, ctx) => reports.push(ctx));
  try {
    return await loop.runUntilComplete(() => body(loop));
  } finally {
    loop.close();
    expect(reports).toEqual([]);
  }
}
