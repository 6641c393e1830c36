/**
 * Session 22: asyncio 3.13 behaviours a ported program meets, each run beside Python 3.13.0
 * (the outcome each test asserts is what Python printed for the same scenario), on every loop.
 */
import { expect, it } from 'vitest';
import { CancelledError, createTask, gather, shield, sleep, waitFor, type Task } from 'loopkit';
import { onEachLoop, rejection, runIn } from './loops.js';

/** The message of the CancelledError `read` throws or rejects with. */
async function cancelMessage(read: () => unknown): Promise<string> {
  let error: unknown = null;
  try {
    await read();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(CancelledError);
  return (error as CancelledError).message;
}

onEachLoop('a cancelled task hands its CancelledError (with the message) to the first read only', (make) => {
  it('await twice, result(), exception(); a body raising its own; cancelled before starting; a body returning a future', () =>
    runIn(make, async () => {
      const sleeper = async (): Promise<void> => {
        await sleep(10);
      };
      // In an array: an async function returning the task itself would await it.
      const cancelledWith = async (body: () => PromiseLike<unknown>, msg: string, started = true): Promise<[Task<unknown>]> => {
        const task = createTask(body);
        if (started) await sleep(0);
        task.cancel(msg);
        return [task];
      };
      let [task] = await cancelledWith(sleeper, 'stop');
      expect(await cancelMessage(() => task)).toBe('stop');
      expect(await cancelMessage(() => task)).toBe('');
      expect(await cancelMessage(() => task.result())).toBe('');
      expect(await cancelMessage(() => task.exception())).toBe('');

      [task] = await cancelledWith(sleeper, 'read by result() first');
      await sleep(0);
      await sleep(0);
      expect(await cancelMessage(() => task.result())).toBe('read by result() first');
      expect(await cancelMessage(() => task)).toBe('');

      task = createTask(async () => {
        throw new CancelledError('own');
      });
      expect(await cancelMessage(() => task)).toBe('own');
      expect(await cancelMessage(() => task)).toBe('');

      [task] = await cancelledWith(sleeper, 'early', false);
      expect(await cancelMessage(() => task)).toBe('early');
      expect(await cancelMessage(() => task)).toBe('');

      [task] = await cancelledWith(() => sleep(10), 'body returned a future');
      expect(await cancelMessage(() => task)).toBe('body returned a future');
      expect(await cancelMessage(() => task)).toBe('');

      // A plain future keeps its message on every read.
      const fut = createTask(sleeper);
      const plain = fut.getLoop().createFuture();
      plain.cancel('plain');
      expect([await cancelMessage(() => plain), await cancelMessage(() => plain)]).toEqual(['plain', 'plain']);
      fut.cancel();
    }));

  it("gather with returnExceptions gives a new error and leaves the task's own; shield and waitFor over a cancelled task", () =>
    runIn(make, async () => {
      const sleeper = async (): Promise<void> => {
        await sleep(10);
      };
      let task = createTask(sleeper);
      await sleep(0);
      task.cancel('m2');
      const [outcome] = await gather(task, { returnExceptions: true });
      expect(outcome).toBeInstanceOf(CancelledError);
      expect((outcome as CancelledError).message).toBe('');
      expect(await cancelMessage(() => task.result())).toBe('m2');

      // gather cancelled: the outer future raises the child's error, the child's next read none.
      task = createTask(sleeper);
      const quick = createTask(async () => 1);
      const outer = gather(task, quick);
      await sleep(0);
      await sleep(0);
      expect(outer.cancel('g')).toBe(true);
      expect(await cancelMessage(() => outer)).toBe('g');
      expect(await cancelMessage(() => task)).toBe('');

      // shield cancels its outer future bare when the inner one is cancelled.
      task = createTask(sleeper);
      await sleep(0);
      const shielded = shield(task);
      task.cancel('inner');
      expect(await cancelMessage(() => shielded)).toBe('');

      task = createTask(sleeper);
      await sleep(0);
      task.cancel('wf');
      expect(await cancelMessage(() => waitFor(task, 5))).toBe('wf');
      expect(await rejection(task)).toBeInstanceOf(CancelledError);
    }));
});
