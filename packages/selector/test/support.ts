/** What the selector package's tests share: a fresh loop per test, and waiting on a condition. */
import { sleep } from '@loopkit/core';
import { SelectorEventLoop, type BaseSelector } from '@loopkit/selector';

/** Run `body` on a fresh SelectorEventLoop (closed afterwards); errors reported to the handler are collected. */
export async function onLoop<T>(body: (loop: SelectorEventLoop, reports: unknown[]) => Promise<T>, selector?: BaseSelector): Promise<T> {
  const loop = new SelectorEventLoop(selector ?? null);
  const reports: unknown[] = [];
  loop.setExceptionHandler((_loop, context) => reports.push(context));
  try {
    return await loop.runUntilComplete(() => body(loop, reports));
  } finally {
    loop.close();
  }
}

export async function waitUntil(cond: () => boolean, timeout = 5): Promise<void> {
  const end = Date.now() + timeout * 1000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeout}s: ${cond}`);
    await sleep(0.002);
  }
}
