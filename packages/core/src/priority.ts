/** Ordering for PriorityQueue: a binary min-heap and Python's `<` for common JS values. */
import { describe } from './validate.js';

/** Negative when `a` goes before `b`, as for Array#sort. */
export type Comparator<T> = (a: T, b: T) => number;

function kind(value: unknown): 'number' | 'string' | 'array' | null {
  if (typeof value === 'number' || typeof value === 'bigint') return 'number';
  if (typeof value === 'string') return 'string';
  if (Array.isArray(value)) return 'array';
  return null;
}

/**
 * Python's ordering: numbers and strings by `<`, arrays element by element (a shorter
 * prefix first), as tuples. Identical values are equal; anything else throws TypeError.
 */
export function pythonOrder(a: unknown, b: unknown): number {
  if (a === b) return 0;
  const ka = kind(a);
  if (ka === null || ka !== kind(b)) {
    throw new TypeError(`PriorityQueue cannot order ${describe(a)} and ${describe(b)}: give it a compare function`);
  }
  if (ka === 'array') {
    const x = a as unknown[];
    const y = b as unknown[];
    const n = Math.min(x.length, y.length);
    for (let i = 0; i < n; i++) {
      const order = pythonOrder(x[i], y[i]);
      if (order !== 0) return order;
    }
    return x.length - y.length;
  }
  const x = a as number | string;
  const y = b as number | string;
  if (x < y) return -1;
  if (y < x) return 1;
  return 0;
}

export class BinaryHeap<T> {
  private readonly items: T[] = [];

  constructor(private readonly compare: Comparator<T>) {}

  get size(): number {
    return this.items.length;
  }

  /** The items in heap order (the order a Python list holding a heap shows). */
  inHeapOrder(): readonly T[] {
    return this.items;
  }

  push(item: T): void {
    const items = this.items;
    // Find the slot first, so a compare that throws leaves the heap untouched.
    let target = items.length;
    while (target > 0) {
      const parent = (target - 1) >> 1;
      if (this.compare(item, items[parent]!) >= 0) break;
      target = parent;
    }
    items.push(item);
    let i = items.length - 1;
    while (i > target) {
      const parent = (i - 1) >> 1;
      items[i] = items[parent]!;
      i = parent;
    }
    items[target] = item;
  }

  /** Remove and return the smallest item; undefined when empty. */
  pop(): T | undefined {
    const items = this.items;
    if (items.length <= 1) return items.pop();
    const top = items[0];
    items[0] = items.pop()!;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < items.length && this.compare(items[left]!, items[smallest]!) < 0) smallest = left;
      if (right < items.length && this.compare(items[right]!, items[smallest]!) < 0) smallest = right;
      if (smallest === i) return top;
      [items[i], items[smallest]] = [items[smallest]!, items[i]!];
      i = smallest;
    }
  }
}
