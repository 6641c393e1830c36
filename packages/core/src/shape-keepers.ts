/**
 * One object of each class the task, callback, timer and Future paths make by the thousand
 * (and of the timer heap and ready queue each loop has), kept for the life of the
 * process in the shape (V8's map) every instance reaches in its constructor. V8 holds such a
 * map only weakly (from its parent map's transitions and from optimized code): once every
 * object of a run is gone, a full GC collects the map, the next run's objects get a new one,
 * and the optimized code of the whole hot path, which checks for the old map, is thrown away
 * and compiled again (bench/README.md, session 16: 13 functions after a burst of tasks, a
 * gather and a GC). None of the kept objects is live: no loop, registry or queue knows them.
 */
import type { AbstractEventLoop } from './events.js';

/** What a kept object's constructor is given for a loop: its constructor only reads these two. */
export const shapeLoop = { callSoon: () => undefined, getDebug: () => false } as unknown as AbstractEventLoop;

/** @internal the kept objects by name (tests/task-layout.test.ts checks they share real instances' maps) */
export const _shapeKeepers: Record<string, object> = {};

/** Keep `object`, the shape of `name`'s instances. */
export function keepShape(name: string, object: object): void {
  _shapeKeepers[name] = object;
}
