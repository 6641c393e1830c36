// Paired echo runs (bench/README.md, "Session 11 (s11b-latency)"): two server kinds of
// bench/echo-server.js on one cell, alternated run by run (the order swapped every round), a
// fresh server per run, pinned as bench/echo.js pins them. On a machine other jobs load, two
// runs of the same server differ by 20% and more; a ratio taken within a round, where both
// ran under the same load, moves less. Prints each kind's CPU µs per request (user + system,
// and user alone, from /proc) and req/s, then the per-round ratios second/first and their median.
//
//   node bench/echo-pair.js <first kind> <second kind> [--node=PATH]
// A kind written <kind>@<dir> runs <dir>/bench/echo-server.js: another built tree (a copy of
// the branch point, say), so old and new code pair up as two kinds do.
//   env: BENCH_ROUNDS=8 BENCH_SECONDS=2 BENCH_WARMUP=0.5 BENCH_SIZE=1024 BENCH_CONNS=1
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE, compileBenchC, cpuSecondsOf, loadAverage, median, nodeVersion, positional, runLoadgen, startServer, stopServer, userCpuSecondsOf } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const KINDS = ['net', 'default', 'selector', 'proactor', 'uring', 'storm'];
const [first, second, ...extra] = positional();
/** A kind's server kind and the echo-server.js it runs (its own tree's, or `<dir>`'s after an @). */
function serverOf(spec) {
  const at = spec.indexOf('@');
  if (at < 0) return { kind: spec, script: join(here, 'echo-server.js') };
  return { kind: spec.slice(0, at), script: join(resolve(spec.slice(at + 1)), 'bench', 'echo-server.js') };
}
const servers = [first, second].map((spec) => (spec === undefined ? null : serverOf(spec)));
if (servers.some((s) => s === null || !KINDS.includes(s.kind) || !existsSync(s.script)) || extra.length > 0 || first === second) {
  console.error(`usage: node bench/echo-pair.js <first kind>[@dir] <second kind>[@dir] [--node=PATH]; kinds: ${KINDS.join(', ')}; two different specs`);
  process.exit(2);
}
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 0.5);
const SIZE = Number(process.env.BENCH_SIZE ?? 1024);
const CONNS = Number(process.env.BENCH_CONNS ?? 1);

const pinned = availableParallelism() >= 2;
const pin = (cpu, argv) => (pinned ? ['taskset', '-c', String(cpu), ...argv] : argv);
const loadgen = compileBenchC('loadgen.c', 'loadgen');
if (loadgen === null) {
  console.error('echo-pair: needs cc for bench/loadgen.c');
  process.exit(2);
}

/** One run of the server `spec` names: {rate, cpu, user} (µs per request over the timed part, as bench/echo.js counts it). */
async function runOnce(spec) {
  const { kind, script } = serverOf(spec);
  const argv = pin(0, [NODE, script, kind]);
  const { child, port } = await startServer(argv);
  try {
    const [cmd, ...args] = pin(1, [loadgen, '127.0.0.1', String(port), String(CONNS), String(SIZE), String(WARMUP), String(SECONDS)]);
    const finished = runLoadgen(cmd, args);
    let warm = null;
    const timer = setTimeout(() => (warm = { cpu: cpuSecondsOf(child.pid), user: userCpuSecondsOf(child.pid) }), WARMUP * 1000);
    const [rate, total] = await finished.finally(() => clearTimeout(timer));
    if (warm === null || !(total > 0)) throw new Error(`${kind}: no timed requests (load generator: ${rate} ${total})`);
    return { rate, cpu: ((cpuSecondsOf(child.pid) - warm.cpu) / total) * 1e6, user: ((userCpuSecondsOf(child.pid) - warm.user) / total) * 1e6 };
  } finally {
    await stopServer(child);
  }
}

console.log(`echo-pair: ${first} then ${second}, ${SIZE} B x ${CONNS}; ${NODE} (${nodeVersion()}); ${ROUNDS} rounds of ${SECONDS} s after ${WARMUP} s; load average at start ${loadAverage()}`);
const runs = { [first]: [], [second]: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const kind of round % 2 === 0 ? [first, second] : [second, first]) runs[kind].push(await runOnce(kind));
}
const fixed = (values) => values.map((v) => v.toFixed(1)).join(' ');
for (const kind of [first, second]) {
  const r = runs[kind];
  console.log(`${kind}: CPU µs/request ${fixed(r.map((x) => x.cpu))} (median ${median(r.map((x) => x.cpu)).toFixed(1)}); ` +
    `user ${fixed(r.map((x) => x.user))} (median ${median(r.map((x) => x.user)).toFixed(1)}); req/s median ${median(r.map((x) => x.rate)).toFixed(0)}`);
}
for (const field of ['cpu', 'user']) {
  const ratios = runs[first].map((a, i) => runs[second][i][field] / a[field]);
  console.log(`${second}/${first} ${field === 'cpu' ? 'CPU' : 'user CPU'} per round: ${ratios.map((v) => v.toFixed(2)).join(' ')}; median ${median(ratios).toFixed(2)}x`);
}
console.log(`load average at the end ${loadAverage()}`);
