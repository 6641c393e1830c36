/**
 * The loop's timers: a 4-ary min-heap ordered by (when, scheduling order), with lazy
 * cancellation.
 *
 * Layout. A timer gets a slot when pushed: the slot table holds its TimerHandle (or the
 * TimerEntry that is its own timer, see handles.ts) at that slot. Slots are handed out in
 * scheduling order (each push takes the next number), so a slot's number is its timer's
 * place in that order, and the tie-break on equal deadlines compares slots: no sequence
 * number is kept, and a push, the newest timer, goes after every equal deadline. The heap
 * itself is two typed arrays, `whens` and `slots`, so a sift moves only numbers: no handle
 * pointer is stored into a big (old-generation) array per level, and the keys compared are
 * read from contiguous memory. Four children per node: half the levels of a binary heap, and
 * a node's children share a cache line or two.
 *
 * The slot table is held in chunks of CHUNK_SIZE, as the ready queue (ready-queue.ts): one
 * array grown by push was copied whole at every growth, past 128 KB into fresh pages, and for
 * 100k timers those page faults were a fifth of the process's. Slots are not reused one by
 * one: when the numbers handed out run past twice the heap's entries, `renumber` gives the
 * entries left slots 0..n-1 in the same order (heap order untouched), and an emptied heap
 * starts again from 0 in its first chunk.
 *
 * Cancellation empties the timer's slot; the heap entry stays until it reaches the top, or
 * until more than half of the heap is cancelled and the heap is rebuilt without them. Either
 * way no handle is touched to find out it was cancelled. The one exception is an entry at
 * the heap's end, which leaves at once (see cancel).
 *
 * Due timers leave by pops, even many at once: a program's first big batch of due timers
 * runs this code before the JIT has optimized it, and a pop (one hot, small loop) is
 * optimized early, where a one-pass split and sort of the due timers ran slower than popping
 * in bench/sched.js (e). The hot paths are written out in few functions for the same reason:
 * each function the JIT compiles on its own costs CPU time in a short-lived program.
 */
import type { ReadyEntry, TimerEntry } from './handles.js';
import { keepShape } from './shape-keepers.js';

const INITIAL_CAPACITY = 64;
/** Slots handed out past twice the heap's entries plus this many make the next push renumber. */
const SLOT_SLACK = 64;
const CHUNK_BITS = 12;
/** 4096 pointers, 32 KB: an ordinary young object, not a large one. */
const CHUNK_SIZE = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK_SIZE - 1;

type Chunk = (TimerEntry | undefined)[];

export class TimerHeap {
  /**
   * The slot table: slot s is `chunks[s >> CHUNK_BITS][s & CHUNK_MASK]`, undefined once its
   * timer left or was cancelled. Changed in place, never replaced: V8 treats a field written
   * only once as constant, and the optimized code that relied on that (push, cancel and
   * callLater with them) is thrown away when the field is first written again, which a
   * fresh table did at the end of a program's first batch of timers.
   */
  private readonly chunks: Chunk[] = [];
  /** The next slot to hand out. */
  private nextSlot = 0;
  // ---- by heap position ----
  private whens = new Float64Array(INITIAL_CAPACITY);
  private slots = new Int32Array(INITIAL_CAPACITY);
  private count = 0;
  /** Heap entries whose timer was cancelled (their slot is empty). */
  private cancelled = 0;

  /** Entries in the heap, cancelled ones included. */
  get size(): number {
    return this.count;
  }

  get cancelledCount(): number {
    return this.cancelled;
  }

  /** The deadline on top (of a timer possibly cancelled since); Infinity when empty. */
  peekWhen(): number {
    return this.count > 0 ? this.whens[0]! : Infinity;
  }

  push(timer: TimerEntry, when: number): void {
    if (this.count === this.whens.length) this.grow();
    let slot = this.nextSlot;
    if (slot > 2 * this.count + SLOT_SLACK) slot = this.renumber();
    if ((slot & CHUNK_MASK) === 0 && slot >> CHUNK_BITS === this.chunks.length) this.chunks.push(new Array(CHUNK_SIZE));
    this.chunks[slot >> CHUNK_BITS]![slot & CHUNK_MASK] = timer;
    this.nextSlot = slot + 1;
    timer._slot = slot;
    const { whens, slots } = this;
    // sift up from the new last position; on a tie the newest timer stays below
    let i = this.count++;
    while (i > 0) {
      const parent = (i - 1) >> 2;
      const pw = whens[parent]!;
      if (pw <= when) break;
      whens[i] = pw;
      slots[i] = slots[parent]!;
      i = parent;
    }
    whens[i] = when;
    slots[i] = slot;
  }

  /**
   * A timer was cancelled: empty its slot if it is still in the heap. An entry at the heap's
   * end leaves at once (taking the last entry keeps the heap's order), and the newest slot
   * is handed out again: that is where a timer lands when it is due after those before it,
   * as a timeout is, so one cancelled before the next timer is made costs no pop later, and
   * the heap holds it no longer (it dies young instead of being copied by the GC).
   */
  cancel(timer: TimerEntry): void {
    const slot = timer._slot;
    // A slot past those handed out belongs to a timer that left before the table restarted.
    if (slot < 0 || slot >= this.nextSlot) return;
    const chunk = this.chunks[slot >> CHUNK_BITS]!;
    if (chunk[slot & CHUNK_MASK] !== timer) return;
    chunk[slot & CHUNK_MASK] = undefined;
    const last = this.count - 1;
    if (this.slots[last] !== slot) {
      this.cancelled++;
      return;
    }
    this.count = last;
    if (last === 0) this.restartSlots();
    else if (slot === this.nextSlot - 1) this.nextSlot = slot;
  }

  /** Step 1: rebuild without the cancelled timers when they are most of the heap, else pop those on top. */
  dropCancelled(): void {
    if (this.cancelled * 2 > this.count) {
      this.rebuild();
      return;
    }
    const { chunks, whens, slots } = this;
    while (this.count > 0) {
      const top = slots[0]!;
      if (chunks[top >> CHUNK_BITS]![top & CHUNK_MASK] !== undefined) break;
      const last = --this.count;
      if (last > 0) this.siftDown(0, whens[last]!, slots[last]!);
      this.cancelled--;
    }
    if (this.count === 0) this.restartSlots();
  }

  /**
   * Step 4: append the live timers due before `end` to `ready`, by (when, scheduling order).
   * (Rebuilding as soon as the timers leaving made more than half of the rest cancelled, so
   * that only live ones are popped, made bench/sched.js (e) slower: the one rebuild runs
   * cold, the pops run optimized.)
   */
  takeDue(end: number, ready: { push(entry: ReadyEntry): void }): void {
    const { chunks, whens, slots } = this;
    while (this.count > 0 && whens[0]! < end) {
      const slot = slots[0]!;
      const chunk = chunks[slot >> CHUNK_BITS]!;
      const timer = chunk[slot & CHUNK_MASK];
      const last = --this.count;
      if (last > 0) this.siftDown(0, whens[last]!, slots[last]!);
      if (timer === undefined) this.cancelled--;
      else {
        chunk[slot & CHUNK_MASK] = undefined;
        ready.push(timer);
      }
    }
    if (this.count === 0) this.restartSlots();
  }

  /** Forget every timer and give the memory back. */
  clear(): void {
    this.chunks.length = 0; // timers still scheduled hold slots: no chunk is empty for certain
    this.nextSlot = 0;
    this.whens = new Float64Array(INITIAL_CAPACITY);
    this.slots = new Int32Array(INITIAL_CAPACITY);
    this.count = 0;
    this.cancelled = 0;
  }

  // ---- internals ----

  /**
   * The heap is empty, so every slot handed out is empty too: hand out slots from 0 again,
   * in the first chunk of the table (a heap that empties and refills one timer at a time
   * allocates no chunk per timer), and give the other chunks back.
   */
  private restartSlots(): void {
    if (this.nextSlot === 0) return;
    if (this.chunks.length > 1) this.chunks.length = 1;
    this.nextSlot = 0;
  }

  private grow(): void {
    const capacity = this.whens.length * 2;
    const whens = new Float64Array(capacity);
    whens.set(this.whens);
    this.whens = whens;
    const slots = new Int32Array(capacity);
    slots.set(this.slots);
    this.slots = slots;
  }

  /**
   * Give the heap's entries slots 0..count-1, keeping their order (so the heap's order holds
   * as it is), in place; returns the next free slot. A cancelled entry keeps an (empty) slot
   * of its own.
   */
  private renumber(): number {
    const { chunks, slots } = this;
    const count = this.count;
    const handedOut = this.nextSlot;
    // Mark the slots in use, then move them down in order: a slot only moves to a lower
    // number, onto one already moved or empty.
    const renamed = new Int32Array(handedOut);
    for (let i = 0; i < count; i++) renamed[slots[i]!] = 1;
    let next = 0;
    for (let slot = 0; slot < handedOut; slot++) {
      if (renamed[slot] === 0) continue;
      const timer = chunks[slot >> CHUNK_BITS]![slot & CHUNK_MASK];
      chunks[next >> CHUNK_BITS]![next & CHUNK_MASK] = timer;
      if (timer !== undefined) timer._slot = next;
      renamed[slot] = next++;
    }
    for (let i = 0; i < count; i++) slots[i] = renamed[slots[i]!]!;
    // Empty the slots the moves left behind in the chunks kept; give the others back.
    const keptChunks = Math.max(1, (next + CHUNK_MASK) >> CHUNK_BITS);
    const end = Math.min(handedOut, keptChunks << CHUNK_BITS);
    for (let slot = next; slot < end; slot++) chunks[slot >> CHUNK_BITS]![slot & CHUNK_MASK] = undefined;
    chunks.length = keptChunks;
    this.nextSlot = next;
    return next;
  }

  private siftDown(start: number, when: number, slot: number): void {
    const { whens, slots } = this;
    const n = this.count;
    let i = start;
    for (;;) {
      const first = 4 * i + 1;
      if (first >= n) break;
      // the smallest of up to four children
      let child = first;
      let cw = whens[first]!;
      const stop = first + 4 < n ? first + 4 : n;
      for (let c = first + 1; c < stop; c++) {
        const w = whens[c]!;
        if (w < cw || (w === cw && slots[c]! < slots[child]!)) {
          child = c;
          cw = w;
        }
      }
      if (when < cw || (when === cw && slot < slots[child]!)) break;
      whens[i] = cw;
      slots[i] = slots[child]!;
      i = child;
    }
    whens[i] = when;
    slots[i] = slot;
  }

  /** Restore the heap order of all entries in O(n). */
  private heapify(): void {
    const { whens, slots } = this;
    for (let i = (this.count - 2) >> 2; i >= 0; i--) this.siftDown(i, whens[i]!, slots[i]!);
  }

  /** Drop every cancelled entry, then restore the heap order. */
  private rebuild(): void {
    const { chunks, whens, slots } = this;
    let n = 0;
    for (let i = 0; i < this.count; i++) {
      const slot = slots[i]!;
      if (chunks[slot >> CHUNK_BITS]![slot & CHUNK_MASK] === undefined) continue;
      whens[n] = whens[i]!;
      slots[n] = slot;
      n++;
    }
    this.count = n;
    this.cancelled = 0;
    if (n === 0) this.restartSlots();
    else this.heapify();
  }
}

keepShape('TimerHeap', new TimerHeap()); // one per loop: its map outlives a loop (see shape-keepers.ts)
