/**
 * The loopkit port of shutdown.py: workers of the usual kinds run until the program sends
 * itself SIGTERM (idle in a sleep; cleaning up when cancelled and re-raising; swallowing the
 * cancellation and returning what it has; a shielded commit that finishes though its task is
 * cancelled; failing while cancelled; crashed before). The handler sets an Event; main cancels
 * its workers and gathers them with returnExceptions. Returns shutdown.py's lines.
 */
import { CancelledError, ConnectionError, Event, allTasks, createTask, currentTask, gather, getRunningLoop, shield, sleep } from 'loopkit';

/** The error's class as asyncio names it (JavaScript's plain Error stands for RuntimeError). */
function pythonName(error: Error): string {
  return error.name === 'Error' ? 'RuntimeError' : error.name;
}

export async function main(): Promise<string[]> {
  const loop = getRunningLoop();
  const events: string[] = [];
  const stop = new Event();
  const gate = new Event();
  const names = ['idle', 'cleanup', 'stubborn', 'committer', 'failing', 'crashed'] as const;
  const started = Object.fromEntries(names.map((name) => [name, new Event()])) as Record<(typeof names)[number], Event>;

  const bodies: Record<(typeof names)[number], () => Promise<unknown>> = {
    async idle() {
      started.idle.set();
      await sleep(3600);
    },
    async cleanup() {
      started.cleanup.set();
      try {
        await new Event().wait();
      } catch (e) {
        if (!(e instanceof CancelledError)) throw e;
        events.push('cleanup: closing');
        await sleep(0);
        events.push('cleanup: closed');
        throw e;
      }
    },
    async stubborn() {
      started.stubborn.set();
      try {
        await new Event().wait();
      } catch (e) {
        if (!(e instanceof CancelledError)) throw e;
        return 'partial result';
      }
    },
    async committer() {
      const inner = createTask(async () => {
        started.committer.set();
        await gate.wait();
        events.push('commit: done');
        return 'committed';
      }, { name: 'commit' });
      try {
        return await shield(inner);
      } catch (e) {
        if (!(e instanceof CancelledError)) throw e;
        events.push('committer: cancelled, finishing the commit');
        return await inner;
      }
    },
    async failing() {
      started.failing.set();
      try {
        await new Event().wait();
      } catch (e) {
        if (!(e instanceof CancelledError)) throw e;
        throw new Error('flush failed');
      }
    },
    async crashed() {
      started.crashed.set();
      throw new ConnectionError('peer went away');
    },
  };

  loop.addSignalHandler('SIGTERM', () => stop.set());
  const workers = names.map((name) => createTask(bodies[name], { name }));
  await gather(...names.map((name) => started[name].wait()));
  process.kill(process.pid, 'SIGTERM');
  await stop.wait();
  events.push(`SIGTERM received, handler removed: ${loop.removeSignalHandler('SIGTERM') ? 'True' : 'False'}`);
  const others = [...allTasks()].filter((task) => task !== currentTask());
  events.push(`pending: ${others.map((task) => task.getName()).sort().join(', ')}`);
  for (const task of workers) task.cancel();
  gate.set();
  const results = await gather(...workers, { returnExceptions: true });
  workers.forEach((task, i) => {
    const result = results[i];
    const shown = typeof result === 'string' ? `'${result}'` : `${pythonName(result as Error)}: ${(result as Error).message}`;
    events.push(`${task.getName()}: ${shown} (cancelled: ${task.cancelled() ? 'True' : 'False'})`);
  });
  events.push(`left: ${allTasks().size - 1}`);
  return events;
}
