import { util } from './node-builtins.js';

/**
 * Where loopkit reports what it cannot throw (asyncio's `logger`). Replace the methods to
 * route reports elsewhere; tests replace them to observe reports.
 */
export const logger = {
  /**
   * Report an error (console.error by default): the error's stack starts a line of its own
   * under the message, as Python's logging prints a traceback under `exc_info`.
   */
  error(message: string, error?: unknown): void {
    if (error === undefined) console.error(message);
    else console.error(`${message}\n${util().inspect(error)}`);
  },
  /** Report a warning (console.warn by default). */
  warning(message: string): void {
    console.warn(message);
  },
  /** Report a debug message (printed only with LOOPKIT_LOG_DEBUG set). */
  debug(message: string): void {
    if (process.env.LOOPKIT_LOG_DEBUG) console.debug(message);
  },
};
