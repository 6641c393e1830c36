/**
 * The loop's ready queue: the entries of one iteration, in order, held in chunks of
 * CHUNK_SIZE.
 *
 * One growing array was the queue before. A burst of a million callSoon calls grew it some
 * thirty times, and past V8's large-object size (128 KB) every growth is a fresh mapping of
 * the whole array: about 24 MB of new pages (six thousand page faults) for 8 MB of
 * pointers, all of it copied. A chunk stays below that size, is allocated young like the
 * handles it holds, and never moves once full.
 */
import type { ReadyEntry } from './handles.js';
import { keepShape } from './shape-keepers.js';

const CHUNK_BITS = 12;
/** 4096 pointers, 32 KB: an ordinary young object, not a large one. */
const CHUNK_SIZE = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK_SIZE - 1;

export class ReadyQueue {
  /** How many entries are queued. */
  length = 0;
  /**
   * The chunk being filled. The first grows as an ordinary array (most iterations queue a
   * few entries); every later one is made whole, so it is never copied.
   */
  private tail: ReadyEntry[] = [];
  private readonly chunks: ReadyEntry[][] = [this.tail];

  push(entry: ReadyEntry): void {
    const index = this.length;
    if (index !== 0 && (index & CHUNK_MASK) === 0) {
      this.tail = new Array<ReadyEntry>(CHUNK_SIZE);
      this.chunks.push(this.tail);
    }
    this.tail[index & CHUNK_MASK] = entry;
    this.length = index + 1;
  }

  /** The entry at `index` (0 <= index < length). */
  at(index: number): ReadyEntry {
    return this.chunks[index >> CHUNK_BITS]![index & CHUNK_MASK]!;
  }

  /** Forget every entry (they were run, or the loop dropped them). */
  clear(): void {
    if (this.length === 0) return;
    // A fresh first chunk: emptying the old one in place (length = 0) is a runtime call. The
    // chunk list itself is trimmed in place (only after a batch past one chunk): replacing it
    // wrote the field a second time, which throws away the optimized code relying on V8's
    // treating it as constant (timer-heap.ts has the same).
    this.tail = [];
    if (this.chunks.length > 1) this.chunks.length = 1;
    this.chunks[0] = this.tail;
    this.length = 0;
  }
}

// Its length and tail change as it fills: mutable in its map from the start (see shape-keepers.ts),
// where the first queue to pass a chunk threw away the code compiled around callSoon.
keepShape('ReadyQueue', new ReadyQueue(), ['length', 'tail']);
