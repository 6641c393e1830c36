/**
 * The examples `loopkit examples` runs: one per seed snippet, plus two that go further.
 * `backends`: the LOOPKIT_BACKEND values to run it with (default: selector and proactor).
 * `platforms`: where it can run (default: everywhere); elsewhere it is skipped, saying why.
 */
export interface ExampleEntry {
  name: string;
  /** The seed section it ports, or what it shows. */
  title: string;
  backends?: string[];
  platforms?: string[];
}

export const examples: ExampleEntry[] = [
  { name: 'futures-and-tasks', title: 'Futures and Tasks: bar resolves a Future that foo awaits' },
  { name: 'event-loop', title: 'Event Loop: run a coroutine that sleeps 10 s (scaled)' },
  { name: 'multiple-loops', title: 'Running Multiple Event loops: one loop per worker thread' },
  { name: 'callbacks', title: 'Invoking Callbacks: callLater resolves a Future' },
  { name: 'selector-vs-proactor', title: 'Types of Event Loops: the same echo on SelectorEventLoop and ProactorEventLoop' },
  { name: 'gather-vs-wait', title: 'asyncio.gather vs asyncio.wait' },
  { name: 'loop-handles', title: "Driving another thread's loop: runCoroutineThreadsafe, callSoonThreadsafe" },
  // its commands are POSIX shell and programs
  { name: 'subprocess-per-worker', title: 'One command per worker loop: createSubprocessExec and communicate() on each thread', platforms: ['linux', 'darwin', 'freebsd'] },
  { name: 'custom-backend', title: "A custom backend ('emitter') registered by name", backends: ['emitter'] },
];
