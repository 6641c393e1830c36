/** Queues: Queue, PriorityQueue, LifoQueue. */
import { expect } from './expect.js';
import { describe, it } from './kit.js';
import { rule } from './rules.js';
import {
  CancelledError,
  LifoQueue,
  PriorityQueue,
  Queue,
  QueueEmpty,
  QueueFull,
  QueueShutDown,
  RuntimeError,
  gather,
  sleep,
} from '@loopkit/core';
import { withLoop, type LoopUnderTest } from './context.js';
import { failure } from './helpers.js';

/** Everything in the queue, taken without waiting. */
function drain<T>(queue: Queue<T>): T[] {
  const items: T[] = [];
  while (!queue.empty()) items.push(queue.getNowait());
  return items;
}

export function queueSuite(subject: LoopUnderTest): void {
  describe('Queue', () => {
    it('is FIFO and reports its size', rule('a Queue gives items in the order they were put (FIFO)', () =>
      withLoop(subject, async () => {
        const queue = new Queue<number>(2);
        expect(queue.maxsize).toBe(2);
        expect(queue.empty()).toBe(true);
        await queue.put(1);
        queue.putNowait(2);
        expect(queue.qsize()).toBe(2);
        expect(queue.full()).toBe(true);
        expect(() => queue.putNowait(3)).toThrow(QueueFull);
        expect(await queue.get()).toBe(1);
        expect(queue.getNowait()).toBe(2);
        expect(() => queue.getNowait()).toThrow(QueueEmpty);
        expect(new Queue().full()).toBe(false);

        // Past the ring buffer's wrap-around and growth.
        const many = new Queue<number>();
        for (let i = 0; i < 5; i++) many.putNowait(i);
        for (let i = 0; i < 3; i++) many.getNowait();
        for (let i = 5; i < 30; i++) many.putNowait(i);
        expect(drain(many)).toEqual(Array.from({ length: 27 }, (_, i) => i + 3));
      })));

    it('get() waits for a put(); put() waits while full', () =>
      withLoop(subject, async (loop) => {
        const queue = new Queue<string>(1);
        const getter = loop.createTask(() => queue.get());
        await sleep(0);
        expect(getter.done()).toBe(false);
        await queue.put('a');
        expect(await getter).toBe('a');

        await queue.put('b');
        const putter = loop.createTask(() => queue.put('c'));
        await sleep(0.01);
        expect(putter.done()).toBe(false);
        expect(await queue.get()).toBe('b');
        await putter;
        expect(drain(queue)).toEqual(['c']);
      }));

    it('a get() cancelled after being woken loses no item', rule('a get() cancelled after it was woken loses no item: the next getter receives it', () =>
      withLoop(subject, async (loop) => {
        const queue = new Queue<string>();
        const first = loop.createTask(() => queue.get());
        const second = loop.createTask(() => queue.get());
        await sleep(0);
        queue.putNowait('item'); // wakes `first`...
        first.cancel(); // ...which gives up before it runs
        expect(await failure(first)).toBeInstanceOf(CancelledError);
        expect(await second).toBe('item');
      })));

    it('a put() cancelled after being woken lets the next putter in', () =>
      withLoop(subject, async (loop) => {
        const queue = new Queue<string>(1);
        queue.putNowait('full');
        const first = loop.createTask(() => queue.put('first'));
        const second = loop.createTask(() => queue.put('second'));
        await sleep(0);
        expect(queue.getNowait()).toBe('full');
        first.cancel();
        await failure(first);
        await second;
        expect(drain(queue)).toEqual(['second']);
      }));

    it('join() waits until taskDone() was called for every item; underflow throws', () =>
      withLoop(subject, async (loop) => {
        const queue = new Queue<number>();
        await queue.join();
        for (let i = 0; i < 3; i++) queue.putNowait(i);
        const done: number[] = [];
        const worker = loop.createTask(async () => {
          for (;;) {
            const item = await queue.get();
            await sleep(0.001);
            done.push(item);
            queue.taskDone();
          }
        });
        await queue.join();
        expect(done).toEqual([0, 1, 2]);
        worker.cancel();
        await failure(worker);
        expect(() => queue.taskDone()).toThrow(RangeError);
      }));

    it('shutdown(): put throws at once, get drains then throws, waiters are released', () =>
      withLoop(subject, async (loop) => {
        const empty = new Queue<number>();
        const getter = loop.createTask(() => empty.get());
        await sleep(0);
        empty.shutdown();
        expect(await failure(getter)).toBeInstanceOf(QueueShutDown);

        const full = new Queue<number>(1);
        full.putNowait(1);
        const putter = loop.createTask(() => full.put(2));
        await sleep(0);
        full.shutdown();
        expect(await failure(putter)).toBeInstanceOf(QueueShutDown);
        expect(() => full.putNowait(3)).toThrow(QueueShutDown);
        expect(await failure(full.put(3))).toBeInstanceOf(QueueShutDown);
        expect(await full.get()).toBe(1);
        expect(await failure(full.get())).toBeInstanceOf(QueueShutDown);
        expect(() => full.getNowait()).toThrow(QueueShutDown);
      }));

    it('shutdown(true) drops the items and releases join()', () =>
      withLoop(subject, async (loop) => {
        const queue = new Queue<number>();
        queue.putNowait(1);
        queue.putNowait(2);
        const joiner = loop.createTask(() => queue.join());
        await sleep(0);
        queue.shutdown(true);
        await joiner;
        expect(queue.empty()).toBe(true);
        expect(await failure(queue.get())).toBeInstanceOf(QueueShutDown);
      }));

    it('producers and consumers move every item exactly once', () =>
      withLoop(subject, async (loop) => {
        const queue = new Queue<number>(3);
        const got: number[] = [];
        const producers = [0, 1].map((p) =>
          loop.createTask(async () => {
            for (let i = 0; i < 20; i++) await queue.put(p * 100 + i);
          }),
        );
        const consumers = [0, 1, 2].map(() =>
          loop.createTask(async () => {
            for (;;) {
              got.push(await queue.get());
              queue.taskDone();
            }
          }),
        );
        await gather(...producers);
        await queue.join();
        for (const c of consumers) c.cancel();
        await gather(...consumers, { returnExceptions: true });
        const expected = [0, 1].flatMap((p) => Array.from({ length: 20 }, (_, i) => p * 100 + i));
        expect(got.sort((a, b) => a - b)).toEqual(expected);
      }));

    it('binds to the first loop that waits on it', async () => {
      const queue = new Queue<number>();
      await withLoop(subject, async (loop) => {
        const getter = loop.createTask(() => queue.get());
        await sleep(0);
        queue.putNowait(1);
        await getter;
      });
      await withLoop(subject, async () => {
        expect(await failure(queue.get())).toBeInstanceOf(RuntimeError);
      });
    });

    it('rejects a non-integer maxsize', () =>
      withLoop(subject, async () => {
        expect(() => new Queue(1.5)).toThrow(TypeError);
        expect(() => new Queue('2' as never)).toThrow(/maxsize/);
      }));
  });

  describe('PriorityQueue and LifoQueue', () => {
    it('PriorityQueue orders numbers, strings and arrays as Python tuples', () =>
      withLoop(subject, async () => {
        const numbers = new PriorityQueue<number>();
        for (const n of [5, 1, 4, 2, 3]) numbers.putNowait(n);
        expect(drain(numbers)).toEqual([1, 2, 3, 4, 5]);

        const words = new PriorityQueue<string>();
        for (const w of ['pear', 'apple', 'fig']) await words.put(w);
        expect(drain(words)).toEqual(['apple', 'fig', 'pear']);

        const tuples = new PriorityQueue<[number, string]>();
        for (const t of [[2, 'b'], [1, 'z'], [2, 'a'], [1, 'y']] as [number, string][]) tuples.putNowait(t);
        expect(drain(tuples)).toEqual([
          [1, 'y'],
          [1, 'z'],
          [2, 'a'],
          [2, 'b'],
        ]);
        const prefixes = new PriorityQueue<number[]>();
        prefixes.putNowait([1, 2]);
        prefixes.putNowait([1]);
        expect(prefixes.getNowait()).toEqual([1]);
      }));

    it('PriorityQueue takes a comparator, and refuses what it cannot order', () =>
      withLoop(subject, async () => {
        const byLength = new PriorityQueue<string>((a, b) => a.length - b.length);
        for (const w of ['ccc', 'a', 'bb']) byLength.putNowait(w);
        expect(drain(byLength)).toEqual(['a', 'bb', 'ccc']);
        const bounded = new PriorityQueue<number>(1, (a, b) => b - a);
        expect(bounded.maxsize).toBe(1);

        const mixed = new PriorityQueue<unknown>();
        mixed.putNowait(1);
        expect(() => mixed.putNowait('one')).toThrow(TypeError);
        expect(() => mixed.putNowait({})).toThrow(TypeError);
        expect(mixed.qsize()).toBe(1);
        expect(() => new PriorityQueue(0, 'desc' as never)).toThrow(TypeError);
      }));

    it('LifoQueue gives the newest item first', () =>
      withLoop(subject, async () => {
        const stack = new LifoQueue<number>();
        for (const n of [1, 2, 3]) await stack.put(n);
        expect(drain(stack)).toEqual([3, 2, 1]);
      }));
  });
}
