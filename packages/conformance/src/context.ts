/**
 * The conformance suite's shared context: one loop factory and its capabilities.
 * Every loop class (TestLoop, BaseEventLoop, SelectorEventLoop, ProactorEventLoop, ...)
 * runs the same suites; a suite that needs a capability skips when the loop lacks it, as
 * asyncio's EventLoopTestsMixin does.
 */
import type { AbstractEventLoop } from '@loopkit/core';
import type { Capabilities, Capability } from './capabilities.js';

export interface LoopUnderTest {
  name: string;
  make: () => AbstractEventLoop;
  /** What the loop can do (detected, then narrowed by the caller). */
  caps: Capabilities;
  /** For each absent capability, why (quoted by the tests that skip for it). */
  why: Partial<Record<Capability, string>>;
}

/** null when the loop has every one of `caps`; else the skip reason, naming the first it lacks and why. */
export function lacks(subject: LoopUnderTest, ...caps: Capability[]): string | null {
  const missing = caps.find((c) => !subject.caps[c]);
  if (missing === undefined) return null;
  return `skipped: the loop has no ${missing} (${subject.why[missing] ?? 'not detected'})`;
}

/** null on a real-time loop; on a virtual clock (TestLoop) the skip reason of tests that wait on the world outside. */
export function needsRealTime(subject: LoopUnderTest, what: string): string | null {
  return subject.caps.virtualTime ? `skipped: the loop's time is virtual (advance()), and ${what} run in real time` : null;
}

/** The loop of the withLoop still running, and a promise settled once it is closed. */
let running: { loop: AbstractEventLoop; closed: Promise<void> } | null = null;

/**
 * Run `body` as the main coroutine on a fresh loop, then close the loop.
 * Loop-level errors reported to the exception handler are collected in `reports`.
 *
 * A runner that times a test out leaves its loop running, and while it runs no other loop
 * can: every later test would fail with "another loop is running". So a loop still running
 * here is stopped first (its test then ends with asyncio's "Event loop stopped before Future
 * completed"), and one hang stays one failure.
 */
export async function withLoop<T>(
  subject: LoopUnderTest,
  body: (loop: AbstractEventLoop, reports: unknown[]) => Promise<T>,
): Promise<T> {
  if (running !== null) {
    running.loop.stop();
    await running.closed;
  }
  const loop = subject.make();
  const reports: unknown[] = [];
  loop.setExceptionHandler((_loop, context) => {
    reports.push(context);
  });
  let markClosed!: () => void;
  const mine = { loop, closed: new Promise<void>((resolve) => (markClosed = resolve)) };
  running = mine;
  try {
    return await loop.runUntilComplete(() => body(loop, reports));
  } finally {
    if (running === mine) running = null;
    // Resolved first, acted on after close() below: a close() that throws still frees the next test.
    markClosed();
    loop.close();
  }
}
