// Shared by the benchmarks: run a case several times, keep the median, print ratios.
export const RUNS = Number(process.env.BENCH_RUNS ?? 5);

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Time `fn` (async) RUNS times; returns the median ops/s for `ops` operations per run. */
export async function measure(ops, fn) {
  const rates = [];
  for (let i = 0; i < RUNS; i++) {
    globalThis.gc?.();
    // One turn of Node's loop before timing: libuv caches its clock at the start of each
    // turn, and setTimeout counts from that cached time, so timers set right after a long
    // gc() would count from before it and fire early, flattering any setTimeout baseline.
    await new Promise((resolve) => setImmediate(resolve));
    const start = performance.now();
    await fn();
    rates.push(ops / ((performance.now() - start) / 1000));
  }
  return median(rates);
}

export function formatRate(rate) {
  if (rate >= 1e6) return `${(rate / 1e6).toFixed(2)}M/s`;
  if (rate >= 1e3) return `${(rate / 1e3).toFixed(1)}k/s`;
  return `${rate.toFixed(0)}/s`;
}

/** Print one table row per case: loopkit rate, baseline rate, ratio, target. */
export function printTable(title, rows) {
  console.log(`\n${title} (median of ${RUNS})`);
  const header = ['case', 'loopkit', 'baseline', 'ratio', 'target'];
  const lines = rows.map((r) => [r.name, formatRate(r.loopkit), formatRate(r.baseline), `${(r.loopkit / r.baseline).toFixed(2)}x`, r.target ?? '']);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cols) => cols.map((c, i) => c.padEnd(widths[i])).join('  ');
  console.log(fmt(header));
  for (const l of lines) console.log(fmt(l));
}
