/**
 * Seed: run an event loop. The coroutine sleeps 10 seconds (scaled: see common.ts). Both
 * forms of the seed work: `run(doSomethingImportant)` (Python 3.7+'s asyncio.run) and the
 * explicit loop below.
 */
import { getEventLoop, sleep } from 'loopkit';
import { banner, seconds } from './common.js';

async function doSomethingImportant(): Promise<void> {
  await sleep(seconds(10));
}

const start = performance.now();

// await run(doSomethingImportant);

const loop = getEventLoop();
banner(loop);
await loop.runUntilComplete(doSomethingImportant);

console.log(`Program ran for ${((performance.now() - start) / 1000).toFixed(2)} seconds`);
