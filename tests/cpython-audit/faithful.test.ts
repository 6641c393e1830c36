/**
 * Session 21: asyncio 3.13 behaviours a ported program meets, each run beside Python 3.13.0
 * (the outcome each test asserts is what Python printed for the same scenario), on every loop.
 */
import { expect, it } from 'vitest';
import { CancelledError, Event, Lock, Queue, QueueShutDown, StreamReader, sleep, waitFor, type AbstractEventLoop, type Task } from 'loopkit';
import { onEachLoop, rejection, runIn } from './loops.js';

/**
 * `finish()` in one callback, `t.cancel()` in a callback it queues: asyncio runs the wake-up of
 * the task awaiting the call before it, so that cancel() finds the task done.
 */
function cancelAfterWakeUp(loop: AbstractEventLoop, task: Task<unknown>, finish: () => void): boolean[] {
  const returned: boolean[] = [];
  loop.callSoon(() => {
    finish();
    loop.callSoon(() => returned.push(task.cancel()));
  });
  return returned;
}

onEachLoop('waitFor(call): the call returning and the caller going on are one step', (make) => {
  it('a cancel() queued after the wake-up finds the task done and returns false (Queue.get, Lock.acquire, Event.wait, readline)', () =>
    runIn(make, async (loop) => {
      const q = new Queue<number>();
      let t: Task<unknown> = loop.createTask(() => waitFor(q.get(), 10));
      await sleep(0);
      let returned = cancelAfterWakeUp(loop, t, () => q.putNowait(1));
      expect(await t).toBe(1);
      expect(returned).toEqual([false]);

      const lock = new Lock();
      await lock.acquire();
      t = loop.createTask(async () => {
        await waitFor(lock.acquire(), 10);
        return 'locked';
      });
      await sleep(0);
      returned = cancelAfterWakeUp(loop, t, () => lock.release());
      expect(await t).toBe('locked');
      expect(returned).toEqual([false]);
      expect(lock.locked()).toBe(true);

      const ev = new Event();
      t = loop.createTask(() => waitFor(ev.wait(), 10));
      await sleep(0);
      returned = cancelAfterWakeUp(loop, t, () => ev.set());
      expect(await t).toBe(true);
      expect(returned).toEqual([false]);

      const reader = new StreamReader();
      t = loop.createTask(() => waitFor(reader.readline(), 10));
      await sleep(0);
      returned = cancelAfterWakeUp(loop, t, () => reader.feedData(Buffer.from('line\n')));
      expect(Buffer.from((await t) as Uint8Array).toString()).toBe('line\n');
      expect(returned).toEqual([false]);
    }));

  it('the call failing (QueueShutDown) ends the task with that error before the cancel() queued after it', () =>
    runIn(make, async (loop) => {
      const q = new Queue<number>();
      const t = loop.createTask(() => waitFor(q.get(), 10));
      await sleep(0);
      const returned = cancelAfterWakeUp(loop, t, () => q.shutdown());
      expect(await rejection(t)).toBeInstanceOf(QueueShutDown);
      expect(returned).toEqual([false]);
    }));

  it('a task past the call when the cancel() comes is cancelled at its next await, the item taken', () =>
    runIn(make, async (loop) => {
      const q = new Queue<number>();
      const got: number[] = [];
      const t = loop.createTask(async () => {
        got.push(await waitFor(q.get(), 10));
        await sleep(0);
        return 'not reached';
      });
      await sleep(0);
      const returned = cancelAfterWakeUp(loop, t, () => q.putNowait(1));
      expect(((await rejection(t)) as CancelledError).message).toBe('');
      expect(returned).toEqual([true]);
      expect(got).toEqual([1]);
      expect(q.qsize()).toBe(0);
      expect(t.cancelling()).toBe(1);
    }));

  it('a cancel() in the callback that finished the call still wins: the item stays queued', () =>
    runIn(make, async (loop) => {
      const q = new Queue<number>();
      const t = loop.createTask(() => waitFor(q.get(), 10));
      await sleep(0);
      let returned: boolean | null = null;
      loop.callSoon(() => {
        q.putNowait(1);
        returned = t.cancel();
      });
      expect(await rejection(t)).toBeInstanceOf(CancelledError);
      expect(returned).toBe(true);
      expect(q.qsize()).toBe(1);
    }));
});
