/** Finishing orders set by loop iterations, for tests that must hold on a loaded machine. */
import { sleep } from '@loopkit/core';

/**
 * An async function that gives `value` (or throws it if an Error) after `iterations` loop
 * iterations (one `sleep(0)` each): an order by counts holds on a loaded machine, where timers a
 * few milliseconds apart swap (each task reads the clock at its own first step, and a stall
 * between two steps moves one deadline past another).
 */
export function afterIterations<T>(iterations: number, value: T): () => Promise<T> {
  return async () => {
    for (let i = 0; i < iterations; i++) await sleep(0);
    if (value instanceof Error) throw value;
    return value;
  };
}
