/**
 * asyncio.as_completed: the awaitables in the order they finish.
 * - `for await (const fut of asCompleted(aws))` gives the Futures themselves, done
 *   (the async iterator is written by hand so the language does not unwrap them; TypeScript
 *   still types `fut` as the result, as it does every async iterable's values: README);
 * - `for (const next of asCompleted(aws)) await next` gives, in completion order,
 *   Tasks that take the next completion and give its result.
 * After `timeout` seconds every remaining step throws TimeoutError.
 */
import { TimeoutError } from './errors.js';
import { _getCurrentLoop, type AbstractEventLoop } from './events.js';
import type { Future } from './futures.js';
import type { AwaitableLike, AwaitablesOf, ResultOf } from './gather.js';
import type { TimerHandle } from './handles.js';
import { Queue } from './queues.js';
import { currentTask, ensureFuture, type Task } from './tasks.js';
import { futureAddToAwaitedBy, futureDiscardFromAwaitedBy } from './awaited-by.js';
import { checkOptions } from './validate.js';
import { checkIterable, checkTimeout } from './wait.js';

/** A completion in a box, so async code never unwraps the Future as a thenable; null: timed out. */
type Completion<T> = { fut: Future<T> } | null;

/** What asCompleted() returns: iterate it for awaitables in completion order, or `for await` it for the futures themselves. */
export class AsCompleted<T> implements AsyncIterableIterator<Future<T>>, Iterable<Task<T>> {
  private readonly loop: AbstractEventLoop;
  private readonly todo: Set<Future<T>>;
  /** Completions in order; a cancelled step loses none (Queue's rule). */
  private readonly completions = new Queue<Completion<T>>();
  private readonly timer: TimerHandle | null = null;
  private stepsLeft: number;
  /** The task iterating: it waits on every future still to complete (for the call graph). */
  private readonly waiter: Task<unknown> | null;

  constructor(aws: Iterable<AwaitableLike<T>>, timeout: number | null) {
    this.loop = _getCurrentLoop();
    this.todo = new Set([...new Set(aws)].map((aw) => ensureFuture(aw, this.loop)));
    this.stepsLeft = this.todo.size;
    this.waiter = currentTask();
    for (const fut of this.todo) {
      fut.addDoneCallback(this.onCompletion);
      if (this.waiter !== null) futureAddToAwaitedBy(fut, this.waiter);
    }
    if (this.todo.size > 0 && timeout !== null && timeout !== Infinity) {
      this.timer = this.loop.callLater(timeout, this.onTimeout);
    }
  }

  /** `for await`: the futures themselves, in completion order. */
  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The next Future to finish (done by then). */
  async next(): Promise<IteratorResult<Future<T>, undefined>> {
    if (this.stepsLeft === 0) return { done: true, value: undefined };
    this.stepsLeft -= 1;
    const { fut } = await this.nextCompletion();
    return { done: false, value: fut };
  }

  /** Sync iteration: one Task per awaitable, each giving the next result to complete. */
  *[Symbol.iterator](): Iterator<Task<T>> {
    while (this.stepsLeft > 0) {
      this.stepsLeft -= 1;
      yield this.loop.createTask(async () => (await this.nextCompletion()).fut.result());
    }
  }

  private async nextCompletion(): Promise<{ fut: Future<T> }> {
    const completion = await this.completions.get();
    if (completion === null) throw new TimeoutError();
    return completion;
  }

  private readonly onCompletion = (fut: Future<T>): void => {
    if (!this.todo.delete(fut)) return; // the timeout came first
    if (this.waiter !== null) futureDiscardFromAwaitedBy(fut, this.waiter);
    this.completions.putNowait({ fut });
    if (this.todo.size === 0) this.timer?.cancel();
  };

  private readonly onTimeout = (): void => {
    for (const fut of this.todo) {
      fut.removeDoneCallback(this.onCompletion);
      if (this.waiter !== null) futureDiscardFromAwaitedBy(fut, this.waiter);
      this.completions.putNowait(null);
    }
    this.todo.clear();
  };
}

/** Iterate `aws` as they complete; after `timeout` seconds the remaining steps throw TimeoutError. */
export function asCompleted<A extends AwaitableLike<unknown>, T = ResultOf<A>>(
  aws: AwaitablesOf<A>,
  options: { timeout?: number | null } = {},
): AsCompleted<T> {
  checkIterable(aws, 'aws', 'expects an iterable of awaitables');
  const timeout = checkOptions(options, ['timeout'], 'asCompleted').timeout ?? null;
  checkTimeout(timeout);
  return new AsCompleted<T>(aws as Iterable<AwaitableLike<T>>, timeout);
}
