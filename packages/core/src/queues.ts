/**
 * Queues for tasks of one loop (asyncio.queues): Queue (FIFO), PriorityQueue, LifoQueue.
 * put() waits while the queue is full, get() while it is empty; waiters are woken FIFO and
 * a waiter cancelled after being woken passes its turn on, so a cancelled get() loses no
 * item. shutdown() makes put() throw QueueShutDown at once and get() once drained.
 */
import { formatWhole } from './format.js';
import { QueueEmpty, QueueFull, QueueShutDown } from './errors.js';
import { Deque } from './deque.js';
import { Event } from './locks.js';
import type { Future } from './futures.js';
import { LoopBound } from './loop-bound.js';
import { BinaryHeap, pythonOrder, type Comparator } from './priority.js';
import { describe } from './validate.js';
import { finishedWithoutWaiting, registerWaitingCall, WaitingCall, type ValueKeeper } from './waiting-calls.js';

function checkMaxsize(maxsize: unknown): asserts maxsize is number {
  if (typeof maxsize !== 'number' || !Number.isInteger(maxsize)) {
    throw new TypeError(`maxsize must be an integer (0 or less: unbounded), got ${describe(maxsize)}`);
  }
}

/** Wake the first waiter not cancelled meanwhile, dropping the ones before it. */
function wakeupNext(waiters: Deque<Future<unknown>>): void {
  for (let waiter = waiters.shift(); waiter !== undefined; waiter = waiters.shift()) {
    if (!waiter.done()) {
      waiter.setResult(null);
      return;
    }
  }
}

/** A FIFO queue (asyncio.Queue). `maxsize` <= 0 means unbounded. */
export class Queue<T = unknown> extends LoopBound implements ValueKeeper {
  private readonly getters = new Deque<Future<unknown>>();
  private readonly putters = new Deque<Future<unknown>>();
  private unfinishedTasks = 0;
  private readonly finished = new Event();
  private isShutdown = false;
  private readonly limit: number;
  private readonly items = new Deque<T>();

  constructor(maxsize = 0) {
    super();
    checkMaxsize(maxsize);
    this.limit = maxsize;
    this.finished.set();
  }

  get maxsize(): number {
    return this.limit;
  }

  /** How many items are queued. */
  qsize(): number {
    return this.storeSize();
  }

  /** Whether no item is queued. */
  empty(): boolean {
    return this.storeSize() === 0;
  }

  /** Whether the queue holds `maxsize` items (never, when unbounded). */
  full(): boolean {
    return this.limit > 0 && this.storeSize() >= this.limit;
  }

  /** Put `item`, waiting while the queue is full. Throws QueueShutDown after shutdown(). */
  put(item: T): Promise<void> {
    if (!this.full()) return this.putting(item, null);
    const call = new WaitingCall();
    return registerWaitingCall(this.putting(item, call), call);
  }

  private async putting(item: T, call: WaitingCall | null): Promise<void> {
    while (this.full()) {
      if (this.isShutdown) throw new QueueShutDown();
      // The waiting written out, not in an async helper: an idle putter holds one async frame, not two.
      const putter = this.createWaiter();
      this.putters.push(putter);
      if (call !== null) call.waiter = putter;
      try {
        await putter;
        call?.check();
      } catch (error) {
        // Cancelled: leave the line; a wake-up already given passes on while there is room for it.
        putter.cancel();
        this.putters.remove(putter);
        if (!this.full() && !putter.cancelled()) wakeupNext(this.putters);
        throw error;
      }
    }
    this.putNowait(item);
  }

  /** Put `item` now; throws QueueFull, or QueueShutDown after shutdown(). */
  putNowait(item: T): void {
    if (this.isShutdown) throw new QueueShutDown();
    if (this.full()) throw new QueueFull();
    this.storePut(item);
    this.unfinishedTasks += 1;
    this.finished.clear();
    wakeupNext(this.getters);
  }

  /** Take an item, waiting while the queue is empty. Throws QueueShutDown once shut down and drained. */
  get(): Promise<T> {
    if (!this.empty()) return finishedWithoutWaiting(this.getting(null), this);
    const call = new WaitingCall(this);
    return registerWaitingCall(this.getting(call), call);
  }

  private async getting(call: WaitingCall | null): Promise<T> {
    while (this.empty()) {
      if (this.isShutdown) throw new QueueShutDown();
      const getter = this.createWaiter();
      this.getters.push(getter);
      if (call !== null) call.waiter = getter;
      try {
        await getter;
        call?.check();
      } catch (error) {
        // Cancelled: leave the line; a wake-up already given passes on while there is room for it.
        getter.cancel();
        this.getters.remove(getter);
        if (!this.empty() && !getter.cancelled()) wakeupNext(this.getters);
        throw error;
      }
    }
    return this.getNowait();
  }

  /** Take an item now; throws QueueEmpty, or QueueShutDown once shut down and drained. */
  getNowait(): T {
    if (this.empty()) {
      if (this.isShutdown) throw new QueueShutDown();
      throw new QueueEmpty();
    }
    const item = this.storeGet();
    wakeupNext(this.putters);
    return item;
  }

  /**
   * @internal a get() whose caller was cancelled before it received `item` (waiting-calls.ts):
   * the item goes back to the head of the queue, as asyncio's cancelled get() never took it.
   */
  _takeBack(_promise: object, item: unknown): boolean {
    this.storeUnget(item as T);
    wakeupNext(this.getters);
    return true;
  }

  /** A consumer finished an item it got; join() resolves when every put item is done. */
  taskDone(): void {
    if (this.unfinishedTasks <= 0) throw new RangeError('taskDone() called too many times');
    this.unfinishedTasks -= 1;
    if (this.unfinishedTasks === 0) this.finished.set();
  }

  /**
   * Wait until taskDone() was called for every item put. A Future wrapping the promise
   * (`waitFor(queue.join(), t)`) cancels the wait.
   */
  join(): Promise<void> {
    if (this.unfinishedTasks === 0) return Promise.resolve();
    const call = new WaitingCall();
    return registerWaitingCall(this.joining(call), call);
  }

  private async joining(call: WaitingCall): Promise<void> {
    await call.during(this.finished.wait());
  }

  /**
   * Refuse new items: waiting putters and future put() throw QueueShutDown, get() throws
   * once the queue is empty. `immediate` also drops the queued items (counting them done).
   */
  shutdown(immediate = false): void {
    this.isShutdown = true;
    if (immediate) {
      while (!this.empty()) {
        this.storeGet();
        if (this.unfinishedTasks > 0) this.unfinishedTasks -= 1;
      }
      if (this.unfinishedTasks === 0) this.finished.set();
    }
    // Every waiter re-checks the state and sees the shutdown.
    for (let getter = this.getters.shift(); getter !== undefined; getter = this.getters.shift()) {
      if (!getter.done()) getter.setResult(null);
    }
    for (let putter = this.putters.shift(); putter !== undefined; putter = this.putters.shift()) {
      if (!putter.done()) putter.setResult(null);
    }
  }

  /** A description for logs and debugging, as asyncio's repr(). */
  override toString(): string {
    const parts = [`maxsize=${this.limit}`];
    if (this.storeSize() > 0) parts.push(`_queue=[${Array.from(this.storeItems(), showItem).join(', ')}]`);
    if (this.getters.length > 0) parts.push(`_getters[${this.getters.length}]`);
    if (this.putters.length > 0) parts.push(`_putters[${this.putters.length}]`);
    if (this.unfinishedTasks > 0) parts.push(`tasks=${this.unfinishedTasks}`);
    if (this.isShutdown) parts.push('shutdown');
    return `<${this.constructor.name} ${parts.join(' ')}>`;
  }

  // The storage: subclasses change the order.
  /** Storage hook: how many items are stored (a subclass changes the order of items). */
  protected storeSize(): number {
    return this.items.length;
  }
  /** Storage hook: store one item. */
  protected storePut(item: T): void {
    this.items.push(item);
  }
  /** Storage hook: the stored items in storage order (for the repr, as asyncio's `_queue=[...]`). */
  protected storeItems(): Iterable<T> {
    return this.items;
  }
  /** Storage hook: take the next item out. */
  protected storeGet(): T {
    return this.items.shift() as T;
  }
  /** Storage hook: put back the item storeGet() gave last, so that it comes out next again. */
  protected storeUnget(item: T): void {
    this.items.unshift(item);
  }
}

/** Gives the lowest item first: numbers and strings by `<`, arrays like Python tuples, or by `compare`. */
export class PriorityQueue<T = unknown> extends Queue<T> {
  private readonly heap: BinaryHeap<T>;

  constructor(maxsize?: number | Comparator<T>, compare?: Comparator<T>) {
    if (typeof maxsize === 'function') {
      compare = maxsize;
      maxsize = 0;
    }
    if (compare !== undefined && typeof compare !== 'function') {
      throw new TypeError(`compare must be a function (a, b) => number, got ${describe(compare)}`);
    }
    super(maxsize);
    this.heap = new BinaryHeap<T>(compare ?? pythonOrder);
  }

  protected override storeSize(): number {
    return this.heap.size;
  }
  protected override storePut(item: T): void {
    this.heap.push(item);
  }
  protected override storeGet(): T {
    return this.heap.pop() as T;
  }
  protected override storeUnget(item: T): void {
    this.heap.push(item);
  }
  protected override storeItems(): Iterable<T> {
    return this.heap.inHeapOrder();
  }
}

/** Gives the most recently put item first. */
export class LifoQueue<T = unknown> extends Queue<T> {
  private readonly stack: T[] = [];

  protected override storeSize(): number {
    return this.stack.length;
  }
  protected override storePut(item: T): void {
    this.stack.push(item);
  }
  protected override storeGet(): T {
    return this.stack.pop() as T;
  }
  protected override storeUnget(item: T): void {
    this.stack.push(item);
  }
  protected override storeItems(): Iterable<T> {
    return this.stack;
  }
}

/** One queued item as asyncio's repr lists it: whole (not shortened), in Python's spelling. */
function showItem(item: unknown): string {
  return formatWhole(item);
}
