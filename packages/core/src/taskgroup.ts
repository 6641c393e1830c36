/**
 * asyncio.TaskGroup: structured concurrency. The group waits for all its tasks; the first
 * task to fail cancels the others and the body, and every error is raised together as an
 * ExceptionGroup. A cancellation of the parent from outside cancels the children and
 * propagates as CancelledError (unless a child failed: errors win).
 *
 * `taskGroup(async tg => ...)` sees the body's error, exactly as `async with`.
 * `await using tg = new TaskGroup()` cannot: its dispose only learns of an outside
 * cancellation through the parent's cancel count, and the language reports the body's
 * error alongside the group's as a SuppressedError.
 */
import { CancelledError, ExceptionGroup, RuntimeError } from './errors.js';
import type { AbstractEventLoop, CoroFn, CreateTaskOptions } from './events.js';
import type { Future } from './futures.js';
import { currentTask, type Task } from './tasks.js';
import { checkCallback } from './validate.js';
import { futureAddToAwaitedBy, futureDiscardFromAwaitedBy } from './awaited-by.js';

/** Tasks that end together (asyncio.TaskGroup): the first failure cancels the rest, and the errors come out as an ExceptionGroup. */
export class TaskGroup {
  private readonly parent: Task<unknown> | null;
  private readonly loop: AbstractEventLoop | null;
  private readonly cancellingOnEntry: number;
  private readonly tasks = new Set<Task<unknown>>();
  private readonly errors: unknown[] = [];
  private exiting = false;
  private aborting = false;
  private parentCancelRequested = false;
  private onCompleted: Future<void> | null = null;

  /** Enters at once in the current task; made outside a task it cannot create tasks. */
  constructor() {
    this.parent = currentTask();
    this.loop = this.parent?.getLoop() ?? null;
    this.cancellingOnEntry = this.parent?.cancelling() ?? 0;
  }

  /** Start `coro` as a task of the group. Throws once the group finished or is shutting down. */
  createTask<T>(coro: CoroFn<T>, options: CreateTaskOptions = {}): Task<T> {
    checkCallback(coro, 'coro');
    if (this.parent === null) throw new RuntimeError(`TaskGroup ${this} has not been entered: make it inside a task`);
    if (this.exiting && this.tasks.size === 0) throw new RuntimeError(`TaskGroup ${this} is finished`);
    if (this.aborting) throw new RuntimeError(`TaskGroup ${this} is shutting down`);
    const task = this.loop!.createTask(coro, options);
    this.tasks.add(task as Task<unknown>);
    task.addDoneCallback(this.onTaskDone);
    // The parent waits for the group's tasks when it leaves the group: say so from the start.
    futureAddToAwaitedBy(task, this.parent);
    return task;
  }

  /** A description for logs and debugging, as asyncio's repr(): `<TaskGroup tasks=1 entered>`, parts that are 0 left out. */
  toString(): string {
    let state = '';
    if (this.tasks.size > 0) state += ` tasks=${this.tasks.size}`;
    if (this.errors.length > 0) state += ` errors=${this.errors.length}`;
    if (this.aborting) state += ' cancelling';
    else if (this.parent !== null) state += ' entered';
    return `<TaskGroup${state}>`;
  }

  /** For `await using`: join the tasks; an outside cancellation of the parent cancels them. */
  async [Symbol.asyncDispose](): Promise<void> {
    const parent = this.parent;
    // The body's CancelledError is on its way out already: stop the children, don't add another.
    if (parent !== null && !this.parentCancelRequested && parent.cancelling() > this.cancellingOnEntry && !this.aborting) {
      this.abort();
    }
    await this._exit(false);
  }

  /**
   * @internal Leave the group after the body finished (`failed` false) or threw `error`:
   * wait for every task, then throw what the group must raise, if anything.
   */
  async _exit(failed: boolean, error?: unknown): Promise<void> {
    if (this.parent === null) throw new RuntimeError(`TaskGroup ${this} has not been entered: make it inside a task`);
    this.exiting = true;
    let propagateCancel: unknown = failed && error instanceof CancelledError ? error : null;
    if (failed && !this.aborting) this.abort();

    // Loop: the wait can be cancelled again and again while the parent is cancelled.
    while (this.tasks.size > 0) {
      this.onCompleted ??= this.loop!.createFuture<void>();
      try {
        await this.onCompleted;
      } catch (cancelled) {
        if (!this.aborting) {
          // The parent is cancelled from outside: stop the children, pass it on after.
          propagateCancel = cancelled;
          this.abort();
        }
      }
      this.onCompleted = null;
    }

    // We cancelled the parent for a child's error: take that back.
    if (this.parentCancelRequested && this.parent.uncancel() === 0) propagateCancel = null;
    if (propagateCancel !== null && this.errors.length === 0) throw propagateCancel;
    if (failed && !(error instanceof CancelledError)) this.errors.push(error);
    if (this.errors.length > 0) {
      // Keep an outside cancellation pending, as the parent's cancel count says.
      if (this.parent.cancelling() > 0) {
        this.parent.uncancel();
        this.parent.cancel();
      }
      throw new ExceptionGroup('unhandled errors in a TaskGroup', this.errors.splice(0));
    }
  }

  private abort(): void {
    this.aborting = true;
    for (const task of this.tasks) if (!task.done()) task.cancel();
  }

  private readonly onTaskDone = (task: Future<unknown>): void => {
    this.tasks.delete(task as Task<unknown>);
    futureDiscardFromAwaitedBy(task, this.parent!);
    if (this.onCompleted !== null && this.tasks.size === 0 && !this.onCompleted.done()) {
      this.onCompleted.setResult(undefined);
    }
    if (task.cancelled()) return;
    const error = task.exception();
    if (error === null) return;
    this.errors.push(error);
    if (this.parent!.done()) {
      this.loop!.callExceptionHandler({
        message: `Task ${task} has errored out but its parent task ${this.parent} is already completed`,
        exception: error,
        task: task as Task<unknown>,
      });
      return;
    }
    if (!this.aborting && !this.parentCancelRequested) {
      // Stop the body and the siblings; _exit() takes the parent's cancellation back.
      this.abort();
      this.parentCancelRequested = true;
      this.parent!.cancel();
    }
  };
}

/** Run `body` with a new TaskGroup in the current task; resolves to its result once every task is done. */
export async function taskGroup<T>(body: (tg: TaskGroup) => T | PromiseLike<T>): Promise<T> {
  checkCallback(body, 'body');
  if (currentTask() === null) throw new RuntimeError('taskGroup() must run inside a task');
  const tg = new TaskGroup();
  let result: T;
  try {
    result = await body(tg);
  } catch (error) {
    await tg._exit(true, error);
    throw error;
  }
  await tg._exit(false);
  return result;
}
