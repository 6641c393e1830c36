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

/**
 * An empty first chunk that grows as an ordinary array but holey, as the later chunks are
 * made (`new Array(CHUNK_SIZE)`): with every chunk of one V8 map, the optimized code that
 * stores and reads entries, having seen only a first chunk, is not thrown away at the
 * 4,097th entry of a batch ("wrong map"; bench/README.md, session 17).
 */
function firstChunk(): ReadyEntry[] {
  return new Array<ReadyEntry>(0);
}

export class ReadyQueue {
  /** How many entries are queued. */
  length = 0;
  /**
   * The chunk being filled. The first grows as an ordinary array (most iterations queue a
   * few entries); every later one is made whole, so it is never copied.
   */
  private tail: ReadyEntry[] = firstChunk();
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

  /** Forget every entry (they were run, or the loop closed). */
  clear(): void {
    if (this.length === 0) return;
    // A fresh first chunk: emptying the old one in place (length = 0) is a runtime call. The
    // chunk list itself is trimmed in place (only after a batch past one chunk): replacing it
    // wrote the field a second time, which throws away the optimized code relying on V8's
    // treating it as constant (timer-heap.ts has the same).
    this.tail = firstChunk();
    if (this.chunks.length > 1) this.chunks.length = 1;
    this.chunks[0] = this.tail;
    this.length = 0;
  }

  /**
   * Put the entries of `rest` from `start` on ahead of this queue's own, and empty `rest`:
   * the part of a batch an exception escaped before it ran stays first in line, as in
   * asyncio's `_ready`. Only then, so copying is no concern.
   */
  putAhead(rest: ReadyQueue, start: number): void {
    const own: ReadyEntry[] = [];
    for (let i = 0; i < this.length; i++) own.push(this.at(i));
    this.clear();
    for (let i = start; i < rest.length; i++) this.push(rest.at(i));
    rest.clear();
    for (const entry of own) this.push(entry);
  }
}

/**
 * A queue filled past one chunk and emptied at load, kept (see shape-keepers.ts): its length and
 * tail mutable in the map from the start, and push's `new Array` and at()'s read of a second
 * chunk seen. Otherwise the first queue to pass a chunk, in the middle of a program's first
 * burst, threw away the code inlining push (Task's constructor, callSoon's) for an allocation
 * it had never seen, and the next burst compiled it again (bench/README.md, session 17).
 */
function queuePastOneChunk(): ReadyQueue {
  const queue = new ReadyQueue();
  const entry: ReadyEntry = { _run: () => undefined };
  // Some rounds: V8 gives a function its feedback vector only after several calls (8 on Node 20).
  for (let round = 0; round < 32; round++) {
    queue.push(entry);
    queue.length = CHUNK_SIZE; // as if the first chunk were full, without 4,096 pushes at load
    queue.push(entry);
    queue.at(0);
    queue.at(CHUNK_SIZE);
    queue.clear();
  }
  return queue;
}
keepShape('ReadyQueue', queuePastOneChunk(), ['length', 'tail']);
