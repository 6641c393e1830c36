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
 * A chunk of CHUNK_SIZE slots, made whole and already of the elements kind entries give it
 * (holey, objects: the `undefined` written moves it off small integers), so push's store
 * sees one map and never grows an array. A first chunk that grew as an ordinary array, kept
 * through clear(), gave that store an in-bounds handler first and a growing store on the
 * same map later, which V8 answers by making the site megamorphic ("same map added twice";
 * bench/README.md, session 23 (s23-queue)).
 */
function newChunk(): ReadyEntry[] {
  const chunk = new Array<ReadyEntry | undefined>(CHUNK_SIZE);
  chunk[0] = undefined;
  return chunk as ReadyEntry[];
}

export class ReadyQueue {
  /** How many entries are queued. */
  length = 0;
  /** The chunk being filled. The first is kept through clear(); the later ones are made as needed. */
  private tail: ReadyEntry[] = newChunk();
  private readonly chunks: ReadyEntry[][] = [this.tail];

  push(entry: ReadyEntry): void {
    const index = this.length;
    const slot = index & CHUNK_MASK;
    // A new chunk once in CHUNK_SIZE pushes, out of line: push is inlined into every
    // scheduling path's optimized code (Task's constructor, sleep's, callSoon's), so its body
    // is kept to the common case.
    if (slot === 0 && index !== 0) this.addChunk();
    this.tail[slot] = entry;
    this.length = index + 1;
  }

  private addChunk(): void {
    this.tail = newChunk();
    this.chunks.push(this.tail);
  }

  /** The entry at `index` (0 <= index < length). */
  at(index: number): ReadyEntry {
    return this.chunks[index >> CHUNK_BITS]![index & CHUNK_MASK]!;
  }

  /** Forget every entry (they were run, or the loop closed). */
  clear(): void {
    const length = this.length;
    if (length === 0) return;
    // The first chunk is kept, its used slots emptied so that no run entry stays alive: a
    // fresh one per iteration was an allocation and a grown array (~90 instructions an echo
    // round trip, bench/README.md session 22 (s22-batch)). The chunk list is trimmed in
    // place (only after a batch past one chunk): replacing it wrote the field a second time,
    // which throws away the optimized code relying on V8's treating it as constant
    // (timer-heap.ts has the same).
    const chunks = this.chunks;
    const first = chunks[0] as (ReadyEntry | undefined)[];
    const used = length < CHUNK_SIZE ? length : CHUNK_SIZE;
    for (let i = 0; i < used; i++) first[i] = undefined;
    if (chunks.length > 1) {
      chunks.length = 1;
      this.tail = first as ReadyEntry[];
    }
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
