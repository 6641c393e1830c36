/**
 * Scenarios of CPython's test_asyncio/test_queues.py (3.13) left by queues.test.ts: a reader or
 * writer cancelled with the item already there for it (nothing dropped), a cancelled put whose
 * slot a get_nowait took, putters waiting on a full queue, getters gone after a waitFor
 * timeout, and shutdown(immediate) with unfinished tasks, for Queue, LifoQueue and
 * PriorityQueue.
 */
import { expect, it } from 'vitest';
import {
  CancelledError,
  LifoQueue,
  PriorityQueue,
  Queue,
  QueueShutDown,
  TimeoutError,
  createTask,
  sleep,
  taskGroup,
  waitFor,
} from 'loopkit';
import { onEachLoop, rejection, runIn } from '../contract/loops.js';

onEachLoop('test_queues (left)', (make) => {
  it('test_get_cancel_drop_one_pending_reader: a reader cancelled with items there takes none; the next get has the first', () =>
    runIn(make, async () => {
      const q = new Queue<number>();
      let reader = createTask(() => q.get());
      await sleep(0);
      q.putNowait(1);
      q.putNowait(2);
      reader.cancel();
      try {
        await reader;
      } catch (error) {
        expect(error).toBeInstanceOf(CancelledError);
        reader = createTask(() => q.get());
        await reader;
      }
      // 2 would mean 1 was dropped.
      expect(reader.result()).toBe(1);
    }));

  it('test_get_cancel_drop_many_pending_readers: one of three readers cancelled, the other two get both items', () =>
    runIn(make, async () => {
      const q = new Queue<number>();
      let results: number[] = [];
      await taskGroup(async (tg) => {
        const reader1 = tg.createTask(() => q.get());
        const reader2 = tg.createTask(() => q.get());
        const reader3 = tg.createTask(() => q.get());
        await sleep(0);
        q.putNowait(1);
        q.putNowait(2);
        reader1.cancel();
        expect(await rejection(reader1)).toBeInstanceOf(CancelledError);
        await reader3;
        results = [await reader2, await reader3];
      });
      expect(new Set(results)).toEqual(new Set([1, 2]));
      expect(q.qsize()).toBe(0);
    }));

  it('test_put_cancel_drop: a writer cancelled after room was made puts nothing; putting again puts once', () =>
    runIn(make, async () => {
      const q = new Queue<number>(1);
      q.putNowait(1);
      let writer = createTask(() => q.put(2));
      await sleep(0);
      expect(q.getNowait()).toBe(1);
      writer.cancel();
      try {
        await writer;
      } catch (error) {
        expect(error).toBeInstanceOf(CancelledError);
        writer = createTask(() => q.put(2));
        await writer;
      }
      expect(q.getNowait()).toBe(2);
      expect(q.qsize()).toBe(0);
    }));

  it('test_cancelled_put_silence_value_error_exception: a put cancelled after getNowait woke it ends cancelled, nothing else', () =>
    runIn(make, async (_loop, reports) => {
      const q = new Queue<number>(1);
      q.putNowait(1);
      const putTask = createTask(() => q.put(1));
      await sleep(0);
      q.getNowait();
      putTask.cancel();
      expect(await rejection(putTask)).toBeInstanceOf(CancelledError);
      expect(reports).toEqual([]);
    }));

  it('test_why_are_putters_waiting: four putters on a queue of 2 and a getter emptying it once all finish', () =>
    runIn(make, async () => {
      const q = new Queue<number>(2);
      await taskGroup(async (tg) => {
        tg.createTask(async () => {
          await sleep(0);
          const n = q.qsize();
          for (let i = 0; i < n; i++) q.getNowait();
        });
        for (const item of [0, 1, 2, 3]) tg.createTask(() => q.put(item));
      });
      expect(q.qsize()).toBe(2);
      expect([q.getNowait(), q.getNowait()]).toEqual([2, 3]);
    }));

  it('test_cancelled_getters_not_being_held_in_self_getters: after waitFor(q.get(), 0.1) times out, an item put stays in the queue', () =>
    runIn(make, async () => {
      const q = new Queue<number>(5);
      expect(await rejection(waitFor(q.get(), 0.1))).toBeInstanceOf(TimeoutError);
      q.putNowait(7);
      await sleep(0);
      expect(q.qsize()).toBe(1);
      expect(q.getNowait()).toBe(7);
    }));

  for (const [name, Make] of [['Queue', Queue], ['LifoQueue', LifoQueue], ['PriorityQueue', PriorityQueue]] as const) {
    it(`test_shutdown_immediate_with_unfinished (${name}): the item not yet taken is dropped and counted done; join waits for the one taken`, () =>
      runIn(make, async () => {
        const q = new Make<string>();
        q.putNowait('data');
        q.putNowait('data');
        const joining = createTask(() => q.join());
        expect(await q.get()).toBe('data');
        q.shutdown(true);
        expect(q.qsize()).toBe(0);
        await sleep(0);
        expect(joining.done()).toBe(false);
        expect(await rejection(q.put('data'))).toBeInstanceOf(QueueShutDown);
        expect(() => q.putNowait('data')).toThrow(QueueShutDown);
        expect(await rejection(q.get())).toBeInstanceOf(QueueShutDown);
        expect(() => q.getNowait()).toThrow(QueueShutDown);
        q.taskDone();
        expect(() => q.taskDone()).toThrow(RangeError);
        await sleep(0);
        expect(joining.done()).toBe(true);
        await joining;
      }));
  }
});
