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

/** What a Future (a Task, a gather's future) writes after its constructor: its outcome, callbacks, awaiters, rare state. */
export const futureFieldsWrittenLater: readonly string[] = ['_state', '_result', '_callbacks', '_awaitedBy', '_rare'];

/** @internal the kept objects by name (tests/task-layout.test.ts checks they share real instances' maps) */
export const _shapeKeepers: Record<string, object> = {};

/**
 * Keep `object`, the shape of `name`'s instances, with its fields named in `writtenLater` (those
 * its class writes after the constructor) already mutable in that shape. V8 marks a field of a
 * map const until one of its objects has it written a second time, and that first write
 * throws away all optimized code that relied on it ("dependent field type constness changed"):
 * in a first run, the code compiled for making tasks (their constructors, callSoonEntry)
 * before any task had finished (bench/README.md, session 17). Each such field is written with
 * another value of the same kind (so its representation and type stay), then set back.
 */
export function keepShape(name: string, object: object, writtenLater: readonly string[] = []): void {
  loosenFields(object, writtenLater);
  _shapeKeepers[name] = object;
}

/**
 * Mark `fields` of `object` mutable in its map (see keepShape): each is written with another
 * value of the same kind, so its representation and type stay, then set back.
 */
export function loosenFields(object: object, fields: readonly string[]): void {
  const record = object as Record<string, unknown>;
  for (const field of fields) {
    const value = record[field];
    record[field] = otherValueOfKind(value);
    record[field] = value;
  }
}

function otherValueOfKind(value: unknown): unknown {
  if (typeof value === 'number') return value + 1;
  if (typeof value === 'boolean') return !value;
  if (Array.isArray(value)) return [];
  return value === null ? undefined : null;
}
