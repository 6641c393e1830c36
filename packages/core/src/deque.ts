/**
 * A FIFO ring buffer (Python's collections.deque, the parts queues and locks use):
 * O(1) push and shift at any size, where Array#shift is O(n) on large arrays.
 */
export class Deque<T> implements Iterable<T> {
  private items: Array<T | undefined> = new Array(8);
  private head = 0;
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(item: T): void {
    if (this.size === this.items.length) this.grow();
    this.items[(this.head + this.size) & (this.items.length - 1)] = item;
    this.size += 1;
  }

  /** Put `item` before the oldest one (an item a cancelled get() gives back). */
  unshift(item: T): void {
    if (this.size === this.items.length) this.grow();
    this.head = (this.head - 1) & (this.items.length - 1);
    this.items[this.head] = item;
    this.size += 1;
  }

  /** Remove and return the oldest item; undefined when empty. */
  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.size -= 1;
    return item;
  }

  /** The oldest item without removing it; undefined when empty. */
  peek(): T | undefined {
    return this.size === 0 ? undefined : this.items[this.head];
  }

  /** The newest item without removing it; undefined when empty. */
  peekLast(): T | undefined {
    return this.size === 0 ? undefined : this.items[(this.head + this.size - 1) & (this.items.length - 1)];
  }

  /**
   * Remove the first occurrence of `item`; returns whether it was there. O(n), but the gap is
   * closed from the nearer end: woken waiters leave from the front, and 100k of them leaving
   * one by one must not each move all the others.
   */
  remove(item: T): boolean {
    const mask = this.items.length - 1;
    let i = 0;
    while (i < this.size && this.items[(this.head + i) & mask] !== item) i++;
    if (i === this.size) return false;
    if (i < this.size / 2) {
      for (; i > 0; i--) this.items[(this.head + i) & mask] = this.items[(this.head + i - 1) & mask];
      this.items[this.head] = undefined;
      this.head = (this.head + 1) & mask;
    } else {
      for (; i < this.size - 1; i++) this.items[(this.head + i) & mask] = this.items[(this.head + i + 1) & mask];
      this.items[(this.head + this.size - 1) & mask] = undefined;
    }
    this.size -= 1;
    return true;
  }

  clear(): void {
    this.items = new Array(8);
    this.head = 0;
    this.size = 0;
  }

  *[Symbol.iterator](): Iterator<T> {
    const mask = this.items.length - 1;
    for (let i = 0; i < this.size; i++) yield this.items[(this.head + i) & mask] as T;
  }

  private grow(): void {
    const bigger: Array<T | undefined> = new Array(this.items.length * 2);
    for (let i = 0; i < this.size; i++) bigger[i] = this.items[(this.head + i) & (this.items.length - 1)];
    this.items = bigger;
    this.head = 0;
  }
}
