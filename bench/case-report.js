// What a case's own process reports (bench/sched.js's children, through sched-sizes.js). It
// imports nothing: harness.js's built-ins (child_process, crypto, node:fs's namespace: ~40
// internal modules, 3 MB of RSS on Node 20) would otherwise sit in every side's process,
// loopkit's and the plain-Node baseline's, and in the memory cases (i) and (j).

/**
 * One side of a case in its own process (bench/sched.js's children): run `fn(n / 10)`
 * BENCH_WARMUP_RUNS times (default 1) to warm the JIT, then `fn(n)` once timed, and print
 * one JSON line: {ops, wall, cpu} (seconds; cpu is user + system of the whole process,
 * V8's helper threads included). BENCH_TIMED_OPS sizes the timed run alone, the warm-up
 * staying as it is (bench/sched-instructions.js subtracts a run of 1 from a run of n).
 */
export async function reportTimed(size, fn) {
  const warmups = Number(process.env.BENCH_WARMUP_RUNS ?? 1);
  for (let i = 0; i < warmups; i++) await fn(Math.ceil(size / 10));
  const n = process.env.BENCH_TIMED_OPS ? Number(process.env.BENCH_TIMED_OPS) : size;
  globalThis.gc?.();
  // One turn of Node's loop first: see measure() on libuv's cached clock.
  await new Promise((resolve) => setImmediate(resolve));
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  await fn(n);
  const wall = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({ ops: n, wall, cpu: (cpu.user + cpu.system) / 1e6, node: process.version }));
}

/** After `settle` (what leaves the idle objects alive), a full GC, then print {rss, heap, rssBefore} in bytes. */
export async function reportMemory(settle) {
  globalThis.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const keep = await settle();
  globalThis.gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  console.log(JSON.stringify({ rss, heap: heapUsed, rssBefore, node: process.version }));
  return keep;
}
