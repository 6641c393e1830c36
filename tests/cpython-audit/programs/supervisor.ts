/**
 * The loopkit port of supervisor.py: children made with createSubprocessExec, stdout and
 * stderr streamed line by line; one restarted on crash with a doubling back-off, one that
 * ignores SIGTERM killed after a grace period, one dying of SIGTERM, one of SIGUSR1, and one
 * still running when main returns, which run()'s shutdown cancels and its supervisor kills.
 * `print` receives what supervisor.py prints, line by line.
 */
import * as os from 'node:os';
import { Event, PIPE, TimeoutError, createSubprocessExec, createTask, gather, sleep, waitFor, type Process, type StreamReader } from 'loopkit';

const FLAKY = 'echo start $1; echo warn $1 >&2; [ "$1" -lt 3 ] && exit 3; exit 0';
const STUBBORN = 'trap "echo got TERM" TERM; echo ready; while :; do sleep 0.05; done';
const POLITE = 'echo ready; exec sleep 30';
const SUICIDAL = 'echo bye; kill -USR1 $$; sleep 5';
const FOREVER = 'echo up; exec sleep 30';

type Stopping = (process: Process, out: string[]) => Promise<void>;

async function stream(name: string, reader: StreamReader, lines: string[]): Promise<void> {
  for await (const line of reader) lines.push(`${name}: ${line.toString().trimEnd()}`);
}

function spawn(name: string, script: string, ...args: string[]): Promise<Process> {
  return createSubprocessExec('sh', ['-c', script, name, ...args], { stdout: PIPE, stderr: PIPE });
}

async function watch(name: string, process: Process, stopping: Stopping | null = null): Promise<string[]> {
  const out: string[] = [];
  const err: string[] = [];
  const readers = gather(() => stream(`${name} out`, process.stdout!, out), () => stream(`${name} err`, process.stderr!, err));
  if (stopping !== null) await stopping(process, out);
  const code = await process.wait();
  await readers;
  return [...out, ...err, `${name} exit ${code}`];
}

async function restartOnCrash(events: string[]): Promise<void> {
  let delay = 0.05;
  for (let attempt = 1; attempt < 6; attempt++) {
    const process = await spawn('flaky', FLAKY, String(attempt));
    events.push(...(await watch(`flaky#${attempt}`, process)));
    if (process.returncode === 0) break;
    events.push(`flaky restart in ${delay}`);
    await sleep(delay);
    delay *= 2;
  }
}

function stopAfter(timeout: number, grace: number): Stopping {
  return async (process, out) => {
    try {
      await waitFor(process.wait(), timeout);
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
      process.terminate();
      try {
        await waitFor(process.wait(), grace);
      } catch (error) {
        if (!(error instanceof TimeoutError)) throw error;
        out.push('grace expired: kill');
        process.kill();
      }
    }
  };
}

async function forever(print: (line: string) => void, spawned: Event): Promise<void> {
  const process = await spawn('forever', FOREVER);
  spawned.set();
  try {
    await process.wait();
  } finally {
    process.kill();
    const code = await process.wait();
    print(`forever cleaned up, exit ${code}`);
  }
}

export async function main(print: (line: string) => void): Promise<void> {
  const events: string[] = [];
  await restartOnCrash(events);
  // Functions, so gather runs each in a task of its own as asyncio.gather does with coroutines:
  // a bare watch(...) promise would run inside main's task, and the waitFor timeouts in it
  // would cancel main, not the wait (waitFor's timeout cancels the task it runs in).
  const [stubborn, polite, suicidal] = [await spawn('stubborn', STUBBORN), await spawn('polite', POLITE), await spawn('suicidal', SUICIDAL)];
  const results = await gather(
    () => watch('stubborn', stubborn, stopAfter(0.3, 0.3)),
    () => watch('polite', polite, stopAfter(0.3, 0.3)),
    () => watch('suicidal', suicidal),
  );
  for (const lines of results) events.push(...lines);
  const { SIGTERM, SIGKILL, SIGUSR1 } = os.constants.signals;
  events.push(`SIGTERM ${SIGTERM} SIGKILL ${SIGKILL} SIGUSR1 ${SIGUSR1}`);
  // supervisor.py sleeps 0.2 s here; under load 14-17 the spawn alone took longer, and run()
  // then cancelled the task before its try: the cleanup under test must have a child to clean.
  const spawned = new Event();
  createTask(() => forever(print, spawned));
  await spawned.wait();
  await sleep(0.2);
  for (const line of events) print(line);
}
