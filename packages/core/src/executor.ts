/**
 * Executors for loop.runInExecutor: the default one runs functions on a pool of
 * worker_threads (asyncio's ThreadPoolExecutor), kept by piscina (queueing, a dead worker
 * replaced, the pool's lifetime). A function cannot cross threads, so the work is
 * either a self-contained function, whose source text is sent and evaluated in the worker,
 * or a `{module, name}` reference to an exported function (executor-checks.ts, and the one
 * worker script executor-worker.ts). Arguments and results cross by structured clone.
 */
import { createRequire } from 'node:module';
import { os } from './node-builtins.js';
import type { Piscina } from 'piscina';
import { CancelledError, RuntimeError } from './errors.js';
import { explainSendError, makeJob } from './executor-checks.js';
import { JOB_CANCELLED, JOB_IDLE, STATE_SLOTS, decodeError } from './executor-wire.js';
import { logger } from './log.js';
import { describe } from './validate.js';

export { type FunctionRef } from './executor-checks.js';

/** What runInExecutor needs of an executor; users may supply their own. */
export interface Executor {
  /**
   * Run `fn(...args)` somewhere and settle with its result or error. `options.signal` is
   * aborted when the caller's Future is cancelled: a job not yet started should not start.
   */
  submit<R>(fn: unknown, args: unknown[], options?: SubmitOptions): Promise<R>;
  /** Stop taking work; with `wait`, settle once the work already submitted is done. */
  shutdown(wait: boolean): Promise<void>;
}

/** Options of Executor.submit: `signal` is aborted when the caller cancels. */
export interface SubmitOptions {
  signal?: AbortSignal;
}

const WORKER_SCRIPT = new URL('./executor-worker.js', import.meta.url).href;

/** asyncio's ThreadPoolExecutor default: min(32, CPUs + 4). */
export const DEFAULT_MAX_WORKERS = Math.min(32, os.availableParallelism() + 4);

// piscina is loaded on first use: importing it costs ~20 ms, which a program that never
// calls runInExecutor should not pay at startup (it is CommonJS, so require is synchronous).
let PiscinaClass: typeof Piscina | null = null;

/** A piscina pool and the state words of its jobs. */
interface Pool {
  piscina: Piscina;
  /** The state words of cancellable jobs (executor-wire.ts), and the free slot numbers. */
  states: Int32Array;
  freeSlots: number[];
}

function newPool(maxWorkers: number, minWorkers: number): Pool {
  PiscinaClass ??= (createRequire(import.meta.url)('piscina') as { Piscina: typeof Piscina }).Piscina;
  const states = new Int32Array(new SharedArrayBuffer(STATE_SLOTS * 4));
  const piscina = new PiscinaClass({
    filename: WORKER_SCRIPT,
    workerData: { states },
    maxThreads: maxWorkers,
    minThreads: minWorkers,
    // Idle workers block in Atomics.wait between jobs ('sync'), which would freeze timers a job
    // leaves behind; 'async' lets the worker's own event loop run, as a Python thread's would.
    atomics: 'async',
    // Timing histograms are piscina's statistics, which loopkit never reads: a cost per job.
    recordTiming: false,
  });
  // A worker that fails between jobs (a timer a job left behind throws) is replaced, and the
  // pool emits 'error', which with no listener would crash this process: report it instead,
  // as Python's threading.excepthook prints an exception that ends a thread.
  piscina.on('error', (error: unknown) => logger.error('Exception in a default executor worker thread, outside any job:', decodeError(error)));
  const freeSlots = Array.from({ length: STATE_SLOTS }, (_, i) => STATE_SLOTS - 1 - i);
  return { piscina, states, freeSlots };
}

const cancelledBeforeStart = () => new CancelledError('the job was cancelled before it started');

export class WorkerThreadExecutor implements Executor {
  readonly maxWorkers: number;
  private readonly pool: Pool;
  /** False for the process's shared default pool, which outlives each loop's executor. */
  private readonly ownsPool: boolean;
  private readonly jobs = new Set<Promise<unknown>>();
  private shut = false;

  /** @param pool internal: the shared default pool (see getDefaultExecutor). */
  // `pool` is typed unknown in the signature so the published types never name piscina's
  // (its .d.ts needs resolveJsonModule, which a consumer's tsconfig may not have).
  constructor(maxWorkers = DEFAULT_MAX_WORKERS, pool?: unknown) {
    if (!Number.isInteger(maxWorkers) || maxWorkers < 1) {
      throw new RangeError(`maxWorkers must be a positive integer, got ${describe(maxWorkers)}`);
    }
    this.maxWorkers = maxWorkers;
    this.ownsPool = pool === undefined;
    this.pool = (pool as Pool | undefined) ?? newPool(maxWorkers, 0);
  }

  /** `shutdown(true)`, for `await using pool = new WorkerThreadExecutor()` (Python's `with ThreadPoolExecutor() as pool`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown(true);
  }

  submit<R>(fn: unknown, args: unknown[], options: SubmitOptions = {}): Promise<R> {
    const signal = options.signal;
    let job: StartedJob<R>;
    try {
      if (signal?.aborted) throw cancelledBeforeStart();
      job = this._start<R>(fn, args, signal !== undefined);
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal === undefined) return job.done;
    const onAbort = () => job.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
    const off = () => signal.removeEventListener('abort', onAbort);
    job.done.then(off, off);
    return job.done;
  }

  /**
   * @internal Start `fn(...args)`; throws what makes it unrunnable. runInExecutor calls this
   * directly: an AbortSignal and its listener per job were ~8% of a job's loop-side CPU.
   */
  _start<R>(fn: unknown, args: unknown[], cancellable = true): StartedJob<R> {
    if (this.shut) throw new RuntimeError('cannot schedule new futures after shutdown');
    const job = makeJob(fn, args);
    const pool = this.pool;
    // The job's state word: states[index] (see executor-wire.ts), none if not cancellable.
    // Cancelling flips it, and the worker that gets the job skips it. piscina's own abort
    // would take a queued job out of its queue instead, but it keeps abortable jobs in an
    // array it shifts from, one per dispatch: a burst of 5,000 jobs each with an AbortSignal
    // took 1.4-3.8x the time per job of the same burst without (bench: README, Executors).
    let states: Int32Array | undefined;
    let index = 0;
    if (cancellable) {
      const slot = pool.freeSlots.pop();
      if (slot === undefined) {
        states = job.state = new Int32Array(new SharedArrayBuffer(4));
      } else {
        states = pool.states;
        index = job.slot = slot;
        Atomics.store(states, slot, JOB_IDLE);
      }
    }
    const done = pool.piscina.run(job).then(
      (value) => {
        if (states !== undefined && Atomics.load(states, index) === JOB_CANCELLED) throw cancelledBeforeStart();
        return value as R;
      },
      (error) => {
        throw this.explain(error, args);
      },
    );
    this.jobs.add(done);
    const forget = () => {
      this.jobs.delete(done);
      if (job.slot !== undefined) pool.freeSlots.push(job.slot);
    };
    done.then(forget, forget);
    const cancel = () => {
      // Only a job that has not started is stopped: a running one runs to its end, as a
      // thread does in asyncio's executor.
      if (states !== undefined) Atomics.compareExchange(states, index, JOB_IDLE, JOB_CANCELLED);
    };
    return { done, cancel };
  }

  private explain(error: unknown, args: unknown[]): unknown {
    const exited = /^worker exited with code: (.*)$/.exec((error as Error)?.message ?? '');
    if (exited !== null) {
      return new RuntimeError(`the worker thread running fn exited (code ${exited[1]}) before fn returned, e.g. through process.exit(); a new worker replaces it`, {
        cause: error,
      });
    }
    const decoded = decodeError(explainSendError(error, args));
    if (decoded instanceof Error || typeof decoded !== 'object' || decoded === null) return decoded;
    // A worker that died of a throw outside any job's try (a timer an earlier job left)
    // while this job ran, when what was thrown is not an Error (piscina passes it as is).
    return new RuntimeError(`the worker thread running fn died: ${describe(decoded)}`);
  }

  /**
   * Stop taking work. With `wait`, resolve once every job submitted here has settled.
   * Without, return at once and let those jobs finish on their own (asyncio's
   * `shutdown(wait=False)`: queued work still runs). An own pool's workers end after that.
   */
  async shutdown(wait: boolean): Promise<void> {
    this.shut = true;
    const drained = Promise.allSettled([...this.jobs]).then(() => {
      if (this.ownsPool) return this.pool.piscina.destroy();
    });
    if (wait) return drained;
    // Nobody awaits this one: a failure to end the workers is reported, not left unhandled.
    drained.catch((error: unknown) => logger.error('Exception while ending an executor\'s worker threads:', error));
  }
}

/** A job on its way: its outcome, and cancel(), which withdraws it unless it has started. */
export interface StartedJob<R> {
  done: Promise<R>;
  cancel(): void;
}

const noop = () => {};

/** runInExecutor's submission: the job and how to cancel it when its Future is cancelled. */
export function startJob<R>(executor: Executor, fn: unknown, args: unknown[]): StartedJob<R> {
  if (executor instanceof WorkerThreadExecutor) {
    try {
      return executor._start<R>(fn, args);
    } catch (error) {
      return { done: Promise.reject(error), cancel: noop };
    }
  }
  const abort = new AbortController();
  return { done: executor.submit<R>(fn, args, { signal: abort.signal }), cancel: () => abort.abort() };
}

// One pool for every loop's default executor in this thread, started on first use and kept
// (with one idle worker, unref'd so it never keeps the process alive): a loop made later,
// such as the next run(), then finds a warm worker instead of paying ~40 ms to start one.
let sharedPool: Pool | null = null;

/** A fresh default executor (each loop makes its own on first use) over the shared pool. */
export function getDefaultExecutor(): Executor {
  sharedPool ??= newPool(DEFAULT_MAX_WORKERS, 1);
  return new WorkerThreadExecutor(DEFAULT_MAX_WORKERS, sharedPool);
}
