/**
 * Executors for loop.runInExecutor: the default one runs functions on a pool of
 * worker_threads (asyncio's ThreadPoolExecutor). A function cannot cross threads, so the
 * work is either a self-contained function, whose source text is sent and evaluated in
 * the worker (it may use only its arguments, globals and `await import(...)`), or a
 * `{module, name}` reference to an exported function. Arguments and results cross by
 * structured clone.
 */
import { Worker } from 'node:worker_threads';
import * as os from 'node:os';
import { RuntimeError } from './errors.js';
import { describe } from './validate.js';

/** What runInExecutor needs of an executor; users may supply their own. */
export interface Executor {
  /** Run `fn(...args)` somewhere and settle with its result or error. */
  submit<R>(fn: unknown, args: unknown[]): Promise<R>;
  /** Stop taking work; with `wait`, settle once the work already submitted is done. */
  shutdown(wait: boolean): Promise<void>;
}

/** A reference to an exported function, for work that is not self-contained. */
export interface FunctionRef {
  module: string;
  name: string;
}

type Job =
  | { id: number; source: string; args: unknown[] }
  | { id: number; module: string; name: string; args: unknown[] };

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', async (job) => {
  try {
    const fn = job.source !== undefined
      ? (0, eval)('(' + job.source + ')')
      : (await import(job.module))[job.name];
    if (typeof fn !== 'function') throw new TypeError('executor job is not a function: ' + (job.name || job.source));
    parentPort.postMessage({ id: job.id, ok: true, value: await fn(...job.args) });
  } catch (error) {
    parentPort.postMessage({ id: job.id, ok: false, error });
  }
});
`;

interface Pending {
  resolve: (value: any) => void;
  reject: (error: unknown) => void;
}

export class WorkerThreadExecutor implements Executor {
  readonly maxWorkers: number;
  private readonly idle: Worker[] = [];
  private readonly all = new Set<Worker>();
  private readonly queue: Job[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly busy = new Map<Worker, number>();
  private nextId = 1;
  private shut = false;
  private drained: (() => void) | null = null;

  constructor(maxWorkers = Math.min(32, os.availableParallelism() + 4)) {
    if (!Number.isInteger(maxWorkers) || maxWorkers < 1) {
      throw new RangeError(`maxWorkers must be a positive integer, got ${describe(maxWorkers)}`);
    }
    this.maxWorkers = maxWorkers;
  }

  submit<R>(fn: unknown, args: unknown[]): Promise<R> {
    if (this.shut) return Promise.reject(new RuntimeError('cannot schedule new futures after shutdown'));
    const id = this.nextId++;
    let job: Job;
    if (typeof fn === 'function') job = { id, source: fn.toString(), args };
    else if (isFunctionRef(fn)) job = { id, module: fn.module, name: fn.name, args };
    else {
      return Promise.reject(
        new TypeError(`fn must be a self-contained function or a {module, name} reference, got ${describe(fn)}`),
      );
    }
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.queue.push(job);
      this.dispatch();
    });
  }

  shutdown(wait: boolean): Promise<void> {
    this.shut = true;
    if (!wait) {
      for (const job of this.queue.splice(0)) {
        this.pending.get(job.id)?.reject(new RuntimeError('executor shut down before the job started'));
        this.pending.delete(job.id);
      }
    }
    if (this.pending.size === 0) return this.terminateAll();
    return new Promise<void>((resolve) => {
      this.drained = resolve;
    }).then(() => this.terminateAll());
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let worker = this.idle.pop();
      if (worker === undefined) {
        if (this.all.size >= this.maxWorkers) return;
        worker = this.spawn();
      }
      const job = this.queue.shift()!;
      this.busy.set(worker, job.id);
      worker.ref();
      worker.postMessage(job);
    }
  }

  private spawn(): Worker {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    this.all.add(worker);
    worker.on('message', (msg: { id: number; ok: boolean; value?: unknown; error?: unknown }) => {
      this.settle(msg.id, msg.ok, msg.ok ? msg.value : msg.error);
      this.busy.delete(worker);
      worker.unref();
      this.idle.push(worker);
      this.dispatch();
      this.checkDrained();
    });
    worker.on('error', (error) => {
      // The worker died (not a job error): fail its job and replace it on demand.
      const id = this.busy.get(worker);
      this.forget(worker);
      if (id !== undefined) this.settle(id, false, error);
      this.dispatch();
      this.checkDrained();
    });
    worker.on('exit', () => this.forget(worker));
    return worker;
  }

  private settle(id: number, ok: boolean, value: unknown): void {
    const entry = this.pending.get(id);
    if (entry === undefined) return;
    this.pending.delete(id);
    if (ok) entry.resolve(value);
    else entry.reject(value);
  }

  private forget(worker: Worker): void {
    this.all.delete(worker);
    this.busy.delete(worker);
    const i = this.idle.indexOf(worker);
    if (i >= 0) this.idle.splice(i, 1);
  }

  private checkDrained(): void {
    if (this.drained !== null && this.pending.size === 0) {
      const done = this.drained;
      this.drained = null;
      done();
    }
  }

  private async terminateAll(): Promise<void> {
    const workers = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

function isFunctionRef(value: unknown): value is FunctionRef {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as FunctionRef).module === 'string' &&
    typeof (value as FunctionRef).name === 'string'
  );
}

/** A fresh default executor (each loop makes its own on first use). */
export function getDefaultExecutor(): Executor {
  return new WorkerThreadExecutor();
}
