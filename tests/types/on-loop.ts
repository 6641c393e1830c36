import { newEventLoop, type AbstractEventLoop } from 'loopkit';

/** Run `body` on a fresh loop (newEventLoop()'s, or `makeLoop`'s) until it completes, then close the loop. */
export async function onLoop<T>(body: (loop: AbstractEventLoop) => Promise<T>, makeLoop: () => AbstractEventLoop = newEventLoop): Promise<T> {
  const loop = makeLoop();
  try {
    return await loop.runUntilComplete(() => body(loop));
  } finally {
    loop.close();
  }
}
