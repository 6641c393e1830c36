/**
 * The conformance suite's shared context: one loop factory and its capabilities.
 * Every loop class (TestLoop, BaseEventLoop, SelectorEventLoop, ProactorEventLoop, ...)
 * runs the same suites; a suite that needs a capability skips when the loop lacks it, as
 * asyncio's EventLoopTestsMixin does.
 */
import type { AbstractEventLoop } from '@loopkit/core';

export interface LoopCapabilities {
  /** time() is virtual: timers fire instantly and exactly (TestLoop). */
  virtualTime: boolean;
  /** The loop does network I/O (createConnection, sock*, ...). */
  network: boolean;
  /** addReader/addWriter work (a selector loop). */
  readiness: boolean;
}

export interface LoopUnderTest {
  name: string;
  make: () => AbstractEventLoop;
  caps: LoopCapabilities;
}

/**
 * Run `body` as the main coroutine on a fresh loop, then close the loop.
 * Loop-level errors reported to the exception handler are collected in `reports`.
 */
export async function withLoop<T>(
  subject: LoopUnderTest,
  body: (loop: AbstractEventLoop, reports: unknown[]) => Promise<T>,
): Promise<T> {
  const loop = subject.make();
  const reports: unknown[] = [];
  loop.setExceptionHandler((_loop, context) => {
    reports.push(context);
  });
  try {
    return await loop.runUntilComplete(() => body(loop, reports));
  } finally {
    loop.close();
  }
}
