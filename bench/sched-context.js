// What a user's AsyncLocalStorage store costs loopkit's scheduling, in its own process:
//   node --expose-gc bench/sched-context.js <a|c> <none|outside|inside> [node]
// (a) 1M callSoon chain, (c) 100k tasks each `await sleep(0)`, gathered, as bench/sched.js,
// on the loop newEventLoop() gives; with `node` the plain-Node side of the same case
// (setImmediate chain; async functions awaiting a setImmediate promise, Promise.all),
// loopkit not loaded. The store:
// - none: no AsyncLocalStorage entered anywhere (bench/sched.js's case as it is);
// - outside: the whole run inside `store.run(...)` (a request context around the program:
//   the loop runs in it, so tasks and callbacks made in it need no context of their own);
// - inside: the store entered inside the main task (or, for (a), around each callSoon), so
//   every task and callback carries a copy of it (asyncio's copy_context() per task).
// Each callback and task reads the store, and the process fails if one reads it wrong.
// Prints one JSON line, as bench/sched.js's processes.
import { AsyncLocalStorage } from 'node:async_hooks';
import { reportTimed } from './harness.js';
import { sizes } from './sched-sizes.js';

const [, , kase, where = 'none', side = 'loopkit'] = process.argv;
if (!['a', 'c'].includes(kase) || !['none', 'outside', 'inside'].includes(where) || !['loopkit', 'node'].includes(side)) {
  console.error('usage: node --expose-gc bench/sched-context.js <a|c> <none|outside|inside> [node]');
  process.exit(2);
}
const store = new AsyncLocalStorage();
const expected = where === 'none' ? undefined : 'request';
let wrong = 0;
const check = () => {
  if (store.getStore() !== expected) wrong++;
};
const inStore = where === 'inside' ? (fn) => store.run('request', fn) : (fn) => fn();
const around = where === 'outside' ? (fn) => store.run('request', fn) : (fn) => fn();

let chain;
let tasks;
if (side === 'node') {
  chain = (n) =>
    new Promise((resolve) => {
      let i = 0;
      const step = () => {
        check();
        if (++i < n) inStore(() => setImmediate(step));
        else resolve();
      };
      inStore(() => setImmediate(step));
    });
  tasks = (n) =>
    inStore(async () => {
      const body = async () => {
        await new Promise((resolve) => setImmediate(resolve));
        check();
      };
      const all = [];
      for (let i = 0; i < n; i++) all.push(body());
      await Promise.all(all);
    });
} else {
  const { gather, newEventLoop, sleep } = await import('loopkit');
  chain = (n) => {
    const loop = newEventLoop();
    let i = 0;
    const step = () => {
      check();
      if (++i < n) inStore(() => loop.callSoon(step));
      else loop.stop();
    };
    inStore(() => loop.callSoon(step));
    return loop.runForever().then(() => loop.close());
  };
  tasks = (n) => {
    const loop = newEventLoop();
    const body = async () => {
      await sleep(0);
      check();
    };
    return loop
      .runUntilComplete(() =>
        inStore(async () => {
          const all = [];
          for (let i = 0; i < n; i++) all.push(loop.createTask(body));
          await gather(...all);
        }),
      )
      .then(() => loop.close());
  };
}

await around(() => reportTimed(sizes[kase], kase === 'a' ? chain : tasks));
if (wrong > 0) {
  console.error(`${wrong} callbacks or tasks read the store wrong`);
  process.exit(1);
}
process.exit(0);
