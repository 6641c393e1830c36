// The blocking jobs of executor.ts, given to the executor as {module, name}: vitest rewrites
// the test files' own functions, which then cannot run from their source text in a worker.
// `ran` and `gate` are Int32Arrays over SharedArrayBuffers: the only memory a worker shares.

/** n squared; counts the call in `ran` (slot 0: how many, then the arguments). */
export function square(n, ran) {
  Atomics.store(ran, 1 + Atomics.add(ran, 0, 1), n);
  return n * n;
}

export function fail(message) {
  throw new RangeError(message);
}

/** Blocks the worker until the loop opens `gate` (at most 5 s, as threading.Event.wait(5)). */
export function waitGate(gate) {
  Atomics.wait(gate, 0, 0, 5000);
  return 'released';
}
