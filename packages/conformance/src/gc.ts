/** Why the tests that need garbage collection skip: node ran without --expose-gc (null: it did not). */
export const noGc: string | null =
  typeof (globalThis as { gc?: unknown }).gc === 'function' ? null : 'skipped: run node with --expose-gc to test what is reported when futures and tasks are collected';

/** Force garbage collection (run the tests with node --expose-gc) until `done()` or give up. */
export async function collectUntil(done: () => boolean, attempts = 30): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run the tests with --expose-gc');
  for (let i = 0; i < attempts && !done(); i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
