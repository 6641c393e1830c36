/**
 * The loop's timers: a 4-ary min-heap ordered by (when, scheduling order), with lazy
 * cancellation.
 *
 * Layout. A timer gets a slot when pushed: `handles[slot]` holds its TimerHandle (or the
 * TimerEntry that is its own timer, see handles.ts). Slots are
 * handed out in scheduling order (each push takes the next number), so a slot's number is its
 * timer's place in that order, and the tie-break on equal deadlines compares slots: no
 * sequence number is kept, and a push, the newest timer, goes after every equal deadline.
 * The heap itself is two typed arrays, `whens` and `slots`, so a sift moves only numbers: no
 * handle pointer is stored into a big (old-generation) array per level, and the keys
 * compared are read from contiguous memory. Four children per node: half the levels of a
 * binary heap, and a node's children share a cache line or two.
 *
 * Slots are not reused one by one: when the numbers handed out run past twice the heap's
 * entries, `renumber` gives the entries left slots 0..n-1 in the same order (heap order
 * untouched), and an emptied heap starts again from 0.
 *
 * Cancellation empties the timer's slot (`handles[slot] = undefined`); the heap entry stays
 * until it reaches the top, or until more than half of the heap is cancelled and the heap is
 * rebuilt without them. Either way no handle is touched to find out it was cancelled.
 *
 * Due timers leave by pops, even many at once: a program's first big batch of due timers
 * runs this code before the JIT has optimized it, and a pop (one hot, small loop) is
 * optimized early, where a one-pass split and sort of the due timers ran slower than popping
 * in bench/sched.js (e). The hot paths are written out in few functions for the same reason:
 * each function the JIT compiles on its own costs CPU time in a short-lived program.
 */
import type { ReadyEntry, TimerEntry } from './handles.js';

const INITIAL_CAPACITY = 64;
/** Slots handed out past twice the heap's entries plus this many make the next push renumber. */
const SLOT_SLACK = 64;

export class TimerHeap {
  /** By slot: the timer, or undefined once it left the heap or was cancelled. */
  private handles: (TimerEntry | undefined)[] = [];
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
    let slot = this.handles.length;
    if (slot > 2 * this.count + SLOT_SLACK) slot = this.renumber();
    this.handles.push(timer);
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

  /** A timer was cancelled: empty its slot if it is still in the heap. */
  cancel(timer: TimerEntry): void {
    const slot = timer._slot;
    if (slot >= 0 && this.handles[slot] === timer) {
      this.handles[slot] = undefined;
      this.cancelled++;
    }
  }

  /** Step 1: rebuild without the cancelled timers when they are most of the heap, else pop those on top. */
  dropCancelled(): void {
    if (this.cancelled * 2 > this.count) {
      this.rebuild();
      return;
    }
    const { handles, whens, slots } = this;
    while (this.count > 0 && handles[slots[0]!] === undefined) {
      const last = --this.count;
      if (last > 0) this.siftDown(0, whens[last]!, slots[last]!);
      this.cancelled--;
    }
    if (this.count === 0) this.handles = [];
  }

  /** Step 4: append the live timers due before `end` to `ready`, by (when, scheduling order). */
  takeDue(end: number, ready: { push(entry: ReadyEntry): void }): void {
    const { handles, whens, slots } = this;
    while (this.count > 0 && whens[0]! < end) {
      const slot = slots[0]!;
      const timer = handles[slot];
      const last = --this.count;
      if (last > 0) this.siftDown(0, whens[last]!, slots[last]!);
      if (timer === undefined) this.cancelled--;
      else {
        handles[slot] = undefined;
        ready.push(timer);
      }
    }
    if (this.count === 0) this.handles = [];
  }

  /** Forget every timer and give the memory back. */
  clear(): void {
    this.handles = [];
    this.whens = new Float64Array(INITIAL_CAPACITY);
    this.slots = new Int32Array(INITIAL_CAPACITY);
    this.count = 0;
    this.cancelled = 0;
  }

  // ---- internals ----

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
   * as it is); returns the next free slot. A cancelled entry keeps an (empty) slot of its own.
   */
  private renumber(): number {
    const { handles, slots } = this;
    const count = this.count;
    // Mark the slots in use, then number them in order.
    const renamed = new Int32Array(handles.length);
    for (let i = 0; i < count; i++) renamed[slots[i]!] = 1;
    const kept: (TimerEntry | undefined)[] = new Array(count);
    let next = 0;
    for (let slot = 0; slot < renamed.length; slot++) {
      if (renamed[slot] === 0) continue;
      const timer = handles[slot];
      kept[next] = timer;
      if (timer !== undefined) timer._slot = next;
      renamed[slot] = next++;
    }
    for (let i = 0; i < count; i++) slots[i] = renamed[slots[i]!]!;
    this.handles = kept;
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
    const { handles, whens, slots } = this;
    let n = 0;
    for (let i = 0; i < this.count; i++) {
      const slot = slots[i]!;
      if (handles[slot] === undefined) continue;
      whens[n] = whens[i]!;
      slots[n] = slot;
      n++;
    }
    this.count = n;
    this.cancelled = 0;
    if (n === 0) this.handles = [];
    else this.heapify();
  }
}
