/** Force garbage collection (run the tests with node --expose-gc) until `done()` or give up. */
export async function collectUntil(done: () => boolean, attempts = 30): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run the tests with --expose-gc');
  for (let i = 0; i < attempts && !done(); i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
