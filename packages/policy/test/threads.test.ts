import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import {
  BaseEventLoop,
  CancelledError,
  callSoonThreadsafe,
  ConcurrentFuture,
  InvalidStateError,
  runCoroutineThreadsafe,
  TestLoop,
  type LoopHandle,
} from '@loopkit/core';

const WORKER = new URL('./fixtures/loop-worker.mjs', import.meta.url);
const coros = new URL('./fixtures/coros.mjs', import.meta.url).href;
const ref = (name: string) => ({ module: coros, name });

async function startWorker(): Promise<{ worker: Worker; handle: LoopHandle }> {
  const worker = new Worker(WORKER);
  const [{ handle }] = (await once(worker, 'message')) as [{ handle: LoopHandle }];
  return { worker, handle };
}

describe('a loop per worker, driven through its thread-safe handle', () => {
  let workers: Array<{ worker: Worker; handle: LoopHandle }>;
  beforeAll(async () => {
    workers = await Promise.all([startWorker(), startWorker()]);
  });
  afterAll(async () => {
    await Promise.all(workers.map(({ worker }) => worker.terminate()));
  });

  it('runs coroutines on each worker loop and returns their results', async () => {
    const results = await Promise.all(
      workers.flatMap(({ handle }) => [1, 2, 3].map((i) => runCoroutineThreadsafe(handle, ref('whereAmI'), i, 10))),
    );
    expect(results.map((r: any) => r.sum)).toEqual([11, 12, 13, 11, 12, 13]);
    const [a, b] = workers.map(({ worker }) => worker.threadId);
    expect(results.map((r: any) => r.threadId)).toEqual([a, a, a, b, b, b]);
    // Each ran as a task on its worker's loop, which is that thread's current loop.
    expect(results.every((r: any) => r.inTask && r.current)).toBe(true);
  });

  it('a ConcurrentFuture reports its state like concurrent.futures.Future', async () => {
    const future = runCoroutineThreadsafe<{ sum: number }>(workers[0]!.handle, ref('whereAmI'), 1, 1);
    expect(future).toBeInstanceOf(ConcurrentFuture);
    expect(future.done()).toBe(false);
    expect(() => future.result()).toThrow(InvalidStateError);
    await future;
    expect(future.done()).toBe(true);
    expect(future.result().sum).toBe(2);
    expect(future.exception()).toBeNull();
  });

  it('brings errors back with their message, name and fields', async () => {
    const future = runCoroutineThreadsafe(workers[0]!.handle, ref('fail'), 'boom');
    await expect(future).rejects.toMatchObject({ message: 'boom', name: 'CustomError', code: 'EBOOM' });
    expect(future.exception()).toBeInstanceOf(Error);
  });

  it('rejects an export that is missing, or a result that cannot be cloned', async () => {
    await expect(runCoroutineThreadsafe(workers[0]!.handle, ref('nope'))).rejects.toThrow(/has no exported function "nope"/);
    await expect(runCoroutineThreadsafe(workers[0]!.handle, ref('unclonable'))).rejects.toThrow(/cannot cross threads/);
  });

  it('cancelling the future cancels the task on the other loop', async () => {
    const { handle } = workers[1]!;
    const future = runCoroutineThreadsafe(handle, ref('forever'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(future.cancel()).toBe(true);
    expect(future.cancelled()).toBe(true);
    expect(future.cancel()).toBe(false);
    await expect(future).rejects.toBeInstanceOf(CancelledError);
    await expect.poll(() => runCoroutineThreadsafe(handle, ref('cancelledCount'))).toBe(1);
  });

  it('callSoonThreadsafe calls a named function on the loop, in order', async () => {
    const { handle } = workers[0]!;
    for (const i of [1, 2, 3, 4]) callSoonThreadsafe(handle, ref('record'), i);
    expect(await runCoroutineThreadsafe(handle, ref('recorded'))).toEqual([1, 2, 3, 4]);
  });

  it('stopping a worker loop lets its thread exit and fails later requests', async () => {
    const { worker, handle } = await startWorker();
    const exited = once(worker, 'exit');
    callSoonThreadsafe(handle, ref('stop'));
    expect(await exited).toEqual([0]);
    await expect(runCoroutineThreadsafe(handle, ref('whereAmI'), 1, 2)).rejects.toThrow(/handle is closed/);
    expect(() => callSoonThreadsafe(handle, ref('record'), 1)).toThrow(/handle is closed/);
  });

  it('work pending when the loop closes fails instead of hanging', async () => {
    const { worker, handle } = await startWorker();
    const pending = runCoroutineThreadsafe(handle, ref('forever'));
    callSoonThreadsafe(handle, ref('stop'));
    await once(worker, 'exit');
    await expect(pending).rejects.toThrow(/handle is closed/);
  });
});

describe('runCoroutineThreadsafe with a loop of this thread', () => {
  it('takes the coroutine function itself', async () => {
    const loop = new TestLoop();
    const future = runCoroutineThreadsafe(loop, async () => 42);
    await loop.runUntilComplete(async () => {
      while (!future.done()) await new Promise((resolve) => setImmediate(resolve));
    });
    expect(future.result()).toBe(42);
    loop.close();
  });

  it('imports a {module, name} reference', async () => {
    const loop = new BaseEventLoop();
    const future = runCoroutineThreadsafe<{ sum: number }>(loop, ref('whereAmI'), 2, 3);
    const result = await loop.runUntilComplete(async () => future);
    expect(result.sum).toBe(5);
    loop.close();
  });
});

describe('argument checks', () => {
  it('names the bad argument', () => {
    expect(() => runCoroutineThreadsafe({} as never, ref('whereAmI'))).toThrow(/handle must be a loop's threadsafeHandle/);
    const loop = new TestLoop();
    const handle = loop.threadsafeHandle();
    expect(() => runCoroutineThreadsafe(handle, { module: './coros.mjs', name: 'x' })).toThrow(/ref.module must be a file URL/);
    expect(() => callSoonThreadsafe(handle, 'whereAmI' as never)).toThrow(/ref must be a \{module, name\}/);
    handle.port.close();
    loop.close();
  });
});

describe('a handle whose worker was killed', () => {
  it('fails at once, not forever, when first used after worker.terminate()', async () => {
    const { worker, handle } = await startWorker();
    await worker.terminate(); // the worker's exit hook never runs: nothing marked the handle closed
    const future = runCoroutineThreadsafe(handle, ref('whereAmI'), 1, 1);
    await expect(future).rejects.toThrow(/closed|gone|exited/i);
    expect(() => callSoonThreadsafe(handle, ref('whereAmI'), 1, 1)).toThrow(/closed|gone|exited/i);
  });
});
