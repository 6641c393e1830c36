/**
 * Beyond the seed: driving another thread's loop. A worker runs its own loop and posts a
 * thread-safe handle to the main thread, which runs coroutines there with
 * runCoroutineThreadsafe (asyncio.run_coroutine_threadsafe) and finally stops it with
 * callSoonThreadsafe. Functions cannot cross threads: both name an export of a module,
 * here this very file.
 */
import { isMainThread, parentPort, threadId, Worker } from 'node:worker_threads';
import { once } from 'node:events';
import {
  callSoonThreadsafe,
  getEventLoop,
  getRunningLoop,
  newEventLoop,
  runCoroutineThreadsafe,
  setEventLoop,
  sleep,
  threadsafeHandle,
  type LoopHandle,
} from 'loopkit';
import { banner, seconds, threadName } from './common.js';

export async function square(x: number): Promise<string> {
  await sleep(seconds(0.1));
  return `${x}^2 = ${x * x}, computed in ${threadName()} on ${getRunningLoop().constructor.name}`;
}

export function stop(): void {
  getRunningLoop().stop();
}

if (isMainThread) {
  banner(getEventLoop());
  const worker = new Worker(new URL(import.meta.url));
  const [handle] = (await once(worker, 'message')) as [LoopHandle];
  const self = { module: import.meta.url, name: 'square' };
  const results = await Promise.all([2, 3, 4].map((x) => runCoroutineThreadsafe<string>(handle, self, x)));
  for (const line of results) console.log(`${threadName()} got: ${line}`);
  callSoonThreadsafe(handle, { module: import.meta.url, name: 'stop' });
  await once(worker, 'exit');
  console.log('worker loop stopped and closed');
} else {
  // No top-level await on this path: the main thread's requests import this module here,
  // and an import waits for the module's evaluation to finish.
  const loop = newEventLoop();
  setEventLoop(loop);
  const handle = threadsafeHandle(loop);
  parentPort!.postMessage(handle, [handle.port]);
  void loop.runForever().then(() => {
    loop.close();
    console.log(`Thread-${threadId}: loop closed`);
  });
}
