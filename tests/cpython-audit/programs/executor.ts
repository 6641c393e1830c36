/**
 * The loopkit port of executor.py: toThread jobs gathered with returnExceptions; asCompleted
 * with a timeout over a finished job and one blocked on a gate; waitFor timing out a blocked
 * job (the worker runs on until its gate opens); a job queued behind a busy one-worker pool
 * cancelled before it starts, so it never runs. The jobs are programs/executor-jobs.mjs; a
 * gate is an Int32Array over a SharedArrayBuffer the loop opens with Atomics.notify.
 */
import { TimeoutError, WorkerThreadExecutor, asCompleted, ensureFuture, gather, getRunningLoop, sleep, toThread, wait, waitFor } from 'loopkit';

const jobs = new URL('./executor-jobs.mjs', import.meta.url).href;
const square = { module: jobs, name: 'square' };
const fail = { module: jobs, name: 'fail' };
const waitGate = { module: jobs, name: 'waitGate' };

function newGate(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4));
}

function open(gate: Int32Array): void {
  Atomics.store(gate, 0, 1);
  Atomics.notify(gate, 0);
}

/** Python's repr of a value, or `Type: message` of an error (loopkit's RangeError is asyncio's ValueError). */
function shown(result: unknown): string {
  if (result instanceof Error) return `${result.name === 'RangeError' ? 'ValueError' : result.name}: ${result.message}`;
  return typeof result === 'string' ? `'${result}'` : String(result);
}

const pyBool = (value: boolean): string => (value ? 'True' : 'False');

export async function main(print: (line: string) => void): Promise<void> {
  const loop = getRunningLoop();
  const ran = new Int32Array(new SharedArrayBuffer(4 * 16));
  const results = await gather(...[1, 2, 3].map((n) => toThread(square, n, ran)), toThread(fail, 'bad input'), { returnExceptions: true });
  print(`gather: ${results.map(shown).join(', ')}`);

  let gate = newGate();
  const quick = ensureFuture(toThread(square, 4, ran));
  await wait([quick]);
  const blocked = ensureFuture(toThread(waitGate, gate));
  try {
    for (const nextDone of asCompleted([quick, blocked], { timeout: 0.1 })) print(`as_completed: ${shown(await nextDone)}`);
  } catch (e) {
    if (!(e instanceof TimeoutError)) throw e;
    print(`as_completed: ${e.name}, blocked done: ${pyBool(blocked.done())}`);
  }
  open(gate);
  print(`blocked after the gate: ${shown(await blocked)}`);

  gate = newGate();
  const job = ensureFuture(toThread(waitGate, gate));
  try {
    await waitFor(job, 0.05);
  } catch (e) {
    if (!(e instanceof TimeoutError)) throw e;
    print(`wait_for: ${e.name}, job cancelled: ${pyBool(job.cancelled())}`);
  }
  open(gate);

  gate = newGate();
  {
    await using pool = new WorkerThreadExecutor(1);
    const busy = loop.runInExecutor(pool, waitGate, gate);
    const queued = loop.runInExecutor(pool, square, 5, ran);
    print(`queued cancel: ${pyBool(queued.cancel())}`);
    await sleep(0); // as executor.py: the cancel reaches the pool before the busy worker is freed
    open(gate);
    print(`busy: ${shown(await busy)}, queued cancelled: ${pyBool(queued.cancelled())}`);
  }
  const squares = Array.from(ran.subarray(1, 1 + Atomics.load(ran, 0))).sort((a, b) => a - b);
  print(`squares run: [${squares.join(', ')}]`);
}
