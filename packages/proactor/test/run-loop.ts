/** The proactor tests' loop: runs `body` on a ProactorEventLoop and expects nothing reported to its exception handler. */
import { expect } from 'vitest';
import { NetProactor, ProactorEventLoop } from '@loopkit/proactor';

export async function run<T>(body: (loop: ProactorEventLoop) => Promise<T>, proactor = new NetProactor()): Promise<T> {
  const loop = new ProactorEventLoop(proactor);
  const reports: unknown[] = [];
  loop.setExceptionHandler((_l, ctx) => reports.push(ctx));
  try {
    return await loop.runUntilComplete(() => body(loop));
  } finally {
    loop.close();
    expect(reports).toEqual([]);
  }
}
