// The other thread of asyncio-task.rst's run_coroutine_threadsafe example: it submits a
// coroutine to the loop of the thread that started it and reports the result.
import { parentPort, workerData } from 'node:worker_threads';
import { runCoroutineThreadsafe } from 'loopkit';

const coro = { module: new URL('./threadsafe-coro.mjs', import.meta.url).href, name: 'sleepResult' };
const future = runCoroutineThreadsafe(workerData.handle, coro, 0.01, 3);
parentPort.postMessage(`result from the thread: ${await future}`);
