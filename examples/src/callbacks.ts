/**
 * Seed: invoking callbacks. A coroutine creates a Future and schedules a plain function
 * with callLater to resolve it; the function blocks its thread for 2 seconds first (as
 * Python's time.sleep does, with Atomics.wait), so nothing else runs meanwhile.
 */
import { Future, getEventLoop } from 'loopkit';
import { banner, blockingSleep, seconds, threadName } from './common.js';

function resolver(future: Future<null>): void {
  console.log(`Is loop running in thread ${threadName()} = ${getEventLoop().isRunning()}\n`);

  blockingSleep(seconds(2));
  future.setResult(null);
}

async function coro(): Promise<void> {
  const future = new Future<null>();

  const loop = getEventLoop();
  loop.callLater(seconds(5), resolver, future);

  console.log(`Is loop running in thread ${threadName()} = ${getEventLoop().isRunning()}\n`);

  await future;
  console.log('coro exiting');
}

const loop = getEventLoop();
banner(loop);
console.log(`Is loop running in thread ${threadName()} = ${getEventLoop().isRunning()}\n`);

await loop.runUntilComplete(coro);
console.log('main exiting');
