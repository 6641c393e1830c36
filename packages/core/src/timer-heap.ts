/**
 * The loop's timers: a binary min-heap ordered by (when, scheduling order), with lazy
 * cancellation.
 *
 * Layout. A timer gets a slot when pushed and keeps it until it leaves: `handles[slot]`
 * holds the TimerHandle, `seqs[slot]` its scheduling order. The heap itself is two typed
 * arrays, `whens` and `slots`, so a sift moves only numbers: no handle pointer is stored
 * into a big (old-generation) array per level, and the keys compared are read from
 * contiguous memory. The scheduling order is read (by slot) only on an exact `when` tie.
 *
 * Cancellation empties the timer's slot (`handles[slot] = undefined`); the heap entry stays
 * until it reaches the top, or until more than half of the heap is cancelled and the heap is
 * rebuilt without them. Either way no handle is touched to find out it was cancelled.
 *
 * Due timers leave by pops, or, when many are due at once (judged after a few pops), all
 * together: one linear scan splits the heap, a counting sort on the deadline orders the due
 * ones (exactly, see sortDue), and the rest is re-heapified in O(n).
 */
import type { ReadyEntry, TimerHandle } from './handles.js';

const INITIAL_CAPACITY = 64;
/** Ranges at most this long are insertion-sorted. */
const SMALL_RANGE = 16;
/** Pops takeDue makes before it considers taking all due timers in one pass. */
const POPS_BEFORE_ESTIMATE = 16;
/** From this size on, takeDue estimates how many are due (else it goes on popping). */
const SAMPLED_SIZE = 2048;
/** Heap entries it looks at for that. */
const SAMPLES = 64;

export class TimerHeap {
  // ---- by slot ----
  private handles: (TimerHandle | undefined)[] = [];
  private seqs = new Float64Array(INITIAL_CAPACITY);
  private freeSlots = new Int32Array(INITIAL_CAPACITY);
  private freeCount = 0;
  private nextSeq = 0;
  // ---- by heap position ----
  private whens = new Float64Array(INITIAL_CAPACITY);
  private slots = new Int32Array(INITIAL_CAPACITY);
  private count = 0;
  /** Heap entries whose timer was cancelled (their slot is empty). */
  private cancelled = 0;
  // ---- scratch space of takeAllDue, by position among the due timers ----
  private dueWhens = new Float64Array(0);
  private dueSlots = new Int32Array(0);
  private dueOrder = new Int32Array(0);
  private dueBucket = new Int32Array(0);
  private bucketStart = new Int32Array(0);

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

  push(timer: TimerHandle, when: number): void {
    if (this.count === this.whens.length) this.grow();
    let slot: number;
    if (this.freeCount > 0) {
      slot = this.freeSlots[--this.freeCount]!;
      this.handles[slot] = timer;
    } else {
      slot = this.handles.length;
      this.handles.push(timer);
    }
    this.seqs[slot] = this.nextSeq++;
    timer._slot = slot;
    this.siftUp(this.count++, when, slot);
  }

  /** A timer was cancelled: empty its slot if it is still in the heap. */
  cancel(timer: TimerHandle): void {
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
    const { handles, slots } = this;
    while (this.count > 0 && handles[slots[0]!] === undefined) {
      this.freeSlot(slots[0]!);
      this.removeTop();
      this.cancelled--;
    }
  }

  /**
   * Step 4: append the live timers due before `end` to `ready`, by (when, scheduling
   * order). Returns the array holding them: `ready`, or a new one when `ready` was empty.
   */
  takeDue(end: number, ready: ReadyEntry[]): ReadyEntry[] {
    const { handles, whens, slots } = this;
    // Pop while few are due. Past a few pops, estimate how many are due and take them in
    // one pass if many are; in any case once popping has cost about as much as that pass.
    const budget = (this.count >> 5) + POPS_BEFORE_ESTIMATE;
    for (let pops = 0; this.count > 0 && whens[0]! < end; pops++) {
      if (pops === POPS_BEFORE_ESTIMATE && this.count >= SAMPLED_SIZE && this.manyDue(end)) return this.takeAllDue(end, ready);
      if (pops === budget) return this.takeAllDue(end, ready);
      const slot = slots[0]!;
      const timer = handles[slot];
      this.freeSlot(slot);
      this.removeTop();
      if (timer === undefined) this.cancelled--;
      else {
        handles[slot] = undefined;
        ready.push(timer);
      }
    }
    return ready;
  }

  /**
   * Are at least about 1/16 of the entries due before `end`? Counted over entries evenly
   * spaced through the heap array. (A pop costs a few hundred ns in a large heap; the
   * one-pass path about 20 ns per entry.)
   */
  private manyDue(end: number): boolean {
    const whens = this.whens;
    const step = this.count / SAMPLES;
    let due = 0;
    for (let i = 0; i < SAMPLES; i++) if (whens[Math.floor((i + 0.5) * step)]! < end) due++;
    return due * 16 >= SAMPLES;
  }

  /** Forget every timer and give the memory back. */
  clear(): void {
    this.handles = [];
    this.seqs = new Float64Array(INITIAL_CAPACITY);
    this.freeSlots = new Int32Array(INITIAL_CAPACITY);
    this.freeCount = 0;
    this.whens = new Float64Array(INITIAL_CAPACITY);
    this.slots = new Int32Array(INITIAL_CAPACITY);
    this.count = 0;
    this.cancelled = 0;
    this.dueWhens = new Float64Array(0);
    this.dueSlots = new Int32Array(0);
    this.dueOrder = new Int32Array(0);
    this.dueBucket = new Int32Array(0);
    this.bucketStart = new Int32Array(0);
  }

  // ---- internals ----

  private freeSlot(slot: number): void {
    this.freeSlots[this.freeCount++] = slot;
  }

  private grow(): void {
    const capacity = this.whens.length * 2;
    const whens = new Float64Array(capacity);
    whens.set(this.whens);
    this.whens = whens;
    const slots = new Int32Array(capacity);
    slots.set(this.slots);
    this.slots = slots;
    const seqs = new Float64Array(capacity);
    seqs.set(this.seqs);
    this.seqs = seqs;
    // Slots in use never outnumber heap entries, so the slot arrays share the capacity.
    const freeSlots = new Int32Array(capacity);
    freeSlots.set(this.freeSlots.subarray(0, this.freeCount));
    this.freeSlots = freeSlots;
  }

  private removeTop(): void {
    const last = --this.count;
    if (last > 0) this.siftDown(0, this.whens[last]!, this.slots[last]!);
  }

  private siftUp(start: number, when: number, slot: number): void {
    const { whens, slots, seqs } = this;
    let i = start;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pw = whens[parent]!;
      if (pw < when || (pw === when && seqs[slots[parent]!]! < seqs[slot]!)) break;
      whens[i] = pw;
      slots[i] = slots[parent]!;
      i = parent;
    }
    whens[i] = when;
    slots[i] = slot;
  }

  private siftDown(start: number, when: number, slot: number): void {
    const { whens, slots, seqs } = this;
    const n = this.count;
    let i = start;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      let cw = whens[child]!;
      const right = child + 1;
      if (right < n) {
        const rw = whens[right]!;
        if (rw < cw || (rw === cw && seqs[slots[right]!]! < seqs[slots[child]!]!)) {
          child = right;
          cw = rw;
        }
      }
      if (when < cw || (when === cw && seqs[slot]! < seqs[slots[child]!]!)) break;
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
    for (let i = (this.count >> 1) - 1; i >= 0; i--) this.siftDown(i, whens[i]!, slots[i]!);
  }

  /** Drop every cancelled entry, then restore the heap order. */
  private rebuild(): void {
    const { handles, whens, slots } = this;
    let n = 0;
    for (let i = 0; i < this.count; i++) {
      const slot = slots[i]!;
      if (handles[slot] === undefined) {
        this.freeSlot(slot);
        continue;
      }
      whens[n] = whens[i]!;
      slots[n] = slot;
      n++;
    }
    this.count = n;
    this.cancelled = 0;
    this.heapify();
  }

  private ensureScratch(n: number): void {
    if (this.dueWhens.length >= n) return;
    const capacity = this.whens.length;
    this.dueWhens = new Float64Array(capacity);
    this.dueSlots = new Int32Array(capacity);
    this.dueOrder = new Int32Array(capacity);
    this.dueBucket = new Int32Array(capacity);
    this.bucketStart = new Int32Array(capacity + 1);
  }

  /** takeDue for many due timers: split the heap in one pass, sort the due ones, re-heapify the rest. */
  private takeAllDue(end: number, ready: ReadyEntry[]): ReadyEntry[] {
    const { handles, whens, slots, freeSlots } = this;
    const n = this.count;
    this.ensureScratch(n);
    const { dueWhens, dueSlots } = this;
    let freeCount = this.freeCount;
    let kept = 0;
    let due = 0;
    let cancelled = 0;
    for (let i = 0; i < n; i++) {
      const when = whens[i]!;
      const slot = slots[i]!;
      if (when < end) {
        if (handles[slot] === undefined) {
          cancelled++;
          freeSlots[freeCount++] = slot;
        } else {
          dueWhens[due] = when;
          dueSlots[due] = slot;
          due++;
        }
      } else {
        whens[kept] = when;
        slots[kept] = slot;
        kept++;
      }
    }
    this.cancelled -= cancelled;
    this.count = kept;
    this.heapify();
    if (due === 0) {
      this.freeCount = freeCount;
      return ready;
    }
    this.sortDue(due);
    const order = this.dueOrder;
    // An empty ready queue is replaced by an array made at its final size (cheaper than
    // growing one by push through tens of thousands of elements).
    const base = ready.length;
    const out = base === 0 ? new Array<ReadyEntry>(due) : ready;
    for (let i = 0; i < due; i++) {
      const slot = dueSlots[order[i]!]!;
      out[base + i] = handles[slot]!;
      handles[slot] = undefined;
      freeSlots[freeCount++] = slot;
    }
    this.freeCount = freeCount;
    return out;
  }

  /**
   * Order the n due timers by (when, scheduling order): dueOrder becomes their indices in
   * that order.
   *
   * A counting sort by bucket, then each bucket on its own: the buckets split the range of
   * deadlines into one bucket per timer, and bucket(when) never decreases with when, so the
   * buckets are in order and only the timers inside one bucket need comparing (on the exact
   * deadline, then the scheduling order). With spread-out deadlines a bucket holds about
   * one timer; when one bucket would hold most (equal deadlines, very uneven ones) the whole
   * range is sorted by comparison instead.
   */
  private sortDue(n: number): void {
    const { dueWhens, dueOrder, dueBucket, bucketStart } = this;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      const when = dueWhens[i]!;
      if (when < min) min = when;
      if (when > max) max = when;
    }
    // Bucket b holds the deadlines in [min + b / scale, min + (b + 1) / scale); the last also max.
    const range = max - min;
    const scale = n / range;
    if (n <= SMALL_RANGE || !(range > 0 && range < Infinity && scale < Infinity)) {
      for (let i = 0; i < n; i++) dueOrder[i] = i;
      if (n <= SMALL_RANGE) this.insertionSort(0, n);
      else this.comparisonSort(0, n);
      return;
    }
    const last = n - 1;
    bucketStart.fill(0, 0, n + 1);
    for (let i = 0; i < n; i++) {
      const b = Math.min(Math.floor((dueWhens[i]! - min) * scale), last);
      dueBucket[i] = b;
      bucketStart[b + 1]!++;
    }
    let largest = 0;
    for (let b = 0; b < n; b++) {
      const size = bucketStart[b + 1]!;
      if (size > largest) largest = size;
      bucketStart[b + 1] = bucketStart[b]! + size;
    }
    if (largest * 2 > n) {
      for (let i = 0; i < n; i++) dueOrder[i] = i;
      this.comparisonSort(0, n);
      return;
    }
    // Place each index at its bucket's next position (in index order, which is arbitrary).
    for (let i = 0; i < n; i++) dueOrder[bucketStart[dueBucket[i]!]!++] = i;
    // bucketStart[b] is now where bucket b ends: sort those holding more than one.
    let start = 0;
    for (let b = 0; b < n; b++) {
      const stop = bucketStart[b]!;
      const size = stop - start;
      if (size > SMALL_RANGE) this.comparisonSort(start, stop);
      else if (size > 1) this.insertionSort(start, stop);
      start = stop;
    }
  }

  private insertionSort(lo: number, hi: number): void {
    const { dueWhens, dueSlots, dueOrder, seqs } = this;
    for (let i = lo + 1; i < hi; i++) {
      const index = dueOrder[i]!;
      const when = dueWhens[index]!;
      let j = i - 1;
      for (; j >= lo; j--) {
        const other = dueOrder[j]!;
        const otherWhen = dueWhens[other]!;
        if (otherWhen < when || (otherWhen === when && seqs[dueSlots[other]!]! < seqs[dueSlots[index]!]!)) break;
        dueOrder[j + 1] = other;
      }
      dueOrder[j + 1] = index;
    }
  }

  private comparisonSort(lo: number, hi: number): void {
    const { dueWhens, dueSlots, seqs } = this;
    const sorted = Array.from(this.dueOrder.subarray(lo, hi)).sort((a, b) => {
      const aw = dueWhens[a]!;
      const bw = dueWhens[b]!;
      if (aw !== bw) return aw < bw ? -1 : 1;
      return seqs[dueSlots[a]!]! - seqs[dueSlots[b]!]!;
    });
    this.dueOrder.set(sorted, lo);
  }
}
