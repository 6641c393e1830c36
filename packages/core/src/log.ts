/**
 * Where loopkit reports what it cannot throw (asyncio's `logger`). Replace the methods to
 * route reports elsewhere; tests replace them to observe reports.
 */
export const logger = {
  /** Report an error (console.error by default). */
  error(message: string, error?: unknown): void {
    if (error === undefined) console.error(message);
    else console.error(message, error);
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
