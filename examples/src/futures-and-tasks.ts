/**
 * Seed: futures and tasks. bar resolves a Future that foo awaits; both run as tasks on the
 * current loop. Note: Python's `await t2, t1` awaits only t2 (the comma makes a tuple).
 */
import { Future, getEventLoop, sleep } from 'loopkit';
import { banner, seconds } from './common.js';

async function bar(future: Future<string>): Promise<void> {
  console.log('bar will sleep for 3 seconds');
  await sleep(seconds(3));
  console.log('bar resolving the future');
  future.done();
  future.setResult('future is resolved');
}

async function foo(future: Future<string>): Promise<void> {
  console.log('foo will await the future');
  await future;
  console.log('foo finds the future resolved');
}

async function main(): Promise<void> {
  const future = new Future<string>();

  const loop = getEventLoop();
  const t1 = loop.createTask(() => bar(future));
  const t2 = loop.createTask(() => foo(future));

  await t2;
}

const loop = getEventLoop();
banner(loop);
await loop.runUntilComplete(main);
console.log('main exiting');
