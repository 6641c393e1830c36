/**
 * The loop world's set of aged-task records (world.ts' `agedTasks`), kept in an array.
 *
 * A Set of 100k records holds a hash table of 20 bytes per slot, at a power-of-two capacity:
 * 2.6 MB, 26 bytes an idle task (a twentieth of what one holds). An array holds 8 bytes a
 * slot. A removed record is marked in itself (the REMOVED key) rather than looked up, and
 * the array is rebuilt without the removed records once they outnumber the others.
 *
 * It is a Set to every copy of core in the thread (layout v1 of the world): it extends Set
 * and answers add, delete, has, size, clear and iteration as a Set does, in insertion order.
 * An iterator made before a rebuild goes on over the array it began on: it skips what was
 * removed since, and does not see what was added after the rebuild (a Set's iterator would).
 * The registry's sweep, the one iteration that spans host tasks, sweeps those next time.
 */

/**
 * Where a record says whether it is in the set: false once added, true once removed. The
 * registry's AgedRecord answers it from its notes (no field of its own: false until removed);
 * a record of an older copy of core gets a property.
 */
export const REMOVED: unique symbol = Symbol.for('loopkit.world.v1.agedRecordRemoved');

/** What the set needs of a record. */
export interface Removable {
  [REMOVED]?: boolean;
}

/** A rebuild waits for at least this many removed records, so small sets are not rebuilt on every removal. */
const MIN_REBUILD = 1024;

/** A Set of records kept in an array, a removed record marked in itself (see above). */
export class AgedSet<T extends object> extends Set<T> {
  private records: T[] = [];
  /** how many of `records` are marked removed */
  private removedCount = 0;

  override get size(): number {
    return this.records.length - this.removedCount;
  }

  /** Each record is added once, when its task ages (as the registry of every copy does); again only after its removal. */
  override add(record: T): this {
    const mark = record as Removable;
    // Added again after a removal: its old slot goes first.
    if (mark[REMOVED] === true) this.rebuild();
    mark[REMOVED] = false;
    this.records.push(record);
    return this;
  }

  override delete(record: T): boolean {
    const mark = record as Removable;
    // false: added and not removed (undefined: never added).
    if (mark[REMOVED] !== false) return false;
    mark[REMOVED] = true;
    this.removedCount += 1;
    if (this.removedCount >= MIN_REBUILD && this.removedCount * 2 > this.records.length) this.rebuild();
    return true;
  }

  /** Linear: the registry never asks (it keeps its record on the task). */
  override has(record: T): boolean {
    return (record as Removable)[REMOVED] !== true && this.records.includes(record);
  }

  override clear(): void {
    for (const record of this.records) (record as Removable)[REMOVED] = true;
    this.records = [];
    this.removedCount = 0;
  }

  override *values(): SetIterator<T> {
    const records = this.records;
    // records.length is read at every step: records added meanwhile are visited, as in a Set.
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      if ((record as Removable)[REMOVED] !== true) yield record;
    }
  }

  override keys(): SetIterator<T> {
    return this.values();
  }

  override *entries(): SetIterator<[T, T]> {
    for (const record of this.values()) yield [record, record];
  }

  override [Symbol.iterator](): SetIterator<T> {
    return this.values();
  }

  override forEach(callback: (value: T, key: T, set: Set<T>) => void, thisArg?: unknown): void {
    for (const record of this.values()) callback.call(thisArg, record, record, this);
  }

  /** A new array of the records not removed: iterators under way keep the old one. */
  private rebuild(): void {
    this.records = this.records.filter((record) => (record as Removable)[REMOVED] !== true);
    this.removedCount = 0;
  }
}
