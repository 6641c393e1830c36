/**
 * Executor scenarios whose failure mode is a hang or an exit, run as
 * `node child.mjs <scenario> <selector|proactor>`: each prints JSON lines of what it saw and
 * finally {"returned": true} once run() has returned. The test's time limit turns a hang
 * into a failure.
 */
import { WorkerThreadExecutor, getRunningLoop, logger, run } from '@loopkit/core';
import { SelectorEventLoop } from '@loopkit/selector';
import { ProactorEventLoop } from '@loopkit/proactor';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';

const [scenario, loopName] = process.argv.slice(2);
const loopFactory = { selector: () => new SelectorEventLoop(), proactor: () => new ProactorEventLoop() }[loopName];
if (loopFactory === undefined) throw new Error(`unknown loop ${loopName}`);

const say = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
const errorOf = (error) => ({
  isError: error instanceof Error,
  name: error?.name,
  message: error?.message,
  cause: error?.cause === undefined ? undefined : { name: error.cause.name, message: error.cause.message },
});
const settle = (promise) => Promise.resolve(promise).then((value) => ({ value }), (error) => ({ error: errorOf(error) }));

// A job that holds its worker for `ms` without the worker's event loop (Atomics.wait on a fresh buffer).
const block = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
// A job that counts itself in a shared counter, so the test sees whether it ever ran.
const count = (counter) => Atomics.add(counter, 0, 1);
const whichThread = async () => (await import('node:worker_threads')).threadId;

const scenarios = {
  /** Issue 16 item 1: an argument that cannot be cloned must not leave the job pending. */
  async unsendableArgument() {
    say(await settle(getRunningLoop().runInExecutor(null, (f) => 1, () => 1)));
    say(await settle(getRunningLoop().runInExecutor(null, (x) => x + 1, 41)));
  },

  /** A cancelled queued job never runs; a cancelled running one runs to its end, its worker kept. */
  async cancelQueued() {
    const loop = getRunningLoop();
    loop.setDefaultExecutor(new WorkerThreadExecutor(1));
    // [0]: runs of the queued job; [1]: the running job finished; [2]: it started; [3]: the
    // gate it waits behind until both are cancelled (so it is still running when cancelled,
    // however slow this thread is).
    const counter = new Int32Array(new SharedArrayBuffer(16));
    const running = loop.runInExecutor(null, (c) => {
      Atomics.store(c, 2, 1);
      Atomics.wait(c, 3, 0, 60_000);
      return Atomics.add(c, 1, 1) + 1;
    }, counter);
    const queued = loop.runInExecutor(null, count, counter);
    while (Atomics.load(counter, 2) === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    running.cancel();
    queued.cancel();
    Atomics.store(counter, 3, 1);
    Atomics.notify(counter, 3);
    say({ runningCancelled: running.cancelled(), queuedCancelled: queued.cancelled() });
    const after = await settle(loop.runInExecutor(null, (c) => Atomics.load(c, 1), counter));
    say({ queuedRan: Atomics.load(counter, 0), runningFinished: Atomics.load(counter, 1), after });
  },

  /**
   * A job handed to a worker that has not yet picked it up (here one still starting) is
   * cancelled through its state word, without piscina's abort: the worker skips it.
   */
  async cancelDispatched() {
    const loop = getRunningLoop();
    loop.setDefaultExecutor(new WorkerThreadExecutor(2));
    const counter = new Int32Array(new SharedArrayBuffer(4));
    const skipped = loop.runInExecutor(null, count, counter);
    skipped.cancel();
    const after = await settle(loop.runInExecutor(null, (c) => Atomics.load(c, 0), counter));
    await loop.shutdownDefaultExecutor();
    say({ cancelled: skipped.cancelled(), ran: Atomics.load(counter, 0), after });
  },

  /** A worker that exits or throws mid-job is replaced; the job's Future gets an Error. */
  async workerDies() {
    const loop = getRunningLoop();
    say(await settle(loop.runInExecutor(null, () => process.exit(3))));
    say(await settle(loop.runInExecutor(null, () => {
      setTimeout(() => { throw new Error('thrown outside the job'); });
      return 'returned before the throw';
    })));
    await new Promise((resolve) => setTimeout(resolve, 200)); // the throw ends that worker meanwhile
    say(await settle(loop.runInExecutor(null, (x) => x * 2, 21)));
  },

  /** asyncio 3.13: the timeout ends the wait with a warning; the job runs on; no new default jobs. */
  async shutdownTimeout() {
    const loop = getRunningLoop();
    const warnings = [];
    const warn = logger.warning.bind(logger);
    logger.warning = (message, ...rest) => {
      warnings.push(String(message));
      warn(message, ...rest);
    };
    // [0]: the gate the job waits behind, opened by this thread; [1]: set when the job finished.
    // The job ends when told, not after a fixed time: a loaded machine can take longer than
    // any fixed time just to start the worker.
    const shared = new Int32Array(new SharedArrayBuffer(8));
    const slow = loop.runInExecutor(null, (s) => {
      Atomics.wait(s, 0, 0, 60_000);
      Atomics.store(s, 1, 1);
      Atomics.notify(s, 1);
    }, shared);
    const started = performance.now();
    await loop.shutdownDefaultExecutor(0.1);
    say({ waitedMs: Math.round(performance.now() - started), warnings, slowDone: slow.done() });
    say(await settle(Promise.resolve().then(() => loop.runInExecutor(null, () => 1))));
    Atomics.store(shared, 0, 1);
    Atomics.notify(shared, 0);
    const finished = Atomics.waitAsync(shared, 1, 0, 10_000);
    if (finished.async) await finished.value;
    say({ slowFinished: Atomics.load(shared, 1) });
  },

  /** What a job prints reaches stdout before the loop sees the job's result. */
  async workerOutput() {
    for (let i = 0; i < 20; i++) {
      const value = await getRunningLoop().runInExecutor(null, (n) => {
        console.log(`worker ${n}`);
        return n;
      }, i);
      say({ value });
    }
  },

  /** Issue 17: a later loop in a process that used the executor finds the same warm worker. */
  async warmWorker() {
    await getRunningLoop().runInExecutor(null, whichThread);
  },
};

const main = scenarios[scenario];
if (main === undefined) throw new Error(`unknown scenario ${scenario}`);
await run(main, { loopFactory });
if (scenario === 'warmWorker') {
  // Thread ids count up: one made now is above every worker started so far, and below any
  // worker the second run would start for its job.
  const probe = new Worker('', { eval: true });
  const probeThread = probe.threadId; // -1 once it has exited
  await once(probe, 'exit');
  const thread = await run(() => getRunningLoop().runInExecutor(null, whichThread), { loopFactory });
  say({ workerStartedBefore: thread < probeThread });
}
say({ returned: true });
