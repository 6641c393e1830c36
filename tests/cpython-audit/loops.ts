/**
 * The loops the audit runs each scenario on: the one `newEventLoop()` gives (what a user gets)
 * and the proactor by name, as the acceptance tests do.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe } from 'vitest';
import { ProactorEventLoop, newEventLoop, openConnection, sleep, startServer, type AbstractEventLoop, type ExceptionContext, type Socket, type StreamWriter, type Transport } from 'loopkit';

/** An async function giving a value after so many loop iterations (the conformance suite's). */
export { afterIterations } from '@loopkit/conformance/support';

export type MakeLoop = () => AbstractEventLoop;

const loops: Array<[string, MakeLoop]> = [
  ['newEventLoop()', () => newEventLoop()],
  ['ProactorEventLoop', () => new ProactorEventLoop()],
];

/** Declares the suite `body` once per loop. */
export function onEachLoop(title: string, body: (make: MakeLoop) => void): void {
  for (const [name, make] of loops) describe(`${title} [${name}]`, () => body(make));
}

/**
 * Runs `main` as the main task of a fresh loop whose exception handler records into `reports`
 * (IsolatedAsyncioTestCase's shape), then closes the loop.
 */
export async function runIn<T>(make: MakeLoop, main: (loop: AbstractEventLoop, reports: ExceptionContext[]) => Promise<T>): Promise<T> {
  const loop = make();
  const reports: ExceptionContext[] = [];
  loop.setExceptionHandler((_loop, context) => reports.push(context));
  try {
    return await loop.runUntilComplete(() => main(loop, reports));
  } finally {
    loop.close();
  }
}

/** The error `promise` rejects with (fails when it resolves). */
export async function rejection(promise: PromiseLike<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection, got a result');
}

/** Block the thread for `seconds` (asyncio tests' time.sleep: the loop is busy). */
export function busyWait(seconds: number): void {
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until);
}

/** The TCP port a server listens on (its first socket). */
export function portOf(server: { sockets: readonly unknown[] }): number {
  return ((server.sockets[0] as Socket).getsockname() as { port: number }).port;
}

/**
 * A stream connection on the running loop whose peer reads nothing until `resumeReading()`,
 * its client `writer` written to until its writing is paused (the buffer past the high mark);
 * `close()` closes both ends and waits.
 */
export async function pausedWriting(): Promise<{ writer: StreamWriter; resumeReading: () => void; close: () => Promise<void> }> {
  let resumeReading: (() => void) | null = null;
  const server = await startServer(async (reader, writer) => {
    const transport = writer.transport as Transport;
    transport.pauseReading();
    resumeReading = () => transport.resumeReading();
    await reader.read();
    writer.close();
  }, '127.0.0.1', 0);
  const [, writer] = await openConnection('127.0.0.1', portOf(server));
  while (resumeReading === null) await sleep(0.001);
  const transport = writer.transport as Transport;
  for (let i = 0; i < 400 && transport.getWriteBufferSize() <= 64 * 1024; i++) {
    writer.write(Buffer.alloc(256 * 1024));
    await sleep(0.001);
  }
  const close = async (): Promise<void> => {
    writer.close();
    await writer.waitClosed();
    server.close();
    await server.waitClosed();
  };
  return { writer, resumeReading: resumeReading as () => void, close };
}

/** A fresh temporary directory per test of the calling file (for Unix socket paths), removed after it; call at module level. */
export function tempDirPerTest(prefix: string): (name: string) => string {
  let dir = '';
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  return (name) => path.join(dir, name);
}
