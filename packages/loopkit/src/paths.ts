/**
 * Where the CLI finds what lives in the repository rather than in the package: the built
 * examples and the bench scripts. Both sit at the workspace root, three levels above
 * dist/cli.js; LOOPKIT_EXAMPLES_DIR and LOOPKIT_BENCH_DIR point elsewhere.
 */
import { fileURLToPath } from 'node:url';

const root = new URL('../../../', import.meta.url);

export function examplesDir(): string {
  return process.env.LOOPKIT_EXAMPLES_DIR ?? fileURLToPath(new URL('examples/dist/', root));
}

export function benchDir(): string {
  return process.env.LOOPKIT_BENCH_DIR ?? fileURLToPath(new URL('bench/', root));
}
