// pnpm bench:sched: the loop's scheduling against raw Node, side by side in one process.
import { Worker } from 'node:worker_threads';
import { BaseEventLoop, Queue, gather, getRunningLoop, run, sleep } from '@loopkit/core';
import { measure, printTable } from './harness.js';

const progress = (name) => process.stdout.write(`  running ${name}...\n`);

function chainLoopkit(n) {
  const loop = new BaseEventLoop();
  let i = 0;
  const step = () => {
    if (++i < n) loop.callSoon(step);
    else loop.stop();
  };
  loop.callSoon(step);
  return loop.runForever().then(() => loop.close());
}

function chainImmediate(n) {
  return new Promise((resolve) => {
    let i = 0;
    const step = () => {
      if (++i < n) setImmediate(step);
      else resolve();
    };
    setImmediate(step);
  });
}

function burstLoopkit(n) {
  const loop = new BaseEventLoop();
  let count = 0;
  const cb = () => {
    if (++count === n) loop.stop();
  };
  for (let i = 0; i < n; i++) loop.callSoon(cb);
  return loop.runForever().then(() => loop.close());
}

function burstImmediate(n) {
  return new Promise((resolve) => {
    let count = 0;
    const cb = () => {
      if (++count === n) resolve();
    };
    for (let i = 0; i < n; i++) setImmediate(cb);
  });
}

function tasksLoopkit(n) {
  const loop = new BaseEventLoop();
  return loop
    .runUntilComplete(async () => {
      const body = async () => {
        await sleep(0);
      };
      const tasks = [];
      for (let i = 0; i < n; i++) tasks.push(loop.createTask(body));
      for (const t of tasks) await t;
    })
    .then(() => loop.close());
}

function tasksNode(n) {
  const body = async () => {
    await new Promise((resolve) => setImmediate(resolve));
  };
  const all = [];
  for (let i = 0; i < n; i++) all.push(body());
  return Promise.all(all);
}

function futuresLoopkit(n) {
  const loop = new BaseEventLoop();
  return loop
    .runUntilComplete(async () => {
      for (let i = 0; i < n; i++) {
        const fut = loop.createFuture();
        fut.setResult(i);
        await fut;
      }
    })
    .then(() => loop.close());
}

async function futuresNode(n) {
  for (let i = 0; i < n; i++) {
    let resolve;
    const p = new Promise((r) => {
      resolve = r;
    });
    resolve(i);
    await p;
  }
}

// The same pseudo-random delays for both sides.
function delays(n) {
  let seed = 42;
  return Array.from({ length: n }, () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return (seed / 0x7fffffff) * 0.01;
  });
}

function timersLoopkit(ds) {
  const loop = new BaseEventLoop();
  let remaining = Math.ceil(ds.length / 2);
  const fire = () => {
    if (--remaining === 0) loop.stop();
  };
  ds.forEach((d, i) => {
    const h = loop.callLater(d, fire);
    if (i % 2 === 1) h.cancel();
  });
  return loop.runForever().then(() => loop.close());
}

function timersNode(ds) {
  return new Promise((resolve) => {
    let remaining = Math.ceil(ds.length / 2);
    const fire = () => {
      if (--remaining === 0) resolve();
    };
    ds.forEach((d, i) => {
      const h = setTimeout(fire, d * 1000);
      if (i % 2 === 1) clearTimeout(h);
    });
  });
}

function gatherLoopkit(n) {
  const loop = new BaseEventLoop();
  const fns = Array.from({ length: n }, (_, i) => async () => i);
  return loop.runUntilComplete(() => gather(...fns)).then(() => loop.close());
}

function gatherNode(n) {
  const fns = Array.from({ length: n }, (_, i) => async () => i);
  return Promise.all(fns.map((fn) => fn()));
}

const QUEUE_SIZE = 1000;

function queueLoopkit(n) {
  const loop = new BaseEventLoop();
  return loop
    .runUntilComplete(async () => {
      const queue = new Queue(QUEUE_SIZE);
      const consumer = loop.createTask(async () => {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += await queue.get();
        return sum;
      });
      for (let i = 0; i < n; i++) await queue.put(i);
      await consumer;
    })
    .then(() => loop.close());
}

/** The hand-rolled equivalent in plain Node: a bounded array with promise waiters. */
class Channel {
  items = [];
  getters = [];
  putters = [];
  constructor(size) {
    this.size = size;
  }
  async put(item) {
    while (this.items.length >= this.size) await new Promise((resolve) => this.putters.push(resolve));
    this.items.push(item);
    this.getters.shift()?.();
  }
  async get() {
    while (this.items.length === 0) await new Promise((resolve) => this.getters.push(resolve));
    const item = this.items.shift();
    this.putters.shift()?.();
    return item;
  }
}

async function queueNode(n) {
  const channel = new Channel(QUEUE_SIZE);
  const consumer = (async () => {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += await channel.get();
    return sum;
  })();
  for (let i = 0; i < n; i++) await channel.put(i);
  await consumer;
}

// (h) The first executor call of a new loop, as each run() of a program makes one: loopkit
// keeps a worker warm once the process has used the executor. The baseline is what a user
// writes without loopkit for one job off the main thread: a worker started for it.
async function firstCallLoopkit(n) {
  for (let i = 0; i < n; i++) await run(() => getRunningLoop().runInExecutor(null, (x) => x + 1, i));
}

const ONE_JOB = `const { parentPort, workerData } = require('node:worker_threads'); parentPort.postMessage(workerData + 1);`;

async function firstCallWorker(n) {
  for (let i = 0; i < n; i++) {
    const worker = new Worker(ONE_JOB, { eval: true, workerData: i });
    await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
    void worker.terminate();
  }
}

export const cases = [
  { name: '(a) 1M callSoon chain vs setImmediate chain', ops: 1e6, loopkit: () => chainLoopkit(1e6), baseline: () => chainImmediate(1e6), target: '>= 1.6x' },
  { name: '(b) 1M callSoon at once vs 1M setImmediate', ops: 1e6, loopkit: () => burstLoopkit(1e6), baseline: () => burstImmediate(1e6), target: '>= 1.0x' },
  { name: '(c) 100k tasks await sleep(0) vs async fns + setImmediate', ops: 1e5, loopkit: () => tasksLoopkit(1e5), baseline: () => tasksNode(1e5), target: '>= 1.0x' },
  { name: '(d) 1M Future set+await vs Promise', ops: 1e6, loopkit: () => futuresLoopkit(1e6), baseline: () => futuresNode(1e6), target: '>= 0.4x' },
  { name: '(e) 100k callLater (half cancelled) vs setTimeout', ops: 1e5, loopkit: () => timersLoopkit(delays(1e5)), baseline: () => timersNode(delays(1e5)), target: '>= 1.0x' },
  { name: '(f) 100k tasks through gather vs Promise.all', ops: 1e5, loopkit: () => gatherLoopkit(1e5), baseline: () => gatherNode(1e5) },
  { name: '(g) Queue producer/consumer, 1M items vs a promise channel', ops: 1e6, loopkit: () => queueLoopkit(1e6), baseline: () => queueNode(1e6) },
  { name: '(h) first executor call of a new run() vs a new Worker round trip', ops: 20, loopkit: () => firstCallLoopkit(20), baseline: () => firstCallWorker(20), target: '>= 10x' },
];

/**
 * Run one task first: from then on Node's AsyncLocalStorage hooks (which loopkit needs for
 * currentTask() across awaits) are on for the whole process, as in any program running
 * loopkit tasks, so baseline and loopkit cases are measured in the same process state.
 */
async function enableTaskContext() {
  const loop = new BaseEventLoop();
  await loop.runUntilComplete(async () => sleep(0));
  loop.close();
}

export async function runCases(list, title) {
  const only = process.argv[2];
  const rows = [];
  await enableTaskContext();
  for (const c of list) {
    if (only && !c.name.includes(only)) continue;
    progress(c.name);
    // Alternate so neither side always runs on a warmer process.
    const baseline = await measure(c.ops, c.baseline);
    const loopkit = await measure(c.ops, c.loopkit);
    rows.push({ name: c.name, loopkit, baseline, target: c.target });
  }
  printTable(title, rows);
}

if (import.meta.url === `file://${process.argv[1]}`) await runCases(cases, 'Scheduling: loopkit vs raw Node');
