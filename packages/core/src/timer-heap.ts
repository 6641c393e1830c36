/**
 * A binary min-heap of TimerHandles ordered by (when, scheduling order).
 *
 * The keys live in typed arrays beside the handles: a sift compares keys many times and
 * moves few handles, and reading the keys from contiguous memory instead of from handles
 * scattered over the heap is what makes large heaps fast.
 */
import type { TimerHandle } from './handles.js';

export class TimerHeap {
  private items: (TimerHandle | undefined)[] = [];
  private whens = new Float64Array(64);
  private seqs = new Float64Array(64);
  private count = 0;

  get size(): number {
    return this.count;
  }

  peek(): TimerHandle | undefined {
    return this.count > 0 ? this.items[0] : undefined;
  }

  push(timer: TimerHandle): void {
    if (this.count === this.whens.length) this.grow();
    this.siftUp(this.count++, timer, timer._when, timer._seq);
  }

  pop(): TimerHandle | undefined {
    if (this.count === 0) return undefined;
    const top = this.items[0];
    const last = --this.count;
    const moved = this.items[last]!;
    this.items[last] = undefined;
    if (last > 0) this.siftDown(0, moved, this.whens[last]!, this.seqs[last]!);
    return top;
  }

  /** Keep only the timers `keep` accepts, then restore the heap order in O(n). */
  filter(keep: (timer: TimerHandle) => boolean): void {
    let n = 0;
    for (let i = 0; i < this.count; i++) {
      const timer = this.items[i]!;
      if (!keep(timer)) continue;
      this.items[n] = timer;
      this.whens[n] = this.whens[i]!;
      this.seqs[n] = this.seqs[i]!;
      n++;
    }
    for (let i = n; i < this.count; i++) this.items[i] = undefined;
    this.count = n;
    for (let i = (n >> 1) - 1; i >= 0; i--) this.siftDown(i, this.items[i]!, this.whens[i]!, this.seqs[i]!);
  }

  clear(): void {
    this.items = [];
    this.count = 0;
  }

  private grow(): void {
    const whens = new Float64Array(this.whens.length * 2);
    whens.set(this.whens);
    this.whens = whens;
    const seqs = new Float64Array(this.seqs.length * 2);
    seqs.set(this.seqs);
    this.seqs = seqs;
  }

  private siftUp(start: number, timer: TimerHandle, when: number, seq: number): void {
    const { items, whens, seqs } = this;
    let i = start;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pw = whens[parent]!;
      if (pw < when || (pw === when && seqs[parent]! < seq)) break;
      items[i] = items[parent];
      whens[i] = pw;
      seqs[i] = seqs[parent]!;
      i = parent;
    }
    items[i] = timer;
    whens[i] = when;
    seqs[i] = seq;
  }

  private siftDown(start: number, timer: TimerHandle, when: number, seq: number): void {
    const { items, whens, seqs } = this;
    const n = this.count;
    let i = start;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      let cw = whens[child]!;
      const right = child + 1;
      if (right < n) {
        const rw = whens[right]!;
        if (rw < cw || (rw === cw && seqs[right]! < seqs[child]!)) {
          child = right;
          cw = rw;
        }
      }
      if (when < cw || (when === cw && seq < seqs[child]!)) break;
      items[i] = items[child];
      whens[i] = cw;
      seqs[i] = seqs[child]!;
      i = child;
    }
    items[i] = timer;
    whens[i] = when;
    seqs[i] = seq;
  }
}
