// The coroutine of asyncio-task.rst's run_coroutine_threadsafe example: asyncio.sleep(delay, result=...).
import { sleep } from 'loopkit';

export const sleepResult = (delay, result) => sleep(delay, result);
