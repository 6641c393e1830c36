/** The proactor tests' loop: runs `body` on a ProactorEventLoop and expects nothing reported to its exception handler. */
import type { AsyncLocalStorage } from 'node:async_hooks';
import { expect } from 'vitest';
import { Protocol, type Server, type Transport } from '@loopkit/core';
import { NetProactor, ProactorEventLoop, type NetSocket } from '@loopkit/proactor';

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

/**
 * An echo server on 127.0.0.1 made inside a task that entered `store` as 'task': each
 * dataReceived pushes the store it sees to `seen` (the loop's own context, never the task's).
 */
export async function echoServerFromTask(loop: ProactorEventLoop, store: AsyncLocalStorage<string>, seen: Array<string | undefined>): Promise<Server<NetSocket>> {
  class Echo extends Protocol {
    transport: Transport | null = null;
    override connectionMade(transport: Transport): void {
      this.transport = transport;
    }
    override dataReceived(data: Uint8Array): void {
      seen.push(store.getStore());
      this.transport!.write(data);
    }
  }
  return await loop.createTask(async () => {
    store.enterWith('task');
    return await loop.createServer(() => new Echo(), '127.0.0.1', 0);
  });
}
