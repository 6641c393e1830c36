/** Scenarios of CPython's test_asyncio/test_queues.py (3.13), on the loops users get. */
import { expect, it } from 'vitest';
import { CancelledError, LifoQueue, PriorityQueue, Queue, QueueEmpty, QueueFull, QueueShutDown, createTask, gather, sleep, waitFor, TimeoutError } from 'loopkit';
import { onEachLoop, rejection, runIn } from './loops.js';

onEachLoop('test_queues', (make) => {
  it('test_repr / test_empty / test_full / test_order / test_maxsize', () =>
    runIn(make, async () => {
      const q = new Queue<number>();
      expect(String(q)).toBe('<Queue maxsize=0>');
      expect(q.empty()).toBe(true);
      q.putNowait(1);
      expect(q.empty()).toBe(false);
      expect(q.getNowait()).toBe(1);
      expect(q.full()).toBe(false);
      const f = new Queue<number>(1);
      f.putNowait(1);
      expect(f.full()).toBe(true);
      expect(() => f.putNowait(2)).toThrow(QueueFull);
      const o = new Queue<number>();
      for (const i of [1, 3, 2]) o.putNowait(i);
      expect([o.getNowait(), o.getNowait(), o.getNowait()]).toEqual([1, 3, 2]);
      const l = new LifoQueue<number>();
      for (const i of [1, 3, 2]) l.putNowait(i);
      expect([l.getNowait(), l.getNowait(), l.getNowait()]).toEqual([2, 3, 1]);
      const p = new PriorityQueue<number>();
      for (const i of [1, 3, 2]) p.putNowait(i);
      expect([p.getNowait(), p.getNowait(), p.getNowait()]).toEqual([1, 2, 3]);
      expect(() => new Queue<number>().getNowait()).toThrow(QueueEmpty);
    }));

  it('test_repr: the items as _queue=[...] in storage order, then waiting getters, putters and unfinished tasks', () =>
    runIn(make, async () => {
      const q = new Queue<unknown>();
      q.putNowait(1);
      q.putNowait('two');
      expect(String(q)).toBe("<Queue maxsize=0 _queue=[1, 'two'] tasks=2>");
      q.getNowait();
      q.getNowait();
      const getter = createTask(() => q.get());
      await sleep(0);
      expect(String(q)).toBe('<Queue maxsize=0 _getters[1] tasks=2>');
      getter.cancel();
      await sleep(0);
      const full = new Queue<number>(1);
      full.putNowait(7);
      const putter = createTask(() => full.put(8));
      await sleep(0);
      expect(String(full)).toBe('<Queue maxsize=1 _queue=[7] _putters[1] tasks=1>');
      putter.cancel();
      await sleep(0);
      const p = new PriorityQueue<number>();
      for (const i of [3, 1, 2]) p.putNowait(i);
      // The heap's own order, as Python's list holding the heap shows it.
      expect(String(p)).toBe('<PriorityQueue maxsize=0 _queue=[1, 3, 2] tasks=3>');
      const l = new LifoQueue<number>();
      for (const i of [3, 1, 2]) l.putNowait(i);
      expect(String(l)).toBe('<LifoQueue maxsize=0 _queue=[3, 1, 2] tasks=3>');
    }));

  it('test_maxsize: a producer blocks at maxsize until a consumer takes', () =>
    runIn(make, async () => {
      const q = new Queue<number>(2);
      const have: number[] = [];
      const putter = createTask(async () => {
        for (let i = 0; i < 3; i++) {
          await q.put(i);
          have.push(i);
        }
        return true;
      });
      await sleep(0.001);
      expect(have).toEqual([0, 1]);
      expect(await q.get()).toBe(0);
      expect(await putter).toBe(true);
      expect(have).toEqual([0, 1, 2]);
    }));

  it('test_blocking_get / test_get_with_putters / test_blocking_get_wait', () =>
    runIn(make, async (loop) => {
      const q = new Queue<string>();
      loop.callLater(0.005, () => q.putNowait('x'));
      expect(await q.get()).toBe('x');
      const full = new Queue<number>(1);
      full.putNowait(1);
      const putter = createTask(() => full.put(2));
      await sleep(0);
      expect(await full.get()).toBe(1);
      await putter;
      expect(full.getNowait()).toBe(2);
    }));

  it('test_get_cancelled / test_get_cancelled_race / test_why_are_getters_waiting', () =>
    runIn(make, async () => {
      const q = new Queue<string>();
      const t = createTask(() => waitFor(q.get(), 0.005));
      expect(await rejection(t)).toBeInstanceOf(TimeoutError);
      q.putNowait('a');
      expect(await q.get()).toBe('a');

      const q2 = new Queue<string>();
      const t1 = createTask(() => q2.get());
      const t2 = createTask(() => q2.get());
      await sleep(0);
      t1.cancel();
      await sleep(0);
      q2.putNowait('a');
      expect(await rejection(t1)).toBeInstanceOf(CancelledError);
      expect(await t2).toBe('a');

      const q3 = new Queue<number>();
      const consumers = [0, 1, 2].map(() => createTask(() => q3.get()));
      await sleep(0);
      for (const i of [1, 2, 3]) q3.putNowait(i);
      expect((await gather(...consumers)).sort()).toEqual([1, 2, 3]);
    }));

  it('test_put_cancelled / test_put_cancelled_race / test_cancelled_puts_not_being_held_in_self_putters', () =>
    runIn(make, async () => {
      const q = new Queue<string>(1);
      q.putNowait('a');
      const t1 = createTask(() => q.put('b'));
      const t2 = createTask(() => q.put('c'));
      await sleep(0);
      t1.cancel();
      expect(await rejection(t1)).toBeInstanceOf(CancelledError);
      expect(q.getNowait()).toBe('a');
      await t2;
      expect(q.getNowait()).toBe('c');
      expect(q.empty()).toBe(true);

      const q2 = new Queue<number>(1);
      q2.putNowait(1);
      const putTask = createTask(() => q2.put(1));
      await sleep(0);
      putTask.cancel();
      expect(await rejection(putTask)).toBeInstanceOf(CancelledError);
      expect(String(q2)).not.toMatch(/_putters/);
    }));

  it('test_task_done / test_join_empty_queue / test_task_done_underflow', () =>
    runIn(make, async () => {
      const q = new Queue<number>();
      for (let i = 0; i < 100; i++) q.putNowait(i);
      let accumulator = 0;
      let running = true;
      const worker = async () => {
        while (running) {
          const item = await q.get();
          accumulator += item;
          q.taskDone();
        }
      };
      const tasks = [createTask(worker), createTask(worker)];
      await q.join();
      expect(accumulator).toBe(4950);
      running = false;
      for (const t of tasks) t.cancel();
      await gather(...tasks, { returnExceptions: true });
      await q.join();
      await new Queue().join();
      expect(() => new Queue().taskDone()).toThrow(RangeError);
    }));

  it('test_shutdown_empty / nonempty: put refused, get drains then raises', () =>
    runIn(make, async () => {
      const q = new Queue<string>();
      q.shutdown();
      expect(await rejection(q.put('data'))).toBeInstanceOf(QueueShutDown);
      expect(await rejection(q.get())).toBeInstanceOf(QueueShutDown);
      expect(() => q.getNowait()).toThrow(QueueShutDown);

      const n = new Queue<string>();
      n.putNowait('data');
      n.shutdown();
      expect(await n.get()).toBe('data');
      expect(await rejection(n.get())).toBeInstanceOf(QueueShutDown);
      expect(() => n.putNowait('x')).toThrow(QueueShutDown);
    }));

  it('test_shutdown_immediate / with_unfinished: items dropped, join released', () =>
    runIn(make, async () => {
      const q = new Queue<string>();
      q.putNowait('data');
      q.shutdown(true);
      expect(q.empty()).toBe(true);
      expect(await rejection(q.get())).toBeInstanceOf(QueueShutDown);
      await q.join();

      const u = new Queue<string>();
      u.putNowait('data');
      u.putNowait('data');
      await u.get();
      u.shutdown(true);
      // The item taken but not done still counts: join waits for it.
      const joiner = createTask(() => u.join());
      await sleep(0);
      expect(joiner.done()).toBe(false);
      u.taskDone();
      await joiner;
    }));

  it('test_shutdown_putter / getter / many: waiters are released with QueueShutDown', () =>
    runIn(make, async () => {
      const q = new Queue<number>(1);
      q.putNowait(1);
      const putter = createTask(() => q.put(2));
      await sleep(0);
      q.shutdown();
      expect(await rejection(putter)).toBeInstanceOf(QueueShutDown);

      const g = new Queue<number>();
      const getters = [0, 1, 2].map(() => createTask(() => g.get()));
      await sleep(0);
      g.shutdown();
      for (const t of getters) expect(await rejection(t)).toBeInstanceOf(QueueShutDown);
    }));

  it('test_shutdown_repr: shutdown shows in the repr', () =>
    runIn(make, async () => {
      const q = new Queue<number>();
      q.shutdown();
      expect(String(q)).toBe('<Queue maxsize=0 shutdown>');
    }));

  it.skip('test_float_maxsize: asyncio takes a float maxsize; API.md makes maxsize an integer (TypeError otherwise)', () => {});
});
