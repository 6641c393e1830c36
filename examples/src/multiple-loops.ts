/**
 * Seed: several event loops, one per thread. Each worker_thread (Python's Thread) makes
 * its own loop, sets it as its thread's current loop, runs a coroutine and closes it; the
 * main thread's current loop meanwhile exists but is not running. This file is both the
 * main program and the workers' code.
 */
import { isMainThread, Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { getEventLoop, newEventLoop, setEventLoop, sleep } from 'loopkit';
import { banner, seconds, threadName } from './common.js';

async function doSomethingImportant(sleepFor: number): Promise<void> {
  console.log(`Is event loop running in thread ${threadName()} = ${getEventLoop().isRunning()}\n`);

  await sleep(seconds(sleepFor));
}

async function launchEventLoops(): Promise<void> {
  // get a new event loop
  const loop = newEventLoop();

  // set the event loop for the current thread
  setEventLoop(loop);

  // run a coroutine on the event loop
  await loop.runUntilComplete(() => doSomethingImportant(1 + Math.floor(Math.random() * 5)));

  // remember to close the loop
  loop.close();
}

if (isMainThread) {
  banner(getEventLoop());
  const t1 = new Worker(new URL(import.meta.url));
  const t2 = new Worker(new URL(import.meta.url));

  console.log(`Is event loop running in thread ${threadName()} = ${getEventLoop().isRunning()}\n`);

  await Promise.all([once(t1, 'exit'), once(t2, 'exit')]);
} else {
  await launchEventLoops();
}
