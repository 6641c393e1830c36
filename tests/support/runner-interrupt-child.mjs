/**
 * The child side of test_runners.py's interrupt cases (tests/cpython-audit/runners-interrupt.test.ts):
 * each mode is one CPython test, the process interrupting itself (CPython's interrupt_self)
 * with a real SIGINT. It prints what it saw, one line at a time.
 */
import { CancelledError, Event, Future, KeyboardInterrupt, Runner, Task, createTask, currentTask, sleep } from 'loopkit';

const mode = process.argv[2];
const say = (line) => process.stdout.write(`${line}\n`);
const interruptSelf = () => process.kill(process.pid, 'SIGINT');

/** The outcome of `runner.run(main)`, as a line. */
async function outcome(runner, main) {
  try {
    return `returned ${await runner.run(main)}`;
  } catch (error) {
    return `rejected ${error?.name}${error instanceof KeyboardInterrupt ? ' (KeyboardInterrupt)' : ''}${error instanceof CancelledError ? ' (CancelledError)' : ''}`;
  }
}

const runner = new Runner();
if (mode === 'call_soon') {
  // test_interrupt_call_soon: a main task that never waits on a future, only sleep(0).
  runner.getLoop().callLater(0.1, interruptSelf);
  say(
    await outcome(runner, async () => {
      try {
        for (;;) await sleep(0);
      } catch (error) {
        say(`main caught ${error?.name}`);
      }
      throw new CancelledError();
    }),
  );
} else if (mode === 'wait') {
  // test_interrupt_wait: the future main awaits is cancelled with it.
  const fut = runner.getLoop().createFuture();
  runner.getLoop().callLater(0.1, interruptSelf);
  say(
    await outcome(runner, async () => {
      try {
        await fut;
      } catch (error) {
        say(`main caught ${error?.name}`);
      }
      throw new CancelledError();
    }),
  );
  say(`fut cancelled ${fut.cancelled()}`);
} else if (mode === 'cancelled_task') {
  // test_interrupt_cancelled_task: main was cancelled already; the SIGINT's cancel is its second.
  say(
    await outcome(runner, async () => {
      const main = currentTask();
      createTask(async () => {
        await sleep(0);
        // CPython's interrupt_main() runs the handler before main resumes; a Node signal
        // arrives in a later turn, so this task's own cancel() is made in the same emit.
        process.once('SIGINT', () => main.cancel());
        interruptSelf();
      });
      try {
        await sleep(10);
      } catch (error) {
        say(`main cancelling ${main.cancelling()}`);
        throw error;
      }
    }),
  );
} else if (mode === 'without_uncancel') {
  // test_asyncio_run_without_uncancel: a task factory whose tasks have no uncancel().
  class TaskWithoutUncancel extends Future {
    constructor(loop, coro, options) {
      super({ loop });
      this.inner = new Task(coro, { ...options, loop });
      this.inner.addDoneCallback((inner) => {
        if (inner.cancelled()) super.cancel();
        else if (inner.exception() !== null) this.setException(inner.exception());
        else this.setResult(inner.result());
      });
    }
    cancel(msg) {
      return this.inner.cancel(msg);
    }
  }
  runner.getLoop().setTaskFactory((loop, coro, options) => new TaskWithoutUncancel(loop, coro, options));
  say(
    await outcome(runner, async () => {
      interruptSelf();
      await new Event().wait();
    }),
  );
} else {
  throw new Error(`unknown mode ${mode}`);
}
await runner.close();
say(`SIGINT listeners after: ${process.listenerCount('SIGINT')}`);
