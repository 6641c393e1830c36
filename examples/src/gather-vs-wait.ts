/**
 * Seed: asyncio.gather vs asyncio.wait (the Stack Overflow answer it links to, as code).
 * gather: a Future of the results, in the order given, failing fast or collecting errors;
 * cancelling it cancels its children. wait: two Sets [done, pending] once a condition holds
 * (FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED or a timeout); it cancels nothing.
 */
import { FIRST_COMPLETED, gather, getEventLoop, sleep, wait, type Task } from 'loopkit';
import { banner, seconds } from './common.js';

async function work(name: string, delay: number, fail = false): Promise<string> {
  await sleep(seconds(delay));
  if (fail) throw new Error(`${name} failed`);
  console.log(`  ${name} done after ${delay} s`);
  return name;
}

async function main(): Promise<void> {
  console.log('gather: results come in the order given, not the order of completion');
  console.log('  ->', await gather(() => work('slow', 0.3), () => work('fast', 0.1), () => work('middle', 0.2)));

  console.log('gather with returnExceptions: errors take their place among the results');
  const mixed = await gather(() => work('ok', 0.1), () => work('bad', 0.2, true), { returnExceptions: true });
  console.log('  ->', mixed.map((r) => (r instanceof Error ? `Error(${r.message})` : r)));

  console.log('gather fails fast without it; the other children keep running');
  try {
    await gather(() => work('bad', 0.1, true), () => work('late', 0.2));
  } catch (error) {
    console.log(`  -> raised ${(error as Error).message}`);
  }
  await sleep(seconds(0.2));

  const loop = getEventLoop();
  // 'second' is cancelled before it ends: its long delay keeps it pending even when the
  // examples run with delays scaled down on a busy machine.
  const tasks: Task<string>[] = [loop.createTask(() => work('first', 0.1)), loop.createTask(() => work('second', 5))];
  console.log('wait FIRST_COMPLETED: done and pending sets; what is pending keeps running');
  const [done, pending] = await wait(tasks, { returnWhen: FIRST_COMPLETED });
  console.log(`  -> done: ${[...done].map((t) => t.result())}; pending: ${pending.size}`);

  console.log('wait with a timeout: no TimeoutError, just what finished so far');
  const [, stillPending] = await wait(pending, { timeout: seconds(0.1) });
  console.log(`  -> still pending: ${stillPending.size}; cancelling it is up to us`);
  for (const task of stillPending) task.cancel();
  const [cancelled] = await wait(stillPending);
  console.log(`  -> cancelled: ${[...cancelled].every((t) => t.cancelled())}`);
}

const loop = getEventLoop();
banner(loop);
await loop.runUntilComplete(main);
