/**
 * Where loopkit reports what it cannot throw (asyncio's `logger`). Replace the methods to
 * route reports elsewhere; tests replace them to observe reports.
 */
export const logger = {
  error(message: string, error?: unknown): void {
    if (error === undefined) console.error(message);
    else console.error(message, error);
  },
  warning(message: string): void {
    console.warn(message);
  },
  debug(message: string): void {
    if (process.env.LOOPKIT_LOG_DEBUG) console.debug(message);
  },
};
