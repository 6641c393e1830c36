// The baseline side of bench/sched.js: each case as a user writes it in plain Node, in a
// process that loads nothing of loopkit (so no AsyncLocalStorage promise hooks).
//   node --expose-gc bench/sched-node.js <case letter>
// Prints one JSON line (see case-report.js).
import { Worker } from 'node:worker_threads';
import { QUEUE_SIZE, caseRun } from './sched-sizes.js';

function chain(n) {
  return new Promise((resolve) => {
    let i = 0;
    const step = () => {
      if (++i < n) setImmediate(step);
      else resolve();
    };
    setImmediate(step);
  });
}

function burst(n) {
  return new Promise((resolve) => {
    let count = 0;
    const cb = () => {
      if (++count === n) resolve();
    };
    for (let i = 0; i < n; i++) setImmediate(cb);
  });
}

function tasks(n) {
  const body = async () => {
    await new Promise((resolve) => setImmediate(resolve));
  };
  const all = [];
  for (let i = 0; i < n; i++) all.push(body());
  return Promise.all(all);
}

async function futures(n) {
  for (let i = 0; i < n; i++) {
    let resolve;
    const p = new Promise((r) => {
      resolve = r;
    });
    resolve(i);
    await p;
  }
}

function timers(ds) {
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

function gatherAll(n) {
  const fns = Array.from({ length: n }, (_, i) => async () => i);
  return Promise.all(fns.map((fn) => fn()));
}

/** What a user hand-rolls for a bounded queue in plain Node: an array with promise waiters. */
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

async function queue(n) {
  const channel = new Channel(QUEUE_SIZE);
  const consumer = (async () => {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += await channel.get();
    return sum;
  })();
  for (let i = 0; i < n; i++) await channel.put(i);
  await consumer;
}

const ONE_JOB = `const { parentPort, workerData } = require('node:worker_threads'); parentPort.postMessage(workerData + 1);`;

/** One job off the main thread without loopkit: a worker started for it. */
async function executor(n) {
  for (let i = 0; i < n; i++) {
    const worker = new Worker(ONE_JOB, { eval: true, workerData: i });
    await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
    await worker.terminate();
  }
}

/** n async functions suspended on one promise that never settles (a gate nobody opens), or each on an hour's timer. */
async function idle(n, how) {
  const gate = new Promise(() => {});
  const body =
    how === 'event'
      ? async () => {
          await gate;
        }
      : async () => {
          await new Promise((resolve) => setTimeout(resolve, 3600e3));
        };
  const all = [];
  for (let i = 0; i < n; i++) all.push(body());
  await new Promise((resolve) => setImmediate(resolve));
  // The pending promise is kept with them: it alone holds the suspended functions (its
  // reactions), so without it they were all collected before the measure (heap 8.8 MB), as
  // a loopkit task on a lost Event is not (the task holds its waiter and the Event).
  return [gate, all];
}

const kase = process.argv[2];
const run = caseRun(kase, { chain, burst, tasks, futures, timers, gatherAll, queue, executor, idle });
if (run === undefined) {
  console.error('usage: node --expose-gc bench/sched-node.js <a|b|c|d|e|f|g|h|i|j>');
  process.exit(2);
}
await run();
process.exit(0);
