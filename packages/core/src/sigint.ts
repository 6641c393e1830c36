/**
 * Ctrl-C in run()/Runner.run(), as asyncio.Runner (3.11+) does it: the first SIGINT cancels
 * the main task, which may catch CancelledError and clean up; if it ends cancelled, run()
 * rejects with KeyboardInterrupt. A second SIGINT does not wait for the main task: the
 * loop stops and run() rejects with KeyboardInterrupt (asyncio raises it wherever the loop
 * is; JavaScript cannot throw into running code, so stopping the loop is the nearest form).
 *
 * Only where asyncio does it: on the main thread, while SIGINT has Node's default handling
 * (no listener: asyncio checks for Python's default_int_handler). The listener is removed
 * when run() ends, so a later Ctrl-C (during the cleanup of run()) kills as usual.
 *
 * The Node form of an uncaught KeyboardInterrupt: Python prints it and exits through SIGINT,
 * so the shell sees a Ctrl-C death (status 130). Node would print an uncaught error and
 * exit 1; so, when a KeyboardInterrupt from run() goes uncaught and SIGINT has its default
 * handling again, loopkit prints it and re-sends SIGINT to the process, which Node's
 * default handling turns into the same death as an unhandled Ctrl-C.
 */
import { util, workerThreads } from './node-builtins.js';
import { KeyboardInterrupt } from './errors.js';
import type { AbstractEventLoop } from './events.js';
import type { Future } from './futures.js';

/** One run's SIGINT listener; null from watchSigint when SIGINT is not ours to handle. */
export interface SigintWatch {
  /** SIGINTs received so far. */
  readonly count: number;
  /** A SIGINT stopped the loop (a second one, or one after main finished): asyncio's KeyboardInterrupt raised in the loop. */
  readonly stopped: boolean;
  /** Remove the listener (Node's default handling comes back). Idempotent. */
  restore(): void;
}

export function watchSigint(loop: AbstractEventLoop, main: Future<unknown>): SigintWatch | null {
  if (!workerThreads().isMainThread || process.listenerCount('SIGINT') > 0) return null;
  let count = 0;
  let stopped = false;
  const listener = (): void => {
    count += 1;
    if (count === 1 && !main.done()) {
      main.cancel();
      return;
    }
    stopped = true;
    loop.stop();
  };
  process.on('SIGINT', listener);
  return {
    get count() {
      return count;
    },
    get stopped() {
      return stopped;
    },
    restore() {
      process.off('SIGINT', listener);
    },
  };
}

let monitoring = false;

/** The KeyboardInterrupt run() rejects with; if nobody catches it, the process dies of SIGINT. */
export function keyboardInterrupt(cause: unknown): KeyboardInterrupt {
  if (!monitoring) {
    monitoring = true;
    // A monitor changes nothing for other errors: Node still prints them and exits 1.
    process.on('uncaughtExceptionMonitor', dieOfSigint);
  }
  return new KeyboardInterrupt(undefined, { cause });
}

function dieOfSigint(error: unknown): void {
  if (!(error instanceof KeyboardInterrupt) || !workerThreads().isMainThread || process.listenerCount('SIGINT') > 0) return;
  process.stderr.write(`${util().inspect(error)}\n`);
  process.kill(process.pid, 'SIGINT');
}
