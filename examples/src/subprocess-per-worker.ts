/**
 * One command per worker loop: the seed's "one event loop per thread", each loop running a
 * child process. Every worker_thread makes its own loop, runs a shell command with its
 * stdout piped, reads the output with communicate(), and closes the loop; the main thread
 * checks what each one reports. On the selector loop the children are started natively
 * and their exits seen through a pidfd (which works on any thread); on the proactor they are
 * node:child_process children. This file is both the main program and the workers' code.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { once } from 'node:events';
import { createSubprocessExec, getEventLoop, newEventLoop, PIPE, setEventLoop } from 'loopkit';
import { banner, seconds, threadName } from './common.js';

interface Report {
  thread: string;
  pid: number;
  output: string;
  returncode: number | null;
}

async function runCommand(word: string): Promise<Report> {
  const delay = seconds(0.5).toFixed(3);
  const proc = await createSubprocessExec('/bin/sh', ['-c', `sleep ${delay}; echo "$WORD from pid $$"; exit 3`], {
    stdout: PIPE,
    env: { WORD: word, PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  const [out] = await proc.communicate();
  return { thread: threadName(), pid: proc.pid, output: out!.toString().trim(), returncode: proc.returncode };
}

async function launchEventLoop(word: string): Promise<Report> {
  const loop = newEventLoop();
  setEventLoop(loop);
  try {
    return await loop.runUntilComplete(() => runCommand(word));
  } finally {
    loop.close();
  }
}

if (isMainThread) {
  banner(getEventLoop());
  const words = ['hello', 'bonjour', 'hola'];
  const workers = words.map((word) => new Worker(new URL(import.meta.url), { workerData: word }));
  const reports: Report[] = [];
  for (const w of workers) w.on('message', (r: Report) => reports.push(r));
  await Promise.all(workers.map((w) => once(w, 'exit')));
  let ok = reports.length === words.length;
  for (const r of reports.sort((a, b) => a.output.localeCompare(b.output))) {
    console.log(`${r.thread}: pid ${r.pid} said "${r.output}" and exited with ${r.returncode}`);
    ok &&= r.returncode === 3 && r.output === `${words.find((w) => r.output.startsWith(w))} from pid ${r.pid}`;
  }
  if (!ok) {
    console.error('a worker did not report what its command printed');
    process.exitCode = 1;
  }
} else {
  parentPort!.postMessage(await launchEventLoop(workerData as string));
}
