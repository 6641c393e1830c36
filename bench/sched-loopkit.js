// The loopkit side of bench/sched.js, in its own process:
//   node --expose-gc bench/sched-loopkit.js <case letter> <policy|base>
// `policy`: every loop comes from the `loopkit` package's newEventLoop() (the policy's
// choice: LOOPKIT_BACKEND names another backend), and run() makes its loop the same way.
// `base`: BaseEventLoop alone, the reference with no I/O backend under it.
// Prints one JSON line (see case-report.js) plus the loop's class.
import { BaseEventLoop, Event, Queue, _world, gather, getRunningLoop, newEventLoop, run, sleep } from 'loopkit';
import { QUEUE_SIZE, caseRun } from './sched-sizes.js';

const [, , kase, side] = process.argv;
const makeLoop = side === 'base' ? () => new BaseEventLoop() : () => newEventLoop();
const runOptions = side === 'base' ? { loopFactory: makeLoop } : {};

function chain(n) {
  const loop = makeLoop();
  let i = 0;
  const step = () => {
    if (++i < n) loop.callSoon(step);
    else loop.stop();
  };
  loop.callSoon(step);
  return loop.runForever().then(() => loop.close());
}

function burst(n) {
  const loop = makeLoop();
  let count = 0;
  const cb = () => {
    if (++count === n) loop.stop();
  };
  for (let i = 0; i < n; i++) loop.callSoon(cb);
  return loop.runForever().then(() => loop.close());
}

function tasks(n) {
  const loop = makeLoop();
  const body = async () => {
    await sleep(0);
  };
  return loop
    .runUntilComplete(async () => {
      const all = [];
      for (let i = 0; i < n; i++) all.push(loop.createTask(body));
      await gather(...all);
    })
    .then(() => loop.close());
}

function futures(n) {
  const loop = makeLoop();
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

function timers(ds) {
  const loop = makeLoop();
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

function gatherAll(n) {
  const loop = makeLoop();
  const fns = Array.from({ length: n }, (_, i) => async () => i);
  return loop.runUntilComplete(() => gather(...fns)).then(() => loop.close());
}

function queue(n) {
  const loop = makeLoop();
  return loop
    .runUntilComplete(async () => {
      const q = new Queue(QUEUE_SIZE);
      const consumer = loop.createTask(async () => {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += await q.get();
        return sum;
      });
      for (let i = 0; i < n; i++) await q.put(i);
      await consumer;
    })
    .then(() => loop.close());
}

/** n programs' run() each making one executor call (the default executor's worker stays warm). */
async function executor(n) {
  for (let i = 0; i < n; i++) await run(() => getRunningLoop().runInExecutor(null, (x) => x + 1, i), runOptions);
}

/**
 * n tasks suspended, each on `wait()` (an Event nobody sets, or a sleep of an hour);
 * resolves once they all wait and the loop has aged them all (given each its weak record,
 * 1024 per host task since session 11: what a program idle for a moment holds), the loop
 * still running.
 */
function idle(n, how) {
  const loop = makeLoop();
  return new Promise((resolve) => {
    loop.callSoon(() => {
      const gate = new Event();
      const body = how === 'event' ? () => gate.wait() : () => sleep(3600);
      const all = [];
      for (let i = 0; i < n; i++) all.push(loop.createTask(body));
      // Every task has run its first step once this callback, scheduled after them, runs.
      const aged = () => (_world.youngTasks.length === 0 ? resolve(all) : setTimeout(aged, 5));
      loop.callSoon(() => setImmediate(aged));
    });
    void loop.runForever();
  });
}

const run1 = caseRun(kase, { chain, burst, tasks, futures, timers, gatherAll, queue, executor, idle });
if (run1 === undefined || (side !== 'policy' && side !== 'base')) {
  console.error('usage: node --expose-gc bench/sched-loopkit.js <a|b|c|d|e|f|g|h|i|j> <policy|base>');
  process.exit(2);
}
const probe = makeLoop();
console.log(JSON.stringify({ loop: probe.constructor.name }));
probe.close();
await run1();
process.exit(0);
